/**
 * The network's vocabulary: agents, links with rate tables, customers, routes and quotes.
 *
 * Amounts are bigint minor units with their currency; rates and percentages are decimal
 * strings (exact; parsed into bigint rationals by rates.ts); ids are 32 hex digits (128-bit,
 * time-ordered); times are milliseconds since the epoch (`_ms`) from the injected clock.
 */
import type { CurrencyCode } from '../money/index.ts';

export type AgentStatus = 'active' | 'suspended' | 'unreachable';
/** What an agent does on a route: takes senders' cash, hands value on, pays recipients. */
export type AgentRole = 'origin' | 'intermediary' | 'payout';

export interface Location {
  /** ISO 3166-1 alpha-2, e.g. "KR", "CN", "KP", "AF". */
  readonly country: string;
  /** Province or region, e.g. "Ryanggang", "Herat". Payout agents serve their region. */
  readonly region: string;
  readonly city: string;
}

export interface ContactChannel {
  /** How the network reaches the agent, e.g. "phone", "signal", "wechat", "fax". */
  readonly kind: string;
  /** The handle (a number, an account name). Operators' data; never shown to senders. */
  readonly address: string;
}

/**
 * A commission rule: percent of the amount the agent receives, plus a fixed part, at least
 * a minimum; fixed and minimum in minor units of `currency` (the currency the agent
 * receives the value in). `corridor` is "<send country>-<payout country>" (e.g. "KR-KP")
 * or "*" for any corridor; an exact corridor rule wins over "*".
 */
export interface CommissionRule {
  readonly corridor: string;
  readonly currency: CurrencyCode;
  /** Decimal percent, e.g. "10" or "2.5". */
  readonly percent: string;
  readonly fixedMinor: bigint;
  readonly minimumMinor: bigint;
}

export interface Agent {
  readonly id: string;
  readonly name: string;
  readonly location: Location;
  readonly currencies: readonly CurrencyCode[];
  readonly roles: readonly AgentRole[];
  readonly status: AgentStatus;
  /** Cash on hand per currency as the agent last reported it (minor units). */
  readonly cashOnHand: Readonly<Partial<Record<CurrencyCode, bigint>>>;
  readonly commissions: readonly CommissionRule[];
  /** Net debit cap per currency: the most this agent may owe the network at once. */
  readonly exposureLimits: Readonly<Partial<Record<CurrencyCode, bigint>>>;
  readonly contact: ContactChannel;
  /** Remittances this agent carried to completion, and the ones that failed at its hop. */
  readonly deliveredCount: number;
  readonly failedCount: number;
  readonly version: number;
  readonly createdAt_ms: number;
  readonly updatedAt_ms: number;
}

export interface AgentInput {
  readonly name: string;
  readonly location: Location;
  readonly currencies: readonly CurrencyCode[];
  readonly roles: readonly AgentRole[];
  readonly contact: ContactChannel;
  readonly commissions?: readonly CommissionRule[];
  readonly exposureLimits?: Readonly<Partial<Record<CurrencyCode, bigint>>>;
  readonly cashOnHand?: Readonly<Partial<Record<CurrencyCode, bigint>>>;
}

export interface AgentPatch {
  readonly name?: string;
  readonly location?: Location;
  /** Currencies may be added, never removed while the agent has accounts in them. */
  readonly currencies?: readonly CurrencyCode[];
  readonly roles?: readonly AgentRole[];
  readonly contact?: ContactChannel;
  readonly commissions?: readonly CommissionRule[];
}

/** A rate entry: 1 unit of `from` buys `agentRate` units of `to` (major units). */
export interface RateEntry {
  readonly from: CurrencyCode;
  readonly to: CurrencyCode;
  /** Market mid rate the cost is measured against, e.g. "0.0053". */
  readonly referenceRate: string;
  /** The rate the agent handing over gives, e.g. "0.0050". */
  readonly agentRate: string;
}

/**
 * A link: `fromAgentId` hands value over to `toAgentId`, who is then owed it in `currency`.
 * When the value arrives at `fromAgentId` in another currency, `fromAgentId` converts it at
 * the link's rate for that pair (the rate table must have it).
 */
export interface Link {
  readonly id: string;
  readonly fromAgentId: string;
  readonly toAgentId: string;
  readonly currency: CurrencyCode;
  readonly rates: readonly RateEntry[];
  /** Typical minutes from handover to the next agent's acceptance; ranks routes. */
  readonly expectedMinutes: number;
  readonly active: boolean;
  readonly version: number;
  readonly createdAt_ms: number;
  readonly updatedAt_ms: number;
}

export interface LinkInput {
  readonly fromAgentId: string;
  readonly toAgentId: string;
  readonly currency: CurrencyCode;
  readonly rates?: readonly RateEntry[];
  readonly expectedMinutes?: number;
}

export interface LinkPatch {
  readonly rates?: readonly RateEntry[];
  readonly expectedMinutes?: number;
  readonly active?: boolean;
}

export type CustomerRole = 'sender' | 'recipient';

/** The optional identifying fields FATF R.16 names; which may be stored is configured. */
export type CustomerField =
  'address' | 'nationalId' | 'customerId' | 'dateAndPlaceOfBirth' | 'phone';

export interface Customer {
  readonly id: string;
  readonly role: CustomerRole;
  readonly name: string;
  /** The reference R.16 requires always (an account or transaction reference). */
  readonly reference: string;
  /** Where the customer is: recipients need country and region to be routed to. */
  readonly country?: string;
  readonly region?: string;
  readonly data: Readonly<Partial<Record<CustomerField, string>>>;
  readonly createdAt_ms: number;
}

export interface CustomerInput {
  readonly role: CustomerRole;
  readonly name: string;
  readonly reference: string;
  readonly country?: string;
  readonly region?: string;
  readonly data?: Readonly<Partial<Record<CustomerField, string>>>;
}

export interface QuoteRequest {
  readonly originAgentId: string;
  /** Where the recipient is: a payout agent must serve this country and region. */
  readonly payoutCountry: string;
  readonly payoutRegion: string;
  readonly payoutCurrency: CurrencyCode;
  readonly sendCurrency: CurrencyCode;
  /** Fix exactly one: the amount the sender hands over, or the amount the recipient gets. */
  readonly sendAmountMinor?: bigint;
  readonly deliverAmountMinor?: bigint;
  /** Agents to leave out (used when rerouting); optional for callers. */
  readonly excludeAgentIds?: readonly string[];
  /** How many ranked options to return (1..10, default 3). */
  readonly options?: number;
}

/** One agent on the route: what it receives, keeps, converts and hands on. */
export interface QuoteLeg {
  /** 0 = the origin agent (the sender's agent); i = the agent reached by hop i. */
  readonly index: number;
  readonly agentId: string;
  readonly agentName: string;
  readonly city: string;
  /** The link that brought the value here (undefined for the origin agent). */
  readonly linkId?: string;
  readonly currencyIn: CurrencyCode;
  readonly amountInMinor: bigint;
  readonly commissionMinor: bigint;
  /** What this agent hands on (or, for the payout agent, pays the recipient). */
  readonly currencyOut: CurrencyCode;
  readonly amountOutMinor: bigint;
  /** Set when this agent converts currencies on the next link (agent's and reference rate). */
  readonly rate?: RateEntry;
  /** Set when this agent converts currencies: amount it owes onward, after the conversion. */
  readonly convertedMinor?: bigint;
}

export interface TotalCost {
  /** Fees plus exchange margin against reference rates, as World Bank RPW measures it. */
  readonly basisPoints: bigint;
  /** The same as a percentage with two decimals, e.g. "27.10". */
  readonly percent: string;
  /** What the recipient would get at reference rates and no fees (payout currency). */
  readonly referenceDeliverMinor: bigint;
  /** Of the cost, the commissions valued at reference rates, in the payout currency. */
  readonly feesMinor: bigint;
  /** Of the cost, the exchange margin, in the payout currency. */
  readonly fxMarginMinor: bigint;
}

export interface Quote {
  readonly id: string;
  readonly fixed: 'send' | 'deliver';
  readonly corridor: string;
  readonly originAgentId: string;
  readonly payoutAgentId: string;
  readonly payoutCountry: string;
  readonly payoutRegion: string;
  readonly sendCurrency: CurrencyCode;
  readonly sendAmountMinor: bigint;
  readonly deliverCurrency: CurrencyCode;
  readonly deliverAmountMinor: bigint;
  /** Agents in order, origin first; route.length - 1 hops. */
  readonly legs: readonly QuoteLeg[];
  readonly hops: number;
  readonly totalCost: TotalCost;
  readonly expectedMinutes: number;
  /** 0..1, from the agents' delivery records (1 when no history). */
  readonly deliveryScore: number;
  readonly createdAt_ms: number;
  readonly expiresAt_ms: number;
}

export interface QuoteOptions {
  /** Best first: lowest total cost, then fastest, then best delivery record. */
  readonly quotes: readonly Quote[];
}

/** Per-currency balances of an agent's accounts, read from the ledger (minor units). */
export interface AgentExposureLine {
  readonly currency: CurrencyCode;
  readonly limitMinor: bigint;
  /** What the agent owes the network on posted entries (net; negative = network owes it). */
  readonly owesPostedMinor: bigint;
  /** What the agent would owe if every pending reservation on it posted (net). */
  readonly owesIncludingPendingMinor: bigint;
  /** Commission earned and posted, owed to the agent. */
  readonly commissionPostedMinor: bigint;
  /** Cash on hand the agent last reported. */
  readonly cashOnHandMinor: bigint;
  /** Limit left: limit minus debits (posted and pending) plus posted credits. */
  readonly headroomMinor: bigint;
}

/** Who does something: recorded with every change, and checked where it matters. */
export interface Actor {
  readonly kind: 'operator' | 'agent' | 'customer' | 'system';
  /** Operator id, agent id, customer id, or the name of the system job ("sweeper"). */
  readonly id: string;
}

/** A page of a list, in id (creation) order; pass `nextCursor` back for the next page. */
export interface Page<T> {
  readonly items: readonly T[];
  readonly nextCursor?: string;
}

/** A proof the payout agent must check beside (or instead of) the payout code. */
export type PayoutProof = 'code' | 'id_document' | 'codeword';

export interface CorridorConfig {
  /** Proofs required at payout; default ['code']. */
  readonly proofs?: readonly PayoutProof[];
  /** Whether the recipient's phone number may be stored (needed to reach them). */
  readonly recipientPhone?: boolean;
  /** Smallest and largest amount sent, per send currency (minor units). */
  readonly minSendMinor?: Readonly<Partial<Record<CurrencyCode, bigint>>>;
  readonly maxSendMinor?: Readonly<Partial<Record<CurrencyCode, bigint>>>;
}

/** What the network module needs from configuration (the rest is in RemitnetConfig). */
export interface NetworkConfig {
  /** Most links on a route (default 4). */
  readonly maxHops?: number;
  /** How long a quote holds (default 900 s). */
  readonly quoteTtl_s?: number;
  /**
   * FATF R.16: at or above this amount (per send currency, minor units) the sender needs
   * one of address, national ID, customer ID, or date and place of birth. Default USD and
   * EUR 1,000.00; a currency without an entry is always below the threshold.
   */
  readonly travelRuleThresholdMinor?: Readonly<Partial<Record<CurrencyCode, bigint>>>;
  /** Optional customer fields that may be stored (default the four R.16 names, no phone). */
  readonly customerFields?: readonly CustomerField[];
  /** Per corridor ("KR-KP") or "*" for every corridor. */
  readonly corridors?: Readonly<Record<string, CorridorConfig>>;
}
