/**
 * Durable commits on SQLite without blocking the event loop.
 *
 * With synchronous=FULL, every COMMIT calls fsync on the write-ahead log from the thread
 * that runs it: in the server that is the event loop, which then parses, validates and
 * answers nothing for the length of the fsync (profiled under bench:api: ~28% of the main
 * thread, half ledger batches, half domain transactions).
 *
 * WalSync moves that fsync to libuv's thread pool. The connection runs with
 * synchronous=NORMAL, under which, in WAL mode, COMMIT only write()s its frames (SQLite
 * still syncs the WAL before every checkpoint and the database file after it, so a
 * checkpoint never loses a commit). After each COMMIT its owner calls `committed()`, and
 * before it answers anyone it awaits `durable()`, which resolves only once an fdatasync of
 * the WAL that *started after that COMMIT returned* has completed. Every answer therefore
 * still means its change survives power loss, as with FULL; meanwhile the event loop runs
 * other requests, and one fdatasync covers every commit made before it started (group
 * commit across the ledger and the domain, which share the connection).
 *
 * Reads go through the same gate (see durableStore and SqliteClient): a caller is never
 * shown a committed change before it is durable, so no answer can depend on a change that
 * a power loss would undo.
 *
 * An fsync error leaves the state of the log unknown (the kernel may have dropped the dirty
 * pages: PostgreSQL's "fsyncgate"), so it is not retried: every waiting and later caller
 * is refused with the error, and the process must restart and recover from the database.
 *
 * An fsync that does not finish is treated the same way, after a deadline (`deadline_ms`,
 * default 30 s): a disk that stopped answering would otherwise hold every request forever,
 * each one a hung client that cannot tell whether its change happened. Past the deadline
 * the outcome of the waiting commits is unknown, so they are refused (their clients retry
 * with the same Idempotency-Key against a restarted process, which recovers what reached
 * the disk), /readyz fails, and a late completion of that fsync changes nothing.
 */
import { closeSync, fdatasync, openSync } from 'node:fs';
import { LedgerError } from '../ledger/results.ts';
import type { LedgerStore } from '../ledger/store.ts';

export type SyncFn = (done: (error: Error | null) => void) => void;

export interface WalSyncOptions {
  /** Longest an fsync may run before the log counts as failed (default 30,000 ms). */
  readonly deadline_ms?: number;
}

const DEFAULT_DEADLINE_MS = 30_000;

interface Waiter {
  readonly upto: number;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

const DONE = Promise.resolve();

export class WalSync {
  readonly #sync: SyncFn;
  readonly #close: () => void;
  readonly #deadline_ms: number;
  /** COMMITs reported so far, and how many of them a completed sync covers. */
  #commits = 0;
  #durable = 0;
  #running = false;
  #failed: LedgerError | undefined;
  #waiters: Waiter[] = [];
  /** How many syncs ran: for metrics and tests (commits / syncs = the grouping). */
  syncs = 0;

  constructor(sync: SyncFn, close: () => void = () => {}, options: WalSyncOptions = {}) {
    this.#sync = sync;
    this.#close = close;
    this.#deadline_ms = options.deadline_ms ?? DEFAULT_DEADLINE_MS;
    if (!(this.#deadline_ms > 0)) throw new RangeError('deadline_ms must be above zero');
  }

  /** Syncs the write-ahead log of the SQLite database at `databasePath` (it must exist). */
  static forDatabase(databasePath: string, options: WalSyncOptions = {}): WalSync {
    // Read-only is enough: fdatasync flushes the file's pages whichever descriptor asks.
    const fd = openSync(`${databasePath}-wal`, 'r');
    return new WalSync(
      (done) => fdatasync(fd, (error) => done(error)),
      () => closeSync(fd),
      options,
    );
  }

  /** Reports a COMMIT that has returned (call it before answering anyone about it). */
  committed(): void {
    this.#commits++;
  }

  /** Resolves once every COMMIT reported so far is on stable storage. */
  durable(): Promise<void> {
    if (this.#failed !== undefined) return Promise.reject(this.#failed);
    const upto = this.#commits;
    if (this.#durable >= upto) return DONE;
    return new Promise<void>((resolve, reject) => {
      this.#waiters.push({ upto, resolve, reject });
      this.#start();
    });
  }

  /** COMMITs reported since start (commits / syncs = how many commits one fsync covered). */
  get commits(): number {
    return this.#commits;
  }

  /** True while some reported COMMIT is not yet known durable. */
  get pending(): boolean {
    return this.#durable < this.#commits;
  }

  /** Why the log counts as failed (an fsync error or one past its deadline), if it does. */
  get failure(): LedgerError | undefined {
    return this.#failed;
  }

  #start(): void {
    if (this.#running || this.#failed !== undefined) return;
    this.#running = true;
    this.syncs++;
    // Everything reported before this point was written before the sync starts.
    const upto = this.#commits;
    const overdue = setTimeout(() => {
      this.#fail(
        new LedgerError(
          'commit_unconfirmed',
          `fsync of the SQLite write-ahead log did not finish within ${this.#deadline_ms} ms`,
        ),
      );
    }, this.#deadline_ms);
    overdue.unref();
    this.#sync((error) => {
      clearTimeout(overdue);
      this.#running = false;
      if (this.#failed !== undefined) return; // past its deadline: the outcome stays unknown
      if (error !== null) {
        this.#fail(
          new LedgerError(
            'commit_unconfirmed',
            `fsync of the SQLite write-ahead log failed: ${error.message}`,
            { cause: error },
          ),
        );
        return;
      }
      this.#durable = upto;
      const waiting: Waiter[] = [];
      for (const w of this.#waiters) {
        if (w.upto <= upto) w.resolve();
        else waiting.push(w);
      }
      this.#waiters = waiting;
      if (waiting.length > 0) this.#start();
    });
  }

  /** From now on every waiting and later caller is refused with `error`. */
  #fail(error: LedgerError): void {
    this.#failed = error;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w.reject(error);
  }

  /** Releases the file (await durable() first to keep what is outstanding). */
  close(): void {
    this.#close();
  }
}

/**
 * A ledger store on a synchronous=NORMAL connection whose answers wait for WalSync: a write
 * resolves only after its COMMIT is durable, a read only after every commit it could have
 * seen is. The store's own contract ("durably, before the promise resolves") then holds
 * again for its callers.
 */
export function durableStore(store: LedgerStore, sync: WalSync): LedgerStore {
  const gate = async <T>(write: boolean, run: () => Promise<T>): Promise<T> => {
    const value = await run();
    if (write) sync.committed();
    await sync.durable();
    return value;
  };
  return {
    get kind() {
      return store.kind;
    },
    createAccounts: (events, now) => gate(true, () => store.createAccounts(events, now)),
    createTransfers: (events, now) => gate(true, () => store.createTransfers(events, now)),
    expirePending: (now) => gate(true, () => store.expirePending(now)),
    nextExpiry: () => gate(false, () => store.nextExpiry()),
    lookupAccounts: (ids) => gate(false, () => store.lookupAccounts(ids)),
    lookupTransfers: (ids) => gate(false, () => store.lookupTransfers(ids)),
    lookupPending: (ids) => gate(false, () => store.lookupPending(ids)),
    getAccountTransfers: (filter) => gate(false, () => store.getAccountTransfers(filter)),
    getAccountBalanceAt: (id, ts) => gate(false, () => store.getAccountBalanceAt(id, ts)),
    scanAccounts: (after, limit) => gate(false, () => store.scanAccounts(after, limit)),
    close: async () => {
      try {
        await sync.durable();
      } finally {
        try {
          await store.close();
        } finally {
          sync.close();
        }
      }
    },
  };
}
