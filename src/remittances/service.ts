/**
 * The remittance service: the lifecycle of a remittance through a chain of agents.
 *
 * Owns: the state machine's transitions (each recorded with time, actor and reason), the
 * ledger steps behind them, payout codes, deadlines (sweep), policies for refusal, cancel
 * and suspension, write-offs, timelines, and recovery after a crash. Never: HTTP,
 * process.env, a SQL transaction held open across a ledger call, or a silent loss.
 *
 * Every ledger step runs as: write the intent (the exact transfers, the row to record on
 * success) under the row's version; call the ledger once; record the outcome. The
 * transfers have deterministic ids, so recover() can replay an intent left by a crash and
 * the ledger answers `exists` for what was already booked.
 */
import { createHash } from 'node:crypto';
import {
  idToHex,
  isApplied,
  LedgerError,
  newId,
  type CreateTransferResult,
  type Ledger,
  type TransferInput,
} from '../ledger/index.ts';
import { divide, type CurrencyCode } from '../money/index.ts';
import { RemitnetError } from '../network/errors.ts';
import { decodeCursor, page, pageLimit, type NetworkService } from '../network/service.ts';
import { derivedId, ledgerOf, positionId, TransferCode, writeOffId } from '../network/accounts.ts';
import type { Actor, Page, Quote, QuoteLeg } from '../network/types.ts';
import type { SqlClient } from '../stores/sql.ts';
import { migrateComponent } from '../stores/sql.ts';
import {
  assertRouteBalanced,
  cancellationFee,
  fundingId,
  fundingTransfer,
  hex,
  legTransfers,
  linked,
  postAll,
  postFunding,
  rebookFunding,
  reverseFunding,
  voidAll,
  writeOffTransfers,
} from './bookings.ts';
import {
  hashSecret,
  newPayoutCode,
  normalizePayoutCode,
  normalizeProof,
  sameHash,
} from './payout-code.ts';
import { RemittanceRepository, type EventDraft } from './repository.ts';
import {
  diff,
  involves,
  patched,
  toPublic,
  type RemittanceRow,
  type StepEffects,
  type StepIntent,
} from './row.ts';
import { REMITTANCE_MIGRATIONS } from './schema.ts';
import { assertTransition, IN_FLIGHT } from './state-machine.ts';
import { timelineOf } from './timeline.ts';
import type {
  CreateRemittanceInput,
  CreateRemittanceResult,
  ExposureReport,
  HistoryEntry,
  ListRemittancesFilter,
  PayoutInput,
  RecoverReport,
  Remittance,
  RemittanceEvent,
  RemittanceState,
  RemitnetConfig,
  SuspensionOutcome,
  SuspensionPolicy,
  SuspensionReport,
  SweepReport,
  TimelineEntry,
} from './types.ts';

export interface RemittanceDeps {
  readonly ledger: Ledger;
  readonly sql: SqlClient;
  readonly network: NetworkService;
  /** Milliseconds since the epoch. */
  readonly clock: () => number;
  readonly config: RemitnetConfig;
}

/** A step to run: its transfers, the row on success, and what to do on refusal. */
interface Plan {
  readonly op: string;
  readonly transfers: readonly TransferInput[];
  readonly success: RemittanceRow;
  readonly events: readonly EventDraft[];
  readonly effects?: StepEffects;
  readonly newAgents?: readonly string[];
  /** Fields changed while the step is in progress (e.g. state 'paid' during the payout). */
  readonly during?: Partial<RemittanceRow>;
  readonly onRefused?: 'revert' | 'refund';
  /**
   * The payout agent's cash this step claims (the last hop's acceptance): checked against
   * its reported cash less the payouts already claimed, in the transaction that writes the
   * intent, which is itself the claim (RemittanceRepository.reservedPayouts counts it).
   */
  readonly cashClaim?: { agentId: string; currency: CurrencyCode; amountMinor: bigint };
}

/**
 * Writes made in the same transaction as a step's outcome, given the remittance as
 * answered (the API keeps its Idempotency-Key record there: one durable commit, not two).
 * Runs only when the step succeeds; it must await nothing but `tx`. `answerRef`, if given,
 * is kept with the step's intent, so that a step finished later by recover() (the process
 * died, or the ledger failed, between the intent and the outcome) can still have its
 * answer recorded, through `answerRecorder`.
 */
export type OutcomeHook = ((tx: SqlClient, result: Remittance) => Promise<void>) & {
  readonly answerRef?: string;
};

/** Records, in the outcome's transaction, the answer to a request a recovered step had. */
export type AnswerRecorder = (
  tx: SqlClient,
  answerRef: string,
  result: Remittance,
) => Promise<void>;

const SYSTEM: Actor = { kind: 'system', id: 'remitnet' };
const SWEEP_BATCH = 500;
const QUOTE_KEEP_MS = 24 * 3_600_000;
const KEY_MAX = 200;
const POSITION_KEY_MAX = 400;
const REASON_MAX = 500;

export class RemittanceService {
  readonly repo: RemittanceRepository;
  /**
   * Set by the API (it owns the Idempotency-Key records): called when recover() finishes a
   * step whose intent names a request to answer (StepIntent.answerTo).
   */
  answerRecorder: AnswerRecorder | undefined;
  /** Suspensions that met a remittance mid-step, by remittance: applied when it finishes. */
  readonly #missedSuspensions = new Map<
    string,
    { agentId: string; policy: SuspensionPolicy; actor: Actor; reason: string }
  >();
  readonly #ledger: Ledger;
  readonly #network: NetworkService;
  readonly #clock: () => number;
  readonly #secret: Buffer;
  readonly #cfg: {
    hopAcceptTimeout_ms: number;
    payoutWindow_ms: number;
    grace_ms: number;
    maxAttempts: number;
    suspensionPolicy: SuspensionPolicy;
    cancellationFeeBp: bigint;
  };

  constructor(deps: RemittanceDeps) {
    this.repo = new RemittanceRepository(deps.sql);
    this.#ledger = deps.ledger;
    this.#network = deps.network;
    this.#clock = deps.clock;
    const c = deps.config;
    const secret =
      typeof c.payoutCodeSecret === 'string' ? Buffer.from(c.payoutCodeSecret) : c.payoutCodeSecret;
    if (secret === undefined || secret.length < 16) {
      throw new RangeError('payoutCodeSecret must be at least 16 bytes');
    }
    this.#secret = secret;
    const bp = c.cancellationFeeBp ?? 0;
    if (!Number.isInteger(bp) || bp < 0 || bp > 10_000) {
      throw new RangeError('cancellationFeeBp must be a whole number from 0 to 10000');
    }
    this.#cfg = Object.freeze({
      hopAcceptTimeout_ms: (c.hopAcceptTimeout_s ?? 3600) * 1000,
      payoutWindow_ms: (c.payoutWindow_s ?? 7 * 24 * 3600) * 1000,
      grace_ms: (c.reservationGrace_s ?? 3600) * 1000,
      maxAttempts: c.payoutCodeMaxAttempts ?? 5,
      suspensionPolicy: c.suspensionPolicy ?? 'reroute',
      cancellationFeeBp: BigInt(bp),
    });
  }

  async migrate(): Promise<void> {
    await migrateComponent(this.repo.sql, 'remittances', REMITTANCE_MIGRATIONS);
  }

  // ---- reads --------------------------------------------------------------------------

  async get(id: string): Promise<Remittance> {
    return toPublic(await this.#row(id));
  }

  async list(filter: ListRemittancesFilter = {}): Promise<Page<Remittance>> {
    const limit = pageLimit(filter.limit);
    const after = filter.cursor === undefined ? undefined : decodeCursor(filter.cursor);
    const rows = await this.repo.list({
      ...(filter.agentId !== undefined ? { agentId: filter.agentId } : {}),
      ...(filter.state !== undefined ? { state: filter.state } : {}),
      ...(after !== undefined ? { after } : {}),
      limit: limit + 1,
    });
    return page(rows.map(toPublic), limit);
  }

  /** What a sender's tracking page shows: no agent names, no personal data. */
  async timeline(id: string): Promise<TimelineEntry[]> {
    const row = await this.#row(id);
    return timelineOf(row, await this.repo.history(id));
  }

  /** Every recorded transition with its actor and reason, for operators. */
  async history(id: string): Promise<HistoryEntry[]> {
    await this.#row(id);
    return this.repo.history(id);
  }

  // ---- create -------------------------------------------------------------------------

  /**
   * Creates a remittance from a quote. The same idempotency key with the same request
   * returns the same remittance (without the payout code, which is shown only once).
   * `onCreated` runs in the transaction that inserts it (not on a replay).
   */
  async create(
    input: CreateRemittanceInput,
    actor: Actor,
    onCreated?: (tx: SqlClient, result: CreateRemittanceResult) => Promise<void>,
  ): Promise<CreateRemittanceResult> {
    // Read once: a quote never changes (it may only be purged, a day after it expired).
    let quoted: Quote | undefined;
    if (input.quoteOf !== undefined) {
      quoted = await this.#network.getQuote(input.quoteId);
      if (quoted.originAgentId !== input.quoteOf) {
        throw new RemitnetError('quote_not_found', input.quoteId);
      }
    }
    if (
      typeof input.idempotencyKey !== 'string' ||
      input.idempotencyKey === '' ||
      input.idempotencyKey.length > KEY_MAX
    ) {
      throw new RemitnetError('idempotency_key_invalid');
    }
    const requestHash = createHash('sha256')
      .update([input.quoteId, input.senderId, input.recipientId].join('\u0000'))
      .digest('hex');
    const earlier = await this.repo.getByKey(input.idempotencyKey);
    if (earlier !== undefined) return this.#replay(earlier, requestHash);

    const now = this.#clock();
    const quote = quoted ?? (await this.#network.getQuote(input.quoteId));
    if (now >= quote.expiresAt_ms) throw new RemitnetError('quote_expired', quote.id);
    const customers = await this.#network.repo.getCustomers([input.senderId, input.recipientId]);
    const sender = customers.get(input.senderId);
    const recipient = customers.get(input.recipientId);
    if (sender === undefined || sender.role !== 'sender') {
      throw new RemitnetError('customer_not_found', `sender ${input.senderId}`);
    }
    if (recipient === undefined || recipient.role !== 'recipient') {
      throw new RemitnetError('customer_not_found', `recipient ${input.recipientId}`);
    }
    if (recipient.country !== quote.payoutCountry || recipient.region !== quote.payoutRegion) {
      throw new RemitnetError(
        'customer_invalid',
        'the recipient lives outside the region the quote pays out in; quote for their region',
      );
    }
    this.#network.checkTravelRule(sender, quote.sendCurrency, quote.sendAmountMinor);
    await this.#network.checkRoute(quote.legs);
    const proofs = this.#network.corridorConfig(quote.corridor).proofs ?? ['code'];
    if (proofs.includes('codeword') && !nonEmpty(input.codeword)) {
      throw new RemitnetError('proof_missing', 'a codeword agreed with the family');
    }
    if (proofs.includes('id_document') && !nonEmpty(input.idDocumentRef)) {
      throw new RemitnetError('proof_missing', "the recipient's ID document reference");
    }

    const id = idToHex(newId());
    assertRouteBalanced(
      id,
      quote.originAgentId,
      quote.sendCurrency,
      quote.sendAmountMinor,
      quote.legs,
    );
    const code = newPayoutCode();
    const row: RemittanceRow = {
      id,
      transferIds: 'time',
      idempotencyKey: input.idempotencyKey,
      state: 'created',
      version: 1,
      quoteId: quote.id,
      corridor: quote.corridor,
      senderId: sender.id,
      recipientId: recipient.id,
      originAgentId: quote.originAgentId,
      payoutAgentId: quote.payoutAgentId,
      sendCurrency: quote.sendCurrency,
      sendAmountMinor: quote.sendAmountMinor,
      deliverCurrency: quote.deliverCurrency,
      deliverAmountMinor: quote.deliverAmountMinor,
      quotedDeliverAmountMinor: quote.deliverAmountMinor,
      legs: quote.legs,
      attempt: 0,
      acceptedHops: 0,
      quoteExpiresAt_ms: quote.expiresAt_ms,
      excludedAgentIds: [],
      payoutCodeLocked: false,
      payoutCodeAttempts: 0,
      createdAt_ms: now,
      updatedAt_ms: now,
      requestHash,
      codeHash: hashSecret(this.#secret, id, 'code', normalizePayoutCode(code)!),
      ...(nonEmpty(input.codeword)
        ? { codewordHash: hashSecret(this.#secret, id, 'codeword', normalizeProof(input.codeword)) }
        : {}),
      ...(nonEmpty(input.idDocumentRef)
        ? {
            idDocumentHash: hashSecret(
              this.#secret,
              id,
              'id_document',
              normalizeProof(input.idDocumentRef),
            ),
          }
        : {}),
      payoutCountry: quote.payoutCountry,
      payoutRegion: quote.payoutRegion,
      reserved: [],
      fundingPosted: false,
    };
    const result: CreateRemittanceResult = {
      remittance: toPublic(row),
      payoutCode: code,
      replayed: false,
    };
    try {
      await this.repo.insert(
        row,
        quote.legs.map((l) => l.agentId),
        ev(null, 'created', 'created', actor, 'created from a quote', {
          quoteId: quote.id,
        }),
        onCreated === undefined ? undefined : (tx) => onCreated(tx, result),
      );
    } catch (error) {
      // Two identical requests raced: the unique key let one in; answer the other as a replay.
      const raced = await this.repo.getByKey(input.idempotencyKey);
      if (raced !== undefined) return this.#replay(raced, requestHash);
      throw error;
    }
    return result;
  }

  #replay(earlier: RemittanceRow, requestHash: string): CreateRemittanceResult {
    if (earlier.requestHash !== requestHash) {
      throw new RemitnetError('idempotency_key_reused', earlier.idempotencyKey);
    }
    return { remittance: toPublic(earlier), replayed: true };
  }

  /** Issues a new payout code (the old one stops working; attempts reset). Operator only. */
  async reissuePayoutCode(
    id: string,
    actor: Actor,
    reason: string,
    onOutcome?: OutcomeHook,
  ): Promise<{ remittance: Remittance; payoutCode: string }> {
    requireActor(actor, ['operator']);
    const row = await this.#steadyRow(id);
    assertTransition('payout_code_reissued', row.state);
    const code = newPayoutCode();
    const next = this.#next(row, {
      codeHash: hashSecret(this.#secret, id, 'code', normalizePayoutCode(code)!),
      payoutCodeAttempts: 0,
      payoutCodeLocked: false,
    });
    await this.#write(
      row,
      next,
      [ev(row.state, row.state, 'payout_code_reissued', actor, reason)],
      undefined,
      undefined,
      onOutcome, // given the remittance only: the code is never stored
    );
    return { remittance: toPublic(next), payoutCode: code };
  }

  // ---- funding and hops ---------------------------------------------------------------

  /**
   * The origin agent took the sender's cash: the amount sent is reserved on the ledger.
   * `visibleTo`, here and in accept and payout: answer remittance_not_found unless the
   * remittance involves that agent (an agent's API key; see #steadyRow).
   */
  async fund(
    id: string,
    actor: Actor,
    onOutcome?: OutcomeHook,
    visibleTo?: string,
  ): Promise<Remittance> {
    const row = await this.#steadyRow(id, visibleTo);
    requireActor(actor, ['operator', 'agent'], row.originAgentId);
    assertTransition('funded', row.state);
    const now = this.#clock();
    if (now >= row.quoteExpiresAt_ms) throw new RemitnetError('quote_expired', row.quoteId);
    // Every agent on the route must still be active: the sender should not hand over cash
    // for a route that is already broken (a new quote finds another).
    await this.#network.checkRoute(row.legs);
    const payoutDeadline = now + this.#cfg.payoutWindow_ms;
    const reservationDeadline = payoutDeadline + this.#cfg.grace_ms;
    const timeout = timeoutFor(reservationDeadline, now);
    await this.#ensureCurrencies(row.legs);
    const funding = fundingTransfer(
      row,
      row.originAgentId,
      row.sendCurrency,
      row.sendAmountMinor,
      timeout,
    );
    const leg0 = legTransfers(row, row.attempt, row.legs[0]!, false, timeout);
    const transfers = linked([funding, ...leg0]);
    const first = row.legs[1]!;
    const success: RemittanceRow = {
      ...row,
      state: 'funded',
      awaitingHop: 1,
      awaitingAgentId: first.agentId,
      hopDeadline_ms: now + this.#cfg.hopAcceptTimeout_ms,
      payoutDeadline_ms: payoutDeadline,
      reservationDeadline_ms: reservationDeadline,
      reserved: transfers.map((t) => hex(t.id)),
    };
    return toPublic(
      await this.#run(
        row,
        {
          op: 'fund',
          transfers,
          success,
          events: [
            ev('created', 'funded', 'funded', actor, 'the origin agent took the sender’s cash'),
          ],
          effects: {
            cash: [
              {
                agentId: row.originAgentId,
                currency: row.sendCurrency,
                deltaMinor: row.sendAmountMinor,
              },
            ],
          },
        },
        onOutcome,
      ),
    );
  }

  /**
   * The awaited hop's agent accepts: it reserves its obligation (and, for the payout agent,
   * the payout, if its reported cash covers it).
   */
  async accept(
    id: string,
    actor: Actor,
    onOutcome?: OutcomeHook,
    visibleTo?: string,
  ): Promise<Remittance> {
    const row = await this.#steadyRow(id, visibleTo);
    assertTransition('hop_accepted', row.state);
    const hop = row.awaitingHop!;
    const leg = row.legs[hop]!;
    requireActor(actor, ['operator', 'agent'], leg.agentId);
    const now = this.#clock();
    if (now >= row.hopDeadline_ms!) throw new RemitnetError('deadline_passed', `hop ${hop}`);
    // Past the payout window nothing can be paid out, and the reservations (the funding
    // among them) expire in the ledger soon after: the sweeper refunds instead.
    if (now >= row.payoutDeadline_ms!) throw new RemitnetError('deadline_passed', 'payout');
    await this.#network.checkRoute([leg]); // the agent, and the link that brings it the value
    const last = hop === row.legs.length - 1;
    const timeout = timeoutFor(row.reservationDeadline_ms!, now);
    const transfers = linked(legTransfers(row, row.attempt, leg, last, timeout));
    const success: RemittanceRow = last
      ? {
          ...withoutAwaiting(row),
          state: 'ready',
          acceptedHops: hop,
          reserved: [...row.reserved, ...transfers.map((t) => hex(t.id))],
        }
      : {
          ...row,
          acceptedHops: hop,
          awaitingHop: hop + 1,
          awaitingAgentId: row.legs[hop + 1]!.agentId,
          hopDeadline_ms: now + this.#cfg.hopAcceptTimeout_ms,
          reserved: [...row.reserved, ...transfers.map((t) => hex(t.id))],
        };
    const events: EventDraft[] = [
      ev('funded', 'funded', 'hop_accepted', actor, `hop ${hop} accepted`, {
        hop: String(hop),
        city: leg.city,
      }),
    ];
    if (last) events.push(ev('funded', 'ready', 'ready', actor, 'ready for payout'));
    // The payout agent's cash is checked, and claimed, with the step's intent (below); the
    // claim is the intent itself, found by its op name 'accept:…' (reservedPayouts).
    const cashClaim = last
      ? { agentId: leg.agentId, currency: leg.currencyIn, amountMinor: leg.amountOutMinor }
      : undefined;
    return toPublic(
      await this.#run(
        row,
        { op: `accept:${hop}`, transfers, success, events, ...(cashClaim ? { cashClaim } : {}) },
        onOutcome,
      ),
    );
  }

  /** The awaited hop's agent declines: reroute within the quoted cost, else refund. */
  async decline(id: string, actor: Actor, reason: string): Promise<Remittance> {
    checkReason(reason);
    const row = await this.#steadyRow(id);
    assertTransition('hop_declined', row.state);
    requireActor(actor, ['operator', 'agent'], row.awaitingAgentId);
    return toPublic(
      await this.#rerouteOrRefund(row, [row.awaitingAgentId!], 'hop_declined', actor, reason, true),
    );
  }

  // ---- payout -------------------------------------------------------------------------

  /**
   * The payout agent checks the recipient's proofs and pays. Every reservation is posted in
   * one linked ledger batch: commissions earned, what agents owe each other booked.
   */
  async payout(
    id: string,
    input: PayoutInput,
    actor: Actor,
    onOutcome?: OutcomeHook,
    visibleTo?: string,
  ): Promise<Remittance> {
    const row = await this.#steadyRow(id, visibleTo);
    assertTransition('paid', row.state);
    requireActor(actor, ['operator', 'agent'], row.payoutAgentId);
    const now = this.#clock();
    if (now >= row.payoutDeadline_ms!) throw new RemitnetError('deadline_passed', 'payout');
    if (row.payoutCodeLocked) throw new RemitnetError('payout_code_locked');
    await this.#activeAgent(row.payoutAgentId);
    const proofs = this.#network.corridorConfig(row.corridor).proofs ?? ['code'];
    if (proofs.includes('code')) {
      if (!nonEmpty(input.code)) throw new RemitnetError('proof_missing', 'the payout code');
      const canonical = normalizePayoutCode(input.code);
      if (canonical === undefined) throw new RemitnetError('payout_code_malformed');
      if (!sameHash(hashSecret(this.#secret, id, 'code', canonical), row.codeHash)) {
        await this.#wrongProof(row, actor, 'code');
      }
    }
    if (proofs.includes('codeword')) {
      if (!nonEmpty(input.codeword)) throw new RemitnetError('proof_missing', 'the codeword');
      const h = hashSecret(this.#secret, id, 'codeword', normalizeProof(input.codeword));
      if (row.codewordHash === undefined || !sameHash(h, row.codewordHash)) {
        await this.#wrongProof(row, actor, 'codeword');
      }
    }
    if (proofs.includes('id_document')) {
      if (!nonEmpty(input.idDocumentRef))
        throw new RemitnetError('proof_missing', 'the ID document reference');
      const h = hashSecret(this.#secret, id, 'id_document', normalizeProof(input.idDocumentRef));
      if (row.idDocumentHash === undefined || !sameHash(h, row.idDocumentHash)) {
        await this.#wrongProof(row, actor, 'id_document');
      }
    }
    const transfers = linked(postAll(row, row.reserved));
    const success: RemittanceRow = { ...row, state: 'completed', reserved: [] };
    const agents = row.legs.map((l) => l.agentId);
    return toPublic(
      await this.#run(
        row,
        {
          op: 'payout',
          transfers,
          during: { state: 'paid' },
          success,
          events: [
            ev('ready', 'paid', 'paid', actor, 'paid to the recipient against the payout proofs'),
            ev('paid', 'completed', 'completed', actor, 'every reservation posted'),
          ],
          effects: {
            cash: [
              {
                agentId: row.payoutAgentId,
                currency: row.deliverCurrency,
                deltaMinor: -row.deliverAmountMinor,
              },
            ],
            delivered: agents,
          },
        },
        onOutcome,
      ),
    );
  }

  async #wrongProof(row: RemittanceRow, actor: Actor, proof: string): Promise<never> {
    const attempts = row.payoutCodeAttempts + 1;
    const locked = attempts >= this.#cfg.maxAttempts;
    const next = this.#next(row, { payoutCodeAttempts: attempts, payoutCodeLocked: locked });
    const events = [
      ev('ready', 'ready', 'payout_code_failed', actor, `wrong ${proof}`, {
        attempt: String(attempts),
      }),
    ];
    if (locked)
      events.push(ev('ready', 'ready', 'payout_code_locked', SYSTEM, `${attempts} wrong attempts`));
    await this.#write(row, next, events);
    throw new RemitnetError(
      locked ? 'payout_code_locked' : proof === 'code' ? 'payout_code_wrong' : 'proof_wrong',
    );
  }

  // ---- cancel, suspend, hold, write off -----------------------------------------------

  /**
   * The sender (through any actor) cancels before payout. Unfunded: cancelled. Funded or
   * ready: refunded in full, less the configured cancellation fee kept by the origin agent.
   */
  async cancel(id: string, actor: Actor, reason: string): Promise<Remittance> {
    checkReason(reason);
    const row = await this.#steadyRow(id);
    if (actor.kind === 'customer' && actor.id !== row.senderId)
      throw new RemitnetError('actor_not_allowed');
    if (actor.kind === 'agent' && actor.id !== row.originAgentId)
      throw new RemitnetError('actor_not_allowed');
    if (row.state === 'created') {
      const next = this.#next(row, { state: 'cancelled' });
      await this.#write(row, next, [ev('created', 'cancelled', 'cancelled', actor, reason)]);
      return toPublic(next);
    }
    assertTransition('refunded', row.state);
    if (row.state === 'held')
      throw new RemitnetError(
        'transition_not_allowed',
        'a held remittance is resolved by an operator',
      );
    // Past the payout window the sender is owed a full refund (the sweeper's), and a fee
    // would post part of a funding reservation the ledger may already have released.
    const fee =
      this.#clock() >= row.payoutDeadline_ms!
        ? 0n
        : divide(row.sendAmountMinor * this.#cfg.cancellationFeeBp, 10_000n, 'floor');
    return toPublic(
      await this.#run(row, this.#refundPlan(row, actor, `cancelled: ${reason}`, fee)),
    );
  }

  /**
   * Suspends an agent (arrested, say) and applies a policy to every remittance in flight
   * through it: reroute (else refund), hold, or refund. When the suspended agent is the
   * origin, it holds the sender's cash: the remittance is held whatever the policy, because
   * only an operator can know whether that cash can be returned or is lost.
   */
  async suspendAgent(
    agentId: string,
    options: { policy?: SuspensionPolicy; status?: 'suspended' | 'unreachable' },
    actor: Actor,
    reason: string,
  ): Promise<SuspensionReport> {
    requireActor(actor, ['operator', 'system']);
    checkReason(reason);
    const policy = options.policy ?? this.#cfg.suspensionPolicy;
    await this.#network.setAgentStatus(agentId, options.status ?? 'suspended', actor, reason);
    const rows = await this.repo.byAgent(agentId, ['funded', 'ready']);
    const outcomes: SuspensionOutcome[] = [];
    for (const r of rows) {
      if (!r.legs.some((l) => l.agentId === agentId)) {
        outcomes.push({
          remittanceId: r.id,
          outcome: 'unchanged',
          reason: 'not on the current route',
        });
        continue;
      }
      try {
        const done = await this.#applySuspension(r, agentId, policy, actor, reason);
        outcomes.push({
          remittanceId: r.id,
          outcome:
            done.state === 'held' ? 'held' : done.state === 'refunded' ? 'refunded' : 'rerouted',
          reason: done.state,
        });
      } catch (error) {
        if (error instanceof RemitnetError && error.code === 'remittance_busy') {
          // Applied when the step in progress finishes (#suspensionsMissed), with this policy.
          this.#missedSuspensions.set(r.id, { agentId, policy, actor, reason });
        }
        outcomes.push({ remittanceId: r.id, outcome: 'failed', reason: (error as Error).message });
      }
    }
    return { agentId, policy, outcomes, exposure: await this.exposure(agentId) };
  }

  /**
   * A suspension that came while this remittance had a step in progress could not act on
   * it then (remittance_busy): once the step is done, apply it now, so an arrested origin's
   * remittance is held and a suspended hop is rerouted or refunded by policy, instead of
   * carrying on through them. The step itself stands whatever happens here; if this fails
   * (busy again, the ledger refused), the next suspendAgent call applies it, and otherwise
   * the remittance's own deadlines move it on (a hop that times out is rerouted around
   * inactive agents, or refunded).
   */
  async #suspensionsMissed(row: RemittanceRow): Promise<void> {
    if (row.state !== 'funded' && row.state !== 'ready') {
      this.#missedSuspensions.delete(row.id);
      return;
    }
    try {
      const agents = (await this.#network.snapshot()).agents;
      const inactive = row.legs.find((l) => {
        const a = agents.get(l.agentId);
        return a !== undefined && a.status !== 'active';
      })?.agentId;
      if (inactive === undefined) {
        this.#missedSuspensions.delete(row.id); // reinstated meanwhile: nothing owed
        return;
      }
      // The policy the operator chose when the suspension met this remittance busy, if this
      // process saw it; else the configured one (another process suspended, or a restart).
      const missed = this.#missedSuspensions.get(row.id);
      const chosen = missed?.agentId === inactive ? missed : undefined;
      await this.#applySuspension(
        row,
        inactive,
        chosen?.policy ?? this.#cfg.suspensionPolicy,
        chosen?.actor ?? SYSTEM,
        chosen?.reason ?? 'suspended while a step of this remittance was in progress',
      );
      this.#missedSuspensions.delete(row.id);
    } catch (error) {
      // Busy again, a version conflict, the ledger refused, the store unavailable: see
      // above. Anything else is a defect and is not hidden.
      if (!(error instanceof RemitnetError) && !(error instanceof LedgerError)) throw error;
    }
  }

  async #applySuspension(
    r0: RemittanceRow,
    agentId: string,
    policy: SuspensionPolicy,
    actor: Actor,
    reason: string,
  ): Promise<RemittanceRow> {
    // Reread inside the loop: a row may have moved since the list was read.
    const r = await this.#row(r0.id);
    if (r.state !== 'funded' && r.state !== 'ready') return r;
    const why = `agent suspended: ${reason}`;
    if (agentId === r.originAgentId) return this.#run(r, this.#holdPlan(r, agentId, actor, why));
    // Past the payout window the remittance is due for a refund (the sweeper's): holding it
    // would let a resume start a new window for value the sweeper should have returned.
    const windowClosed = this.#clock() >= r.payoutDeadline_ms!;
    if (policy === 'refund' || (policy === 'hold' && windowClosed))
      return this.#run(r, this.#refundPlan(r, actor, why, 0n, 'agent_suspended'));
    if (policy === 'hold') return this.#run(r, this.#holdPlan(r, agentId, actor, why));
    return this.#rerouteOrRefund(r, [agentId], 'agent_suspended', actor, why, false);
  }

  /**
   * Resolves a held remittance: 'resume' reroutes it (its origin must be active again),
   * 'refund' returns the amount sent through the origin agent.
   */
  async resolveHeld(
    id: string,
    action: 'resume' | 'refund',
    actor: Actor,
    reason: string,
  ): Promise<Remittance> {
    requireActor(actor, ['operator']);
    checkReason(reason);
    const row = await this.#steadyRow(id);
    assertTransition(action === 'resume' ? 'resumed' : 'refunded', row.state);
    await this.#activeAgent(row.originAgentId);
    if (action === 'refund')
      return toPublic(await this.#run(row, this.#refundPlan(row, actor, reason, 0n)));
    const exclude =
      row.heldAgentId !== undefined && row.heldAgentId !== row.originAgentId
        ? [row.heldAgentId]
        : [];
    return toPublic(await this.#rerouteOrRefund(row, exclude, 'resumed', actor, reason, false));
  }

  /**
   * Books a real loss: the held remittance's origin agent is gone with the sender's cash.
   * The network writes off what that agent owed for it and owes `refundViaAgentId`, the
   * agent that refunds the sender instead. Operator only, with a reason; never automatic.
   */
  async writeOff(
    id: string,
    input: { refundViaAgentId: string },
    actor: Actor,
    reason: string,
  ): Promise<Remittance> {
    requireActor(actor, ['operator']);
    checkReason(reason);
    const row = await this.#steadyRow(id);
    if (row.state !== 'held' || row.heldAgentId !== row.originAgentId) {
      throw new RemitnetError('write_off_not_allowed', `the remittance is ${row.state}`);
    }
    // The origin is the agent that lost the cash: naming it as the one that refunds would
    // write off its debt and credit it again for the same sender's cash (paid twice).
    if (input.refundViaAgentId === row.originAgentId) {
      throw new RemitnetError('write_off_via_origin', input.refundViaAgentId);
    }
    // An active origin is trusted with cash again, so it can hand the sender's back: a loss
    // is booked only while it is suspended or unreachable (resolveHeld refunds otherwise).
    const origin = await this.#network.agent(row.originAgentId);
    if (origin.status === 'active') {
      throw new RemitnetError('write_off_origin_active', row.originAgentId);
    }
    const via = await this.#activeAgent(input.refundViaAgentId);
    if (!via.currencies.includes(row.sendCurrency)) {
      throw new RemitnetError('currency_not_handled', `${via.id} ${row.sendCurrency}`);
    }
    await this.#network.ensureCurrency(row.sendCurrency);
    const transfers = writeOffTransfers(
      row,
      row.originAgentId,
      via.id,
      row.sendCurrency,
      row.sendAmountMinor,
    );
    return toPublic(
      await this.#run(row, {
        op: 'write_off',
        transfers,
        success: { ...row, state: 'written_off', refundMinor: row.sendAmountMinor, reserved: [] },
        events: [
          ev('held', 'written_off', 'written_off', actor, reason, {
            refundViaAgentId: via.id,
            amountMinor: row.sendAmountMinor.toString(),
          }),
        ],
        effects: {
          cash: [{ agentId: via.id, currency: row.sendCurrency, deltaMinor: -row.sendAmountMinor }],
        },
        newAgents: [via.id],
      }),
    );
  }

  /**
   * Writes off what an agent owes the network on settled business (its posted position),
   * e.g. after an arrest. Operator only; the key makes a retry book nothing twice.
   */
  async writeOffPosition(
    agentId: string,
    cur: CurrencyCode,
    amountMinor: bigint,
    idempotencyKey: string,
    actor: Actor,
    reason: string,
  ): Promise<void> {
    requireActor(actor, ['operator']);
    checkReason(reason);
    // The key names the write-off (its transfer id is derived from it); the API prefixes
    // its own 255-character Idempotency-Key with the caller's key id, hence the wider bound.
    if (
      typeof idempotencyKey !== 'string' ||
      idempotencyKey.trim() === '' ||
      idempotencyKey.length > POSITION_KEY_MAX
    ) {
      throw new RemitnetError('idempotency_key_invalid');
    }
    const a = await this.#network.getAgent(agentId);
    if (!a.currencies.includes(cur)) throw new RemitnetError('currency_not_handled', cur);
    if (typeof amountMinor !== 'bigint' || amountMinor <= 0n)
      throw new RemitnetError('amount_invalid');
    const id = derivedId('position_write_off', agentId, cur, idempotencyKey);
    const position = positionId(agentId, cur);
    // A retry of a write-off already booked answers as the first call did: its position is
    // now lower by this very amount, so the check below would wrongly refuse it.
    const [done] = await this.#ledger.lookupTransfers([id]);
    if (done !== undefined) {
      if (done.amount !== amountMinor || done.creditAccountId !== position) {
        throw new RemitnetError('idempotency_key_reused', 'a write-off of another amount');
      }
      return;
    }
    // Only a debt can be written off. Above it the credit would make the network owe the
    // agent, and raise its headroom, for a loss that does not exist. The position's ledger
    // flag bounds its debits, not its credits, so the bound is checked here (known limit:
    // two write-offs of the same agent with different keys at once can both pass).
    const line = (await this.#network.agentExposure(agentId)).find((l) => l.currency === cur);
    const owes = line?.owesPostedMinor ?? 0n;
    if (amountMinor > owes) {
      throw new RemitnetError(
        'write_off_above_position',
        `owes ${owes > 0n ? owes : 0n} ${cur} minor units`,
      );
    }
    const [result] = await this.#ledger.createTransfers([
      {
        id,
        debitAccountId: writeOffId(cur),
        creditAccountId: position,
        amount: amountMinor,
        ledger: ledgerOf(cur),
        code: TransferCode.positionWriteOff,
      },
    ]);
    if (!isApplied(result!)) throw new RemitnetError('ledger_refused', result);
  }

  /** The value exposed to an agent: ledger positions, reported cash, remittances in flight. */
  async exposure(agentId: string): Promise<ExposureReport> {
    const agent = await this.#network.getAgent(agentId);
    const lines = await this.#network.agentExposure(agentId);
    const rows = await this.repo.byAgent(agentId, IN_FLIGHT);
    const inFlight = rows
      .filter((r) => r.legs.some((l) => l.agentId === agentId))
      .map((r) => {
        const leg = r.legs.find((l) => l.agentId === agentId)!;
        const role =
          leg.index === 0 ? 'origin' : leg.index === r.legs.length - 1 ? 'payout' : 'intermediary';
        return {
          remittanceId: r.id,
          state: r.state,
          role: role as 'origin' | 'intermediary' | 'payout',
          amountMinor: leg.amountInMinor,
          currency: leg.currencyIn,
        };
      });
    return { agentId, status: agent.status, lines, inFlight };
  }

  // ---- deadlines and recovery ---------------------------------------------------------

  /**
   * Moves overdue remittances on: unfunded past the quote's expiry -> expired; a hop that did
   * not answer -> rerouted or refunded; not paid by the payout deadline -> refunded.
   */
  async sweep(now_ms?: number): Promise<SweepReport> {
    const now = now_ms ?? this.#clock();
    let expired = 0;
    let rerouted = 0;
    let refunded = 0;
    let failed = 0;
    const ids = await this.repo.due(['created', 'funded', 'ready'], now, SWEEP_BATCH);
    // Quotes are kept a day past expiry (for support questions), then dropped.
    await this.#network.repo.purgeQuotes(now - QUOTE_KEEP_MS);
    for (const id of ids) {
      try {
        const row = await this.#row(id);
        if (row.pendingStep !== undefined) continue;
        if (row.state === 'created' && now >= row.quoteExpiresAt_ms) {
          await this.#write(row, this.#next(row, { state: 'expired' }), [
            ev('created', 'expired', 'expired', sweeper, 'not funded before the quote expired'),
          ]);
          expired++;
        } else if (
          row.state === 'funded' &&
          now >= row.payoutDeadline_ms! &&
          now < row.hopDeadline_ms!
        ) {
          // The window closed while a hop still had time (it accepted late): refund, not
          // reroute; the funding reservation is about to expire, or already has (sweeper
          // down). Nobody failed: the awaited agent's own deadline has not passed.
          await this.#run(
            row,
            this.#refundPlan(row, sweeper, 'not delivered by the payout deadline', 0n),
          );
          refunded++;
        } else if (row.state === 'funded' && now >= row.hopDeadline_ms!) {
          const r = await this.#rerouteOrRefund(
            row,
            [row.awaitingAgentId!],
            'hop_timed_out',
            sweeper,
            `hop ${row.awaitingHop} did not answer by its deadline`,
            true,
          );
          if (r.state === 'refunded') refunded++;
          else rerouted++;
        } else if (row.state === 'ready' && now >= row.payoutDeadline_ms!) {
          await this.#run(
            row,
            this.#refundPlan(row, sweeper, 'not paid out by the payout deadline', 0n),
          );
          refunded++;
        }
      } catch (error) {
        if (error instanceof RemitnetError && error.kind === 'conflict') continue; // someone acted
        failed++;
      }
    }
    return { expired, rerouted, refunded, failed };
  }

  /**
   * Re-drives every remittance left between the intent and the outcome of a ledger step.
   * At start-up call it with no argument; run periodically, pass `minAge_ms` (say 30 s) so
   * steps still in progress in this or another process are left to finish on their own.
   */
  async recover(options: { minAge_ms?: number } = {}): Promise<RecoverReport> {
    let redriven = 0;
    let failed = 0;
    const cutoff = this.#clock() - (options.minAge_ms ?? 0);
    for (const id of await this.repo.withPendingStep(SWEEP_BATCH, cutoff)) {
      try {
        const row = await this.#row(id);
        if (row.intent === undefined || row.updatedAt_ms > cutoff) continue;
        await this.#drive(row);
        redriven++;
      } catch (error) {
        if (error instanceof RemitnetError && error.kind !== 'unavailable') {
          redriven++; // the replay reached a decision (e.g. the ledger refused; reverted)
        } else failed++;
      }
    }
    return { redriven, failed };
  }

  // ---- plans --------------------------------------------------------------------------

  #refundPlan(
    row: RemittanceRow,
    actor: Actor,
    reason: string,
    feeMinor: bigint,
    event: RemittanceEvent = 'refunded',
  ): Plan {
    const fid = hex(fundingId(row));
    const transfers: TransferInput[] = [];
    const toVoid = feeMinor > 0n ? row.reserved.filter((h) => h !== fid) : row.reserved;
    transfers.push(...voidAll(row, toVoid));
    if (feeMinor > 0n) {
      transfers.push(
        ...cancellationFee(row, row.originAgentId, row.sendCurrency, feeMinor, row.fundingPosted),
      );
    }
    if (row.fundingPosted) {
      transfers.push(
        reverseFunding(row, row.originAgentId, row.sendCurrency, row.sendAmountMinor - feeMinor),
      );
    }
    const refund = row.sendAmountMinor - feeMinor;
    const events: EventDraft[] = [];
    if (event !== 'refunded') events.push(ev(row.state, 'refunded', event, actor, reason));
    events.push(
      ev(row.state, 'refunded', 'refunded', actor, reason, { refundMinor: refund.toString() }),
    );
    // No delivery failure here: a refund is often nobody's failure (the sender cancelled, an
    // operator refunded a held remittance, an agent was suspended). The callers that refund
    // because an agent declined or did not answer count that failure themselves.
    return {
      op: 'refund',
      transfers,
      success: { ...withoutAwaiting(row), state: 'refunded', refundMinor: refund, reserved: [] },
      events,
      effects: {
        cash: [{ agentId: row.originAgentId, currency: row.sendCurrency, deltaMinor: -refund }],
      },
    };
  }

  #holdPlan(row: RemittanceRow, agentId: string, actor: Actor, reason: string): Plan {
    const fid = hex(fundingId(row));
    const transfers: TransferInput[] = [];
    if (row.reserved.includes(fid)) {
      if (this.#clock() < row.reservationDeadline_ms!) {
        transfers.push(postFunding(row));
      } else {
        // The ledger has released the funding by itself (the sweeper was down past its
        // timeout): it cannot be posted. The origin still holds the sender's cash, so book
        // that debt anew, after voiding the reservation in case it has not expired yet.
        transfers.push(
          ...voidAll(row, [fid]),
          rebookFunding(row, row.originAgentId, row.sendCurrency, row.sendAmountMinor),
        );
      }
    }
    transfers.push(
      ...voidAll(
        row,
        row.reserved.filter((h) => h !== fid),
      ),
    );
    return {
      op: 'hold',
      transfers,
      success: {
        ...withoutAwaiting(row),
        state: 'held',
        heldAgentId: agentId,
        fundingPosted: true,
        reserved: [],
        acceptedHops: 0,
      },
      events: [
        ev(row.state, 'held', 'agent_suspended', actor, reason, { agentId }),
        ev(row.state, 'held', 'held', actor, 'the value is held until an operator resolves it'),
      ],
    };
  }

  /**
   * Reroutes from the origin around `exclude` if a route delivers at least the quoted amount
   * for the same amount sent; otherwise refunds.
   */
  async #rerouteOrRefund(
    row: RemittanceRow,
    exclude: readonly string[],
    event: RemittanceEvent,
    actor: Actor,
    reason: string,
    countFailure: boolean,
  ): Promise<RemittanceRow> {
    const excluded = [...new Set([...row.excludedAgentIds, ...exclude])];
    const failed = countFailure ? exclude : [];
    const refund = (why: string) => {
      const plan = this.#refundPlan(
        { ...row, excludedAgentIds: excluded },
        actor,
        `${reason}; ${why}`,
        0n,
        event,
      );
      return this.#run(row, { ...plan, effects: { ...plan.effects, failed } });
    };
    const now = this.#clock();
    // Out of held, the funding is posted and every other reservation was voided, so
    // nothing standing limits the new route: it gets a new payout window (the old one may
    // have closed while the border was shut). Otherwise the funding is still a pending
    // transfer whose timeout is the current reservation deadline: the new route keeps that
    // window, and once it has closed, nothing can be paid out any more: refund.
    const resumed = row.state === 'held' && row.fundingPosted;
    if (!resumed && now >= row.payoutDeadline_ms!) return refund('the payout window has closed');
    const quoted = await this.#quotedDeliverMinor(row);
    const alt = await this.#network.alternative(
      {
        originAgentId: row.originAgentId,
        payoutCountry: row.payoutCountry,
        payoutRegion: row.payoutRegion,
        deliverCurrency: row.deliverCurrency,
        sendCurrency: row.sendCurrency,
        corridor: row.corridor,
      },
      row.sendAmountMinor,
      quoted,
      new Set(excluded),
    );
    if (alt === undefined) return refund('no other route within the quoted cost');
    // The recipient gets whatever the new route delivers: at least the quoted amount (the
    // search requires it); a cheaper route's saving goes to the family, not to an agent.
    const legs: QuoteLeg[] = alt.priced.legs;
    assertRouteBalanced(row.id, row.originAgentId, row.sendCurrency, row.sendAmountMinor, legs);
    const attempt = row.attempt + 1;
    await this.#ensureCurrencies(legs);
    const fid = hex(fundingId(row));
    const payoutDeadline = resumed ? now + this.#cfg.payoutWindow_ms : row.payoutDeadline_ms!;
    const reservationDeadline = resumed
      ? payoutDeadline + this.#cfg.grace_ms
      : row.reservationDeadline_ms!;
    const timeout = timeoutFor(reservationDeadline, now);
    const fresh = linked(legTransfers(row, attempt, legs[0]!, false, timeout));
    const transfers = [
      ...voidAll(
        row,
        row.reserved.filter((h) => h !== fid),
      ),
      ...fresh,
    ];
    const keepFunding = row.reserved.includes(fid) ? [fid] : [];
    const success: RemittanceRow = {
      ...row,
      state: 'funded',
      legs,
      deliverAmountMinor: alt.priced.deliverMinor,
      quotedDeliverAmountMinor: quoted,
      attempt,
      acceptedHops: 0,
      awaitingHop: 1,
      awaitingAgentId: legs[1]!.agentId,
      payoutAgentId: legs[legs.length - 1]!.agentId,
      hopDeadline_ms: now + this.#cfg.hopAcceptTimeout_ms,
      payoutDeadline_ms: payoutDeadline,
      reservationDeadline_ms: reservationDeadline,
      excludedAgentIds: excluded,
      reserved: [...keepFunding, ...fresh.map((t) => hex(t.id))],
    };
    const { heldAgentId: _held, ...cleared } = success;
    return this.#run(row, {
      op: `reroute:${attempt}`,
      transfers,
      success: cleared,
      events: [
        ev(
          row.state,
          'funded',
          event,
          actor,
          reason,
          exclude.length > 0 ? { agentIds: exclude.join(',') } : undefined,
        ),
        ev(row.state, 'funded', 'rerouted', actor, `rerouted through ${legs.length - 1} hops`, {
          attempt: String(attempt),
          ...(resumed ? { payoutDeadline: new Date(payoutDeadline).toISOString() } : {}),
        }),
      ],
      effects: { failed },
      newAgents: legs.map((l) => l.agentId),
      onRefused: 'refund',
    });
  }

  /**
   * What the quote promised to deliver. Rows written before the row kept it: on the first
   * route the amount delivered is the quote's; after a reroute, the quote's while it is
   * still stored (quotes are purged a day after they expire), else the amount delivered
   * now, which a reroute never set below the promise: a stricter bound, which may refund
   * where a route at the quoted amount existed but never delivers less than promised.
   */
  async #quotedDeliverMinor(row: RemittanceRow): Promise<bigint> {
    if (row.quotedDeliverAmountMinor !== undefined) return row.quotedDeliverAmountMinor;
    if (row.attempt === 0) return row.deliverAmountMinor;
    try {
      return (await this.#network.getQuote(row.quoteId)).deliverAmountMinor;
    } catch (error) {
      if (error instanceof RemitnetError && error.code === 'quote_not_found') {
        return row.deliverAmountMinor;
      }
      throw error;
    }
  }

  // ---- the step runner ----------------------------------------------------------------

  /** Runs a plan: intent (versioned), one ledger call, outcome. */
  async #run(row: RemittanceRow, plan: Plan, onOutcome?: OutcomeHook): Promise<RemittanceRow> {
    if (row.pendingStep !== undefined || row.intent !== undefined) {
      throw new RemitnetError('remittance_busy', row.pendingStep);
    }
    for (const e of plan.events) assertTransition(e.event, e.from ?? row.state, e.to);
    if (plan.transfers.length === 0) {
      const next = this.#next(plan.success, {});
      await this.#write(
        row,
        { ...next, version: row.version + 1 },
        plan.events,
        plan.effects,
        plan.newAgents,
        onOutcome,
      );
      return { ...next, version: row.version + 1 };
    }
    // The intent stores only what changes (a patch against the row), not whole rows: it is
    // written and read on every step, so its size is the hot path's JSON cost.
    const duringKeys = Object.keys(plan.during ?? {});
    const intent: StepIntent = {
      op: plan.op,
      transfers: plan.transfers,
      success: diff(row, plan.success, duringKeys),
      events: plan.events,
      effects: plan.effects ?? {},
      newAgents: plan.newAgents ?? [],
      revert: {
        set: Object.fromEntries(
          duringKeys.filter((k) => k in row).map((k) => [k, row[k as keyof RemittanceRow]]),
        ),
        unset: duringKeys.filter((k) => !(k in row)),
      },
      onRefused: plan.onRefused ?? 'revert',
      ...(onOutcome?.answerRef === undefined ? {} : { answerTo: onOutcome.answerRef }),
    };
    const during: RemittanceRow = {
      ...row,
      ...(plan.during ?? {}),
      intent,
      pendingStep: plan.op,
      version: row.version + 1,
      updatedAt_ms: this.#clock(),
    };
    // The intent need not be durable before the ledger is called, only before the ledger's
    // batch is: that batch commits after it to the same database, and SQLite's log keeps
    // commits in order, so the intent is durable once the batch is (a crash before then
    // loses both, and the step never happened). Its write is therefore `ordered`: the step
    // waits for one fsync fewer, and every answer about it still waits for its outcome's.
    const claim = plan.cashClaim;
    // Check and claim at once: a check read before the write would let two acceptances
    // whose ledger calls overlap both pass (neither is 'ready' yet when the other reads).
    const claimCash =
      claim === undefined
        ? undefined
        : async (tx: SqlClient) => {
            const cash = await this.#network.repo.lockCash(tx, claim.agentId, claim.currency);
            const claimed = await this.repo.reservedPayouts(
              claim.agentId,
              claim.currency,
              row.id,
              tx,
            );
            if (cash - claimed < claim.amountMinor) {
              throw new RemitnetError(
                'cash_insufficient',
                `needs ${claim.amountMinor} ${claim.currency} minor units`,
              );
            }
          };
    if (!(await this.repo.update(row, during, [], claimCash, undefined, true))) {
      throw new RemitnetError('version_conflict', row.id);
    }
    return this.#drive(during, onOutcome);
  }

  /** Calls the ledger for a row's intent and records the outcome (also used by recover). */
  async #drive(row: RemittanceRow, given?: OutcomeHook): Promise<RemittanceRow> {
    const intent = row.intent!;
    const onOutcome = given ?? this.#recoveredOutcome(intent);
    let results: CreateTransferResult[];
    try {
      results = await this.#ledger.createTransfers(intent.transfers);
    } catch (error) {
      // The batch, and with it the intent (see #run), may or may not survive a restart: not
      // "recorded", but unknown until then (the client retries with the same key).
      if (error instanceof LedgerError && error.code === 'commit_unconfirmed') throw error;
      // "The step is recorded" only once the intent is durable: no batch of the ledger's
      // made it so here (an ordered write, see #run). A read answers once every commit
      // before it is durable (commit_unconfirmed if that fails).
      await this.repo.get(row.id);
      throw new RemitnetError('ledger_unavailable', intent.op, { cause: error });
    }
    const refused = results.some((r, i) => !acceptable(r, intent.transfers[i]!));
    if (!refused) {
      const base = patched(row, intent.success);
      const next: RemittanceRow = {
        ...base,
        version: row.version + 1,
        updatedAt_ms: this.#clock(),
      };
      await this.#write(row, next, intent.events, intent.effects, intent.newAgents, onOutcome);
      await this.#suspensionsMissed(next);
      return next;
    }
    const base = patched(row, intent.revert);
    const reverted: RemittanceRow = {
      ...base,
      version: row.version + 1,
      updatedAt_ms: this.#clock(),
    };
    await this.#write(row, reverted, []);
    const error = refusal(results);
    if (intent.onRefused === 'refund') {
      const plan = this.#refundPlan(
        reverted,
        SYSTEM,
        `reroute refused by the ledger: ${error.message}`,
        0n,
      );
      // The decline or timeout that asked for the reroute is still that agent's failure.
      const failed = intent.effects.failed ?? [];
      return this.#run(reverted, { ...plan, effects: { ...plan.effects, failed } }, onOutcome);
    }
    throw error;
  }

  /** For a step finished without its request: records the request's answer, if it asked. */
  #recoveredOutcome(intent: StepIntent): OutcomeHook | undefined {
    const ref = intent.answerTo;
    const recorder = this.answerRecorder;
    if (ref === undefined || recorder === undefined) return undefined;
    return Object.assign((tx: SqlClient, result: Remittance) => recorder(tx, ref, result), {
      answerRef: ref,
    });
  }

  async #write(
    row: RemittanceRow,
    next: RemittanceRow,
    events: readonly EventDraft[],
    effects?: StepEffects,
    newAgents?: readonly string[],
    onOutcome?: OutcomeHook,
  ): Promise<void> {
    const repo = this.#network.repo;
    const also =
      effects === undefined && onOutcome === undefined
        ? undefined
        : async (tx: SqlClient) => {
            for (const c of effects?.cash ?? []) {
              await repo.adjustCash(tx, c.agentId, c.currency as CurrencyCode, c.deltaMinor);
            }
            if ((effects?.delivered ?? []).length > 0)
              await repo.recordDeliveries(tx, effects!.delivered!, true);
            if ((effects?.failed ?? []).length > 0)
              await repo.recordDeliveries(tx, effects!.failed!, false);
            if (onOutcome !== undefined) await onOutcome(tx, toPublic(next));
          };
    const ok = await this.repo.update(row, next, events, also, newAgents);
    if (!ok) throw new RemitnetError('version_conflict', row.id);
    // Committed: only now do the delivery outcomes count toward quotes (see noteDeliveries).
    if ((effects?.delivered ?? []).length > 0)
      this.#network.noteDeliveries(effects!.delivered!, true);
    if ((effects?.failed ?? []).length > 0) this.#network.noteDeliveries(effects!.failed!, false);
  }

  #next(row: RemittanceRow, patch: Partial<RemittanceRow>): RemittanceRow {
    return { ...row, ...patch, version: row.version + 1, updatedAt_ms: this.#clock() };
  }

  /**
   * The row for a new step: refused with remittance_busy while an earlier step is in
   * progress (its intent written, its outcome not yet), so a caller, often the retry of
   * the request that started that step, is told to come back rather than, from the
   * in-between state, that its step is not allowed. `visibleTo` (an agent's API key asks):
   * a remittance whose route never included that agent is remittance_not_found, checked on
   * this same read, before anything else is said about it (see involves).
   */
  async #steadyRow(id: string, visibleTo?: string): Promise<RemittanceRow> {
    const row = await this.#row(id);
    if (visibleTo !== undefined && !involves(row, visibleTo)) {
      // Exactly what an id that does not exist gets: ids are guessable (time-ordered).
      throw new RemitnetError('remittance_not_found', id);
    }
    if (row.pendingStep !== undefined || row.intent !== undefined) {
      throw new RemitnetError('remittance_busy', row.pendingStep);
    }
    return row;
  }

  async #row(id: string): Promise<RemittanceRow> {
    if (typeof id !== 'string') throw new RemitnetError('remittance_not_found');
    const row = await this.repo.get(id);
    if (row === undefined) throw new RemitnetError('remittance_not_found', id);
    return row;
  }

  async #activeAgent(id: string) {
    const a = await this.#network.agent(id);
    if (a.status !== 'active') throw new RemitnetError('agent_suspended', id);
    return a;
  }

  async #ensureCurrencies(legs: readonly QuoteLeg[]): Promise<void> {
    for (const l of legs) {
      await this.#network.ensureCurrency(l.currencyIn);
      await this.#network.ensureCurrency(l.currencyOut);
    }
  }
}

const sweeper: Actor = { kind: 'system', id: 'sweeper' };

function ev(
  from: RemittanceState | null,
  to: RemittanceState,
  event: RemittanceEvent,
  actor: Actor,
  reason: string,
  detail?: Record<string, string>,
): EventDraft {
  return { from, to, event, actor, reason, ...(detail !== undefined ? { detail } : {}) };
}

function withoutAwaiting(row: RemittanceRow): RemittanceRow {
  const { awaitingHop: _h, awaitingAgentId: _a, hopDeadline_ms: _d, ...rest } = row;
  return rest;
}

function timeoutFor(deadline_ms: number, now_ms: number): number {
  return Math.max(1, Math.ceil((deadline_ms - now_ms) / 1000));
}

/** Results that mean the step's effect is in the ledger (a replay, or already released). */
function acceptable(r: CreateTransferResult, t: TransferInput): boolean {
  if (isApplied(r)) return true;
  const flags = t.flags ?? 0;
  if ((flags & 8) !== 0)
    return r === 'pending_transfer_already_voided' || r === 'pending_transfer_expired';
  return false;
}

function refusal(results: readonly CreateTransferResult[]): RemitnetError {
  if (results.includes('exceeds_credits')) return new RemitnetError('exposure_limit_exceeded');
  if (results.includes('pending_transfer_expired')) {
    return new RemitnetError('deadline_passed', 'the ledger released the reservations');
  }
  const first = results.find((r) => !isApplied(r) && r !== 'linked_event_failed') ?? results[0];
  return new RemitnetError('ledger_refused', first);
}

function requireActor(actor: Actor, kinds: readonly Actor['kind'][], agentId?: string): void {
  if (actor === undefined || typeof actor.id !== 'string' || actor.id === '') {
    throw new RemitnetError('actor_not_allowed', 'name the actor');
  }
  if (!kinds.includes(actor.kind))
    throw new RemitnetError('actor_not_allowed', `${actor.kind} may not`);
  if (actor.kind === 'agent' && agentId !== undefined && actor.id !== agentId) {
    throw new RemitnetError('actor_not_allowed', 'only the agent at this step may act');
  }
}

function checkReason(reason: string): void {
  if (typeof reason !== 'string' || reason.trim() === '' || reason.length > REASON_MAX) {
    throw new RemitnetError('reason_missing');
  }
}

function nonEmpty(s: string | undefined): s is string {
  return typeof s === 'string' && s.trim() !== '';
}
