/**
 * The embedded ledger store: SQLite through better-sqlite3, WAL, synchronous=FULL.
 *
 * Owns: durability and the single-writer transaction around each batch. Never: a result;
 * the shared engine decides. Hot-path design (see docs in ARCHITECTURE.md):
 * - accounts are cached in memory; `PRAGMA data_version`, read first in every write and
 *   account or history read transaction, tells when another connection (another process
 *   on the same file) committed, and then everything held in memory is dropped;
 * - idempotency is checked optimistically: the unique index on transfers.id is the check.
 *   A batch is first run assuming none of its ids exist; if an insert hits the unique
 *   index, or an event failed whose id might exist, it is rerun with real look-ups. In
 *   the common case a batch costs no id look-ups at all;
 * - rows go in through multi-row INSERT statements (256 rows a statement), reservations'
 *   state rows too; their resolutions are one UPDATE … FROM (VALUES …) per 256;
 * - balances go to a journal (schema.ts, migration 5): a transaction writes one row, the
 *   packed balances of every account it changed (../deferred.ts), instead of updating
 *   each account row in place (which rewrote most pages of the accounts table every big
 *   batch). Whoever reads an account takes the newest journal entry over the row: this
 *   connection keeps the journal in memory (after another connection wrote, it reads
 *   only the rows added since). Once `balanceFoldEvery` entries have gathered, a
 *   transaction folds instead: the newest balances of every journaled account into the
 *   accounts table (multi-row `UPDATE … FROM (VALUES …)`, in account order), and empties
 *   the journal but for an empty marker row that tells other connections it folded;
 * - every hot-path write is `OR ROLLBACK` and there is no savepoint: a failing statement
 *   (a duplicate id, or a broken invariant) undoes the whole transaction, so SQLite keeps
 *   no statement journal and copies no page a second time. A duplicate id then reruns the
 *   whole batch in a new transaction with real id look-ups (same timestamps);
 * - durability: WAL + synchronous=FULL, so COMMIT returns after the WAL is fsynced: an
 *   acknowledged batch survives power loss. Copying the WAL back into the database file
 *   (checkpoint) is not needed for that, so a worker thread does it on its own connection
 *   (Checkpointer, below) instead of the commit that crosses wal_autocheckpoint. It copies
 *   each page once however many commits rewrote it (index leaves are rewritten by almost
 *   every big batch). It checkpoints once the WAL holds 1000 frames not yet copied back,
 *   whoever committed them (a SqliteClient sharing the connection tells it through
 *   `noteCommitted`). SQLite's autocheckpoint stays on at 4000 pages as a backstop
 *   (WAL_BACKSTOP_PAGES): a passive checkpoint on another thread cannot always catch up
 *   with a busy writer, and the WAL restarts only once it has. A dead checkpointer is not
 *   left silent either: if its thread exits or errs, or its checkpoints fail (not busy) 3
 *   times in a row, the store sets the autocheckpoint to 1000 pages (as 'inline') and
 *   says why in `checkpointer`;
 * - account history is indexed in bulk (schema.ts, migrations 3 and 4): indexing every
 *   transfer by account as it was written put a batch's ~16,000 index entries on ~16,000
 *   random leaf pages, so each commit rewrote most of two indexes. Every
 *   `historyIndexEvery` transfers, inside that batch's transaction, one index run adds a
 *   stretch: one row per account that took part, holding its transfer timestamps in the
 *   stretch (a posting list, ../deferred.ts), keyed (stretch, account) so the run appends
 *   at the end of the table. The lists come from memory (this connection saw every row
 *   since the last run) or, after another connection wrote, from the rows. History reads
 *   walk the stretches that overlap their range, one posting list each, and merge a scan
 *   of the rows written since (`ts > indexed_upto`), in one read transaction;
 * - the reservations this connection made and saw still pending are kept in memory
 *   (#pending, up to `pendingCacheMax`), so the post or void that resolves one reads no
 *   row. Measured with two stores in one process, fed the same batches of 8189 in turn
 *   (reserve, then post each): 49-53k transfers/s without it, 75-80k with;
 * - hot-path memory: per account id a slot (AccountSlot) holds the id's 16 bytes, the
 *   cached account and its not yet indexed posting list, so a transfer row costs two map
 *   look-ups and no allocation for its account ids; transfer ids are encoded into reused
 *   buffers, parameter arrays are reused per statement shape;
 * - measured with bench/ledger.ts (1M transfers in batches of 8189, 10,000 accounts, this
 *   2-core machine): 102,768/s before the journal and posting lists (ratio to the plain
 *   INSERT limit 0.176), 219,506/s after (0.356). Where the time goes now (CPU profile of
 *   the batch phase): SQLite inserting the rows ~32% (the limit's own work), the engine
 *   ~15%, GC ~10%, COMMIT (fsync) ~8%, the journal and its folds ~6%, slot look-ups ~5%,
 *   history index runs ~4%.
 */
import Database from 'better-sqlite3';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import {
  executeAccounts,
  executeExpiry,
  executeTransfers,
  type LedgerView,
  type LedgerWrites,
  type PendingCreated,
  type PendingResolved,
  type TransferOutcome,
} from '../../ledger/engine.ts';
import type { AccountEvent, TransferEvent } from '../../ledger/normalize.ts';
import {
  LedgerError,
  type CreateAccountResult,
  type CreateTransferResult,
} from '../../ledger/results.ts';
import type { LedgerStore } from '../../ledger/store.ts';
import {
  BATCH_MAX,
  TransferFlags,
  type Account,
  type AccountBalance,
  type AccountTransfersFilter,
  type PendingState,
  type StoredTransfer,
  type Transfer,
  type TransferPage,
} from '../../ledger/types.ts';
import {
  bytesToU128,
  decodeCursor,
  encodeCursor,
  i64ToU64,
  nullableBytesToU128,
  PENDING_STATUS_CODES,
  pendingStatusFromCode,
  u128OrNull,
  u128ToBytes,
  u64ToI64,
  assertBalances,
  stripPendingState,
} from '../codec.ts';
import {
  BALANCE_ENTRY_BYTES,
  packAccountBalances,
  firstAbove,
  packTimestamps,
  unpackBalances,
  type AccountBalances,
} from '../deferred.ts';
import {
  runMigrations,
  type Migration,
  type MigrationReport,
  type MigrationTarget,
} from '../migrate.ts';
import { SQLITE_MIGRATIONS } from './schema.ts';

export type SqliteSynchronous = 'FULL' | 'NORMAL' | 'EXTRA';

/** Who copies the WAL back into the database file (SqliteStore.checkpointer). */
export interface SqliteCheckpointerStatus {
  /**
   * 'background': the worker thread; 'inline': SQLite's autocheckpoint on the store's
   * connection, as asked (option, ':memory:') or because the worker failed.
   */
  readonly mode: 'background' | 'inline';
  /** Why the background checkpointer was given up, when it was. */
  readonly failure?: string;
}

export interface SqliteStoreOptions {
  /** File path, or ':memory:' for tests. */
  readonly path: string;
  /** FULL (default): an acknowledged batch survives power loss. */
  readonly synchronous?: SqliteSynchronous;
  /** Most accounts kept in memory; the cache is dropped when it grows past this. */
  readonly accountCacheMax?: number;
  /**
   * Most pending transfers kept in memory for the posts and voids that resolve them (the
   * oldest go first; a transfer not held is read from the database). Default 65,536.
   */
  readonly pendingCacheMax?: number;
  /** Milliseconds to wait for another process's write lock. */
  readonly busyTimeout_ms?: number;
  /**
   * Who copies the WAL back into the database file. 'background' (default for files): a
   * worker thread with its own connection, so commits do not wait for it (but for a
   * backstop, WAL_BACKSTOP_PAGES); 'inline': SQLite's autocheckpoint, run by the commit
   * that crosses 1000 WAL pages. 'background' turns into 'inline' if the worker fails
   * (`SqliteStore.checkpointer` says why).
   */
  readonly checkpoint?: 'background' | 'inline';
  /**
   * Told once, with the reason, when the background checkpointer fails and SQLite's own
   * autocheckpoint takes over (so an operator hears of it, not only a gauge).
   */
  readonly onCheckpointerFailure?: (reason: string) => void;
  /**
   * Tests only: the statement the checkpointer thread prepares once and runs in place of
   * `PRAGMA wal_checkpoint(PASSIVE)`. One that does not prepare kills the thread as it
   * starts; one that fails when run stands for a failing checkpoint (disk full, I/O error).
   */
  readonly checkpointStatementForTests?: string;
  /** Page size of a new database file (existing files keep theirs). Default 4096. */
  readonly pageSize?: number;
  /**
   * How many new transfers may wait before they are added, in one sorted bulk insert, to
   * the account history index (schema.ts, migration 3). Reads scan at most this many rows
   * beyond the index. Default 65,536.
   */
  readonly historyIndexEvery?: number;
  /**
   * How many balance journal entries (one per account a transaction changed) may gather
   * before a transaction folds them into the accounts table and empties the journal
   * (schema.ts, migration 5). A connection that opens the file decodes at most about this
   * many entries. Default 65,536.
   */
  readonly balanceFoldEvery?: number;
}

/**
 * SQLite's autocheckpoint while the background checkpointer runs: only a backstop. The
 * worker checkpoints at 1000 frames (see CHECKPOINT_WORKER), passively, on its own
 * connection, and the WAL starts again from its beginning only when a write transaction
 * begins with every frame copied back. A writer that commits faster than a checkpoint
 * (two fsyncs and the copy) can finish never lets that happen: a test rewriting 64 pages
 * per commit in a loop reached 12,000-13,000 frames of its 16,000 with the worker alone.
 * Past this many pages the committing connection checkpoints itself, copying only what
 * the worker has not yet, and the WAL restarts. It costs the event loop that copy and two
 * fsyncs, so it should stay rare: the ledger benchmark (WAL at most 2084 frames, measured
 * after every commit) and bench/api.ts (at most 1331) did not reach it.
 */
const WAL_BACKSTOP_PAGES = 4000;
const ROWS_PER_INSERT = 256;
const ROWS_PER_UPDATE = 512;
const ACCOUNT_UPDATE_PARAMS = 6;
const TRANSFER_COLUMNS =
  'ts, id, debit_account_id, credit_account_id, amount, pending_id, user_data_128, user_data_64, user_data_32, timeout, ledger, code, flags';
const TRANSFER_PARAMS = 13;
const ACCOUNT_COLUMNS =
  'ts, id, ledger, code, flags, user_data_128, user_data_64, user_data_32, debits_pending, debits_posted, credits_pending, credits_posted, closed';

/**
 * How many of `left` rows the next multi-row statement takes: the largest power of two
 * that fits, up to `max`, so there are few statement shapes (9 for ROWS_PER_INSERT).
 */
function chunkRows(left: number, max = ROWS_PER_INSERT): number {
  let rows = max;
  while (rows > left) rows >>= 1;
  return rows;
}

type Row = Record<string, unknown>;

/** What the store keeps per account id for the hot path (see #slot). */
interface AccountSlot {
  readonly id: bigint;
  /** The id's 16 big-endian bytes, as transfer rows hold it. */
  readonly bytes: Buffer;
  /** The account's timestamp (its key in account_postings); -1 until looked up. */
  ts: bigint;
  /** The account as it stands (the account cache), when `accountEpoch` is current. */
  account: Account | undefined;
  accountEpoch: number;
  /** Its transfers newer than the history index, ascending, when `epoch` is current. */
  postings: bigint[];
  epoch: number;
}

interface InsertScratch {
  readonly params: unknown[];
  /** 16-byte views, one per row, of the buffer `view` writes into. */
  readonly ids: readonly Buffer[];
  readonly view: DataView;
}
/** What the balance journal holds of an account (an Account is one, so is a BalanceEntry). */
type Balances = Omit<AccountBalances, 'timestamp'>;
/** What #writeBalances wrote: a journal row, or a fold (and its marker row), at `seq`. */
interface BalancesWrite {
  readonly folded: boolean;
  readonly seq: bigint;
}

class UniqueIdCollision extends Error {}

export class SqliteStore implements LedgerStore {
  readonly kind = 'sqlite';
  readonly synchronous: SqliteSynchronous;
  readonly db: Database.Database;
  readonly #accountCacheMax: number;
  /** The account cache lives in the slots (AccountSlot.account): bumping this drops it. */
  #accountsEpoch = 0;
  /** Inside #write, until its cache updates are done: the slot map is not cleared. */
  #writing = false;
  /** Slots whose accounts the engine read, in the order it read them (see #writeTransfers). */
  #loaded: AccountSlot[] = [];
  #lastTimestamp = -1n;
  #dataVersion = -1n;
  /**
   * Pending transfers this connection created and saw still pending, by id: what a post
   * or void reads (LedgerView.transfer) without a look-up. Changed only once a write
   * commits (from what it persisted, #persisted); emptied when another connection commits
   * (#sync). Reads outside a write (lookupTransfers, lookupPending) never use it.
   */
  readonly #pending = new Map<bigint, StoredTransfer>();
  readonly #pendingCacheMax: number;
  /** What the write in progress persisted, in order (see #pending). */
  #persisted: LedgerWrites[] = [];
  readonly #stmt: ReturnType<SqliteStore['prepareStatements']>;
  readonly #insertTransfers = new Map<number, Database.Statement>();
  readonly #insertPending = new Map<number, Database.Statement>();
  readonly #resolvePending = new Map<number, Database.Statement>();
  readonly #updateAccounts = new Map<number, Database.Statement>();
  /** Per account id: its 16-byte form and its not yet indexed history (AccountSlot). */
  readonly #slots = new Map<bigint, AccountSlot>();
  #checkpointer: Checkpointer | undefined;
  readonly #onCheckpointerFailure: ((reason: string) => void) | undefined;
  /** Whether the store was opened with a background checkpointer (see `checkpointer`). */
  #background = false;
  /** Why the background checkpointer failed; set, SQLite's autocheckpoint took over. */
  #checkpointFailure: string | undefined;
  /** The autocheckpoint is still to be turned back on (see #restoreAutocheckpoint). */
  #autocheckpointDue = false;

  readonly #historyIndexEvery: number;
  /** Transfers newer than the history index (-1: not known, count them). */
  #unindexed = -1;
  /**
   * Whether the slots' posting lists hold every transfer newer than the history index, so
   * an index run need not read them back. False when not known (another connection
   * wrote): the run then reads the rows.
   */
  #postingsKnown = false;
  /** Posting lists of an older epoch count as empty: bumping it empties them all. */
  #postingsEpoch = 0;
  /** Slots whose posting list is of the current epoch: what the next index run writes. */
  #postingSlots: AccountSlot[] = [];
  /** The first timestamp of the transaction in progress (its postings go on a rollback). */
  #txBase = 0n;
  /**
   * Parameter arrays and id buffers of the multi-row transfer INSERT, reused per shape
   * (SQLite copies what it is bound to; nothing holds them after the statement ran).
   */
  readonly #insertScratch = new Map<number, InsertScratch>();
  readonly #insertPostings = new Map<number, Database.Statement>();
  readonly #balanceFoldEvery: number;
  /** The balance journal, per account timestamp (see #loadJournal); null: not read yet. */
  #journal: Map<bigint, Balances> | null = null;
  /** Entries in the journal's rows, repeats included: the fold is due on this. */
  #journalEntries = 0;
  /** The highest journal row (seq) #journal has applied. */
  #journalSeq = 0n;
  /** Another connection committed: #journal may lack its rows (see #loadJournal). */
  #journalStale = false;

  private constructor(db: Database.Database, options: SqliteStoreOptions) {
    this.db = db;
    this.synchronous = options.synchronous ?? 'FULL';
    this.#historyIndexEvery = options.historyIndexEvery ?? 65_536;
    if (!Number.isInteger(this.#historyIndexEvery) || this.#historyIndexEvery < 1) {
      throw new RangeError('historyIndexEvery must be a whole number above zero');
    }
    this.#balanceFoldEvery = options.balanceFoldEvery ?? 65_536;
    if (!Number.isInteger(this.#balanceFoldEvery) || this.#balanceFoldEvery < 1) {
      throw new RangeError('balanceFoldEvery must be a whole number above zero');
    }
    this.#accountCacheMax = options.accountCacheMax ?? 1_000_000;
    this.#pendingCacheMax = options.pendingCacheMax ?? 65_536;
    if (!Number.isInteger(this.#pendingCacheMax) || this.#pendingCacheMax < 0) {
      throw new RangeError('pendingCacheMax must be a whole number, 0 or more');
    }
    this.#onCheckpointerFailure = options.onCheckpointerFailure;
    this.#stmt = this.prepareStatements();
  }

  /** Opens (creating if needed) and migrates the database. */
  static async open(options: SqliteStoreOptions): Promise<SqliteStore> {
    const db = new Database(options.path);
    try {
      db.defaultSafeIntegers(true);
      if (options.pageSize !== undefined) db.pragma(`page_size = ${options.pageSize}`);
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${options.synchronous ?? 'FULL'}`);
      db.pragma(`busy_timeout = ${options.busyTimeout_ms ?? 5000}`);
      db.pragma('cache_size = -65536');
      db.pragma('temp_store = MEMORY');
      await migrateSqlite(db);
      const store = new SqliteStore(db, options);
      if (options.path !== ':memory:' && options.path !== '' && options.checkpoint !== 'inline') {
        db.pragma(`wal_autocheckpoint = ${WAL_BACKSTOP_PAGES}`);
        store.#background = true;
        store.#checkpointer = new Checkpointer(
          db.name,
          store.synchronous,
          (reason) => store.#checkpointerFailed(reason),
          options.checkpointStatementForTests,
        );
      }
      return store;
    } catch (error) {
      db.close();
      throw error;
    }
  }

  private prepareStatements() {
    const db = this.db;
    return {
      dataVersion: db.prepare('PRAGMA data_version').pluck(),
      maxTs: db
        .prepare(
          'SELECT max(coalesce((SELECT max(ts) FROM transfers), 0), coalesce((SELECT max(ts) FROM accounts), 0), (SELECT floor_ts FROM ledger_clock WHERE id = 1))',
        )
        .pluck(),
      raiseClockFloor: db.prepare(
        'UPDATE ledger_clock SET floor_ts = max(floor_ts, ?) WHERE id = 1',
      ),
      accountById: db.prepare(`SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE id = ?`),
      accountsAfter: db.prepare(
        `SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE ts > ? ORDER BY ts LIMIT ?`,
      ),
      insertAccount: db.prepare(`INSERT INTO accounts (${ACCOUNT_COLUMNS}) VALUES (${q(13)})`),
      transferById: db.prepare(
        `SELECT t.*, p.status, p.expires_at, p.resolved_at FROM transfers t LEFT JOIN pending_transfers p ON p.ts = t.ts WHERE t.id = ?`,
      ),
      transferExists: db.prepare('SELECT 1 FROM transfers WHERE id = ?').pluck(),
      nextExpiry: db
        .prepare(
          'SELECT min(expires_at) FROM pending_transfers WHERE status = 0 AND expires_at IS NOT NULL',
        )
        .pluck(),
      due: db.prepare(
        `SELECT t.*, p.status, p.expires_at, p.resolved_at FROM pending_transfers p JOIN transfers t ON t.ts = p.ts
         WHERE p.status = 0 AND p.expires_at IS NOT NULL AND p.expires_at <= ? ORDER BY p.expires_at, p.ts LIMIT ?`,
      ),
      // History reads merge the posting lists (ts <= indexed_upto) with a scan of the rows
      // written since (ts > indexed_upto), inside one read transaction (#read).
      indexedUpto: db.prepare('SELECT indexed_upto FROM ledger_clock WHERE id = 1').pluck(),
      accountTs: db.prepare('SELECT ts FROM accounts WHERE id = ?').pluck(),
      // Stretches (after, upto] overlapping (lo, hi], oldest first.
      stretchesForward: db
        .prepare('SELECT upto FROM history_stretches WHERE upto > ? AND after < ? ORDER BY upto')
        .pluck(),
      // Stretches overlapping [lo, hi), newest first.
      stretchesBackward: db
        .prepare(
          'SELECT upto FROM history_stretches WHERE upto >= ? AND after < ? ORDER BY upto DESC',
        )
        .pluck(),
      postingList: db
        .prepare('SELECT list FROM account_postings WHERE upto = ? AND account_ts = ?')
        .pluck(),
      transferAt: db.prepare('SELECT * FROM transfers WHERE ts = ?'),
      tailForward: db.prepare(
        `SELECT * FROM transfers WHERE ts > :from AND ts <= :hi
           AND ((debit_account_id = :id AND :debits) OR (credit_account_id = :id AND :credits))
         ORDER BY ts LIMIT :n`,
      ),
      tailBackward: db.prepare(
        `SELECT * FROM transfers WHERE ts > :upto AND ts >= :lo AND ts < :hi
           AND ((debit_account_id = :id AND :debits) OR (credit_account_id = :id AND :credits))
         ORDER BY ts DESC LIMIT :n`,
      ),
      // Posted: single-phase transfers and posts (not pending, not void). Pending: pending
      // transfers made by then and not yet resolved by then. :list is the account's indexed
      // timestamps <= :at (a JSON array), the rest is the scan of the newer rows.
      balanceAt: db.prepare(
        `WITH h AS (
           SELECT t.ts, t.amount, t.flags, t.debit_account_id FROM json_each(:list) j
             JOIN transfers t ON t.ts = j.value
           UNION ALL
           SELECT ts, amount, flags, debit_account_id FROM transfers
             WHERE ts > :upto AND ts <= :at
               AND (debit_account_id = :id OR credit_account_id = :id))
         SELECT
           coalesce(sum(CASE WHEN h.debit_account_id = :id AND (h.flags & 10) = 0 THEN h.amount END), 0) AS debits_posted,
           coalesce(sum(CASE WHEN h.debit_account_id != :id AND (h.flags & 10) = 0 THEN h.amount END), 0) AS credits_posted,
           coalesce(sum(CASE WHEN h.debit_account_id = :id AND p.ts IS NOT NULL
             AND (p.resolved_at IS NULL OR p.resolved_at > :at) THEN h.amount END), 0) AS debits_pending,
           coalesce(sum(CASE WHEN h.debit_account_id != :id AND p.ts IS NOT NULL
             AND (p.resolved_at IS NULL OR p.resolved_at > :at) THEN h.amount END), 0) AS credits_pending
         FROM h LEFT JOIN pending_transfers p ON p.ts = h.ts`,
      ),
      unindexedCount: db
        .prepare(
          'SELECT count(*) FROM transfers WHERE ts > (SELECT indexed_upto FROM ledger_clock WHERE id = 1)',
        )
        .pluck(),
      // The rows newer than the index, by account timestamp: for an index run when this
      // connection does not hold them in memory (another connection wrote some).
      unindexedRows: db
        .prepare(
          `SELECT t.ts, d.ts, c.ts FROM transfers t
             JOIN accounts d ON d.id = t.debit_account_id JOIN accounts c ON c.id = t.credit_account_id
           WHERE t.ts > ? ORDER BY t.ts`,
        )
        .raw(),
      maxTransferTs: db.prepare('SELECT coalesce(max(ts), 0) FROM transfers').pluck(),
      insertStretch: db.prepare(
        'INSERT OR ROLLBACK INTO history_stretches (upto, after) VALUES (?, ?)',
      ),
      raiseIndexedUpto: db.prepare('UPDATE ledger_clock SET indexed_upto = ? WHERE id = 1'),
      journalSince: db
        .prepare('SELECT seq, entries FROM balance_journal WHERE seq > ? ORDER BY seq')
        .raw(),
      journalMaxSeq: db.prepare('SELECT coalesce(max(seq), 0) FROM balance_journal').pluck(),
      insertJournal: db.prepare('INSERT OR ROLLBACK INTO balance_journal (entries) VALUES (?)'),
      insertJournalMarker: db.prepare(
        "INSERT OR ROLLBACK INTO balance_journal (seq, entries) VALUES (?, x'')",
      ),
      clearJournal: db.prepare('DELETE FROM balance_journal'),
    };
  }

  // ---- writes ---------------------------------------------------------------------------

  async createAccounts(
    events: readonly AccountEvent[],
    now: bigint,
  ): Promise<CreateAccountResult[]> {
    return this.#write(() => {
      const base = this.#nextTimestamp(now);
      const outcome = executeAccounts({ account: (id) => this.#account(id) }, events, base);
      const insert = this.#stmt.insertAccount;
      for (const a of outcome.accounts) {
        insert.run(
          a.timestamp,
          u128ToBytes(a.id),
          a.ledger,
          a.code,
          a.flags,
          u128OrNull(a.userData128),
          u64ToI64(a.userData64),
          a.userData32,
          a.debitsPending,
          a.debitsPosted,
          a.creditsPending,
          a.creditsPosted,
          a.closed ? 1 : 0,
        );
      }
      const last = base + BigInt(events.length) - 1n;
      // As a transfer batch: when the last event made no row, the floor keeps its timestamp.
      const n = events.length;
      if (n > 0 && outcome.results[n - 1] !== 'ok') this.#stmt.raiseClockFloor.run(last);
      this.#lastTimestamp = last;
      return {
        value: outcome.results,
        after: () => {
          for (const a of outcome.accounts) this.#cacheAccount(a);
        },
      };
    });
  }

  async createTransfers(
    events: readonly TransferEvent[],
    now: bigint,
  ): Promise<CreateTransferResult[]> {
    try {
      return this.#writeTransfers(events, now, true);
    } catch (error) {
      if (!(error instanceof UniqueIdCollision)) throw error;
      // INSERT OR ROLLBACK undid the whole transaction: run it again with real id look-ups.
      // The rollback left #lastTimestamp unknown (-1), so the rerun reads the clock again
      // inside its own transaction: the stored rows and floor_ts, which every batch whose
      // last timestamps left no row raised (see #writeTransfers), so no timestamp handed
      // out before is reused, and none taken by another connection meanwhile is missed (a
      // value cached before the first attempt saw that connection's write would be stale).
      return this.#writeTransfers(events, now, false);
    }
  }

  #writeTransfers(
    events: readonly TransferEvent[],
    now: bigint,
    optimistic: boolean,
  ): CreateTransferResult[] {
    return this.#write(() => {
      const base = this.#nextTimestamp(now);
      this.#txBase = base;
      const n = events.length;
      const last = base + BigInt(n) - 1n;
      // The earliest deadline of a still-pending transfer, read once (one indexed min): a
      // batch with nothing due before its last timestamp sweeps neither before nor after.
      const next = this.#stmt.nextExpiry.get() as bigint | null;
      const swept = next !== null && next <= base ? this.#sweep(base) : [];
      let outcome = this.#execute(events, base, optimistic);
      if (optimistic && this.#anyFailedIdExists(events, outcome)) {
        outcome = this.#execute(events, base, false);
      }
      this.#persist(outcome);
      const touched = this.#changedAccounts(outcome);
      let changed = swept.length === 0 ? touched : newest(swept, touched);
      // A deadline within the batch (base < expiresAt <= last): the engine answered every
      // post or void stamped at or after it pending_transfer_expired, so the reservation
      // ends there. Expire it now, as of its deadline, on the balances the batch left, so
      // no read after the batch still counts it (and balance-at never changes later).
      let late: Account[] = [];
      if (next !== null && next <= last) {
        const after = new Map<bigint, Account>();
        for (const a of outcome.accounts) after.set(a.id, a);
        late = this.#sweepCounting(last, () => {}, after);
        if (late.length > 0) changed = newest(changed, late);
      }
      const folded = this.#writeBalances(changed);
      const indexed = this.#indexHistoryIfDue(outcome.transfers);
      // Every timestamp up to `last` is handed out (failed events and sweeps included). The
      // clock is rebuilt from stored rows (max ts, floor_ts) after another connection wrote
      // or a restart; when the last event made no row (it failed), the rows do not reach
      // `last`, so raise the floor (one row of a one-row table, only in such batches).
      if (n > 0 && outcome.results[n - 1] !== 'ok') this.#stmt.raiseClockFloor.run(last);
      this.#lastTimestamp = last;
      const result = outcome;
      const loaded = this.#loaded;
      return {
        value: result.results,
        after: () => {
          // Only once the run is committed are its posting lists done with: if the COMMIT
          // (or a statement after the run) fails, the rows it indexed are unindexed again,
          // and the lists held in memory must still have them for the next run.
          if (indexed) this.#postingsIndexed();
          for (const a of swept) this.#cacheAccount(a);
          this.#cacheOutcome(result.accounts, loaded);
          for (const a of late) this.#cacheAccount(a);
          this.#balancesWritten(changed, folded);
        },
      };
    });
  }

  async expirePending(now: bigint): Promise<number> {
    return this.#write(() => {
      let count = 0;
      const next = this.#stmt.nextExpiry.get() as bigint | null;
      const swept =
        next !== null && next <= now ? this.#sweepCounting(now, (n) => (count += n)) : [];
      if (count > 0) {
        // Expiries took effect up to `now`: no later batch, from any process, may be
        // timestamped before them (see schema.ts, migration 2).
        this.#stmt.raiseClockFloor.run(now);
        if (this.#lastTimestamp >= 0n && this.#lastTimestamp < now) this.#lastTimestamp = now;
      }
      const folded = this.#writeBalances(swept);
      return {
        value: count,
        after: () => {
          for (const a of swept) this.#cacheAccount(a);
          this.#balancesWritten(swept, folded);
        },
      };
    });
  }

  async nextExpiry(): Promise<bigint | null> {
    return (this.#stmt.nextExpiry.get() as bigint | null) ?? null;
  }

  /**
   * Runs `fn` in one IMMEDIATE transaction. Cache changes are made only after COMMIT
   * (`after`); on any failure the cache is dropped, since the view may have been changed.
   */
  #write<T>(fn: () => { value: T; after: () => void }): T {
    if (this.#autocheckpointDue) this.#restoreAutocheckpoint();
    this.db.exec('BEGIN IMMEDIATE');
    this.#txBase = MAX_I64; // no postings to take back unless a transfer batch sets it
    this.#persisted = [];
    let committed = false;
    this.#writing = true;
    try {
      this.#sync();
      const { value, after } = fn();
      this.db.exec('COMMIT');
      committed = true;
      this.#checkpointer?.committed();
      this.#cachePending(this.#persisted);
      after();
      return value;
    } catch (error) {
      if (!committed) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        this.#accountsEpoch++;
        this.#lastTimestamp = -1n;
        this.#unindexed = -1;
        this.#dropPostingsSince(this.#txBase);
      }
      throw error;
    } finally {
      this.#persisted = []; // not held (a whole batch's writes) until the next write
      // The slot map may have grown past accountCacheMax during the write (see #slot).
      this.#writing = false;
      if (this.#slots.size > this.#accountCacheMax) this.#dropSlots();
    }
  }

  /**
   * Runs `fn` in one read transaction (one snapshot), or in the transaction the connection
   * is already in (a SqliteClient sharing it).
   */
  #read<T>(fn: () => T): T {
    const own = !this.db.inTransaction;
    if (own) this.db.exec('BEGIN');
    try {
      this.#sync();
      return fn();
    } finally {
      if (own && this.db.inTransaction) this.db.exec('COMMIT');
    }
  }

  /** Inside a transaction: drops what we hold in memory if another connection committed. */
  #sync(): void {
    const version = this.#stmt.dataVersion.get() as bigint;
    if (version === this.#dataVersion) return;
    this.#pending.clear();
    this.#accountsEpoch++;
    this.#lastTimestamp = -1n;
    this.#unindexed = -1;
    this.#forgetPostings();
    this.#journalStale = true;
    this.#dataVersion = version;
  }

  /**
   * The balance journal as of this transaction: per account timestamp, the balances of
   * the newest entry that holds it. Read whole the first time; after another connection
   * wrote, only the rows it added (seq above the last one applied). Journal rows only
   * ever gain higher seqs, and a fold leaves one empty row (a marker) above the rows it
   * removed: a marker among the new rows means the journal was folded, so what was held
   * is dropped and only the rows from the marker on count.
   */
  #loadJournal(): Map<bigint, Balances> {
    let journal = this.#journal;
    if (journal !== null && !this.#journalStale) return journal;
    if (journal === null) {
      journal = new Map();
      this.#journalEntries = 0;
      this.#journalSeq = 0n;
    }
    for (const [seq, blob] of this.#stmt.journalSince.all(this.#journalSeq) as [bigint, Buffer][]) {
      if (blob.length === 0) {
        journal.clear();
        this.#journalEntries = 0;
      } else {
        for (const e of unpackBalances(blob)) journal.set(e.accountTimestamp, e);
        this.#journalEntries += blob.length / BALANCE_ENTRY_BYTES;
      }
      this.#journalSeq = seq;
    }
    this.#journal = journal;
    this.#journalStale = false;
    return journal;
  }

  /**
   * Persists the balances of the accounts a transaction changed: one journal row, or,
   * when the journal has grown past balanceFoldEvery entries, a fold: every journaled
   * account's newest balances (these included) written to the accounts table, and the
   * journal emptied but for a marker row. The in-memory journal is brought up to date
   * after COMMIT (#balancesWritten), so a rollback leaves it right.
   */
  #writeBalances(changed: readonly Account[]): BalancesWrite | null {
    if (changed.length === 0) return null;
    const journal = this.#loadJournal();
    if (this.#journalEntries + changed.length <= this.#balanceFoldEvery) {
      for (const a of changed) assertBalances(a);
      const info = this.#stmt.insertJournal.run(packAccountBalances(changed));
      return { folded: false, seq: BigInt(info.lastInsertRowid) };
    }
    const state = new Map<bigint, Balances>(journal);
    for (const a of changed) state.set(a.timestamp, a);
    const keys = [...state.keys()].sort((x, y) => (x < y ? -1 : 1));
    this.#updateAccountRows(keys, state);
    const marker = (this.#stmt.journalMaxSeq.get() as bigint) + 1n;
    this.#stmt.clearJournal.run();
    this.#stmt.insertJournalMarker.run(marker);
    return { folded: true, seq: marker };
  }

  /** After COMMIT: the in-memory journal follows what #writeBalances wrote. */
  #balancesWritten(changed: readonly Account[], write: BalancesWrite | null): void {
    const journal = this.#journal;
    if (journal === null || write === null) return;
    if (write.folded) {
      journal.clear();
      this.#journalEntries = 0;
    } else {
      for (const a of changed) journal.set(a.timestamp, a);
      this.#journalEntries += changed.length;
    }
    this.#journalSeq = write.seq;
  }

  /**
   * Adds the transfers written since the last run to the account history index once
   * enough have gathered: one stretch, one posting list per account that took part, in
   * account order, appended at the end of account_postings. Runs inside the batch's
   * transaction (whose own rows, `transfers`, are already inserted). Returns whether it ran.
   */
  #indexHistoryIfDue(transfers: readonly Transfer[]): boolean {
    if (this.#unindexed < 0) {
      this.#unindexed = Number(this.#stmt.unindexedCount.get() as bigint);
      // Only this batch's rows are unindexed: nothing older needs reading back.
      if (!this.#postingsKnown && this.#unindexed === transfers.length) {
        this.#forgetPostings();
        this.#postingsKnown = true;
        for (const t of transfers) {
          this.#addPosting(this.#slot(t.debitAccountId), t.timestamp);
          this.#addPosting(this.#slot(t.creditAccountId), t.timestamp);
        }
      }
    } else this.#unindexed += transfers.length;
    if (this.#unindexed < this.#historyIndexEvery) return false;
    const after = this.#stmt.indexedUpto.get() as bigint;
    const upto = this.#stmt.maxTransferTs.get() as bigint;
    if (upto <= after) return false;
    let accounts: BigInt64Array;
    let listOf: (account: bigint) => readonly bigint[];
    if (this.#postingsKnown) {
      const byTs = new Map<bigint, readonly bigint[]>();
      for (const slot of this.#postingSlots) {
        if (slot.postings.length === 0) continue; // emptied by a rollback
        if (slot.ts < 0n) slot.ts = this.#accountTs(slot.id);
        byTs.set(slot.ts, slot.postings);
      }
      accounts = BigInt64Array.from(byTs.keys());
      listOf = (account) => byTs.get(account)!;
    } else {
      const lists = new Map<bigint, bigint[]>();
      for (const [ts, dr, cr] of this.#stmt.unindexedRows.all(after) as bigint[][]) {
        pushPosting(lists, dr!, ts!);
        pushPosting(lists, cr!, ts!);
      }
      accounts = BigInt64Array.from(lists.keys());
      listOf = (account) => lists.get(account)!;
    }
    accounts.sort(); // numeric, natively
    this.#stmt.insertStretch.run(upto, after);
    let i = 0;
    while (i < accounts.length) {
      const rows = chunkRows(accounts.length - i);
      const params = new Array<unknown>(rows * 3);
      for (let r = 0; r < rows; r++) {
        const account = accounts[i + r]!;
        params[r * 3] = upto;
        params[r * 3 + 1] = account;
        params[r * 3 + 2] = packTimestamps(listOf(account));
      }
      this.#insertPostingsStatement(rows).run(params);
      i += rows;
    }
    this.#stmt.raiseIndexedUpto.run(upto);
    this.#unindexed = 0;
    return true;
  }

  /** After COMMIT of an index run: every posting list was written, start new ones. */
  #postingsIndexed(): void {
    this.#forgetPostings();
    this.#postingsKnown = true;
  }

  #forgetPostings(): void {
    this.#postingsKnown = false;
    this.#postingsEpoch++;
    this.#postingSlots = [];
  }

  /** A rollback: takes the postings of the undone transaction (ts >= base) back out. */
  #dropPostingsSince(base: bigint): void {
    if (!this.#postingsKnown) return;
    for (const slot of this.#postingSlots) {
      const list = slot.postings;
      while (list.length > 0 && list[list.length - 1]! >= base) list.pop();
    }
  }

  #addPosting(slot: AccountSlot, ts: bigint): void {
    if (slot.epoch !== this.#postingsEpoch) {
      slot.epoch = this.#postingsEpoch;
      slot.postings = [];
      this.#postingSlots.push(slot);
    }
    slot.postings.push(ts);
  }

  /** The slot of an account id, made on first use. */
  #slot(id: bigint): AccountSlot {
    let slot = this.#slots.get(id);
    if (slot === undefined) {
      if (this.#slots.size >= this.#accountCacheMax && !this.#writing) {
        // Too many to keep: start over, and let the next index run read the rows back.
        // Never inside a write (until its cache updates are done): the transaction's
        // working state (released balances of its sweep, the slots the engine read, which
        // #cacheOutcome writes) lives in the slots; #write clears after it instead.
        this.#dropSlots();
      }
      slot = {
        id,
        bytes: u128ToBytes(id),
        ts: -1n,
        postings: [],
        epoch: -1,
        account: undefined,
        accountEpoch: -1,
      };
      this.#slots.set(id, slot);
    }
    return slot;
  }

  #dropSlots(): void {
    this.#slots.clear();
    this.#forgetPostings();
  }

  #insertPostingsStatement(rows: number): Database.Statement {
    return this.#rowsStatement(this.#insertPostings, rows, (values) =>
      this.db.prepare(
        `INSERT OR ROLLBACK INTO account_postings (upto, account_ts, list) VALUES ${values('(?, ?, ?)')}`,
      ),
    );
  }

  /** The timestamp (the key) of an existing account. */
  #accountTs(id: bigint): bigint {
    const cached = this.#cached(id);
    if (cached !== undefined) return cached.timestamp;
    const ts = this.#stmt.accountTs.get(u128ToBytes(id)) as bigint | undefined;
    if (ts === undefined) throw new Error(`invariant: account ${id} of a transfer is missing`);
    return ts;
  }

  #nextTimestamp(now: bigint): bigint {
    if (this.#lastTimestamp < 0n) this.#lastTimestamp = this.#stmt.maxTs.get() as bigint;
    return now > this.#lastTimestamp ? now : this.#lastTimestamp + 1n;
  }

  /**
   * Before a transfer batch: expires everything due at `now` and leaves the released
   * balances in the account cache, where the batch that follows in this transaction reads
   * them (no slot leaves the map inside a write transaction: see #slot). A rollback drops
   * the cache (#write), so they never outlive the transaction unless it commits.
   */
  #sweep(now: bigint): Account[] {
    const changed = this.#sweepCounting(now, () => {});
    for (const a of changed) this.#cacheAccount(a);
    return changed;
  }

  /**
   * Expires everything due at `now`, in bounded chunks; returns the accounts it changed.
   * Reads accounts from `prior` (this transaction's newer state) before the cache.
   */
  #sweepCounting(
    now: bigint,
    count: (n: number) => void,
    prior?: ReadonlyMap<bigint, Account>,
  ): Account[] {
    const changed = new Map<bigint, Account>();
    for (;;) {
      const due = (this.#stmt.due.all(now, BATCH_MAX) as Row[]).map(rowToStoredTransfer);
      if (due.length === 0) break;
      const view = {
        account: (id: bigint) => changed.get(id) ?? prior?.get(id) ?? this.#account(id),
      };
      const writes = executeExpiry(view, due, now);
      this.#persist(writes);
      for (const a of writes.accounts) changed.set(a.id, a);
      count(due.length);
      if (due.length < BATCH_MAX) break;
    }
    return [...changed.values()];
  }

  #execute(events: readonly TransferEvent[], base: bigint, optimistic: boolean): TransferOutcome {
    const loaded: AccountSlot[] = [];
    this.#loaded = loaded;
    const transfer = (id: bigint) => this.#pending.get(id) ?? this.#transfer(id);
    const view: LedgerView = {
      account: (id) => {
        const slot = this.#accountSlot(id);
        if (slot === undefined) return undefined;
        loaded.push(slot);
        return slot.account;
      },
      transfer,
      existing: optimistic ? () => undefined : transfer,
    };
    return executeTransfers(view, events, base);
  }

  /**
   * The accounts a batch changed. The engine hands back every account it read; when an
   * event failed, some may be unchanged (compared with the state the batch read, still
   * in the cache), and they are left out of the journal.
   */
  #changedAccounts(outcome: TransferOutcome): readonly Account[] {
    if (outcome.results.every((r) => r === 'ok')) return outcome.accounts;
    return outcome.accounts.filter((a) => {
      const b = this.#cached(a.id);
      return (
        b === undefined ||
        a.debitsPending !== b.debitsPending ||
        a.debitsPosted !== b.debitsPosted ||
        a.creditsPending !== b.creditsPending ||
        a.creditsPosted !== b.creditsPosted ||
        a.closed !== b.closed
      );
    });
  }

  /** After an optimistic run: could a failed event's id already be taken (then rerun)? */
  #anyFailedIdExists(events: readonly TransferEvent[], outcome: TransferOutcome): boolean {
    const exists = this.#stmt.transferExists;
    for (let i = 0; i < events.length; i++) {
      if (outcome.results[i] === 'ok') continue;
      const id = events[i]!.id;
      if (id !== 0n && exists.get(u128ToBytes(id)) !== undefined) return true;
    }
    return false;
  }

  #persist(w: LedgerWrites): void {
    this.#persisted.push(w);
    this.#insertTransferRows(w.transfers);
    this.#insertPendingRows(w.pendingCreated);
    this.#resolvePendingRows(w.pendingResolved);
  }

  /** The reservations' state rows, many a statement (as the transfers). */
  #insertPendingRows(created: readonly PendingCreated[]): void {
    let i = 0;
    while (i < created.length) {
      const rows = chunkRows(created.length - i);
      const params = new Array<unknown>(rows * 2);
      for (let r = 0; r < rows; r++) {
        const p = created[i + r]!;
        params[r * 2] = p.timestamp;
        params[r * 2 + 1] = p.expiresAt;
      }
      this.#rowsStatement(this.#insertPending, rows, (values) =>
        this.db.prepare(
          `INSERT OR ROLLBACK INTO pending_transfers (ts, status, expires_at, resolved_at) VALUES ${values('(?, 0, ?, NULL)')}`,
        ),
      ).run(params);
      i += rows;
    }
  }

  /** Resolutions, many a statement; each must find its reservation still pending. */
  #resolvePendingRows(resolved: readonly PendingResolved[]): void {
    let i = 0;
    while (i < resolved.length) {
      const rows = chunkRows(resolved.length - i);
      const params = new Array<unknown>(rows * 3);
      for (let r = 0; r < rows; r++) {
        const p = resolved[i + r]!;
        params[r * 3] = p.timestamp;
        params[r * 3 + 1] = PENDING_STATUS_CODES[p.status];
        params[r * 3 + 2] = p.resolvedAt;
      }
      const info = this.#rowsStatement(this.#resolvePending, rows, (values) =>
        this.db.prepare(
          `UPDATE OR ROLLBACK pending_transfers SET status = v.column2, resolved_at = v.column3
           FROM (VALUES ${values('(?, ?, ?)')}) AS v
           WHERE pending_transfers.ts = v.column1 AND pending_transfers.status = 0`,
        ),
      ).run(params);
      if (info.changes !== rows) {
        const ids = resolved.slice(i, i + rows).map((p) => p.id);
        throw new Error(
          `invariant: ${rows - info.changes} of the pending transfers ${ids.join(', ')} were not pending`,
        );
      }
      i += rows;
    }
  }

  /**
   * A multi-row statement of `rows` rows, prepared once per row count and kept in `cache`;
   * `prepare` gets a function that repeats one row's VALUES text `rows` times.
   */
  #rowsStatement(
    cache: Map<number, Database.Statement>,
    rows: number,
    prepare: (values: (row: string) => string) => Database.Statement,
  ): Database.Statement {
    let s = cache.get(rows);
    if (s === undefined) {
      s = prepare((row) => new Array<string>(rows).fill(row).join(', '));
      cache.set(rows, s);
    }
    return s;
  }

  /** A fold: balances into the accounts table, many rows a statement (UPDATE … FROM VALUES). */
  #updateAccountRows(keys: readonly bigint[], state: ReadonlyMap<bigint, Balances>): void {
    let i = 0;
    while (i < keys.length) {
      const rows = chunkRows(keys.length - i, ROWS_PER_UPDATE);
      const params = new Array<unknown>(rows * ACCOUNT_UPDATE_PARAMS);
      for (let r = 0; r < rows; r++) {
        const ts = keys[i + r]!;
        const a = state.get(ts)!;
        const o = r * ACCOUNT_UPDATE_PARAMS;
        params[o] = ts;
        params[o + 1] = a.debitsPending;
        params[o + 2] = a.debitsPosted;
        params[o + 3] = a.creditsPending;
        params[o + 4] = a.creditsPosted;
        params[o + 5] = a.closed ? 1 : 0;
      }
      const info = this.#updateStatement(rows).run(params);
      if (info.changes !== rows) {
        throw new Error(`invariant: ${rows - info.changes} changed accounts vanished`);
      }
      i += rows;
    }
  }

  #updateStatement(rows: number): Database.Statement {
    // OR ROLLBACK: no statement journal (a failure undoes the whole transaction anyway).
    return this.#rowsStatement(this.#updateAccounts, rows, (values) =>
      this.db.prepare(
        `UPDATE OR ROLLBACK accounts SET debits_pending = v.column2, debits_posted = v.column3,
           credits_pending = v.column4, credits_posted = v.column5, closed = v.column6
         FROM (VALUES ${values(`(${q(ACCOUNT_UPDATE_PARAMS)})`)}) AS v WHERE accounts.ts = v.column1`,
      ),
    );
  }

  #insertTransferRows(transfers: readonly Transfer[]): void {
    const known = this.#postingsKnown;
    let i = 0;
    try {
      while (i < transfers.length) {
        const rows = chunkRows(transfers.length - i);
        const { params, ids, view } = this.#scratch(rows);
        for (let r = 0; r < rows; r++) {
          const t = transfers[i + r]!;
          const o = r * TRANSFER_PARAMS;
          const dr = this.#slot(t.debitAccountId);
          const cr = this.#slot(t.creditAccountId);
          // The id's 16 big-endian bytes (setBigUint64 keeps the low 64 bits it is given).
          view.setBigUint64(r * 16, t.id >> 64n);
          view.setBigUint64(r * 16 + 8, t.id);
          params[o] = t.timestamp;
          params[o + 1] = ids[r];
          params[o + 2] = dr.bytes;
          params[o + 3] = cr.bytes;
          params[o + 4] = t.amount;
          params[o + 5] = t.pendingId === 0n ? null : u128ToBytes(t.pendingId);
          params[o + 6] = t.userData128 === 0n ? null : u128ToBytes(t.userData128);
          params[o + 7] = u64ToI64(t.userData64);
          params[o + 8] = t.userData32;
          params[o + 9] = t.timeout;
          params[o + 10] = t.ledger;
          params[o + 11] = t.code;
          params[o + 12] = t.flags;
          if (known) {
            this.#addPosting(dr, t.timestamp);
            this.#addPosting(cr, t.timestamp);
          }
        }
        this.#insertStatement(rows).run(params);
        i += rows;
      }
    } catch (error) {
      if (isUniqueViolation(error, 'transfers.id')) throw new UniqueIdCollision();
      throw error;
    }
  }

  #scratch(rows: number): InsertScratch {
    let s = this.#insertScratch.get(rows);
    if (s === undefined) {
      const buffer = Buffer.alloc(rows * 16);
      s = {
        params: new Array<unknown>(rows * TRANSFER_PARAMS),
        ids: Array.from({ length: rows }, (_v, r) => buffer.subarray(r * 16, r * 16 + 16)),
        view: new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength),
      };
      this.#insertScratch.set(rows, s);
    }
    return s;
  }

  #insertStatement(rows: number): Database.Statement {
    // OR ROLLBACK: a duplicate id undoes the whole transaction (createTransfers then reruns
    // it), so SQLite keeps no statement journal: every page the batch touches is not
    // copied once more per statement.
    return this.#rowsStatement(this.#insertTransfers, rows, (values) =>
      this.db.prepare(
        `INSERT OR ROLLBACK INTO transfers (${TRANSFER_COLUMNS}) VALUES ${values(`(${q(TRANSFER_PARAMS)})`)}`,
      ),
    );
  }

  #account(id: bigint): Account | undefined {
    return this.#accountSlot(id)?.account;
  }

  /** The slot of an account, its `account` cached (read on a miss); undefined: no account. */
  #accountSlot(id: bigint): AccountSlot | undefined {
    const slot = this.#slots.get(id);
    if (slot !== undefined && slot.accountEpoch === this.#accountsEpoch) return slot;
    const row = this.#stmt.accountById.get(u128ToBytes(id)) as Row | undefined;
    if (row === undefined) return undefined;
    return this.#cacheAccount(this.#withJournal(rowToAccount(row)));
  }

  /** The cached state of an account, without reading. */
  #cached(id: bigint): Account | undefined {
    const slot = this.#slots.get(id);
    return slot !== undefined && slot.accountEpoch === this.#accountsEpoch
      ? slot.account
      : undefined;
  }

  /** An account row as it stands: with the balances of its newest journal entry, if any. */
  #withJournal(a: Account): Account {
    const b = this.#loadJournal().get(a.timestamp);
    if (b === undefined) return a;
    return {
      ...a,
      debitsPending: b.debitsPending,
      debitsPosted: b.debitsPosted,
      creditsPending: b.creditsPending,
      creditsPosted: b.creditsPosted,
      closed: b.closed,
    };
  }

  #cacheAccount(a: Account): AccountSlot {
    const slot = this.#slot(a.id);
    slot.account = a;
    slot.accountEpoch = this.#accountsEpoch;
    if (slot.ts < 0n) slot.ts = a.timestamp;
    return slot;
  }

  /**
   * After COMMIT: caches the accounts a batch wrote. The engine hands them back in the
   * order it read them, so each goes to the slot it was read from without a look-up
   * (checked by id; any mismatch caches through the map).
   */
  #cacheOutcome(accounts: readonly Account[], loaded: readonly AccountSlot[]): void {
    const epoch = this.#accountsEpoch;
    const direct = accounts.length === loaded.length;
    for (let k = 0; k < accounts.length; k++) {
      const a = accounts[k]!;
      const slot = loaded[k];
      // (Every slot in `loaded` is still in the map: none leaves it inside #write.)
      if (direct && slot !== undefined && slot.id === a.id) {
        slot.account = a;
        slot.accountEpoch = epoch;
      } else this.#cacheAccount(a);
    }
  }

  /**
   * After a commit: holds the pending transfers it created, forgets those it resolved (in
   * the order it persisted them, so one created and resolved in one batch is forgotten).
   */
  #cachePending(persisted: readonly LedgerWrites[]): void {
    const cache = this.#pending;
    for (const w of persisted) {
      const created = w.pendingCreated;
      if (created.length > 0) {
        // Both in timestamp order: each created reservation is one of the new transfers.
        let k = 0;
        for (const t of w.transfers) {
          const c = created[k];
          if (c === undefined) break;
          if (c.timestamp !== t.timestamp) continue;
          // Field by field, as rowToStoredTransfer builds it: a spread here took 4% of a
          // two-phase run's main thread.
          cache.set(t.id, {
            id: t.id,
            debitAccountId: t.debitAccountId,
            creditAccountId: t.creditAccountId,
            amount: t.amount,
            pendingId: t.pendingId,
            userData128: t.userData128,
            userData64: t.userData64,
            userData32: t.userData32,
            timeout: t.timeout,
            ledger: t.ledger,
            code: t.code,
            flags: t.flags,
            timestamp: t.timestamp,
            pending: { status: 'pending', expiresAt: c.expiresAt, resolvedAt: null },
          });
          k++;
        }
      }
      for (const r of w.pendingResolved) cache.delete(r.id);
    }
    if (cache.size > this.#pendingCacheMax) {
      let excess = cache.size - this.#pendingCacheMax;
      for (const id of cache.keys()) {
        if (excess-- <= 0) break;
        cache.delete(id);
      }
    }
  }

  #transfer(id: bigint): StoredTransfer | undefined {
    const row = this.#stmt.transferById.get(u128ToBytes(id)) as Row | undefined;
    return row === undefined ? undefined : rowToStoredTransfer(row);
  }

  // ---- reads ----------------------------------------------------------------------------

  async lookupAccounts(ids: readonly bigint[]): Promise<Account[]> {
    // #read drops the cache first if another connection (another process) wrote.
    return this.#read(() => {
      const out: Account[] = [];
      for (const id of ids) {
        const a = this.#account(id);
        if (a !== undefined) out.push(a);
      }
      return out;
    });
  }

  async lookupTransfers(ids: readonly bigint[]): Promise<Transfer[]> {
    const out: Transfer[] = [];
    for (const id of ids) {
      const t = this.#transfer(id);
      if (t !== undefined) out.push(stripPendingState(t));
    }
    return out;
  }

  async lookupPending(ids: readonly bigint[]): Promise<Map<bigint, PendingState>> {
    const out = new Map<bigint, PendingState>();
    for (const id of ids) {
      const t = this.#transfer(id);
      if (t?.pending !== undefined) out.set(id, t.pending);
    }
    return out;
  }

  async getAccountTransfers(filter: AccountTransfersFilter): Promise<TransferPage> {
    const side = filter.side ?? 'both';
    let lo = filter.timestampMin ?? 0n;
    let hi = filter.timestampMax ?? MAX_I64;
    const reversed = filter.reversed === true;
    if (filter.cursor !== undefined) {
      const at = decodeCursor(filter.cursor);
      if (reversed) hi = at;
      else lo = at;
    } else if (reversed) {
      hi = hi === MAX_I64 ? hi : hi + 1n; // backward pages take ts < hi
    } else {
      lo = lo - 1n; // forward pages take ts > lo
    }
    const id = u128ToBytes(filter.accountId);
    const n = filter.limit + 1;
    const debits = side !== 'credits';
    const credits = side !== 'debits';
    const rows = this.#read(() =>
      reversed
        ? this.#pageBackward(id, lo, hi, n, debits, credits)
        : this.#pageForward(id, lo, hi, n, debits, credits),
    );
    const more = rows.length > filter.limit;
    const transfers = rows
      .slice(0, filter.limit)
      .map((r) => stripPendingState(rowToStoredTransfer(r)));
    const last = transfers[transfers.length - 1];
    return more && last !== undefined
      ? { transfers, nextCursor: encodeCursor(last.timestamp) }
      : { transfers };
  }

  /** Transfers of an account with lo < ts <= hi, oldest first, at most n. */
  #pageForward(
    id: Buffer,
    lo: bigint,
    hi: bigint,
    n: number,
    debits: boolean,
    credits: boolean,
  ): Row[] {
    const out: Row[] = [];
    const upto = this.#stmt.indexedUpto.get() as bigint;
    const accountTs = lo < upto ? (this.#stmt.accountTs.get(id) as bigint | undefined) : undefined;
    if (accountTs !== undefined) {
      const transferAt = this.#stmt.transferAt;
      for (const stretch of this.#stmt.stretchesForward.all(lo, hi) as bigint[]) {
        const list = this.#stmt.postingList.get(stretch, accountTs) as Buffer | undefined;
        if (list === undefined) continue;
        const count = list.length >> 3;
        for (let i = firstAbove(list, lo); i < count; i++) {
          const ts = list.readBigInt64BE(i * 8);
          if (ts > hi) return out;
          const row = transferAt.get(ts) as Row | undefined;
          if (row === undefined) throw new Error(`invariant: indexed transfer ${ts} is missing`);
          if (onSide(row, id, debits, credits) && out.push(row) === n) return out;
        }
      }
    }
    const tail = this.#stmt.tailForward.all({
      from: lo > upto ? lo : upto,
      hi,
      id,
      n: n - out.length,
      debits: debits ? 1 : 0,
      credits: credits ? 1 : 0,
    }) as Row[];
    for (const row of tail) out.push(row);
    return out;
  }

  /** Transfers of an account with lo <= ts < hi, newest first, at most n. */
  #pageBackward(
    id: Buffer,
    lo: bigint,
    hi: bigint,
    n: number,
    debits: boolean,
    credits: boolean,
  ): Row[] {
    const upto = this.#stmt.indexedUpto.get() as bigint;
    const out = this.#stmt.tailBackward.all({
      upto,
      lo,
      hi,
      id,
      n,
      debits: debits ? 1 : 0,
      credits: credits ? 1 : 0,
    }) as Row[];
    if (out.length === n || lo > upto) return out;
    const accountTs = this.#stmt.accountTs.get(id) as bigint | undefined;
    if (accountTs === undefined) return out;
    const transferAt = this.#stmt.transferAt;
    for (const stretch of this.#stmt.stretchesBackward.all(lo, hi) as bigint[]) {
      const list = this.#stmt.postingList.get(stretch, accountTs) as Buffer | undefined;
      if (list === undefined) continue;
      for (let i = firstAbove(list, hi - 1n) - 1; i >= 0; i--) {
        const ts = list.readBigInt64BE(i * 8);
        if (ts < lo) return out;
        const row = transferAt.get(ts) as Row | undefined;
        if (row === undefined) throw new Error(`invariant: indexed transfer ${ts} is missing`);
        if (onSide(row, id, debits, credits) && out.push(row) === n) return out;
      }
    }
    return out;
  }

  async getAccountBalanceAt(
    accountId: bigint,
    timestamp: bigint,
  ): Promise<AccountBalance | undefined> {
    const id = u128ToBytes(accountId);
    const r = this.#read(() => {
      const accountTs = this.#stmt.accountTs.get(id) as bigint | undefined;
      if (accountTs === undefined) return undefined;
      // The account's indexed timestamps up to `timestamp`, for the one summing statement.
      const indexed: string[] = [];
      for (const stretch of this.#stmt.stretchesForward.all(-1n, timestamp) as bigint[]) {
        const list = this.#stmt.postingList.get(stretch, accountTs) as Buffer | undefined;
        if (list === undefined) continue;
        const end = firstAbove(list, timestamp);
        for (let i = 0; i < end; i++) indexed.push(list.readBigInt64BE(i * 8).toString());
      }
      return this.#stmt.balanceAt.get({
        list: `[${indexed.join(',')}]`,
        upto: this.#stmt.indexedUpto.get() as bigint,
        at: timestamp,
        id,
      }) as Row;
    });
    if (r === undefined) return undefined;
    return {
      accountId,
      debitsPending: r.debits_pending as bigint,
      debitsPosted: r.debits_posted as bigint,
      creditsPending: r.credits_pending as bigint,
      creditsPosted: r.credits_posted as bigint,
      timestamp,
    };
  }

  async scanAccounts(afterTimestamp: bigint, limit: number): Promise<Account[]> {
    return this.#read(() =>
      (this.#stmt.accountsAfter.all(afterTimestamp, limit) as Row[]).map((r) =>
        this.#withJournal(rowToAccount(r)),
      ),
    );
  }

  /**
   * Another writer on this connection (a SqliteClient sharing it, runtime.ts) committed:
   * wakes the background checkpointer, which then looks at the WAL (see Checkpointer). Its
   * commits grow the WAL as the store's own do, so they must count toward a checkpoint.
   * Cheap (two atomic operations); nothing when SQLite's autocheckpoint does the job.
   */
  noteCommitted(): void {
    this.#checkpointer?.committed();
  }

  /** Who copies the WAL back into the database file, and why not the worker if it failed. */
  get checkpointer(): SqliteCheckpointerStatus {
    if (this.#checkpointFailure !== undefined) {
      return { mode: 'inline', failure: this.#checkpointFailure };
    }
    return { mode: this.#background ? 'background' : 'inline' };
  }

  /**
   * The background checkpointer is gone for good. With autocheckpoint off nobody would copy
   * the WAL back any more and it would grow until the disk is full: hand the job back to
   * SQLite, as with checkpoint: 'inline'.
   */
  #checkpointerFailed(reason: string): void {
    this.#checkpointFailure = reason;
    this.#autocheckpointDue = true;
    this.#restoreAutocheckpoint();
    try {
      this.#onCheckpointerFailure?.(reason);
    } catch {
      // A failing listener must not undo the fallback.
    }
  }

  /**
   * Runs from the event loop, whatever the connection is doing: a SqliteClient sharing it
   * may be in a transaction, which is fine (the pragma only sets the hook run after each
   * commit), or iterating a statement, which better-sqlite3 refuses: then the next write
   * tries again before its BEGIN.
   */
  #restoreAutocheckpoint(): void {
    if (!this.db.open) return;
    try {
      this.db.pragma('wal_autocheckpoint = 1000');
      this.#autocheckpointDue = false;
    } catch {
      // The connection is busy with a statement: #write retries.
    }
  }

  async close(): Promise<void> {
    const checkpointer = this.#checkpointer;
    this.#checkpointer = undefined;
    if (checkpointer !== undefined) await checkpointer.stop();
    if (this.db.open) this.db.close();
  }
}

/**
 * Copies the WAL into the database file on a worker thread with its own connection
 * (PASSIVE checkpoints: never blocks the writer, never waits for it). Durability does not
 * depend on it: a commit is durable once its WAL frames are synced. A checkpoint copies
 * each page once however many commits rewrote it since the last one, so commits that keep
 * touching the same index pages cost one copy, not one each. The writer restarts the WAL
 * from its beginning once a checkpoint has caught up.
 *
 * It does not fail quietly: if the thread dies (it cannot open the file, an exception, out
 * of memory) or gives up after failing checkpoints, `onFailure` is told why, once, so the
 * store can checkpoint itself. Not after stop().
 */
class Checkpointer {
  /** [0]: commits so far (wrapping); [1]: 1 when asked to stop. */
  readonly #signal = new Int32Array(new SharedArrayBuffer(8));
  readonly #worker: Worker;
  readonly #exited: Promise<void>;
  #stopping = false;
  #failed = false;

  constructor(
    path: string,
    synchronous: SqliteSynchronous,
    onFailure: (reason: string) => void,
    statement = 'PRAGMA wal_checkpoint(PASSIVE)',
  ) {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    this.#worker = new Worker(CHECKPOINT_WORKER, {
      eval: true,
      workerData: { driver, path, synchronous, statement, signal: this.#signal },
    });
    const failed = (reason: string) => {
      if (this.#stopping || this.#failed) return;
      this.#failed = true;
      onFailure(reason);
    };
    this.#worker.on('message', (message: { failure: string }) => failed(message.failure));
    // After on('message'), which refs the thread's port: an open store must not keep the
    // process alive.
    this.#worker.unref();
    this.#exited = new Promise((resolve) => {
      // 'error' comes first when the thread threw; its 'exit' then adds nothing.
      this.#worker.once('error', (error) => {
        failed(`checkpointer thread failed: ${error.message}`);
        resolve();
      });
      this.#worker.once('exit', (code) => {
        failed(`checkpointer thread exited (code ${code})`);
        resolve();
      });
    });
  }

  /** A commit on the store's connection (the store's own, or a SqliteClient's sharing it). */
  committed(): void {
    Atomics.add(this.#signal, 0, 1);
    Atomics.notify(this.#signal, 0);
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    this.#worker.ref(); // keep the process alive until the thread has closed its connection
    Atomics.store(this.#signal, 1, 1);
    Atomics.add(this.#signal, 0, 1);
    Atomics.notify(this.#signal, 0);
    await this.#exited;
  }
}

/** The checkpointer's thread (CommonJS, so `require` finds the driver by its path). */
const CHECKPOINT_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
// When to checkpoint: after each commit the thread reads the WAL's size with
// PRAGMA wal_checkpoint(NOOP) (SQLite 3.51+: it copies nothing and answers the frames in the
// WAL and how many of them are already copied back, about 7 us) and checkpoints once
// FRAMES frames wait to be copied back, or IDLE_MS after the last commit.
//
// It used to count the rows the ledger store wrote (10,000), but rows say little about
// pages: a ledger batch of 8189 transfers writes ~325 frames, a remittance through the API
// ~120-150 frames for ~15 ledger rows, and the SQL client's commits were not counted at
// all. Under bench/api.ts a checkpoint came every ~12,600 frames and the WAL file reached
// 60,000-85,000 frames (250-350 MB). FRAMES is SQLite's own autocheckpoint default.
const FRAMES = 1000;
const IDLE_MS = 200;
// The WAL only starts again from its beginning when a write transaction begins with every
// frame copied back. A passive checkpoint copies what was committed when it started, and a
// busy writer commits more meanwhile, so under steady load it never quite catches up and
// the WAL file grows however often it runs. So once the WAL holds FRAMES or more, the
// thread checkpoints after every commit until one catches up (each is shorter: it copies
// only what came in during the last); the writer then restarts the WAL. The store keeps
// SQLite's autocheckpoint as a backstop for a writer this does not catch.
//
// A busy checkpoint is normal (another connection checkpoints, or is recovering the WAL):
// a later commit asks again. Any other failure (disk full, I/O error) is unlikely to pass
// by itself; after FAILURES_MAX in a row the thread gives up and says why, and the store
// checkpoints on its own connection instead of letting the WAL grow unseen.
const FAILURES_MAX = 3;
const describe = (error) => String(error?.code ?? 'error') + ': ' + String(error?.message ?? error);

function run() {
  const signal = workerData.signal;
  const db = new Database(workerData.path);
  const version = db.prepare('SELECT sqlite_version()').pluck().get();
  const [major, minor] = version.split('.').map(Number);
  // Older versions take an unknown mode for PASSIVE: every commit would checkpoint.
  if (major < 3 || (major === 3 && minor < 51)) {
    throw new Error('SQLite ' + version + ' has no wal_checkpoint(NOOP) (3.51 or later)');
  }
  db.pragma('synchronous = ' + workerData.synchronous);
  db.pragma('busy_timeout = 0');
  const wal = db.prepare('PRAGMA wal_checkpoint(NOOP)').raw();
  const checkpoint = db.prepare(workerData.statement);
  let failures = 0;
  let seen = 0;
  let pending = false; // commits came since the last checkpoint
  while (Atomics.load(signal, 1) === 0) {
    const now = Atomics.load(signal, 0);
    if (now === seen) {
      const r = Atomics.wait(signal, 0, now, pending ? IDLE_MS : 1000);
      if (Atomics.load(signal, 1) === 1) break;
      if (r !== 'timed-out' || !pending) continue;
    } else {
      seen = now;
      pending = true;
      let due = true;
      try {
        // [busy, frames in the WAL, frames copied back]
        const [, frames, copied] = wal.get();
        due = frames >= FRAMES && frames !== copied;
      } catch {
        // Not known (the WAL being recovered?): the checkpoint below tells busy from failing.
      }
      if (!due) continue;
    }
    pending = false;
    try {
      checkpoint.all();
      failures = 0;
    } catch (error) {
      const code = String(error?.code);
      if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) continue;
      if (++failures >= FAILURES_MAX) {
        const failure = 'checkpoint failed ' + failures + ' times in a row: ' + describe(error);
        parentPort.postMessage({ failure });
        break;
      }
    }
  }
  db.close();
}

try {
  run();
} catch (error) {
  // Thrown as it is, a SqliteError would reach the store as its code alone (a structured
  // clone keeps no message of an Error subclass).
  throw new Error(describe(error));
}
`;

const MAX_I64 = (1n << 63n) - 1n;

function q(n: number): string {
  return new Array<string>(n).fill('?').join(', ');
}

/** Whether a transfer row is on the wanted side of the account with id bytes `id`. */
function onSide(row: Row, id: Buffer, debits: boolean, credits: boolean): boolean {
  return (
    (debits && id.equals(row.debit_account_id as Buffer)) ||
    (credits && id.equals(row.credit_account_id as Buffer))
  );
}

/** Accounts changed by a sweep and then by a batch: one each, the batch's state when both. */
function newest(first: readonly Account[], then: readonly Account[]): Account[] {
  const byId = new Map<bigint, Account>();
  for (const a of first) byId.set(a.id, a);
  for (const a of then) byId.set(a.id, a);
  return [...byId.values()];
}

function pushPosting(lists: Map<bigint, bigint[]>, key: bigint, ts: bigint): void {
  const list = lists.get(key);
  if (list === undefined) lists.set(key, [ts]);
  else list.push(ts);
}

function isUniqueViolation(error: unknown, column: string): boolean {
  return (
    error instanceof Error &&
    (error as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE' &&
    error.message.includes(column)
  );
}

function rowToAccount(r: Row): Account {
  return {
    id: bytesToU128(r.id as Buffer),
    ledger: Number(r.ledger),
    code: Number(r.code),
    flags: Number(r.flags),
    userData128: nullableBytesToU128(r.user_data_128 as Buffer | null),
    userData64: i64ToU64(r.user_data_64 as bigint),
    userData32: Number(r.user_data_32),
    debitsPending: r.debits_pending as bigint,
    debitsPosted: r.debits_posted as bigint,
    creditsPending: r.credits_pending as bigint,
    creditsPosted: r.credits_posted as bigint,
    closed: r.closed === 1n,
    timestamp: r.ts as bigint,
  };
}

function rowToStoredTransfer(r: Row): StoredTransfer {
  const t: Transfer = {
    id: bytesToU128(r.id as Buffer),
    debitAccountId: bytesToU128(r.debit_account_id as Buffer),
    creditAccountId: bytesToU128(r.credit_account_id as Buffer),
    amount: r.amount as bigint,
    pendingId: nullableBytesToU128(r.pending_id as Buffer | null),
    userData128: nullableBytesToU128(r.user_data_128 as Buffer | null),
    userData64: i64ToU64(r.user_data_64 as bigint),
    userData32: Number(r.user_data_32),
    timeout: Number(r.timeout),
    ledger: Number(r.ledger),
    code: Number(r.code),
    flags: Number(r.flags),
    timestamp: r.ts as bigint,
  };
  if ((t.flags & TransferFlags.pending) === 0 || r.status === null || r.status === undefined)
    return t;
  return {
    ...t,
    pending: {
      status: pendingStatusFromCode(Number(r.status)),
      expiresAt: (r.expires_at as bigint | null) ?? null,
      resolvedAt: (r.resolved_at as bigint | null) ?? null,
    },
  };
}

/**
 * Applies the SQLite migrations; exported for `remitnet migrate` (and for tests, which may
 * stop at an older schema to test the migrations after it).
 */
export async function migrateSqlite(
  db: Database.Database,
  migrations: readonly Migration[] = SQLITE_MIGRATIONS,
): Promise<MigrationReport> {
  const target: MigrationTarget = {
    appliedVersions: async () => {
      db.exec(
        'CREATE TABLE IF NOT EXISTS remitnet_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)',
      );
      return (db.prepare('SELECT version FROM remitnet_migrations').pluck().all() as bigint[]).map(
        Number,
      );
    },
    apply: async (m) => {
      db.transaction(() => {
        for (const s of m.statements) db.exec(s);
        db.prepare(
          'INSERT INTO remitnet_migrations (version, name, applied_at) VALUES (?, ?, ?)',
        ).run(m.version, m.name, new Date().toISOString());
      }).immediate();
    },
  };
  return runMigrations(target, migrations);
}

export { LedgerError };
