/**
 * The remittance vocabulary: states, the remittance as the API sees it, inputs, reports,
 * and the configuration of policies (deadlines, thresholds, proofs, suspension).
 */
import type { CurrencyCode } from '../money/index.ts';
import type { Actor, NetworkConfig, QuoteLeg } from '../network/types.ts';
export type { CorridorConfig, PayoutProof } from '../network/types.ts';

/**
 * States. created -> funded -> (each hop accepts) -> ready -> paid -> completed; off the
 * happy path: cancelled/expired (never funded), refunded, held (origin agent suspended
 * while it holds the value), written_off. See state-machine.ts for every edge.
 */
export type RemittanceState =
  | 'created'
  | 'funded'
  | 'ready'
  | 'paid'
  | 'completed'
  | 'cancelled'
  | 'expired'
  | 'refunded'
  | 'held'
  | 'written_off';

export type RemittanceEvent =
  | 'created'
  | 'funded'
  | 'hop_accepted'
  | 'hop_declined'
  | 'hop_timed_out'
  | 'agent_suspended'
  | 'rerouted'
  | 'ready'
  | 'payout_code_failed'
  | 'payout_code_locked'
  | 'payout_code_reissued'
  | 'paid'
  | 'completed'
  | 'cancelled'
  | 'expired'
  | 'refunded'
  | 'held'
  | 'resumed'
  | 'written_off';

/** What to do with remittances in flight through an agent that is suspended. */
export type SuspensionPolicy = 'reroute' | 'hold' | 'refund';

export interface RemitnetConfig extends NetworkConfig {
  /** How long each hop has to accept once the value reaches it (default 3600 s). */
  readonly hopAcceptTimeout_s?: number;
  /** From funding, how long until the payout deadline (default 7 days). */
  readonly payoutWindow_s?: number;
  /**
   * Ledger reservations expire this long after the payout deadline (default 3600 s), so if
   * remitnet's own sweeper dies the ledger still releases them, but never before remitnet
   * has had its chance to refund or complete.
   */
  readonly reservationGrace_s?: number;
  /** Secret key for HMAC-SHA256 of payout codes and codewords (at least 16 bytes). */
  readonly payoutCodeSecret: string | Buffer;
  /** Wrong codes allowed before the code locks (default 5). */
  readonly payoutCodeMaxAttempts?: number;
  /** Default policy when an agent is suspended (default 'reroute'). */
  readonly suspensionPolicy?: SuspensionPolicy;
  /**
   * Refund policy when the sender cancels after funding: the origin agent keeps this many
   * basis points of the amount sent as a fee (default 0: the full amount is returned).
   */
  readonly cancellationFeeBp?: number;
}

export interface Remittance {
  readonly id: string;
  readonly idempotencyKey: string;
  readonly state: RemittanceState;
  /** Optimistic-concurrency version; every change adds one. */
  readonly version: number;
  readonly quoteId: string;
  readonly corridor: string;
  readonly senderId: string;
  readonly recipientId: string;
  readonly originAgentId: string;
  readonly payoutAgentId: string;
  readonly sendCurrency: CurrencyCode;
  readonly sendAmountMinor: bigint;
  readonly deliverCurrency: CurrencyCode;
  readonly deliverAmountMinor: bigint;
  /** The current route with every agent's amounts (origin first). */
  readonly legs: readonly QuoteLeg[];
  /** 0 for the quoted route; +1 at each reroute. */
  readonly attempt: number;
  /** Hops accepted on the current route (0..legs.length-1). */
  readonly acceptedHops: number;
  /** The hop awaited (1..hops) while funded; undefined otherwise. */
  readonly awaitingHop?: number;
  readonly awaitingAgentId?: string;
  readonly quoteExpiresAt_ms: number;
  readonly hopDeadline_ms?: number;
  readonly payoutDeadline_ms?: number;
  /** Agents this remittance will not be routed through again (declined, timed out, suspended). */
  readonly excludedAgentIds: readonly string[];
  /** Amount returned to the sender when refunded (send currency). */
  readonly refundMinor?: bigint;
  /** When held: the suspended agent holding the value. */
  readonly heldAgentId?: string;
  readonly payoutCodeLocked: boolean;
  readonly payoutCodeAttempts: number;
  /** Set while a ledger step is in progress (recover() re-drives it after a crash). */
  readonly pendingStep?: string;
  readonly createdAt_ms: number;
  readonly updatedAt_ms: number;
}

export interface CreateRemittanceInput {
  readonly quoteId: string;
  /** The caller's key: the same key and request returns the same remittance. */
  readonly idempotencyKey: string;
  readonly senderId: string;
  readonly recipientId: string;
  /** A codeword agreed with the family, where the corridor requires one (hashed). */
  readonly codeword?: string;
  /** The recipient's ID document reference, where the corridor requires one (hashed). */
  readonly idDocumentRef?: string;
  /**
   * The caller creates only from this origin agent's quotes (an agent's API key): the
   * quote is read first, before anything else is checked, and another agent's answers
   * quote_not_found, as a quote that does not exist would.
   */
  readonly quoteOf?: string;
}

export interface CreateRemittanceResult {
  readonly remittance: Remittance;
  /**
   * The one-time payout code, grouped for reading aloud ("K7QM-3XWP-9DA"). Present only on
   * the call that created the remittance; remitnet keeps only its hash.
   */
  readonly payoutCode?: string;
  /** True when the idempotency key matched an earlier identical request. */
  readonly replayed: boolean;
}

export interface PayoutInput {
  readonly code?: string;
  readonly idDocumentRef?: string;
  readonly codeword?: string;
}

export interface ListRemittancesFilter {
  /** Remittances whose current or past route includes this agent. */
  readonly agentId?: string;
  readonly state?: RemittanceState;
  /** 1..500, default 50. */
  readonly limit?: number;
  readonly cursor?: string;
}

/** One line of a sender's tracking page: no agent names, no personal data. */
export interface TimelineEntry {
  readonly at_ms: number;
  readonly state: RemittanceState;
  readonly event: RemittanceEvent;
  /** Plain words for the sender, e.g. "Accepted by an agent in Yanji". */
  readonly message: string;
}

/** One recorded transition, as an operator sees it. */
export interface HistoryEntry {
  readonly seq: number;
  readonly at_ms: number;
  readonly from: RemittanceState | null;
  readonly to: RemittanceState;
  readonly event: RemittanceEvent;
  readonly actor: Actor;
  readonly reason: string;
  readonly detail?: Readonly<Record<string, string>>;
}

export interface SuspensionOutcome {
  readonly remittanceId: string;
  readonly outcome: 'rerouted' | 'held' | 'refunded' | 'unchanged' | 'failed';
  readonly reason: string;
}

/** What the network stands to lose with an agent, per currency, and where it is. */
export interface ExposureReport {
  readonly agentId: string;
  readonly status: string;
  readonly lines: readonly import('../network/types.ts').AgentExposureLine[];
  /** Remittances in flight through the agent (funded, ready, paid or held). */
  readonly inFlight: readonly {
    readonly remittanceId: string;
    readonly state: RemittanceState;
    readonly role: 'origin' | 'intermediary' | 'payout';
    /** For the origin: the sender's cash it holds; else the value it was to carry. */
    readonly amountMinor: bigint;
    readonly currency: CurrencyCode;
  }[];
}

export interface SuspensionReport {
  readonly agentId: string;
  readonly policy: SuspensionPolicy;
  readonly outcomes: readonly SuspensionOutcome[];
  readonly exposure: ExposureReport;
}

export interface SweepReport {
  readonly expired: number;
  readonly rerouted: number;
  readonly refunded: number;
  readonly failed: number;
}

export interface RecoverReport {
  readonly redriven: number;
  readonly failed: number;
}
