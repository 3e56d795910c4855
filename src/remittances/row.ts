/**
 * The stored form of a remittance: the public view plus what only remitnet sees (hashes
 * of proofs, the ledger reservations standing, and the step in progress).
 */
import type { TransferInput } from '../ledger/index.ts';
import type { EventDraft } from './repository.ts';
import type { Remittance } from './types.ts';

/** Side effects written in the same transaction as a step's outcome. */
export interface StepEffects {
  /** Adjust agents' reported cash by what remitnet knows moved through their till. */
  readonly cash?: readonly { agentId: string; currency: string; deltaMinor: bigint }[];
  /** Count toward agents' delivery record. */
  readonly delivered?: readonly string[];
  readonly failed?: readonly string[];
}

/**
 * A ledger step written before the ledger is called (write intent, call, record outcome).
 * recover() replays `transfers` exactly (deterministic ids: a replay is `exists`) and then
 * records `success`, or puts `revert` back when the ledger refuses.
 */
export interface StepIntent {
  readonly op: string;
  readonly transfers: readonly TransferInput[];
  /** The row on success, as a patch against the row before the step. */
  readonly success: RowPatch;
  readonly events: readonly EventDraft[];
  readonly effects: StepEffects;
  readonly newAgents: readonly string[];
  /** Undoes what the step changed while in progress (e.g. state 'paid'). */
  readonly revert: RowPatch;
  /** What to do when the ledger refuses: put the row back, or refund the sender. */
  readonly onRefused: 'revert' | 'refund';
  /**
   * The request this step answers (OutcomeHook.answerRef, opaque here), if it asked to be
   * told: when recover() or the sweeper finishes the step instead of the request,
   * RemittanceService.answerRecorder records the answer the request would have had.
   */
  readonly answerTo?: string;
}

/** Fields to set and fields to remove. */
export interface RowPatch {
  readonly set: Readonly<Record<string, unknown>>;
  readonly unset: readonly string[];
}

export interface RemittanceRow extends Remittance {
  readonly requestHash: string;
  readonly codeHash: string;
  readonly codewordHash?: string;
  readonly idDocumentHash?: string;
  readonly payoutCountry: string;
  readonly payoutRegion: string;
  /** Pending ledger transfers of this remittance still standing (hex ids). */
  readonly reserved: readonly string[];
  /** True once the funding was posted (held): a refund then reverses rather than voids it. */
  readonly fundingPosted: boolean;
  /**
   * The amount the quote promised to deliver: every reroute must still reach it (a reroute
   * may raise deliverAmountMinor; the next one is held to the promise, not to the raise).
   * Absent on rows written before it was kept (RemittanceService falls back).
   */
  readonly quotedDeliverAmountMinor?: bigint;
  /** When the ledger releases the reservations by itself (payout deadline + grace). */
  readonly reservationDeadline_ms?: number;
  /**
   * How its ledger transfer ids are derived (bookings.ts, transferId): 'time' on every
   * remittance created since they lead with its id's time; absent on rows written before,
   * whose steps keep the hashed ids they booked.
   */
  readonly transferIds?: 'time';
  readonly intent?: StepIntent;
}

/** The public view: hashes and internal bookkeeping left out. */
export function toPublic(r: RemittanceRow): Remittance {
  const {
    requestHash: _a,
    codeHash: _b,
    codewordHash: _c,
    idDocumentHash: _d,
    payoutCountry: _e,
    payoutRegion: _f,
    reserved: _g,
    fundingPosted: _h,
    reservationDeadline_ms: _i,
    intent: _j,
    quotedDeliverAmountMinor: _k,
    transferIds: _l,
    ...pub
  } = r;
  return pub;
}

/**
 * Whether an agent is, or was, on the remittance's route: what an agent's API key may see
 * (any other remittance is answered as one that does not exist).
 */
export function involves(r: Remittance, agentId: string): boolean {
  return (
    r.originAgentId === agentId ||
    r.payoutAgentId === agentId ||
    r.heldAgentId === agentId ||
    r.legs.some((l) => l.agentId === agentId) ||
    r.excludedAgentIds.includes(agentId)
  );
}

/** The fields of `to` that differ from `from` (by identity), and those it dropped. */
export function diff(from: RemittanceRow, to: RemittanceRow, always: readonly string[]): RowPatch {
  const a = from as unknown as Record<string, unknown>;
  const b = to as unknown as Record<string, unknown>;
  const set: Record<string, unknown> = {};
  for (const k of Object.keys(b)) if (a[k] !== b[k] || always.includes(k)) set[k] = b[k];
  const unset = Object.keys(a).filter((k) => !(k in b));
  return { set, unset };
}

/**
 * A row with a patch applied, and without the step in progress: the keys of `{ ...row,
 * ...p.set }` in the same order, less those unset. Built key by key rather than copied and
 * then trimmed with `delete`, which turns a fast object into a dictionary one key at a time
 * (measured: about 13 µs a row that way, 2 to 4 µs this way, on every step's outcome).
 */
export function patched(row: RemittanceRow, p: RowPatch): RemittanceRow {
  const from = row as unknown as Record<string, unknown>;
  const set = p.set;
  const out: Record<string, unknown> = {};
  const kept = (k: string) => k !== 'intent' && k !== 'pendingStep' && !p.unset.includes(k);
  for (const k of Object.keys(from)) {
    if (kept(k)) put(out, k, Object.hasOwn(set, k) ? set[k] : from[k]);
  }
  for (const k of Object.keys(set)) {
    if (!Object.hasOwn(from, k) && kept(k)) put(out, k, set[k]);
  }
  return out as unknown as RemittanceRow;
}

/** out[k] = v as a spread would do it: an own key even when it is named __proto__. */
function put(out: Record<string, unknown>, k: string, v: unknown): void {
  if (k === '__proto__') {
    Object.defineProperty(out, k, {
      value: v,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  } else {
    out[k] = v;
  }
}
