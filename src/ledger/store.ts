/**
 * The port every ledger store implements (SQLite embedded, PostgreSQL server).
 *
 * A store owns durability, transactions, timestamps and concurrency; it never decides a
 * result: it hands what it read to the shared engine (engine.ts) and persists the outcome.
 * Contract, for every store:
 * - createAccounts/createTransfers apply the whole batch in one transaction, durably,
 *   before the promise resolves; a rejected promise means nothing was applied.
 * - Event i of a batch gets timestamp base + i, base = max(now, last timestamp + 1): unique
 *   and strictly increasing in commit order.
 * - Before a transfer batch, inside its transaction, every pending transfer with
 *   expiresAt <= base is expired (executeExpiry), so the batch never counts an expired
 *   reservation. expirePending does the same on its own. After the batch, in the same
 *   transaction, so is every one still pending with expiresAt <= base + n - 1 (a deadline
 *   within the batch: the engine refused a post or void stamped at or after it as
 *   expired), released as of its deadline, so no read after the batch counts it.
 * - Every timestamp a batch handed out (failed events' and its sweeps' included) stays
 *   handed out: a later batch, from any process or after a restart, is stamped above it.
 * - Transient conflicts (deadlock, serialization failure, a lost connection before commit)
 *   are retried inside the store, never surfaced as results.
 */
import type { AccountEvent, TransferEvent } from './normalize.ts';
import type { CreateAccountResult, CreateTransferResult } from './results.ts';
import type {
  Account,
  AccountBalance,
  AccountTransfersFilter,
  PendingState,
  Transfer,
  TransferPage,
} from './types.ts';

export interface LedgerStore {
  /** 'sqlite' or 'postgres': for logs, metrics and benchmark lines. */
  readonly kind: string;
  createAccounts(events: readonly AccountEvent[], now: bigint): Promise<CreateAccountResult[]>;
  createTransfers(events: readonly TransferEvent[], now: bigint): Promise<CreateTransferResult[]>;
  /** Expires every pending transfer with expiresAt <= now; returns how many it expired. */
  expirePending(now: bigint): Promise<number>;
  /** The earliest expiresAt of any still-pending transfer, or null when none has a timeout. */
  nextExpiry(): Promise<bigint | null>;
  /** Accounts found, in the order of `ids` (missing ids are left out). */
  lookupAccounts(ids: readonly bigint[]): Promise<Account[]>;
  /** Transfers found, in the order of `ids` (missing ids are left out). */
  lookupTransfers(ids: readonly bigint[]): Promise<Transfer[]>;
  /** The state of pending transfers, by id (ids that are not pending transfers are left out). */
  lookupPending(ids: readonly bigint[]): Promise<Map<bigint, PendingState>>;
  getAccountTransfers(filter: AccountTransfersFilter): Promise<TransferPage>;
  /** Balances as of `timestamp` (inclusive), rebuilt from immutable history. */
  getAccountBalanceAt(accountId: bigint, timestamp: bigint): Promise<AccountBalance | undefined>;
  /** Every account, for invariant checks and exports; paged by timestamp. */
  scanAccounts(afterTimestamp: bigint, limit: number): Promise<Account[]>;
  close(): Promise<void>;
}
