/**
 * A deliberately naive in-memory model of the ledger's rules, written independently of
 * src/ledger/engine.ts (it imports only types, constants and result codes). Plain Maps, a
 * whole-state snapshot for linked chains, and one straight list of checks per event, in the
 * order the engine documents. The property test runs the real Ledger against it.
 *
 * Rules reproduced:
 * - timestamps: event i of a batch gets base + i, base = max(now, last + 1); `last` moves to
 *   base + n - 1 whether or not the events succeeded; `now` is the latest clock reading (the
 *   Ledger's clock never steps back, so nothing is timestamped before a sweep already made);
 *   a sweep on its own (a read) that expired anything moves `last` up to its time;
 * - before every transfer batch (and on every sweep) each pending transfer with
 *   expiresAt <= base expires, released at resolvedAt = expiresAt; after the batch, so do
 *   those still pending with expiresAt <= base + n - 1 (a deadline within the batch: a post
 *   or void stamped at or after it was refused as expired);
 * - linked chains: the failing member keeps its code, every other member of the chain is
 *   linked_event_failed; `exists` does not break a chain; a chain still open at the end of
 *   the batch fails with linked_event_chain_open on its last event, even when an earlier
 *   member already failed (as TigerBeetle's state machine does);
 * - duplicate ids within a batch and across batches: exists / exists_with_different_*.
 */
import type { CreateAccountResult, CreateTransferResult } from '../../src/ledger/results.ts';
import {
  AccountFlags,
  MAX_AMOUNT,
  NS_PER_S,
  TransferFlags,
  U128_MAX,
  type Account,
  type AccountBalance,
  type AccountInput,
  type PendingState,
  type PendingStatus,
  type Transfer,
  type TransferInput,
} from '../../src/ledger/types.ts';

export interface ModelAccount {
  id: bigint;
  ledger: number;
  code: number;
  flags: number;
  userData128: bigint;
  userData64: bigint;
  userData32: number;
  debitsPending: bigint;
  debitsPosted: bigint;
  creditsPending: bigint;
  creditsPosted: bigint;
  closed: boolean;
  timestamp: bigint;
}

export interface ModelTransfer {
  id: bigint;
  debitAccountId: bigint;
  creditAccountId: bigint;
  amount: bigint;
  pendingId: bigint;
  userData128: bigint;
  userData64: bigint;
  userData32: number;
  timeout: number;
  ledger: number;
  code: number;
  flags: number;
  timestamp: bigint;
  /** Only for pending transfers. */
  status?: PendingStatus;
  expiresAt?: bigint | null;
  resolvedAt?: bigint | null;
}

interface FullTransferInput {
  id: bigint;
  debitAccountId: bigint;
  creditAccountId: bigint;
  amount: bigint;
  pendingId: bigint;
  userData128: bigint;
  userData64: bigint;
  userData32: number;
  timeout: number;
  ledger: number;
  code: number;
  flags: number;
}

interface FullAccountInput {
  id: bigint;
  ledger: number;
  code: number;
  flags: number;
  userData128: bigint;
  userData64: bigint;
  userData32: number;
}

const LINKED = 1;
const PENDING = 2;
const POST = 4;
const VOID = 8;
const CLOSE_DR = 16;
const CLOSE_CR = 32;
const KNOWN_TRANSFER_FLAGS = 63;
const KNOWN_ACCOUNT_FLAGS = 7;
const DR_LE_CR = 2;
const CR_LE_DR = 4;

// The literal flag values above are this model's own; make sure they mean what the ledger means.
if (
  TransferFlags.linked !== LINKED ||
  TransferFlags.pending !== PENDING ||
  TransferFlags.postPending !== POST ||
  TransferFlags.voidPending !== VOID ||
  TransferFlags.closingDebit !== CLOSE_DR ||
  TransferFlags.closingCredit !== CLOSE_CR ||
  AccountFlags.debitsMustNotExceedCredits !== DR_LE_CR ||
  AccountFlags.creditsMustNotExceedDebits !== CR_LE_DR
) {
  throw new Error('model: flag values differ from src/ledger/types.ts');
}

function has(flags: number, bit: number): boolean {
  return (flags & bit) === bit;
}

function fillTransfer(t: TransferInput): FullTransferInput {
  return {
    id: t.id,
    debitAccountId: t.debitAccountId ?? 0n,
    creditAccountId: t.creditAccountId ?? 0n,
    amount: t.amount ?? 0n,
    pendingId: t.pendingId ?? 0n,
    userData128: t.userData128 ?? 0n,
    userData64: t.userData64 ?? 0n,
    userData32: t.userData32 ?? 0,
    timeout: t.timeout ?? 0,
    ledger: t.ledger ?? 0,
    code: t.code ?? 0,
    flags: t.flags ?? 0,
  };
}

function fillAccount(a: AccountInput): FullAccountInput {
  return {
    id: a.id,
    ledger: a.ledger,
    code: a.code,
    flags: a.flags ?? 0,
    userData128: a.userData128 ?? 0n,
    userData64: a.userData64 ?? 0n,
    userData32: a.userData32 ?? 0,
  };
}

function applied(r: string): boolean {
  return r === 'ok' || r === 'exists';
}

export class LedgerModel {
  accounts = new Map<bigint, ModelAccount>();
  transfers = new Map<bigint, ModelTransfer>();
  /** The last timestamp handed out (0 for an empty ledger, like an empty store). */
  last = 0n;
  /** The latest clock reading: the Ledger's clock never steps back. */
  latest = 0n;

  private clock(now: bigint): bigint {
    if (now > this.latest) this.latest = now;
    return this.latest;
  }

  // ---- state snapshots (for linked chains) -----------------------------------------------

  private snapshot(): {
    accounts: Map<bigint, ModelAccount>;
    transfers: Map<bigint, ModelTransfer>;
  } {
    const accounts = new Map<bigint, ModelAccount>();
    for (const [k, v] of this.accounts) accounts.set(k, { ...v });
    const transfers = new Map<bigint, ModelTransfer>();
    for (const [k, v] of this.transfers) transfers.set(k, { ...v });
    return { accounts, transfers };
  }

  private restore(s: {
    accounts: Map<bigint, ModelAccount>;
    transfers: Map<bigint, ModelTransfer>;
  }): void {
    this.accounts = s.accounts;
    this.transfers = s.transfers;
  }

  private base(now: bigint): bigint {
    return now > this.last ? now : this.last + 1n;
  }

  /**
   * Runs a batch with linked-chain semantics. `one(i)` applies event i alone and returns its
   * result; the chain bookkeeping (snapshots, failure spreading) is done here.
   */
  private runBatch<R extends string>(
    n: number,
    isLinked: (i: number) => boolean,
    one: (i: number) => R,
  ): (R | 'linked_event_failed' | 'linked_event_chain_open')[] {
    const results: (R | 'linked_event_failed' | 'linked_event_chain_open')[] = [];
    let i = 0;
    while (i < n) {
      if (!isLinked(i)) {
        results[i] = one(i);
        i++;
        continue;
      }
      // A chain: i .. the first unlinked event, or the end of the batch.
      let end = i;
      while (end < n - 1 && isLinked(end)) end++;
      const saved = this.snapshot();
      let failed = -1;
      for (let k = i; k <= end; k++) {
        const r = k === n - 1 && isLinked(k) ? 'linked_event_chain_open' : one(k);
        results[k] = r;
        if (!applied(r)) {
          failed = k;
          break;
        }
      }
      if (failed !== -1) {
        this.restore(saved);
        for (let k = i; k <= end; k++) if (k !== failed) results[k] = 'linked_event_failed';
        // As in TigerBeetle, a linked last event is reported as an open chain in any case.
        if (end === n - 1 && isLinked(end)) results[end] = 'linked_event_chain_open';
      }
      i = end + 1;
    }
    return results;
  }

  // ---- accounts --------------------------------------------------------------------------

  createAccounts(batch: readonly AccountInput[], now: bigint): CreateAccountResult[] {
    const events = batch.map(fillAccount);
    if (events.length === 0) return []; // the Ledger answers an empty batch without the store
    const base = this.base(this.clock(now));
    const results = this.runBatch(
      events.length,
      (i) => has(events[i]!.flags, LINKED),
      (i) => this.createAccount(events[i]!, base + BigInt(i)),
    );
    if (events.length > 0) this.last = base + BigInt(events.length) - 1n;
    return results;
  }

  private createAccount(a: FullAccountInput, timestamp: bigint): CreateAccountResult {
    if ((a.flags | KNOWN_ACCOUNT_FLAGS) !== KNOWN_ACCOUNT_FLAGS) return 'reserved_flag';
    if (a.id === 0n) return 'id_must_not_be_zero';
    if (a.id === U128_MAX) return 'id_must_not_be_int_max';
    const old = this.accounts.get(a.id);
    if (old) {
      if (old.flags !== a.flags) return 'exists_with_different_flags';
      if (old.userData128 !== a.userData128) return 'exists_with_different_user_data_128';
      if (old.userData64 !== a.userData64) return 'exists_with_different_user_data_64';
      if (old.userData32 !== a.userData32) return 'exists_with_different_user_data_32';
      if (old.ledger !== a.ledger) return 'exists_with_different_ledger';
      if (old.code !== a.code) return 'exists_with_different_code';
      return 'exists';
    }
    if (has(a.flags, DR_LE_CR) && has(a.flags, CR_LE_DR)) return 'flags_are_mutually_exclusive';
    if (a.ledger === 0) return 'ledger_must_not_be_zero';
    if (a.code === 0) return 'code_must_not_be_zero';
    this.accounts.set(a.id, {
      ...a,
      debitsPending: 0n,
      debitsPosted: 0n,
      creditsPending: 0n,
      creditsPosted: 0n,
      closed: false,
      timestamp,
    });
    return 'ok';
  }

  // ---- transfers -------------------------------------------------------------------------

  createTransfers(batch: readonly TransferInput[], now: bigint): CreateTransferResult[] {
    const events = batch.map(fillTransfer);
    if (events.length === 0) return []; // the Ledger answers an empty batch without the store
    const base = this.base(this.clock(now));
    if (events.length > 0) this.expire(base);
    const results = this.runBatch(
      events.length,
      (i) => has(events[i]!.flags, LINKED),
      (i) => this.createTransfer(events[i]!, base + BigInt(i)),
    );
    if (events.length > 0) {
      this.last = base + BigInt(events.length) - 1n;
      // A deadline within the batch: posts and voids stamped at or after it were refused as
      // expired, so the reservation ends there, released as of the deadline.
      this.expire(this.last);
    }
    return results;
  }

  /**
   * What a read through the Ledger does first: expire what is due by the clock. A sweep
   * that expired anything raises `last` to its time, so no later batch (from any process)
   * is timestamped before the expiries it made.
   */
  sweep(now: bigint): number {
    const at = this.clock(now);
    const count = this.expire(at);
    if (count > 0 && at > this.last) this.last = at;
    return count;
  }

  /** Expires every pending transfer due at `now`; returns how many. */
  private expire(now: bigint): number {
    let count = 0;
    for (const t of this.transfers.values()) {
      if (t.status !== 'pending' || t.expiresAt === null || t.expiresAt === undefined) continue;
      if (t.expiresAt > now) continue;
      const dr = this.accounts.get(t.debitAccountId)!;
      const cr = this.accounts.get(t.creditAccountId)!;
      dr.debitsPending -= t.amount;
      cr.creditsPending -= t.amount;
      if (has(t.flags, CLOSE_DR)) dr.closed = false;
      if (has(t.flags, CLOSE_CR)) cr.closed = false;
      t.status = 'expired';
      t.resolvedAt = t.expiresAt;
      count++;
    }
    return count;
  }

  private createTransfer(t: FullTransferInput, timestamp: bigint): CreateTransferResult {
    const f = t.flags;
    if ((f | KNOWN_TRANSFER_FLAGS) !== KNOWN_TRANSFER_FLAGS) return 'reserved_flag';
    if (t.id === 0n) return 'id_must_not_be_zero';
    if (t.id === U128_MAX) return 'id_must_not_be_int_max';
    const old = this.transfers.get(t.id);
    if (old) return existsResult(t, old);
    const kinds = [PENDING, POST, VOID].filter((b) => has(f, b)).length;
    if (kinds > 1) return 'flags_are_mutually_exclusive';
    const closing = has(f, CLOSE_DR) || has(f, CLOSE_CR);
    if (closing && (has(f, POST) || has(f, VOID))) return 'flags_are_mutually_exclusive';
    if (has(f, POST) || has(f, VOID)) return this.resolvePending(t, timestamp);

    const pending = has(f, PENDING);
    if (t.debitAccountId === 0n) return 'debit_account_id_must_not_be_zero';
    if (t.creditAccountId === 0n) return 'credit_account_id_must_not_be_zero';
    if (t.debitAccountId === t.creditAccountId) return 'accounts_must_be_different';
    if (t.pendingId !== 0n) return 'pending_id_must_be_zero';
    if (!pending && t.timeout !== 0) return 'timeout_reserved_for_pending_transfer';
    if (!pending && closing) return 'closing_transfer_must_be_pending';
    if (t.amount <= 0n) return 'amount_must_be_positive';
    if (t.ledger === 0) return 'ledger_must_not_be_zero';
    if (t.code === 0) return 'code_must_not_be_zero';
    const dr = this.accounts.get(t.debitAccountId);
    if (!dr) return 'debit_account_not_found';
    const cr = this.accounts.get(t.creditAccountId);
    if (!cr) return 'credit_account_not_found';
    if (dr.ledger !== cr.ledger) return 'accounts_must_have_the_same_ledger';
    if (t.ledger !== dr.ledger) return 'transfer_must_have_the_same_ledger_as_accounts';
    if (dr.closed) return 'debit_account_already_closed';
    if (cr.closed) return 'credit_account_already_closed';
    const a = t.amount;
    if (pending && dr.debitsPending + a > MAX_AMOUNT) return 'overflows_debits_pending';
    if (pending && cr.creditsPending + a > MAX_AMOUNT) return 'overflows_credits_pending';
    if (!pending && dr.debitsPosted + a > MAX_AMOUNT) return 'overflows_debits_posted';
    if (!pending && cr.creditsPosted + a > MAX_AMOUNT) return 'overflows_credits_posted';
    if (dr.debitsPending + dr.debitsPosted + a > MAX_AMOUNT) return 'overflows_debits';
    if (cr.creditsPending + cr.creditsPosted + a > MAX_AMOUNT) return 'overflows_credits';
    let expiresAt: bigint | null = null;
    if (pending && t.timeout > 0) {
      expiresAt = timestamp + BigInt(t.timeout) * NS_PER_S;
      if (expiresAt > MAX_AMOUNT) return 'overflows_timeout';
    }
    if (has(dr.flags, DR_LE_CR) && dr.debitsPending + dr.debitsPosted + a > dr.creditsPosted) {
      return 'exceeds_credits';
    }
    if (has(cr.flags, CR_LE_DR) && cr.creditsPending + cr.creditsPosted + a > cr.debitsPosted) {
      return 'exceeds_debits';
    }

    if (pending) {
      dr.debitsPending += a;
      cr.creditsPending += a;
      if (has(f, CLOSE_DR)) dr.closed = true;
      if (has(f, CLOSE_CR)) cr.closed = true;
    } else {
      dr.debitsPosted += a;
      cr.creditsPosted += a;
    }
    const row: ModelTransfer = { ...t, pendingId: 0n, timestamp };
    if (pending) {
      row.status = 'pending';
      row.expiresAt = expiresAt;
      row.resolvedAt = null;
    }
    this.transfers.set(t.id, row);
    return 'ok';
  }

  private resolvePending(t: FullTransferInput, timestamp: bigint): CreateTransferResult {
    const post = has(t.flags, POST);
    if (t.pendingId === 0n) return 'pending_id_must_not_be_zero';
    if (t.pendingId === U128_MAX) return 'pending_id_must_not_be_int_max';
    if (t.pendingId === t.id) return 'pending_id_must_be_different';
    if (t.timeout !== 0) return 'timeout_reserved_for_pending_transfer';
    if (t.amount < 0n) return 'amount_must_be_positive';
    const p = this.transfers.get(t.pendingId);
    if (!p) return 'pending_transfer_not_found';
    if (!has(p.flags, PENDING)) return 'pending_transfer_not_pending';
    if (t.debitAccountId !== 0n && t.debitAccountId !== p.debitAccountId) {
      return 'pending_transfer_has_different_debit_account_id';
    }
    if (t.creditAccountId !== 0n && t.creditAccountId !== p.creditAccountId) {
      return 'pending_transfer_has_different_credit_account_id';
    }
    if (t.ledger !== 0 && t.ledger !== p.ledger) return 'pending_transfer_has_different_ledger';
    if (t.code !== 0 && t.code !== p.code) return 'pending_transfer_has_different_code';
    const amount = t.amount === 0n ? p.amount : t.amount;
    if (amount > p.amount) return 'exceeds_pending_transfer_amount';
    if (!post && amount !== p.amount) return 'pending_transfer_has_different_amount';
    if (p.status === 'posted') return 'pending_transfer_already_posted';
    if (p.status === 'voided') return 'pending_transfer_already_voided';
    if (p.status === 'expired') return 'pending_transfer_expired';
    if (p.expiresAt !== null && p.expiresAt !== undefined && p.expiresAt <= timestamp) {
      return 'pending_transfer_expired';
    }
    const dr = this.accounts.get(p.debitAccountId)!;
    const cr = this.accounts.get(p.creditAccountId)!;
    if (dr.closed && !has(p.flags, CLOSE_DR)) return 'debit_account_already_closed';
    if (cr.closed && !has(p.flags, CLOSE_CR)) return 'credit_account_already_closed';
    if (post && dr.debitsPosted + amount > MAX_AMOUNT) return 'overflows_debits_posted';
    if (post && cr.creditsPosted + amount > MAX_AMOUNT) return 'overflows_credits_posted';

    dr.debitsPending -= p.amount;
    cr.creditsPending -= p.amount;
    if (post) {
      dr.debitsPosted += amount;
      cr.creditsPosted += amount;
    } else {
      if (has(p.flags, CLOSE_DR)) dr.closed = false;
      if (has(p.flags, CLOSE_CR)) cr.closed = false;
    }
    p.status = post ? 'posted' : 'voided';
    p.resolvedAt = timestamp;
    this.transfers.set(t.id, {
      id: t.id,
      debitAccountId: p.debitAccountId,
      creditAccountId: p.creditAccountId,
      amount,
      pendingId: p.id,
      userData128: t.userData128 !== 0n ? t.userData128 : p.userData128,
      userData64: t.userData64 !== 0n ? t.userData64 : p.userData64,
      userData32: t.userData32 !== 0 ? t.userData32 : p.userData32,
      timeout: 0,
      ledger: p.ledger,
      code: p.code,
      flags: t.flags,
      timestamp,
    });
    return 'ok';
  }

  // ---- reads -----------------------------------------------------------------------------

  account(id: bigint): Account | undefined {
    const a = this.accounts.get(id);
    return a === undefined ? undefined : { ...a };
  }

  transfer(id: bigint): Transfer | undefined {
    const t = this.transfers.get(id);
    if (t === undefined) return undefined;
    const { status: _s, expiresAt: _e, resolvedAt: _r, ...rest } = t;
    return rest;
  }

  pending(id: bigint): PendingState | undefined {
    const t = this.transfers.get(id);
    if (t === undefined || t.status === undefined) return undefined;
    return { status: t.status, expiresAt: t.expiresAt ?? null, resolvedAt: t.resolvedAt ?? null };
  }

  /** True when some reservation is past its deadline but not yet swept at `at`. */
  hasUnsweptExpiry(at: bigint): boolean {
    for (const t of this.transfers.values()) {
      if (t.status === 'pending' && t.expiresAt != null && t.expiresAt <= at) return true;
    }
    return false;
  }

  /** Balances as of `at`, recomputed from the model's transfers. */
  balanceAt(accountId: bigint, at: bigint): AccountBalance {
    let debitsPending = 0n;
    let debitsPosted = 0n;
    let creditsPending = 0n;
    let creditsPosted = 0n;
    for (const t of this.transfers.values()) {
      if (t.timestamp > at) continue;
      if (has(t.flags, PENDING)) {
        const open = t.resolvedAt === null || t.resolvedAt === undefined || t.resolvedAt > at;
        if (!open) continue;
        if (t.debitAccountId === accountId) debitsPending += t.amount;
        if (t.creditAccountId === accountId) creditsPending += t.amount;
      } else if (!has(t.flags, VOID)) {
        if (t.debitAccountId === accountId) debitsPosted += t.amount;
        if (t.creditAccountId === accountId) creditsPosted += t.amount;
      }
    }
    return {
      accountId,
      debitsPending,
      debitsPosted,
      creditsPending,
      creditsPosted,
      timestamp: at,
    };
  }
}

/** The result for an event whose id is already taken (`exists` only when all given fields match). */
function existsResult(t: FullTransferInput, e: ModelTransfer): CreateTransferResult {
  if (t.flags !== e.flags) return 'exists_with_different_flags';
  if (has(t.flags, POST) || has(t.flags, VOID)) {
    // Zero fields of a post or void mean "as the pending transfer": only given ones compare.
    const differs = (given: bigint | number, stored: bigint | number): boolean =>
      given !== 0n && given !== 0 && given !== stored;
    if (t.pendingId !== e.pendingId) return 'exists_with_different_pending_id';
    if (differs(t.debitAccountId, e.debitAccountId))
      return 'exists_with_different_debit_account_id';
    if (differs(t.creditAccountId, e.creditAccountId)) {
      return 'exists_with_different_credit_account_id';
    }
    if (differs(t.amount, e.amount)) return 'exists_with_different_amount';
    if (differs(t.userData128, e.userData128)) return 'exists_with_different_user_data_128';
    if (differs(t.userData64, e.userData64)) return 'exists_with_different_user_data_64';
    if (differs(t.userData32, e.userData32)) return 'exists_with_different_user_data_32';
    if (t.timeout !== e.timeout) return 'exists_with_different_timeout';
    if (differs(t.ledger, e.ledger)) return 'exists_with_different_ledger';
    if (differs(t.code, e.code)) return 'exists_with_different_code';
    return 'exists';
  }
  const order: [keyof FullTransferInput & keyof ModelTransfer, CreateTransferResult][] = [
    ['debitAccountId', 'exists_with_different_debit_account_id'],
    ['creditAccountId', 'exists_with_different_credit_account_id'],
    ['amount', 'exists_with_different_amount'],
    ['pendingId', 'exists_with_different_pending_id'],
    ['userData128', 'exists_with_different_user_data_128'],
    ['userData64', 'exists_with_different_user_data_64'],
    ['userData32', 'exists_with_different_user_data_32'],
    ['timeout', 'exists_with_different_timeout'],
    ['ledger', 'exists_with_different_ledger'],
    ['code', 'exists_with_different_code'],
  ];
  for (const [field, result] of order) if (t[field] !== e[field]) return result;
  return 'exists';
}
