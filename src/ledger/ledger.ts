/**
 * The ledger as the rest of remitnet uses it: shape checks, group commit, expiry.
 *
 * Owns: turning many concurrent callers into few durable store batches (group commit),
 * and making sure no read counts an expired reservation. Never: SQL, HTTP, or a result
 * decided outside the engine. A resolved promise means the batch is durable.
 */
import { normalizeAccounts, normalizeTransfers, type TransferEvent } from './normalize.ts';
import { LedgerError, type CreateAccountResult, type CreateTransferResult } from './results.ts';
import type { LedgerStore } from './store.ts';
import {
  BATCH_MAX,
  MAX_AMOUNT,
  TransferFlags,
  U128_MAX,
  type Account,
  type AccountBalance,
  type AccountInput,
  type AccountTransfersFilter,
  type PendingState,
  type Transfer,
  type TransferInput,
  type TransferPage,
} from './types.ts';

/** Wall-clock nanoseconds since the epoch (millisecond precision is enough for deadlines). */
export function systemClockNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

export interface LedgerOptions {
  /** Nanoseconds since the epoch; tests pass a controllable clock. */
  readonly clock?: () => bigint;
  /** Most events merged into one store batch (1..8189). */
  readonly maxBatch?: number;
}

interface Waiter {
  readonly events: TransferEvent[];
  readonly resolve: (results: CreateTransferResult[]) => void;
  readonly reject: (error: unknown) => void;
}

export class Ledger {
  readonly store: LedgerStore;
  readonly #clock: () => bigint;
  readonly #maxBatch: number;
  #queue: Waiter[] = [];
  #flushing = false;
  #expiryTimer: NodeJS.Timeout | undefined;
  /** Resolves when the queue drains; used by close() to finish in-flight batches. */
  #idle: Promise<void> = Promise.resolve();
  #markIdle: () => void = () => {};
  /** The latest time this ledger has used (see now()). */
  #latest = 0n;

  constructor(store: LedgerStore, options: LedgerOptions = {}) {
    this.store = store;
    this.#clock = options.clock ?? systemClockNs;
    this.#maxBatch = options.maxBatch ?? BATCH_MAX;
    if (!Number.isInteger(this.#maxBatch) || this.#maxBatch < 1 || this.#maxBatch > BATCH_MAX) {
      throw new RangeError(`maxBatch must be 1..${BATCH_MAX}`);
    }
  }

  /**
   * The clock, never stepping back: once a sweep has expired reservations as of time t, no
   * later batch may be timestamped before t (it would have seen a release that history,
   * which counts an expiry from its deadline, places after it).
   */
  now(): bigint {
    const t = this.#clock();
    if (t > this.#latest) this.#latest = t;
    return this.#latest;
  }

  async createAccounts(batch: readonly AccountInput[]): Promise<CreateAccountResult[]> {
    const events = normalizeAccounts(batch);
    if (events.length === 0) return [];
    return this.store.createAccounts(events, this.now());
  }

  /**
   * Creates transfers; one result per event, in order. Calls made while a batch is being
   * committed are merged into the next store batch (group commit), with results exactly as
   * if each call ran alone, in call order. A call's linked chain never spans into another's.
   */
  createTransfers(batch: readonly TransferInput[]): Promise<CreateTransferResult[]> {
    let events: TransferEvent[];
    try {
      events = normalizeTransfers(batch);
    } catch (error) {
      return Promise.reject(error);
    }
    if (events.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      if (this.#queue.length === 0 && !this.#flushing) {
        this.#idle = new Promise((r) => (this.#markIdle = r));
      }
      this.#queue.push({ events, resolve, reject });
      if (!this.#flushing) {
        this.#flushing = true;
        // Let callers arriving in this turn of the event loop join the batch.
        setImmediate(() => void this.#flush());
      }
    });
  }

  async #flush(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const group = this.#takeGroup();
        const merged = group.length === 1 ? group[0]!.events : group.flatMap((w) => w.events);
        try {
          const results = await this.store.createTransfers(merged, this.now());
          let offset = 0;
          for (const w of group) {
            w.resolve(results.slice(offset, offset + w.events.length));
            offset += w.events.length;
          }
        } catch (error) {
          for (const w of group) w.reject(error);
        }
      }
    } finally {
      this.#flushing = false;
      this.#markIdle();
    }
  }

  /** Takes queued calls that fit one batch. A call ending in an open chain goes alone. */
  #takeGroup(): Waiter[] {
    const group: Waiter[] = [];
    let size = 0;
    while (this.#queue.length > 0) {
      const next = this.#queue[0]!;
      if (group.length > 0 && (size + next.events.length > this.#maxBatch || endsLinked(next)))
        break;
      group.push(this.#queue.shift()!);
      size += next.events.length;
      if (endsLinked(next)) break;
    }
    return group;
  }

  /** Expires every reservation past its deadline now; returns how many. */
  async expire(): Promise<number> {
    const next = await this.store.nextExpiry();
    const now = this.now();
    if (next === null || next > now) return 0;
    return this.store.expirePending(now);
  }

  /**
   * Runs expiry every `interval_ms` even if nobody reads or writes. Stopped by close(). A
   * failed sweep is retried on the next tick (reads sweep for themselves too) and reported
   * to `onError`, so an operator sees a store that keeps failing.
   */
  startExpiry(interval_ms: number, onError: (error: unknown) => void = () => {}): void {
    this.stopExpiry();
    this.#expiryTimer = setInterval(() => {
      this.expire().catch(onError);
    }, interval_ms);
    this.#expiryTimer.unref();
  }

  stopExpiry(): void {
    if (this.#expiryTimer !== undefined) clearInterval(this.#expiryTimer);
    this.#expiryTimer = undefined;
  }

  async lookupAccounts(ids: readonly bigint[]): Promise<Account[]> {
    checkIds(ids);
    await this.expire();
    return this.store.lookupAccounts(ids);
  }

  async lookupTransfers(ids: readonly bigint[]): Promise<Transfer[]> {
    checkIds(ids);
    return this.store.lookupTransfers(ids);
  }

  async lookupPending(ids: readonly bigint[]): Promise<Map<bigint, PendingState>> {
    checkIds(ids);
    await this.expire();
    return this.store.lookupPending(ids);
  }

  async getAccountTransfers(filter: AccountTransfersFilter): Promise<TransferPage> {
    if (!Number.isInteger(filter.limit) || filter.limit < 1 || filter.limit > BATCH_MAX) {
      throw new LedgerError('limit_invalid', `got ${String(filter.limit)}`);
    }
    checkIds([filter.accountId]);
    checkTimestamp(filter.timestampMin, 'timestampMin');
    checkTimestamp(filter.timestampMax, 'timestampMax');
    if (filter.side !== undefined && !['debits', 'credits', 'both'].includes(filter.side)) {
      throw new LedgerError('event_malformed', "side must be 'debits', 'credits' or 'both'");
    }
    if (filter.reversed !== undefined && typeof filter.reversed !== 'boolean') {
      throw new LedgerError('event_malformed', 'reversed must be a boolean');
    }
    if (filter.cursor !== undefined && typeof filter.cursor !== 'string') {
      throw new LedgerError('cursor_invalid');
    }
    return this.store.getAccountTransfers(filter);
  }

  /** Balances as of a past time, rebuilt from history (expiries count from their deadline). */
  async getAccountBalanceAt(accountId: bigint, timestamp: bigint): Promise<AccountBalance> {
    checkIds([accountId]);
    checkTimestamp(timestamp, 'timestamp');
    // A reservation past its deadline counts as released from then only once swept.
    await this.expire();
    const balance = await this.store.getAccountBalanceAt(accountId, timestamp);
    if (balance === undefined) throw new LedgerError('account_not_found', accountId.toString(16));
    return balance;
  }

  /** Stops the expiry timer and waits for queued batches to commit. Does not close the store. */
  async drain(): Promise<void> {
    this.stopExpiry();
    await this.#idle;
  }

  async close(): Promise<void> {
    await this.drain();
    await this.store.close();
  }
}

function endsLinked(w: Waiter): boolean {
  return (w.events[w.events.length - 1]!.flags & TransferFlags.linked) !== 0;
}

/** Timestamps are signed 64-bit nanoseconds: a bigint from 0 to 2^63-1 (or left out). */
function checkTimestamp(t: unknown, field: string): void {
  if (t === undefined) return;
  if (typeof t !== 'bigint' || t < 0n || t > MAX_AMOUNT) {
    throw new LedgerError('event_malformed', `${field} must be a bigint from 0 to 2^63-1`);
  }
}

function checkIds(ids: readonly bigint[]): void {
  if (!Array.isArray(ids) || ids.length > BATCH_MAX) {
    throw new LedgerError('batch_too_large', `at most ${BATCH_MAX} ids per lookup`);
  }
  for (const id of ids) {
    if (typeof id !== 'bigint' || id < 0n || id > U128_MAX) {
      throw new LedgerError('event_malformed', 'ids must be bigints from 0 to 2^128-1');
    }
  }
}
