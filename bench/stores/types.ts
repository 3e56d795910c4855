/**
 * What the ledger benchmark needs from a store, so each store plugs in with one file
 * (bench/stores/<name>.ts) and one line in the registry of bench/ledger.ts.
 *
 * The workload, timing, invariant checks and reporting live in bench/ledger.ts; a store
 * adapter only knows how to open a fresh, empty, durable store of its kind and how to
 * measure that database's own write limit for rows shaped like the ledger's transfers.
 */
import type { LedgerStore } from '../../src/ledger/store.ts';

/** A fresh store opened for one part of the run. */
export interface BenchStoreHandle {
  readonly store: LedgerStore;
  /** Rows in the store's transfers table, read from the database (not a cache). */
  countTransfers(): Promise<number>;
  /** Closes the store and drops what open() made (files, databases, schemas). */
  close(): Promise<void>;
}

export interface LimitOptions {
  /** Rows to insert in total. */
  readonly rows: number;
  /** Rows per transaction (one durable commit per batch). */
  readonly batch: number;
  /** Account ids the rows' debit and credit columns are drawn from (uniformly at random). */
  readonly accountIds: readonly bigint[];
  /** Ledger number of every row. */
  readonly ledger: number;
}

export interface BenchStore {
  /** The value of "store" in the JSON line, and of --store. */
  readonly name: string;
  /**
   * Fields that say how durable the commits were, printed right after "store" in the JSON
   * line (SQLite: {"synchronous":"FULL"}; PostgreSQL: e.g. {"synchronous_commit":"on"}).
   */
  readonly durability: Readonly<Record<string, string | number>>;
  /** A new, empty, migrated store with durable commits, private to the caller. */
  open(): Promise<BenchStoreHandle>;
  /**
   * The database's own limit on this machine: rows per second of plain multi-row INSERTs
   * into a table with the transfers table's columns, keys and indexes, rows the same size
   * as the ledger's, one durable transaction per `batch` rows, in a separate database.
   */
  measureLimit(options: LimitOptions): Promise<number>;
  /** Extra fields for the JSON line (file sizes, settings), read at the end of the run. */
  extra(): Promise<Record<string, string | number | boolean>>;
  /** Removes everything the adapter created (temp directories). */
  cleanup(): Promise<void>;
}
