/**
 * The ledger's state machine: decides each event's result and the writes that follow.
 *
 * Owns: every rule of accounts, transfers, two-phase transfers, linked chains and expiry.
 * Never: I/O. A store hands in a LedgerView (what it has prefetched, inside its write
 * transaction) and persists the outcome atomically; both stores share this one engine, so
 * semantics cannot drift between SQLite and PostgreSQL.
 */
import type { AccountEvent, TransferEvent } from './normalize.ts';
import type { CreateAccountResult, CreateTransferResult } from './results.ts';
import {
  ACCOUNT_FLAGS_KNOWN,
  AccountFlags,
  MAX_AMOUNT,
  NS_PER_S,
  TRANSFER_FLAGS_KNOWN,
  TransferFlags,
  U128_MAX,
  type Account,
  type PendingStatus,
  type StoredTransfer,
  type Transfer,
} from './types.ts';

/** What a store has read, as of inside its write transaction. */
export interface LedgerView {
  account(id: bigint): Account | undefined;
  /** The transfer with this id, with its pending state when it is a pending transfer. */
  transfer(id: bigint): StoredTransfer | undefined;
  /**
   * The transfer an event's own id would collide with. A store may answer optimistically
   * (undefined without looking) if it then proves the guess: the insert of every created
   * transfer must fail on a duplicate id, and every event that failed must be re-checked.
   */
  existing(id: bigint): Transfer | undefined;
}

export interface PendingCreated {
  readonly timestamp: bigint;
  readonly id: bigint;
  readonly expiresAt: bigint | null;
}

export interface PendingResolved {
  /** The pending transfer's own timestamp (its key). */
  readonly timestamp: bigint;
  readonly id: bigint;
  readonly status: Exclude<PendingStatus, 'pending'>;
  readonly resolvedAt: bigint;
}

/** Everything a store must persist, in one transaction, for a batch to take effect. */
export interface LedgerWrites {
  /** New transfers in timestamp order. */
  readonly transfers: Transfer[];
  /** Final state of every account the batch changed. */
  readonly accounts: Account[];
  readonly pendingCreated: PendingCreated[];
  readonly pendingResolved: PendingResolved[];
}

export interface TransferOutcome extends LedgerWrites {
  readonly results: CreateTransferResult[];
}

export interface AccountOutcome {
  readonly results: CreateAccountResult[];
  readonly accounts: Account[];
}

type MutableAccount = { -readonly [K in keyof Account]: Account[K] };
type MutablePending = {
  status: PendingStatus;
  expiresAt: bigint | null;
  resolvedAt: bigint | null;
};
interface WorkingTransfer extends Transfer {
  pendingState?: MutablePending;
}

type Undo =
  | { readonly kind: 'account'; readonly account: MutableAccount; readonly before: Account }
  | { readonly kind: 'transfer'; readonly id: bigint }
  | { readonly kind: 'pending'; readonly state: MutablePending; readonly before: MutablePending };

const F_LINKED = TransferFlags.linked;
const F_PENDING = TransferFlags.pending;
const F_POST = TransferFlags.postPending;
const F_VOID = TransferFlags.voidPending;
const F_CLOSE_DR = TransferFlags.closingDebit;
const F_CLOSE_CR = TransferFlags.closingCredit;
const A_DR_LE_CR = AccountFlags.debitsMustNotExceedCredits;
const A_CR_LE_DR = AccountFlags.creditsMustNotExceedDebits;
/** Timestamps, expiries included, must fit a signed 64-bit column. */
const MAX_TIMESTAMP = MAX_AMOUNT;

/**
 * Applies a batch of transfer events. Event i gets timestamp `firstTimestamp + i`; the
 * caller guarantees these are above every timestamp already in the ledger.
 */
export function executeTransfers(
  view: LedgerView,
  events: readonly TransferEvent[],
  firstTimestamp: bigint,
): TransferOutcome {
  return new TransferBatch(view).run(events, firstTimestamp);
}

class TransferBatch {
  readonly #view: LedgerView;
  readonly #accounts = new Map<bigint, MutableAccount>();
  readonly #created = new Map<bigint, WorkingTransfer>();
  /** No id above this was ever put in #created (time-ordered ids skip the look-up). */
  #createdMax = -1n;
  /** Pending states this batch read or changed, by pending transfer id. */
  readonly #pending = new Map<bigint, { transfer: StoredTransfer; state: MutablePending }>();
  #undo: Undo[] | null = null;

  constructor(view: LedgerView) {
    this.#view = view;
  }

  run(events: readonly TransferEvent[], firstTimestamp: bigint): TransferOutcome {
    const n = events.length;
    const results = new Array<CreateTransferResult>(n);
    let chainStart = -1;
    let chainBroken = false;
    // Event i's timestamp, firstTimestamp + i, counted up (one bigint an event, not two).
    let timestamp = firstTimestamp - 1n;
    for (let i = 0; i < n; i++) {
      const e = events[i]!;
      timestamp++;
      const linked = (e.flags & F_LINKED) !== 0;
      if (chainStart === -1 && linked) {
        chainStart = i;
        chainBroken = false;
        this.#undo = [];
      }
      let result: CreateTransferResult;
      // As TigerBeetle: a linked last event is an open chain even when the chain already broke.
      if (linked && i === n - 1) {
        result = 'linked_event_chain_open';
      } else if (chainStart !== -1 && chainBroken) {
        result = 'linked_event_failed';
      } else {
        result = this.#create(e, timestamp);
      }
      results[i] = result;
      if (chainStart !== -1 && !chainBroken && result !== 'ok' && result !== 'exists') {
        chainBroken = true;
        this.#rollback();
        for (let j = chainStart; j < i; j++) results[j] = 'linked_event_failed';
      }
      if (!linked && chainStart !== -1) {
        chainStart = -1;
        this.#undo = null;
      }
    }
    return this.#outcome(results);
  }

  #outcome(results: CreateTransferResult[]): TransferOutcome {
    // forEach rather than for…of: no iterator result object per entry.
    const transfers = new Array<Transfer>(this.#created.size);
    const pendingCreated: PendingCreated[] = [];
    const createdPending: WorkingTransfer[] = [];
    let k = 0;
    this.#created.forEach((t) => {
      transfers[k++] = stripPending(t);
      if (t.pendingState !== undefined) {
        createdPending.push(t);
        pendingCreated.push({
          timestamp: t.timestamp,
          id: t.id,
          expiresAt: t.pendingState.expiresAt,
        });
      }
    });
    transfers.sort((a, b) => (a.timestamp < b.timestamp ? -1 : 1));
    const pendingResolved: PendingResolved[] = [];
    for (const { transfer, state } of this.#pending.values()) {
      if (state.status !== 'pending' && state.resolvedAt !== null) {
        const original = transfer.pending;
        // Only resolutions made by this batch: a state read as already resolved is not a write.
        if (original === undefined || original.status === 'pending') {
          pendingResolved.push({
            timestamp: transfer.timestamp,
            id: transfer.id,
            status: state.status,
            resolvedAt: state.resolvedAt,
          });
        }
      }
    }
    for (const t of createdPending) {
      const s = t.pendingState;
      if (s !== undefined && s.status !== 'pending' && s.resolvedAt !== null) {
        pendingResolved.push({
          timestamp: t.timestamp,
          id: t.id,
          status: s.status,
          resolvedAt: s.resolvedAt,
        });
      }
    }
    const accounts = new Array<Account>(this.#accounts.size);
    k = 0;
    this.#accounts.forEach((a) => (accounts[k++] = a));
    return {
      results,
      transfers,
      accounts,
      pendingCreated,
      pendingResolved,
    };
  }

  #rollback(): void {
    const undo = this.#undo!;
    for (let k = undo.length - 1; k >= 0; k--) {
      const u = undo[k]!;
      if (u.kind === 'account') Object.assign(u.account, u.before);
      else if (u.kind === 'transfer') this.#created.delete(u.id);
      else Object.assign(u.state, u.before);
    }
    this.#undo = [];
  }

  #account(id: bigint): MutableAccount | undefined {
    let a = this.#accounts.get(id);
    if (a === undefined) {
      const stored = this.#view.account(id);
      if (stored === undefined) return undefined;
      a = copyAccount(stored);
      this.#accounts.set(id, a);
    }
    return a;
  }

  #touch(a: MutableAccount): void {
    if (this.#undo !== null) this.#undo.push({ kind: 'account', account: a, before: { ...a } });
  }

  #transfer(id: bigint): WorkingTransfer | StoredTransfer | undefined {
    return this.#created.get(id) ?? this.#view.transfer(id);
  }

  #pendingStateOf(p: WorkingTransfer | StoredTransfer): MutablePending | undefined {
    if ('pendingState' in p && p.pendingState !== undefined) return p.pendingState;
    const known = this.#pending.get(p.id);
    if (known !== undefined) return known.state;
    const stored = (p as StoredTransfer).pending;
    if (stored === undefined) return undefined;
    const state: MutablePending = { ...stored };
    this.#pending.set(p.id, { transfer: p as StoredTransfer, state });
    return state;
  }

  #insert(t: WorkingTransfer): void {
    this.#created.set(t.id, t);
    if (t.id > this.#createdMax) this.#createdMax = t.id;
    if (this.#undo !== null) this.#undo.push({ kind: 'transfer', id: t.id });
  }

  #create(t: TransferEvent, timestamp: bigint): CreateTransferResult {
    const flags = t.flags;
    if ((flags & ~TRANSFER_FLAGS_KNOWN) !== 0) return 'reserved_flag';
    if (t.id === 0n) return 'id_must_not_be_zero';
    if (t.id === U128_MAX) return 'id_must_not_be_int_max';
    const existing =
      (t.id > this.#createdMax ? undefined : this.#created.get(t.id)) ?? this.#view.existing(t.id);
    if (existing !== undefined) return transferExists(t, existing);
    const post = (flags & F_POST) !== 0;
    const voids = (flags & F_VOID) !== 0;
    const pending = (flags & F_PENDING) !== 0;
    if (Number(pending) + Number(post) + Number(voids) > 1) return 'flags_are_mutually_exclusive';
    if ((flags & (F_CLOSE_DR | F_CLOSE_CR)) !== 0 && (post || voids)) {
      return 'flags_are_mutually_exclusive';
    }
    if (post || voids) return this.#postOrVoid(t, timestamp, post);

    if (t.debitAccountId === 0n) return 'debit_account_id_must_not_be_zero';
    if (t.creditAccountId === 0n) return 'credit_account_id_must_not_be_zero';
    if (t.debitAccountId === t.creditAccountId) return 'accounts_must_be_different';
    if (t.pendingId !== 0n) return 'pending_id_must_be_zero';
    if (!pending) {
      if (t.timeout !== 0) return 'timeout_reserved_for_pending_transfer';
      if ((flags & (F_CLOSE_DR | F_CLOSE_CR)) !== 0) return 'closing_transfer_must_be_pending';
    }
    if (t.amount <= 0n) return 'amount_must_be_positive';
    if (t.ledger === 0) return 'ledger_must_not_be_zero';
    if (t.code === 0) return 'code_must_not_be_zero';
    const dr = this.#account(t.debitAccountId);
    if (dr === undefined) return 'debit_account_not_found';
    const cr = this.#account(t.creditAccountId);
    if (cr === undefined) return 'credit_account_not_found';
    if (dr.ledger !== cr.ledger) return 'accounts_must_have_the_same_ledger';
    if (t.ledger !== dr.ledger) return 'transfer_must_have_the_same_ledger_as_accounts';
    if (dr.closed) return 'debit_account_already_closed';
    if (cr.closed) return 'credit_account_already_closed';

    const amount = t.amount;
    // The balances this transfer would leave (computed once: each bigint sum allocates).
    const drPending = pending ? dr.debitsPending + amount : dr.debitsPending;
    const drPosted = pending ? dr.debitsPosted : dr.debitsPosted + amount;
    const crPending = pending ? cr.creditsPending + amount : cr.creditsPending;
    const crPosted = pending ? cr.creditsPosted : cr.creditsPosted + amount;
    if (pending) {
      if (drPending > MAX_AMOUNT) return 'overflows_debits_pending';
      if (crPending > MAX_AMOUNT) return 'overflows_credits_pending';
    } else {
      if (drPosted > MAX_AMOUNT) return 'overflows_debits_posted';
      if (crPosted > MAX_AMOUNT) return 'overflows_credits_posted';
    }
    if (sumOver(drPending, drPosted)) return 'overflows_debits';
    if (sumOver(crPending, crPosted)) return 'overflows_credits';
    let expiresAt: bigint | null = null;
    if (pending && t.timeout !== 0) {
      expiresAt = timestamp + BigInt(t.timeout) * NS_PER_S;
      if (expiresAt > MAX_TIMESTAMP) return 'overflows_timeout';
    }
    if ((dr.flags & A_DR_LE_CR) !== 0 && drPending + drPosted > dr.creditsPosted) {
      return 'exceeds_credits';
    }
    if ((cr.flags & A_CR_LE_DR) !== 0 && crPending + crPosted > cr.debitsPosted) {
      return 'exceeds_debits';
    }

    this.#touch(dr);
    this.#touch(cr);
    if (pending) {
      dr.debitsPending = drPending;
      cr.creditsPending = crPending;
      if ((flags & F_CLOSE_DR) !== 0) dr.closed = true;
      if ((flags & F_CLOSE_CR) !== 0) cr.closed = true;
    } else {
      dr.debitsPosted = drPosted;
      cr.creditsPosted = crPosted;
    }
    const created: WorkingTransfer = {
      id: t.id,
      debitAccountId: t.debitAccountId,
      creditAccountId: t.creditAccountId,
      amount,
      pendingId: 0n,
      userData128: t.userData128,
      userData64: t.userData64,
      userData32: t.userData32,
      timeout: t.timeout,
      ledger: t.ledger,
      code: t.code,
      flags,
      timestamp,
    };
    if (pending) created.pendingState = { status: 'pending', expiresAt, resolvedAt: null };
    this.#insert(created);
    return 'ok';
  }

  #postOrVoid(t: TransferEvent, timestamp: bigint, post: boolean): CreateTransferResult {
    if (t.pendingId === 0n) return 'pending_id_must_not_be_zero';
    if (t.pendingId === U128_MAX) return 'pending_id_must_not_be_int_max';
    if (t.pendingId === t.id) return 'pending_id_must_be_different';
    if (t.timeout !== 0) return 'timeout_reserved_for_pending_transfer';
    if (t.amount < 0n) return 'amount_must_be_positive';
    const p = this.#transfer(t.pendingId);
    if (p === undefined) return 'pending_transfer_not_found';
    if ((p.flags & F_PENDING) === 0) return 'pending_transfer_not_pending';
    const state = this.#pendingStateOf(p);
    if (state === undefined)
      throw new Error(`invariant: pending transfer ${p.id} has no pending state`);
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
    if (state.status === 'posted') return 'pending_transfer_already_posted';
    if (state.status === 'voided') return 'pending_transfer_already_voided';
    if (state.status === 'expired') return 'pending_transfer_expired';
    if (state.expiresAt !== null && state.expiresAt <= timestamp) return 'pending_transfer_expired';

    const dr = this.#account(p.debitAccountId);
    const cr = this.#account(p.creditAccountId);
    if (dr === undefined || cr === undefined) {
      throw new Error(`invariant: accounts of pending transfer ${p.id} are missing`);
    }
    if (dr.closed && (p.flags & F_CLOSE_DR) === 0) return 'debit_account_already_closed';
    if (cr.closed && (p.flags & F_CLOSE_CR) === 0) return 'credit_account_already_closed';
    if (post) {
      if (dr.debitsPosted + amount > MAX_AMOUNT) return 'overflows_debits_posted';
      if (cr.creditsPosted + amount > MAX_AMOUNT) return 'overflows_credits_posted';
    }

    this.#touch(dr);
    this.#touch(cr);
    if (this.#undo !== null) this.#undo.push({ kind: 'pending', state, before: { ...state } });
    dr.debitsPending -= p.amount;
    cr.creditsPending -= p.amount;
    if (post) {
      dr.debitsPosted += amount;
      cr.creditsPosted += amount;
    } else {
      if ((p.flags & F_CLOSE_DR) !== 0) dr.closed = false;
      if ((p.flags & F_CLOSE_CR) !== 0) cr.closed = false;
    }
    state.status = post ? 'posted' : 'voided';
    state.resolvedAt = timestamp;
    this.#insert({
      id: t.id,
      debitAccountId: p.debitAccountId,
      creditAccountId: p.creditAccountId,
      amount,
      pendingId: p.id,
      userData128: t.userData128 === 0n ? p.userData128 : t.userData128,
      userData64: t.userData64 === 0n ? p.userData64 : t.userData64,
      userData32: t.userData32 === 0 ? p.userData32 : t.userData32,
      timeout: 0,
      ledger: p.ledger,
      code: p.code,
      flags: t.flags,
      timestamp,
    });
    return 'ok';
  }
}

const HALF_MAX_AMOUNT = MAX_AMOUNT >> 1n;

/**
 * Whether a + b > MAX_AMOUNT, for a and b in 0..MAX_AMOUNT, without making the sum (a
 * bigint each) in the common case where both are below half of it.
 */
function sumOver(a: bigint, b: bigint): boolean {
  if (a <= HALF_MAX_AMOUNT && b <= HALF_MAX_AMOUNT) return false;
  return a + b > MAX_AMOUNT;
}

/** A working copy of a stored account (one shape for every copy, whatever the source's). */
function copyAccount(a: Account): MutableAccount {
  return {
    id: a.id,
    ledger: a.ledger,
    code: a.code,
    flags: a.flags,
    userData128: a.userData128,
    userData64: a.userData64,
    userData32: a.userData32,
    debitsPending: a.debitsPending,
    debitsPosted: a.debitsPosted,
    creditsPending: a.creditsPending,
    creditsPosted: a.creditsPosted,
    closed: a.closed,
    timestamp: a.timestamp,
  };
}

function stripPending(t: WorkingTransfer): Transfer {
  if (t.pendingState === undefined) return t;
  const { pendingState: _omit, ...rest } = t;
  return rest;
}

/** The result for an event whose id is taken: `exists` only when every given field matches. */
function transferExists(t: TransferEvent, e: Transfer): CreateTransferResult {
  if (t.flags !== e.flags) return 'exists_with_different_flags';
  const resolves = (t.flags & (F_POST | F_VOID)) !== 0;
  if (resolves) {
    // Zero fields of a post or void mean "as the pending transfer", so only given ones compare.
    if (t.pendingId !== e.pendingId) return 'exists_with_different_pending_id';
    if (t.debitAccountId !== 0n && t.debitAccountId !== e.debitAccountId) {
      return 'exists_with_different_debit_account_id';
    }
    if (t.creditAccountId !== 0n && t.creditAccountId !== e.creditAccountId) {
      return 'exists_with_different_credit_account_id';
    }
    if (t.amount !== 0n && t.amount !== e.amount) return 'exists_with_different_amount';
    if (t.userData128 !== 0n && t.userData128 !== e.userData128) {
      return 'exists_with_different_user_data_128';
    }
    if (t.userData64 !== 0n && t.userData64 !== e.userData64)
      return 'exists_with_different_user_data_64';
    if (t.userData32 !== 0 && t.userData32 !== e.userData32)
      return 'exists_with_different_user_data_32';
    if (t.timeout !== e.timeout) return 'exists_with_different_timeout';
    if (t.ledger !== 0 && t.ledger !== e.ledger) return 'exists_with_different_ledger';
    if (t.code !== 0 && t.code !== e.code) return 'exists_with_different_code';
    return 'exists';
  }
  if (t.debitAccountId !== e.debitAccountId) return 'exists_with_different_debit_account_id';
  if (t.creditAccountId !== e.creditAccountId) return 'exists_with_different_credit_account_id';
  if (t.amount !== e.amount) return 'exists_with_different_amount';
  if (t.pendingId !== e.pendingId) return 'exists_with_different_pending_id';
  if (t.userData128 !== e.userData128) return 'exists_with_different_user_data_128';
  if (t.userData64 !== e.userData64) return 'exists_with_different_user_data_64';
  if (t.userData32 !== e.userData32) return 'exists_with_different_user_data_32';
  if (t.timeout !== e.timeout) return 'exists_with_different_timeout';
  if (t.ledger !== e.ledger) return 'exists_with_different_ledger';
  if (t.code !== e.code) return 'exists_with_different_code';
  return 'exists';
}

/**
 * Applies a batch of account events. Event i gets timestamp `firstTimestamp + i`.
 * Balances start at zero; an account is created open.
 */
export function executeAccounts(
  view: Pick<LedgerView, 'account'>,
  events: readonly AccountEvent[],
  firstTimestamp: bigint,
): AccountOutcome {
  const n = events.length;
  const results = new Array<CreateAccountResult>(n);
  const created = new Map<bigint, Account>();
  let chainStart = -1;
  let chainBroken = false;
  let chainIds: bigint[] = [];
  for (let i = 0; i < n; i++) {
    const e = events[i]!;
    const linked = (e.flags & AccountFlags.linked) !== 0;
    if (chainStart === -1 && linked) {
      chainStart = i;
      chainBroken = false;
      chainIds = [];
    }
    let result: CreateAccountResult;
    if (linked && i === n - 1) result = 'linked_event_chain_open';
    else if (chainStart !== -1 && chainBroken) result = 'linked_event_failed';
    else {
      result = createAccount(e, created.get(e.id) ?? view.account(e.id));
      if (result === 'ok') {
        created.set(e.id, newAccount(e, firstTimestamp + BigInt(i)));
        if (chainStart !== -1) chainIds.push(e.id);
      }
    }
    results[i] = result;
    if (chainStart !== -1 && !chainBroken && result !== 'ok' && result !== 'exists') {
      chainBroken = true;
      for (const id of chainIds) created.delete(id);
      for (let j = chainStart; j < i; j++) results[j] = 'linked_event_failed';
    }
    if (!linked) chainStart = -1;
  }
  return { results, accounts: [...created.values()] };
}

function newAccount(e: AccountEvent, timestamp: bigint): Account {
  return {
    id: e.id,
    ledger: e.ledger,
    code: e.code,
    flags: e.flags,
    userData128: e.userData128,
    userData64: e.userData64,
    userData32: e.userData32,
    debitsPending: 0n,
    debitsPosted: 0n,
    creditsPending: 0n,
    creditsPosted: 0n,
    closed: false,
    timestamp,
  };
}

function createAccount(a: AccountEvent, existing: Account | undefined): CreateAccountResult {
  if ((a.flags & ~ACCOUNT_FLAGS_KNOWN) !== 0) return 'reserved_flag';
  if (a.id === 0n) return 'id_must_not_be_zero';
  if (a.id === U128_MAX) return 'id_must_not_be_int_max';
  if (existing !== undefined) {
    if (a.flags !== existing.flags) return 'exists_with_different_flags';
    if (a.userData128 !== existing.userData128) return 'exists_with_different_user_data_128';
    if (a.userData64 !== existing.userData64) return 'exists_with_different_user_data_64';
    if (a.userData32 !== existing.userData32) return 'exists_with_different_user_data_32';
    if (a.ledger !== existing.ledger) return 'exists_with_different_ledger';
    if (a.code !== existing.code) return 'exists_with_different_code';
    return 'exists';
  }
  if ((a.flags & A_DR_LE_CR) !== 0 && (a.flags & A_CR_LE_DR) !== 0)
    return 'flags_are_mutually_exclusive';
  if (a.ledger === 0) return 'ledger_must_not_be_zero';
  if (a.code === 0) return 'code_must_not_be_zero';
  return 'ok';
}

/**
 * Expires pending transfers whose deadline has passed: releases each reservation (and
 * reopens accounts a closing transfer held). `due` are still-pending transfers with
 * expiresAt <= now. An expiry takes effect at the deadline itself (resolvedAt = expiresAt),
 * whenever the sweep runs, so a balance read as of any past time counts it exactly.
 */
export function executeExpiry(
  view: Pick<LedgerView, 'account'>,
  due: readonly StoredTransfer[],
  now: bigint,
): LedgerWrites {
  const accounts = new Map<bigint, MutableAccount>();
  const get = (id: bigint): MutableAccount => {
    let a = accounts.get(id);
    if (a === undefined) {
      const stored = view.account(id);
      if (stored === undefined)
        throw new Error(`invariant: account ${id} of a pending transfer is missing`);
      a = { ...stored };
      accounts.set(id, a);
    }
    return a;
  };
  const pendingResolved: PendingResolved[] = [];
  for (const p of due) {
    const s = p.pending;
    if (s === undefined || s.status !== 'pending' || s.expiresAt === null || s.expiresAt > now) {
      throw new Error(`invariant: transfer ${p.id} is not a pending transfer due to expire`);
    }
    const dr = get(p.debitAccountId);
    const cr = get(p.creditAccountId);
    dr.debitsPending -= p.amount;
    cr.creditsPending -= p.amount;
    if ((p.flags & F_CLOSE_DR) !== 0) dr.closed = false;
    if ((p.flags & F_CLOSE_CR) !== 0) cr.closed = false;
    if (dr.debitsPending < 0n || cr.creditsPending < 0n) {
      throw new Error(`invariant: expiring ${p.id} drove a pending balance below zero`);
    }
    pendingResolved.push({
      timestamp: p.timestamp,
      id: p.id,
      status: 'expired',
      resolvedAt: s.expiresAt,
    });
  }
  return { transfers: [], accounts: [...accounts.values()], pendingCreated: [], pendingResolved };
}
