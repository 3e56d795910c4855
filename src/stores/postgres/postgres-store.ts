/**
 * The server ledger store: PostgreSQL through node-postgres.
 *
 * Owns: the transaction around each batch, timestamps, retries. Never: a result; the
 * shared engine (executeTransfers, executeAccounts, executeExpiry) decides, exactly as
 * for SQLite. A transfer batch is one READ COMMITTED transaction in a fixed number of
 * round trips, whatever its size:
 *   1. `BEGIN; UPDATE ledger_clock … RETURNING` (one simple-protocol message): takes the
 *      batch's timestamp range and the writer lock (see schema.ts), and reports the
 *      earliest expiry, so the sweep costs nothing when nothing is due;
 *   (every `historyIndexEvery` transfers: a stretch of the account history index, one
 *   row per account with its posting lists, see schema.ts; every `journalFoldEvery`
 *   transfers or `journalRowsMax` journal rows: the fold of the balance journal into
 *   accounts, one UPDATE from the newest entry of each account, and the rows deleted;)
 *   (only when a pending transfer is due: the expiry sweep, 3 statements per 8189 due;)
 *   2. one SELECT of the pending transfers the batch posts or voids, with their state;
 *      the batch's own ids are checked as in the SQLite store: assumed new, proved by the
 *      unique index on transfers.id (a 23505 reruns the batch with every id looked up),
 *      and looked up for every event that failed (one more SELECT, only then);
 *   3. one SELECT of the accounts involved that are not cached (none, when this process
 *      made the last write: the clock row's write counter says so), with the live
 *      balance journal rows it does not hold yet, applied to them;
 *   the engine runs in JS on what was read;
 *   4. the transfer rows by binary COPY (64 rows and up; cheaper to build here and to
 *      parse there than text arrays), then one statement for the rest: the batch's one
 *      balance journal row (the balances of every account it changed, deferred.ts
 *      packAccountBalances), INSERT and UPDATE of pending states from `unnest` of
 *      arrays, with counts checked (small batches put their transfer rows in this
 *      statement too);
 *   5. COMMIT.
 * Accounts are not updated per batch: an account's balances are those of the newest
 * journal row holding it, else its row. Every account read (this process's writes when
 * its cache is distrusted, lookups, scans, other processes) reads the row and the live
 * journal in one statement (one snapshot) and applies it here; journal rows never change,
 * so a process decodes each once. Account history reads merge the posting lists with a
 * scan of the transfers after `indexed_upto` (one statement).
 * Writers hold the clock row from step 1 to COMMIT, so each reads what every earlier
 * writer committed (READ COMMITTED takes a fresh snapshot per statement) and nothing can
 * change underneath it: no lost update, no deadlock between batches.
 *
 * Retries, inside the store: serialization failures (40001), deadlocks (40P01) and unique
 * violations (23505: a taken id, see 2) rerun the whole batch with fresh timestamps;
 * a lost connection reruns it on a new connection until `retryBudget_ms` runs out. When
 * the connection was lost during COMMIT the batch may have committed: rerunning is still
 * safe because ids are idempotency keys, and its events then answer `exists` (their
 * effect is in the ledger). If the budget runs out after such a loss, the error says the
 * outcome is unknown and the caller must resubmit the same ids.
 */
import pg from 'pg';
import {
  executeAccounts,
  executeExpiry,
  executeTransfers,
  type LedgerView,
  type LedgerWrites,
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
  decodeCursor,
  encodeCursor,
  i64ToU64,
  PENDING_STATUS_CODES,
  pendingStatusFromCode,
  u64ToI64,
  assertBalances,
  stripPendingState,
} from '../codec.ts';
import { firstAbove, packAccountBalances, unpackBalances, type BalanceEntry } from '../deferred.ts';
import { runMigrations, type MigrationReport } from '../migrate.ts';
import { POSTGRES_MIGRATIONS } from './schema.ts';

export interface PostgresStoreOptions {
  /** postgres://user[:password]@host[:port]/database[?…] */
  readonly connectionString: string;
  /** Most connections this store opens (default 4: writers serialize on the clock row). */
  readonly poolMax?: number;
  /** Milliseconds to wait for a connection (default 5000). */
  readonly connectTimeout_ms?: number;
  /** How long a batch keeps retrying after losing its connection (default 10000 ms). */
  readonly retryBudget_ms?: number;
  /** Apply migrations on open (default true). */
  readonly migrate?: boolean;
  readonly applicationName?: string;
  /**
   * A schema to keep the ledger's tables in (created if missing; default: the server's
   * search_path, normally `public`). Lets several ledgers, or test runs, share a database.
   */
  readonly schema?: string;
  /** Milliseconds an unused pooled connection stays open (default 10000). */
  readonly idleTimeout_ms?: number;
  /** Most accounts kept in memory between batches (default 1,000,000; 0 disables). */
  readonly accountCacheMax?: number;
  /**
   * Transfers between two stretches of the account history index (default 65,536): a
   * batch that finds at least this many unindexed adds their posting lists (schema.ts).
   */
  readonly historyIndexEvery?: number;
  /** Transfers between two folds of the balance journal into accounts (default 65,536). */
  readonly journalFoldEvery?: number;
  /** Most journal rows before a fold, whatever their size (default 128). */
  readonly journalRowsMax?: number;
  /**
   * Server-side deadlines, so no call waits on the database forever (0 turns one off):
   * the longest a statement may run (statement_timeout, default 30,000 ms; migrations are
   * exempt), the longest a batch waits for a lock, in practice the writer lock on the clock
   * row (lock_timeout, default 10,000 ms), and how long a session may sit idle inside a
   * transaction before the server ends it and frees its locks (default 60,000 ms). A batch
   * past one of them is refused whole with store_unavailable; nothing of it is applied.
   */
  readonly statementTimeout_ms?: number;
  readonly lockTimeout_ms?: number;
  readonly idleInTransactionTimeout_ms?: number;
}

/** int8 as bigint and uuid as a 128-bit bigint, for this store's connections only. */
const TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: string) => {
    if (oid === 20) return (v: string) => BigInt(v);
    if (oid === 2950) return (v: string) => BigInt('0x' + v.replaceAll('-', ''));
    return pg.types.getTypeParser(oid, format as 'text');
  }) as pg.CustomTypesConfig['getTypeParser'],
};

const MAX_I64 = (1n << 63n) - 1n;
/** 57014 query_canceled (statement_timeout), 55P03 lock_not_available (lock_timeout). */
const DEADLINE_CODES = new Set(['57014', '55P03']);
/** 40001 serialization_failure, 40P01 deadlock_detected, 23505 unique_violation. */
const CONFLICT_CODES = new Set(['40001', '40P01', '23505']);
const MAX_CONFLICT_ATTEMPTS = 50;
const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNABORTED',
  'EAI_AGAIN',
]);

const TRANSFER_COLUMNS =
  't.ts, t.id, t.debit_account_id, t.credit_account_id, t.amount, t.pending_id, t.user_data_128, t.user_data_64, t.user_data_32, t.timeout, t.ledger, t.code, t.flags';
const ACCOUNT_COLUMNS =
  'ts, id, ledger, code, flags, user_data_128, user_data_64, user_data_32, debits_pending, debits_posted, credits_pending, credits_posted, closed';
const PENDING_MIN =
  'SELECT min(expires_at) FROM pending_transfers WHERE status = 0 AND expires_at IS NOT NULL';

const SELECT_TRANSFERS = `SELECT ${TRANSFER_COLUMNS}, p.status, p.expires_at, p.resolved_at
  FROM transfers t LEFT JOIN pending_transfers p ON p.ts = t.ts WHERE t.id = ANY($1::uuid[])`;
/**
 * Accounts with the balance journal, in one statement (one snapshot): the account rows the
 * clause selects, then one row per live journal entry (version, and its blob unless the
 * caller already holds that version: $1). Blobs are immutable, so processes cache them.
 */
function accountsWithJournal(where: string): string {
  return `(SELECT ${ACCOUNT_COLUMNS}, NULL::bigint AS jv, NULL::bytea AS jb FROM accounts ${where})
    UNION ALL
    SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, version,
      CASE WHEN version = ANY($1::bigint[]) THEN NULL ELSE balances END
    FROM balance_journal`;
}
const SELECT_ACCOUNTS = accountsWithJournal('WHERE id = ANY($2::uuid[])');
const SCAN_ACCOUNTS = accountsWithJournal('WHERE ts > $2 ORDER BY ts LIMIT $3');
const ACCOUNT_EXISTS = 'SELECT 1 FROM accounts WHERE id = $1::uuid';
const SELECT_DUE = `SELECT ${TRANSFER_COLUMNS}, p.status, p.expires_at, p.resolved_at
  FROM pending_transfers p JOIN transfers t ON t.ts = p.ts
  WHERE p.status = 0 AND p.expires_at IS NOT NULL AND p.expires_at <= $1
  ORDER BY p.expires_at, p.ts LIMIT $2`;

/** Everything a batch writes, in one statement (see the header). */
const PERSIST = `WITH
  ins AS (
    INSERT INTO transfers (ts, id, debit_account_id, credit_account_id, amount, pending_id,
      user_data_128, user_data_64, user_data_32, timeout, ledger, code, flags)
    SELECT * FROM unnest($1::bigint[], $2::uuid[], $3::uuid[], $4::uuid[], $5::bigint[],
      $6::uuid[], $7::uuid[], $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[],
      $12::integer[], $13::integer[])
  ),
  jin AS (
    INSERT INTO balance_journal (version, balances)
    SELECT $14::bigint, $15::bytea WHERE $15::bytea IS NOT NULL
  ),
  pin AS (
    INSERT INTO pending_transfers (ts, status, expires_at, resolved_at)
    SELECT * FROM unnest($16::bigint[], $17::smallint[], $18::bigint[], $19::bigint[])
  ),
  pup AS (
    UPDATE pending_transfers p SET status = u.status, resolved_at = u.resolved_at
    FROM unnest($20::bigint[], $21::smallint[], $22::bigint[]) AS u(ts, status, resolved_at)
    WHERE p.ts = u.ts AND p.status = 0
    RETURNING 1
  )
SELECT (SELECT count(*) FROM pup) AS resolved`;

/**
 * Folds the journal into accounts: the newest entry of every account in the rows up to
 * $7 (computed by the caller from the journal it read under the writer lock), then drops
 * those rows; counts are checked.
 */
const FOLD = `WITH
  upd AS (
    UPDATE accounts a SET debits_pending = u.dp, debits_posted = u.dpo,
      credits_pending = u.cp, credits_posted = u.cpo, closed = u.closed
    FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[],
      $6::boolean[]) AS u(ts, dp, dpo, cp, cpo, closed)
    WHERE a.ts = u.ts
    RETURNING 1
  ),
  del AS (DELETE FROM balance_journal WHERE version <= $7 RETURNING 1),
  clk AS (UPDATE ledger_clock SET folded_version = $7, unfolded = $8 WHERE id = 1)
SELECT (SELECT count(*) FROM upd) AS accounts, (SELECT count(*) FROM del) AS rows`;

/** Adds the stretch ($1, $2] of history to the posting lists (see schema.ts). */
const INDEX_STRETCH = `WITH
  ins AS (
    INSERT INTO account_postings (account_id, upto, after, debits, credits)
    SELECT h.account_id, $2, $1,
      coalesce(string_agg(int8send(h.ts), ''::bytea ORDER BY h.ts) FILTER (WHERE h.debit), ''::bytea),
      coalesce(string_agg(int8send(h.ts), ''::bytea ORDER BY h.ts) FILTER (WHERE NOT h.debit), ''::bytea)
    FROM (SELECT debit_account_id AS account_id, ts, true AS debit FROM transfers
            WHERE ts > $1 AND ts <= $2
          UNION ALL
          SELECT credit_account_id, ts, false FROM transfers WHERE ts > $1 AND ts <= $2) h
    GROUP BY h.account_id
  )
UPDATE ledger_clock SET indexed_upto = $2, unindexed = $3 WHERE id = 1`;

const INSERT_ACCOUNTS = `INSERT INTO accounts (${ACCOUNT_COLUMNS})
  SELECT * FROM unnest($1::bigint[], $2::uuid[], $3::bigint[], $4::integer[], $5::integer[],
    $6::uuid[], $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[],
    $12::bigint[], $13::boolean[])`;

/**
 * An account's indexed history: the timestamps in its posting lists (the sides $4
 * debits, $5 credits) of the stretches that may hold (lo $2, hi $3), with the side.
 */
const INDEXED = `SELECT x.ts, x.debit FROM account_postings p
    CROSS JOIN LATERAL (
      SELECT ('x' || encode(substr(l.list, i * 8 + 1, 8), 'hex'))::bit(64)::bigint AS ts, l.debit
      FROM (SELECT p.debits AS list, true AS debit WHERE $4::boolean
            UNION ALL SELECT p.credits, false WHERE $5::boolean) l,
        generate_series(0, length(l.list) / 8 - 1) AS i
    ) x
    WHERE p.account_id = $1::uuid AND p.upto >= $2 AND p.after <= $3`;
/** Transfers not yet in the posting lists: a scan of the newest rows by their key. */
const UNINDEXED_FROM = '(SELECT indexed_upto FROM ledger_clock WHERE id = 1)';
const ON_SIDE =
  '(($4::boolean AND t.debit_account_id = $1::uuid) OR ($5::boolean AND t.credit_account_id = $1::uuid))';
// History pages (getAccountTransfers) read these in one REPEATABLE READ snapshot: the
// stretches' posting lists, a few at a time in the page's direction (decoded and bisected
// in JS, so a page costs the lists it touches, not every timestamp of the account in its
// range), the rows newer than the index, and then the page's rows by key.
const INDEXED_UPTO = 'SELECT indexed_upto FROM ledger_clock WHERE id = 1';
/** Stretches holding entries in (lo, hi]: $2 = lo (or the last stretch read), $3 = hi. */
const STRETCHES_FORWARD = `SELECT upto, CASE WHEN $4::boolean THEN debits END AS debits,
    CASE WHEN $5::boolean THEN credits END AS credits
  FROM account_postings WHERE account_id = $1::uuid AND upto > $2 AND after < $3
  ORDER BY upto LIMIT $6`;
/** Stretches holding entries in [lo, hi), newest first: $2 = lo, $3 = hi, $7 = below this upto. */
const STRETCHES_BACKWARD = `SELECT upto, CASE WHEN $4::boolean THEN debits END AS debits,
    CASE WHEN $5::boolean THEN credits END AS credits
  FROM account_postings WHERE account_id = $1::uuid AND upto >= $2 AND upto < $7 AND after < $3
  ORDER BY upto DESC LIMIT $6`;
/** Rows newer than the index in ($2, $3], oldest first. */
const TAIL_FORWARD = `SELECT ${TRANSFER_COLUMNS} FROM transfers t
  WHERE t.ts > $2 AND t.ts <= $3 AND ${ON_SIDE} ORDER BY t.ts LIMIT $6`;
/** Rows newer than the index ($7) in [$2, $3), newest first. */
const TAIL_BACKWARD = `SELECT ${TRANSFER_COLUMNS} FROM transfers t
  WHERE t.ts > $7 AND t.ts >= $2 AND t.ts < $3 AND ${ON_SIDE} ORDER BY t.ts DESC LIMIT $6`;
const TRANSFERS_AT = `SELECT ${TRANSFER_COLUMNS} FROM transfers t WHERE t.ts = ANY($1::bigint[])`;
/** Stretches fetched by the first query of a page; each further query fetches twice as many. */
const STRETCHES_FIRST = 2;
const STRETCHES_MAX = 64;

// Posted: single-phase transfers and posts (not pending, not void). Pending: pending
// transfers made by then and not yet resolved by then. As in the SQLite store.
// Parameters as INDEXED: $2 = 0 (from the start), $3 = the time, $4 = $5 = true. Each
// listed transfer is fetched by its key (the LATERAL … LIMIT 1 keeps the planner, which
// cannot estimate the lists' length, from hashing the whole transfers table instead).
const BALANCE_AT = `WITH idx AS (${INDEXED}),
  h AS (
    SELECT idx.ts, t.amount, t.flags, idx.debit FROM idx
      CROSS JOIN LATERAL (SELECT amount, flags FROM transfers WHERE ts = idx.ts LIMIT 1) t
      WHERE idx.ts <= $3
    UNION ALL
    SELECT t.ts, t.amount, t.flags, t.debit_account_id = $1::uuid FROM transfers t
      WHERE t.ts > ${UNINDEXED_FROM} AND t.ts <= $3 AND ${ON_SIDE}
  )
  SELECT
    coalesce(sum(h.amount) FILTER (WHERE h.debit AND (h.flags & 10) = 0), 0)::bigint AS debits_posted,
    coalesce(sum(h.amount) FILTER (WHERE NOT h.debit AND (h.flags & 10) = 0), 0)::bigint AS credits_posted,
    coalesce(sum(h.amount) FILTER (WHERE h.debit AND p.ts IS NOT NULL
      AND (p.resolved_at IS NULL OR p.resolved_at > $3)), 0)::bigint AS debits_pending,
    coalesce(sum(h.amount) FILTER (WHERE NOT h.debit AND p.ts IS NOT NULL
      AND (p.resolved_at IS NULL OR p.resolved_at > $3)), 0)::bigint AS credits_pending
  FROM h LEFT JOIN pending_transfers p ON p.ts = h.ts`;

type Row = Record<string, unknown>;

/** What one write transaction reads and changes; see #transaction. */
interface Tx {
  readonly c: pg.PoolClient;
  /** Accounts by id: from the cache when it is valid, else read (and then cached). */
  accounts(ids: readonly bigint[]): Promise<Map<bigint, Account>>;
  /** Accounts this transaction created: they go into the cache once it commits. */
  wrote(accounts: readonly Account[]): void;
  /** Accounts whose balances this transaction changed: the journal row, then the cache. */
  changed(accounts: readonly Account[]): void;
  /** The journal row of what `changed` collected (null when nothing changed). */
  journal(): JournalRow | null;
  /** Records the clock this transaction set (from begin). */
  version(clock: Clock): void;
  /** Adds a history stretch or folds the journal when the clock says one is due. */
  maintain(clock: Clock, events: number): Promise<void>;
  /** Transfers this transaction wrote, in timestamp order (for the posting buffer). */
  appended(transfers: readonly Transfer[]): void;
  /** True after an attempt hit a unique violation: look every event id up this time. */
  readonly lookUpIds: boolean;
}

/**
 * The posting lists of the transfers after `from` (the clock's indexed_upto), built here
 * as this process commits them, so the next stretch needs no sort of history on the
 * server. Valid only while every transfer committed after `from` is this process's: it
 * is dropped whenever another process wrote in between, or a transaction failed.
 */
interface PostingBuffer {
  readonly from: bigint;
  readonly lists: Map<bigint, { debits: bigint[]; credits: bigint[] }>;
}

/** The ledger_clock row as a batch's BEGIN left it. */
interface Clock {
  readonly base: bigint;
  readonly nextExpiry: bigint | null;
  readonly version: bigint;
  readonly indexedUpto: bigint;
  readonly unindexed: bigint;
  readonly unfolded: bigint;
  readonly foldedVersion: bigint;
}

/** An account's balances in a journal row (a decoded entry, or the account itself). */
type JournalBalances = Pick<
  BalanceEntry,
  'debitsPending' | 'debitsPosted' | 'creditsPending' | 'creditsPosted' | 'closed'
>;
/** One balance journal row: its entries by account timestamp. */
type JournalEntries = ReadonlyMap<bigint, JournalBalances>;
interface JournalRow {
  readonly version: bigint;
  readonly blob: Buffer;
  readonly entries: JournalEntries;
}

export class PostgresStore implements LedgerStore {
  readonly kind = 'postgres';
  readonly pool: pg.Pool;
  /** host:port/database, for messages (never the password). */
  readonly target: string;
  readonly #retryBudget_ms: number;
  readonly #accountCacheMax: number;
  /**
   * Accounts as of `#knownVersion`, the write counter our own last commit set. A batch
   * trusts them only if the counter it reads at BEGIN (under the writer lock) is that
   * one: nobody else wrote in between. Otherwise it drops them and reads.
   */
  readonly #cache = new Map<bigint, Account>();
  #knownVersion = -1n;
  /**
   * Balance journal rows by version, decoded. A committed row never changes, so any
   * process may keep it; a version is dropped once a read or a fold shows it folded.
   */
  readonly #journalRows = new Map<bigint, JournalEntries>();
  /** The versions of the live journal rows as of clock version `#liveAt` (-1: unknown). */
  #live = new Set<bigint>();
  #liveAt = -1n;
  #postings: PostingBuffer | null = null;
  readonly #historyIndexEvery: bigint;
  readonly #journalFoldEvery: bigint;
  readonly #journalRowsMax: bigint;
  /** This store's write transactions, one at a time (they would queue on the clock row anyway). */
  #writeTail: Promise<unknown> = Promise.resolve();
  #closed = false;

  private constructor(pool: pg.Pool, target: string, options: PostgresStoreOptions) {
    this.pool = pool;
    this.target = target;
    this.#retryBudget_ms = options.retryBudget_ms ?? 10_000;
    this.#accountCacheMax = options.accountCacheMax ?? 1_000_000;
    const every = (name: string, v: number) => {
      if (!Number.isInteger(v) || v < 1)
        throw new RangeError(`${name} must be a whole number above zero`);
      return BigInt(v);
    };
    this.#historyIndexEvery = every('historyIndexEvery', options.historyIndexEvery ?? 65_536);
    this.#journalFoldEvery = every('journalFoldEvery', options.journalFoldEvery ?? 65_536);
    this.#journalRowsMax = every('journalRowsMax', options.journalRowsMax ?? 128);
  }

  /**
   * Connects, checks the server answers, and (unless migrate: false) applies migrations.
   * Every failure is one LedgerError line naming the server and what failed.
   */
  static async open(options: PostgresStoreOptions): Promise<PostgresStore> {
    const store = await PostgresStore.#connect(options);
    try {
      if (options.migrate !== false) await migratePostgres(store.pool);
      else await checkSchemaVersion(store.pool);
      return store;
    } catch (error) {
      await store.close().catch(() => undefined);
      if (error instanceof LedgerError) throw error;
      throw new LedgerError(
        'store_unavailable',
        `PostgreSQL at ${store.target}: migration failed: ${explain(error)}`,
        { cause: error },
      );
    }
  }

  /** A pool that has answered once, or one clear line saying why not. */
  static async #connect(options: PostgresStoreOptions): Promise<PostgresStore> {
    const target = describeTarget(options.connectionString);
    const schema = options.schema;
    if (schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
      throw new LedgerError(
        'store_unavailable',
        `schema must be a lower-case SQL identifier, not ${JSON.stringify(schema)}`,
      );
    }
    const connectTimeout_ms = options.connectTimeout_ms ?? 5000;
    const pool = createPool(options.connectionString, {
      max: options.poolMax ?? 4,
      connectTimeout_ms,
      idleTimeout_ms: options.idleTimeout_ms ?? 10_000,
      applicationName: options.applicationName ?? 'remitnet',
      schema,
      statementTimeout_ms: options.statementTimeout_ms ?? 30_000,
      lockTimeout_ms: options.lockTimeout_ms ?? 10_000,
      idleInTransactionTimeout_ms: options.idleInTransactionTimeout_ms ?? 60_000,
    });
    const started = Date.now();
    try {
      await pool.query(schema === undefined ? 'SELECT 1' : `CREATE SCHEMA IF NOT EXISTS ${schema}`);
    } catch (error) {
      await pool.end().catch(() => undefined);
      const timedOut = Date.now() - started >= connectTimeout_ms - 50;
      const why = timedOut
        ? `no answer within ${connectTimeout_ms} ms (connection timed out)`
        : explain(error);
      throw new LedgerError('store_unavailable', `PostgreSQL at ${target}: ${why}`, {
        cause: error,
      });
    }
    return new PostgresStore(pool, target, options);
  }

  /**
   * Applies migrations and closes (for `remitnet migrate`): what was applied, or one
   * LedgerError line naming the server and what failed; a newer schema is refused.
   */
  static async migrate(connectionString: string, schema?: string): Promise<MigrationReport> {
    const store = await PostgresStore.#connect({ connectionString, schema });
    try {
      return await migratePostgres(store.pool);
    } catch (error) {
      if (error instanceof LedgerError) throw error;
      throw new LedgerError(
        'store_unavailable',
        `PostgreSQL at ${store.target}: migration failed: ${explain(error)}`,
        { cause: error },
      );
    } finally {
      await store.close();
    }
  }

  // ---- writes ---------------------------------------------------------------------------

  async createAccounts(
    events: readonly AccountEvent[],
    now: bigint,
  ): Promise<CreateAccountResult[]> {
    return this.#transaction(async (tx) => {
      const c = tx.c;
      const clock = await begin(c, now, events.length, false);
      tx.version(clock);
      const base = clock.base;
      const found = await tx.accounts(uniqueIds(events.map((e) => e.id)));
      const outcome = executeAccounts({ account: (id) => found.get(id) }, events, base);
      tx.wrote(outcome.accounts);
      if (outcome.accounts.length > 0) {
        const a = outcome.accounts;
        await c.query(INSERT_ACCOUNTS, [
          arr(a, (x) => x.timestamp.toString()),
          arr(a, (x) => hex(x.id)),
          arr(a, (x) => String(x.ledger)),
          arr(a, (x) => String(x.code)),
          arr(a, (x) => String(x.flags)),
          arr(a, (x) => hexOrNull(x.userData128)),
          arr(a, (x) => u64ToI64(x.userData64).toString()),
          arr(a, (x) => String(x.userData32)),
          arr(a, (x) => x.debitsPending.toString()),
          arr(a, (x) => x.debitsPosted.toString()),
          arr(a, (x) => x.creditsPending.toString()),
          arr(a, (x) => x.creditsPosted.toString()),
          arr(a, (x) => (x.closed ? 't' : 'f')),
        ]);
      }
      return outcome.results;
    });
  }

  async createTransfers(
    events: readonly TransferEvent[],
    now: bigint,
  ): Promise<CreateTransferResult[]> {
    return this.#transaction(async (tx) => {
      const c = tx.c;
      const clock = await begin(c, now, events.length, true);
      tx.version(clock);
      const base = clock.base;
      await tx.maintain(clock, events.length);
      if (clock.nextExpiry !== null && clock.nextExpiry <= base) await sweep(tx, base);

      // Transfers the batch names: the pending transfers it posts or voids, always; its
      // own ids only after a unique violation (see below).
      const wanted: bigint[] = [];
      for (const e of events) {
        if (e.pendingId !== 0n) wanted.push(e.pendingId);
        if (tx.lookUpIds) wanted.push(e.id);
      }
      const transfers = await selectTransfers(c, uniqueIds(wanted));
      const accountIds: bigint[] = [];
      for (const e of events) {
        if (e.debitAccountId !== 0n) accountIds.push(e.debitAccountId);
        if (e.creditAccountId !== 0n) accountIds.push(e.creditAccountId);
      }
      for (const t of transfers.values()) {
        if ((t.flags & TransferFlags.pending) !== 0) {
          accountIds.push(t.debitAccountId, t.creditAccountId);
        }
      }
      const accounts = await tx.accounts(uniqueIds(accountIds));
      const view: LedgerView = {
        account: (id) => accounts.get(id),
        transfer: (id) => transfers.get(id),
        existing: (id) => transfers.get(id),
      };
      let outcome = executeTransfers(view, events, base);
      if (!tx.lookUpIds) {
        // Idempotency, checked as the SQLite store does: first assume the batch's own ids
        // are new (the engine's "optimistic" view), which is exact unless one is taken.
        // A taken id of an event that succeeded fails the INSERT on the unique index
        // (23505), and the batch reruns with every id looked up. A taken id of an event
        // that failed is found here, and the engine reruns with real look-ups now.
        const failed: bigint[] = [];
        for (let i = 0; i < events.length; i++) {
          if (outcome.results[i] !== 'ok') failed.push(events[i]!.id);
        }
        if (failed.length > 0 && (await selectTransfers(c, uniqueIds(failed))).size > 0) {
          const own = await selectTransfers(c, uniqueIds(events.map((e) => e.id)));
          for (const [id, t] of own) transfers.set(id, t);
          outcome = executeTransfers(view, events, base);
        }
      }
      tx.changed(outcome.accounts);
      const last = base + BigInt(events.length) - 1n;
      if (clock.nextExpiry !== null && clock.nextExpiry <= last) {
        // A deadline within the batch (base < expiresAt <= last): the engine answered every
        // post or void stamped at or after it pending_transfer_expired, so the reservation
        // ends there. Expire it now, as of its deadline, on the balances the batch left
        // (tx.accounts reads what the batch wrote first), so no read after the batch still
        // counts it. The batch's rows go first (the sweep must see what it resolved); the
        // journal row, with every account either changed, last.
        await persist(c, outcome, null);
        await sweep(tx, last);
        const journal = tx.journal();
        if (journal !== null) await persist(c, EMPTY_WRITES, journal);
      } else {
        await persist(c, outcome, tx.journal());
      }
      tx.appended(outcome.transfers);
      return outcome.results;
    });
  }

  async expirePending(now: bigint): Promise<number> {
    return this.#transaction(async (tx) => {
      // The writer lock, without taking timestamps: expiry adds no rows of its own.
      tx.version(await begin(tx.c, now, 0, false));
      const count = await sweep(tx, now);
      const journal = tx.journal();
      if (journal !== null) await persist(tx.c, EMPTY_WRITES, journal);
      if (count > 0) {
        // Expiries took effect up to `now` without adding rows: no later batch, from any
        // process (whose clock may lag), may be timestamped before them.
        await tx.c.query('UPDATE ledger_clock SET last_ts = GREATEST(last_ts, $1) WHERE id = 1', [
          now.toString(),
        ]);
      }
      return count;
    });
  }

  async nextExpiry(): Promise<bigint | null> {
    const r = await this.#read((c) => c.query(PENDING_MIN));
    return (r.rows[0]?.min as bigint | null) ?? null;
  }

  /**
   * Runs fn (which must BEGIN) in a transaction and COMMITs, retrying conflicts and lost
   * connections as described in the header. fn must be safe to run again.
   */
  #transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    const run = () => this.#transactionNow(fn);
    const result = this.#writeTail.then(run, run);
    this.#writeTail = result.catch(() => undefined);
    return result;
  }

  async #transactionNow<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    this.#checkOpen();
    const deadline = Date.now() + this.#retryBudget_ms;
    let outcomeUnknown = false;
    let lookUpIds = false;
    for (let attempt = 1; ; attempt++) {
      let client: pg.PoolClient | undefined;
      let broken = false;
      let committing = false;
      let version: bigint | undefined;
      /** Accounts this transaction wrote, by id: newer than the cache or the database. */
      const wrote = new Map<bigint, Account>();
      /** Of those, the ones whose balances changed: this transaction's journal row. */
      const changed = new Map<bigint, Account>();
      let journal: JournalRow | null = null;
      /** The live journal rows as this transaction sees them (undefined: not known). */
      let live: Map<bigint, JournalEntries> | undefined;
      /** The last write before this transaction's was this process's own. */
      let chained = false;
      /** Set when this transaction ended a history stretch here (new indexed_upto). */
      let stretchedAt: bigint | undefined;
      /** indexed_upto, when no transfer was written after it before this transaction. */
      let startFrom: bigint | undefined;
      let transfers: readonly Transfer[] = [];
      try {
        client = await this.pool.connect();
        // A checked-out client has no pool listener: a connection dying between two
        // queries would otherwise be an uncaught 'error'. The next query fails instead.
        client.on('error', ignore);
        const c = client;
        const tx: Tx = {
          c,
          lookUpIds,
          accounts: async (ids) => {
            const r = await this.#accountsFor(c, ids, version, wrote);
            if (r.live !== undefined) live = r.live;
            return r.accounts;
          },
          wrote: (accounts) => {
            for (const a of accounts) wrote.set(a.id, a);
          },
          changed: (accounts) => {
            for (const a of accounts) {
              wrote.set(a.id, a);
              changed.set(a.id, a);
            }
          },
          journal: () => {
            if (version === undefined) throw new Error('invariant: a journal row before begin()');
            if (changed.size === 0) return null;
            // The accounts themselves are the entries (keyed by their timestamps), and
            // packAccountBalances writes deferred.ts's journal format straight from them.
            const list = [...changed.values()];
            const entries = new Map<bigint, JournalBalances>();
            for (const a of list) {
              assertBalances(a);
              entries.set(a.timestamp, a);
            }
            journal = { version, blob: packAccountBalances(list), entries };
            return journal;
          },
          appended: (t) => {
            transfers = t;
          },
          version: (clock) => {
            const v = clock.version;
            version = v;
            chained = v - 1n === this.#knownVersion;
            // Trust the cache only if the last write before ours was our own.
            if (v - 1n !== this.#knownVersion) this.#cache.clear();
            if (v - 1n === this.#liveAt) {
              const known = new Map<bigint, JournalEntries>();
              for (const jv of this.#live) {
                const entries = this.#journalRows.get(jv);
                if (entries === undefined) return; // read again if a fold needs them
                known.set(jv, entries);
              }
              live = known;
            }
          },
          maintain: async (clock, events) => {
            const n = BigInt(events);
            const last = clock.base - 1n; // every transfer up to here is committed
            if (clock.unindexed - n >= this.#historyIndexEvery && last > clock.indexedUpto) {
              const buffer = this.#postings;
              if (chained && buffer !== null && buffer.from === clock.indexedUpto) {
                await copyIn(c, COPY_POSTINGS, postingCopyData(buffer, last));
                await c.query(
                  'UPDATE ledger_clock SET indexed_upto = $1, unindexed = $2 WHERE id = 1',
                  [last.toString(), n.toString()],
                );
              } else {
                await c.query(INDEX_STRETCH, [
                  clock.indexedUpto.toString(),
                  last.toString(),
                  n.toString(),
                ]);
              }
              stretchedAt = last;
            } else if (clock.unindexed === n) {
              startFrom = clock.indexedUpto;
            }
            // Not both in one batch (they fall due together with equal intervals), so no
            // batch waits for both: the fold waits one batch, unless the rows pile up.
            const rows = clock.version - 1n - clock.foldedVersion;
            if (
              rows > 0n &&
              (stretchedAt === undefined || rows >= 2n * this.#journalRowsMax) &&
              (clock.unfolded - n >= this.#journalFoldEvery || rows >= this.#journalRowsMax)
            ) {
              live ??= (await this.#readJournal(c)).live;
              await fold(c, live, clock.version - 1n, n);
              live = new Map();
            }
          },
        };
        const value = await fn(tx);
        committing = true;
        await client.query('COMMIT');
        if (version !== undefined) {
          // The posting buffer: restarted where this transaction ended a stretch, or where
          // nothing was written since the last one; else kept only if no one else wrote.
          let buffer: PostingBuffer | null;
          if (stretchedAt !== undefined) buffer = { from: stretchedAt, lists: new Map() };
          else if (startFrom !== undefined) buffer = { from: startFrom, lists: new Map() };
          else buffer = chained ? this.#postings : null;
          if (buffer !== null) appendPostings(buffer, transfers);
          this.#postings = buffer;
          this.#knownVersion = version;
          if (this.#cache.size + wrote.size > this.#accountCacheMax) this.#cache.clear();
          if (this.#accountCacheMax > 0) for (const [id, a] of wrote) this.#cache.set(id, a);
          const row = journal as JournalRow | null;
          if (row !== null) this.#journalRows.set(row.version, row.entries);
          if (live === undefined) {
            this.#liveAt = -1n;
          } else {
            this.#live = new Set(live.keys());
            for (const jv of this.#journalRows.keys()) {
              if (jv < version && !this.#live.has(jv)) this.#journalRows.delete(jv);
            }
            if (row !== null) this.#live.add(row.version);
            this.#liveAt = version;
          }
        }
        return value;
      } catch (error) {
        // Whatever was cached may no longer match the database: start afresh.
        this.#cache.clear();
        this.#postings = null;
        this.#knownVersion = -1n;
        this.#liveAt = -1n;
        const lost = isConnectionLoss(error);
        if (client === undefined && !lost) {
          // Could not connect for a reason retrying will not fix (authentication, no such
          // database): one clear line.
          throw new LedgerError(
            'store_unavailable',
            `PostgreSQL at ${this.target}: ${explain(error)}`,
            {
              cause: error,
            },
          );
        }
        if (lost) {
          broken = true;
          if (committing) outcomeUnknown = true;
        } else {
          await client!.query('ROLLBACK').catch(() => {
            broken = true;
          });
        }
        const code = sqlState(error);
        const conflict = code !== undefined && CONFLICT_CODES.has(code);
        if (code === '23505') lookUpIds = true;
        if (lost && !this.#closed && Date.now() < deadline) {
          await sleep_ms(Math.min(500, 20 * attempt));
          continue;
        }
        if (conflict && attempt < MAX_CONFLICT_ATTEMPTS) {
          await sleep_ms(Math.random() * Math.min(50, 2 ** attempt));
          continue;
        }
        if (lost) {
          const unknown = outcomeUnknown
            ? '; the connection was lost during COMMIT, so the last batch may have been applied: resubmit it with the same ids'
            : '';
          throw new LedgerError(
            'store_unavailable',
            `PostgreSQL at ${this.target}: ${explain(error)}${unknown}`,
            { cause: error },
          );
        }
        throw deadlineError(error, this.target) ?? error;
      } finally {
        client?.off('error', ignore);
        client?.release(broken ? true : undefined);
      }
    }
  }

  /**
   * The live journal rows, read in the statement's snapshot: `known` versions come from
   * the process's rows, the others are read and decoded. Versions this process held
   * (committed before the statement was sent, so in its snapshot) that are no longer
   * live were folded, forever: they are dropped here.
   */
  #journalFrom(
    known: readonly bigint[],
    rows: readonly { jv: bigint; jb: Buffer | null }[],
  ): Map<bigint, JournalEntries> {
    const live = new Map<bigint, JournalEntries>();
    for (const { jv, jb } of rows) {
      let entries = jb === null ? this.#journalRows.get(jv) : undefined;
      if (entries === undefined) {
        if (jb === null) throw new StaleJournal();
        const m = new Map<bigint, JournalBalances>();
        for (const e of unpackBalances(jb)) m.set(e.accountTimestamp, e);
        entries = m;
        this.#journalRows.set(jv, m);
      }
      live.set(jv, entries);
    }
    for (const jv of known) if (!live.has(jv)) this.#journalRows.delete(jv);
    return new Map([...live].sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0)));
  }

  /** Accounts (selected by `sql`, see accountsWithJournal) with the journal applied. */
  async #readAccounts(
    c: pg.Pool | pg.PoolClient,
    sql: string,
    params: readonly unknown[],
  ): Promise<{ accounts: Account[]; live: Map<bigint, JournalEntries> }> {
    for (let attempt = 1; ; attempt++) {
      const known = [...this.#journalRows.keys()];
      const r = await c.query(sql, [arr(known, String), ...params]);
      const accounts: Account[] = [];
      const journal: { jv: bigint; jb: Buffer | null }[] = [];
      for (const row of r.rows as Row[]) {
        if (row.jv === null) accounts.push(rowToAccount(row));
        else journal.push({ jv: row.jv as bigint, jb: row.jb as Buffer | null });
      }
      let live: Map<bigint, JournalEntries>;
      try {
        live = this.#journalFrom(known, journal);
      } catch (error) {
        // A version held when the statement was sent was dropped meanwhile (by a fold of
        // this process's): read again.
        if (error instanceof StaleJournal && attempt < 3) continue;
        throw error;
      }
      const newestFirst = [...live.values()].reverse();
      return {
        accounts: accounts.map((a) => {
          for (const entries of newestFirst) {
            const e = entries.get(a.timestamp);
            if (e !== undefined) {
              return {
                ...a,
                debitsPending: e.debitsPending,
                debitsPosted: e.debitsPosted,
                creditsPending: e.creditsPending,
                creditsPosted: e.creditsPosted,
                closed: e.closed,
              };
            }
          }
          return a;
        }),
        live,
      };
    }
  }

  /** The live journal rows (for a fold), read under the writer lock. */
  async #readJournal(c: pg.PoolClient): Promise<{ live: Map<bigint, JournalEntries> }> {
    return this.#readAccounts(c, SELECT_ACCOUNTS, ['{}']);
  }

  /** A read on any pooled connection, retried once after a lost connection. */
  async #read<T>(fn: (c: pg.Pool) => Promise<T>): Promise<T> {
    this.#checkOpen();
    try {
      return await fn(this.pool);
    } catch (error) {
      if (!isConnectionLoss(error)) throw deadlineError(error, this.target) ?? error;
      try {
        return await fn(this.pool);
      } catch (again) {
        if (!isConnectionLoss(again)) throw again;
        throw new LedgerError(
          'store_unavailable',
          `PostgreSQL at ${this.target}: ${explain(again)}`,
          {
            cause: again,
          },
        );
      }
    }
  }

  /**
   * Several reads in one snapshot (REPEATABLE READ, read only) on one pooled connection,
   * retried once after a lost connection, like #read.
   */
  async #snapshot<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    return this.#read(async (pool) => {
      const c = await pool.connect();
      // A session the server ends between two queries emits 'error' on the client: without
      // a listener that would crash the process (the failing query reports it anyway).
      c.on('error', ignore);
      let done = false;
      try {
        await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
        const value = await fn(c);
        await c.query('COMMIT');
        done = true;
        return value;
      } finally {
        if (!done) await c.query('ROLLBACK').catch(() => undefined);
        c.off('error', ignore);
        c.release(!done); // a connection that failed mid-read is not reused
      }
    });
  }

  /** Accounts for a write transaction: cached ones, and the rest read and cached. */
  async #accountsFor(
    c: pg.PoolClient,
    ids: readonly bigint[],
    version: bigint | undefined,
    wrote: ReadonlyMap<bigint, Account>,
  ): Promise<{ accounts: Map<bigint, Account>; live?: Map<bigint, JournalEntries> }> {
    if (version === undefined) throw new Error('invariant: accounts read before begin()');
    const out = new Map<bigint, Account>();
    const missing: bigint[] = [];
    for (const id of ids) {
      const a = wrote.get(id) ?? this.#cache.get(id);
      if (a === undefined) missing.push(id);
      else out.set(id, a);
    }
    if (missing.length === 0) return { accounts: out };
    const found = await this.#readAccounts(c, SELECT_ACCOUNTS, [arr(missing, hex)]);
    // Read under the writer lock: the committed state (plus this transaction's own writes,
    // which `wrote` overrides at commit). If the transaction fails, the cache is dropped.
    const cacheable = this.#accountCacheMax > 0 && this.#knownVersion === version - 1n;
    for (const a of found.accounts) {
      out.set(a.id, a);
      if (cacheable && this.#cache.size < this.#accountCacheMax) this.#cache.set(a.id, a);
    }
    return { accounts: out, live: found.live };
  }

  #checkOpen(): void {
    if (this.#closed) throw new LedgerError('store_unavailable', 'the PostgreSQL store is closed');
  }

  // ---- reads ----------------------------------------------------------------------------

  async lookupAccounts(ids: readonly bigint[]): Promise<Account[]> {
    if (ids.length === 0) return [];
    const rows = await this.#read((c) =>
      this.#readAccounts(c, SELECT_ACCOUNTS, [arr(uniqueIds(ids), hex)]),
    );
    const found = new Map(rows.accounts.map((a) => [a.id, a]));
    const out: Account[] = [];
    for (const id of ids) {
      const a = found.get(id);
      if (a !== undefined) out.push(a);
    }
    return out;
  }

  async lookupTransfers(ids: readonly bigint[]): Promise<Transfer[]> {
    if (ids.length === 0) return [];
    const found = await this.#read((c) => selectTransfers(c, uniqueIds(ids)));
    const out: Transfer[] = [];
    for (const id of ids) {
      const t = found.get(id);
      if (t !== undefined) out.push(stripPendingState(t));
    }
    return out;
  }

  async lookupPending(ids: readonly bigint[]): Promise<Map<bigint, PendingState>> {
    const out = new Map<bigint, PendingState>();
    if (ids.length === 0) return out;
    const found = await this.#read((c) => selectTransfers(c, uniqueIds(ids)));
    for (const id of ids) {
      const t = found.get(id);
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
      if (at > MAX_I64) throw new LedgerError('cursor_invalid');
      if (reversed) hi = at;
      else lo = at;
    } else if (reversed) {
      hi = hi >= MAX_I64 ? MAX_I64 : hi + 1n; // backward pages take ts < hi
    } else {
      lo = lo - 1n; // forward pages take ts > lo
    }
    if (hi > MAX_I64) hi = MAX_I64;
    if (lo < 0n) lo = 0n; // no transfer has a timestamp below 1
    const want = filter.limit + 1;
    const rows = await this.#snapshot((c) =>
      reversed
        ? pageBackward(c, hex(filter.accountId), lo, hi, side, want)
        : pageForward(c, hex(filter.accountId), lo, hi, side, want),
    );
    const more = rows.length > filter.limit;
    const transfers = rows.slice(0, filter.limit).map(rowToTransfer);
    const last = transfers[transfers.length - 1];
    return more && last !== undefined
      ? { transfers, nextCursor: encodeCursor(last.timestamp) }
      : { transfers };
  }

  async getAccountBalanceAt(
    accountId: bigint,
    timestamp: bigint,
  ): Promise<AccountBalance | undefined> {
    const found = await this.#read((c) => c.query(ACCOUNT_EXISTS, [hex(accountId)]));
    if (found.rows.length === 0) return undefined;
    const at = timestamp > MAX_I64 ? MAX_I64 : timestamp < 0n ? 0n : timestamp;
    const r = await this.#read((c) =>
      c.query(BALANCE_AT, [hex(accountId), '0', at.toString(), true, true]),
    );
    const row = r.rows[0] as Row;
    return {
      accountId,
      debitsPending: row.debits_pending as bigint,
      debitsPosted: row.debits_posted as bigint,
      creditsPending: row.credits_pending as bigint,
      creditsPosted: row.credits_posted as bigint,
      timestamp,
    };
  }

  async scanAccounts(afterTimestamp: bigint, limit: number): Promise<Account[]> {
    const after = afterTimestamp < 0n ? -1n : afterTimestamp > MAX_I64 ? MAX_I64 : afterTimestamp;
    const r = await this.#read((c) =>
      this.#readAccounts(c, SCAN_ACCOUNTS, [after.toString(), limit]),
    );
    return r.accounts.sort((x, y) => (x.timestamp < y.timestamp ? -1 : 1));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.pool.end();
  }
}

// ---- the batch, step by step -----------------------------------------------------------

/**
 * BEGIN and take `n` timestamps: base = max(now, last + 1), as the store contract says.
 * `now` and `n` are bigints/whole numbers made here, inlined so that BEGIN and the clock
 * update go in one message (the simple protocol takes several statements, not parameters).
 */
async function begin(c: pg.PoolClient, now: bigint, n: number, transfers: boolean): Promise<Clock> {
  if (typeof now !== 'bigint' || !Number.isInteger(n) || n < 0) {
    throw new Error(
      `invariant: begin() needs a bigint clock and a whole batch size (got ${typeof now} ${String(now)}, ${n})`,
    );
  }
  const count = BigInt(n);
  // An empty batch takes the lock (and sweeps) without moving the clock, as on SQLite.
  const next = n === 0 ? 'last_ts' : `GREATEST(last_ts + ${count}, ${now + count - 1n})`;
  const added = transfers ? count : 0n;
  const results = (await c.query(
    `BEGIN ISOLATION LEVEL READ COMMITTED;
     UPDATE ledger_clock SET last_ts = ${next}, version = version + 1,
       unindexed = unindexed + ${added}, unfolded = unfolded + ${added}
       WHERE id = 1 RETURNING last_ts, version, indexed_upto, unindexed, unfolded,
         folded_version, (${PENDING_MIN}) AS next_expiry`,
  )) as unknown as pg.QueryResult[];
  const row = results[1]?.rows[0] as Row | undefined;
  if (row === undefined) throw new Error('invariant: ledger_clock has no row (schema damaged?)');
  const last = row.last_ts as bigint;
  const base = n === 0 ? (now > last ? now : last + 1n) : last - count + 1n;
  return {
    base,
    nextExpiry: (row.next_expiry as bigint | null) ?? null,
    version: row.version as bigint,
    indexedUpto: row.indexed_upto as bigint,
    unindexed: row.unindexed as bigint,
    unfolded: row.unfolded as bigint,
    foldedVersion: row.folded_version as bigint,
  };
}

/**
 * Folds the live journal rows (all of them have versions <= upTo) into accounts: the
 * newest entry of each account, in one UPDATE; deletes the rows; resets the counter.
 */
async function fold(
  c: pg.PoolClient,
  live: ReadonlyMap<bigint, JournalEntries>,
  upTo: bigint,
  unfolded: bigint,
): Promise<void> {
  const newest = new Map<bigint, JournalBalances>();
  for (const [jv, entries] of live) {
    if (jv > upTo) throw new Error(`invariant: journal row ${jv} is newer than the fold (${upTo})`);
    for (const [ts, e] of entries) newest.set(ts, e); // ascending versions: newest wins
  }
  const e = [...newest.values()];
  const r = await c.query(FOLD, [
    arr([...newest.keys()], (ts) => ts.toString()),
    arr(e, (x) => x.debitsPending.toString()),
    arr(e, (x) => x.debitsPosted.toString()),
    arr(e, (x) => x.creditsPending.toString()),
    arr(e, (x) => x.creditsPosted.toString()),
    arr(e, (x) => (x.closed ? 't' : 'f')),
    upTo.toString(),
    unfolded.toString(),
  ]);
  const counts = r.rows[0] as Row;
  if (Number(counts.accounts) !== e.length || Number(counts.rows) !== live.size) {
    throw new Error(
      `invariant: a fold updated ${String(counts.accounts)} of ${e.length} accounts and deleted ${String(counts.rows)} of ${live.size} journal rows`,
    );
  }
}

/** A journal version this process held was dropped while a read was in flight. */
class StaleJournal extends Error {}

const EMPTY_WRITES: LedgerWrites = {
  transfers: [],
  accounts: [],
  pendingCreated: [],
  pendingResolved: [],
};

/** Expires everything due at `now` (the writer lock is held); returns how many. */
async function sweep(tx: Tx, now: bigint): Promise<number> {
  const c = tx.c;
  let count = 0;
  for (;;) {
    const r = await c.query(SELECT_DUE, [now.toString(), BATCH_MAX]);
    const due = (r.rows as Row[]).map(rowToStoredTransfer);
    if (due.length === 0) break;
    const ids: bigint[] = [];
    for (const p of due) ids.push(p.debitAccountId, p.creditAccountId);
    const accounts = await tx.accounts(uniqueIds(ids));
    const writes = executeExpiry({ account: (id) => accounts.get(id) }, due, now);
    // The accounts go into the transaction's one journal row, written by its last persist.
    tx.changed(writes.accounts);
    await persist(c, writes, null);
    count += due.length;
    if (due.length < BATCH_MAX) break;
  }
  return count;
}

async function selectTransfers(
  c: pg.Pool | pg.PoolClient,
  ids: readonly bigint[],
): Promise<Map<bigint, StoredTransfer>> {
  const out = new Map<bigint, StoredTransfer>();
  if (ids.length === 0) return out;
  const r = await c.query(SELECT_TRANSFERS, [arr(ids, hex)]);
  for (const row of r.rows as Row[]) {
    const t = rowToStoredTransfer(row);
    out.set(t.id, t);
  }
  return out;
}

/** Writes a batch's outcome in one statement, and checks every row it meant to change. */
async function persist(
  c: pg.PoolClient,
  w: LedgerWrites,
  journal: JournalRow | null,
): Promise<void> {
  if (
    w.transfers.length === 0 &&
    journal === null &&
    w.pendingCreated.length === 0 &&
    w.pendingResolved.length === 0
  ) {
    return;
  }
  // A pending transfer made and resolved in the same batch is inserted in its final state
  // (the statement's parts share one snapshot, so the UPDATE could not see the INSERT).
  const resolvedNow = new Map<bigint, (typeof w.pendingResolved)[number]>();
  const resolveStored: (typeof w.pendingResolved)[number][] = [];
  const created = new Set<bigint>();
  for (const p of w.pendingCreated) created.add(p.timestamp);
  for (const p of w.pendingResolved) {
    if (created.has(p.timestamp)) resolvedNow.set(p.timestamp, p);
    else resolveStored.push(p);
  }
  const t = w.transfers;
  const pc = w.pendingCreated;
  // Big batches send their transfer rows by binary COPY (cheaper to build here and to
  // parse there than text arrays); small ones in the one statement below.
  const copied = t.length >= COPY_MIN_ROWS;
  if (copied) {
    const n = await copyIn(c, COPY_TRANSFERS, transferCopyData(t));
    if (n !== t.length) throw new Error(`invariant: copied ${n} of ${t.length} transfers`);
  }
  const r = await c.query(PERSIST, [
    ...transferColumns(copied ? [] : t),
    journal === null ? null : journal.version.toString(),
    journal === null ? null : journal.blob,
    arr(pc, (x) => x.timestamp.toString()),
    arr(pc, (x) => {
      const done = resolvedNow.get(x.timestamp);
      return String(done === undefined ? 0 : PENDING_STATUS_CODES[done.status]);
    }),
    arr(pc, (x) => (x.expiresAt === null ? 'NULL' : x.expiresAt.toString())),
    arr(pc, (x) => {
      const done = resolvedNow.get(x.timestamp);
      return done === undefined ? 'NULL' : done.resolvedAt.toString();
    }),
    arr(resolveStored, (x) => x.timestamp.toString()),
    arr(resolveStored, (x) => String(PENDING_STATUS_CODES[x.status])),
    arr(resolveStored, (x) => x.resolvedAt.toString()),
  ]);
  const counts = r.rows[0] as Row;
  if (Number(counts.resolved) !== resolveStored.length) {
    throw new Error(
      `invariant: resolved ${String(counts.resolved)} of ${resolveStored.length} pending transfers`,
    );
  }
}

// ---- migrations --------------------------------------------------------------------------

/** Applies the PostgreSQL migrations; exported for `remitnet migrate`. */
export async function migratePostgres(pool: pg.Pool): Promise<MigrationReport> {
  return runMigrations(
    {
      appliedVersions: async () => {
        await createMigrationsTable(pool);
        const r = await pool.query('SELECT version FROM remitnet_migrations');
        return (r.rows as Row[]).map((row) => Number(row.version));
      },
      apply: async (m) => {
        const c = await pool.connect();
        c.on('error', ignore);
        try {
          await c.query('BEGIN');
          // A migration rewrites whole tables, and other processes starting at the same time
          // wait for it (the lock below): the deadlines are for batches, not for this.
          await c.query('SET LOCAL statement_timeout = 0');
          await c.query('SET LOCAL lock_timeout = 0');
          // Several processes may open the same database at once: one migrates, the
          // others wait here and then find the version recorded. (A table lock, not an
          // advisory lock, so Postgres-compatible databases without them can follow.)
          await c.query('LOCK TABLE remitnet_migrations IN SHARE ROW EXCLUSIVE MODE');
          const done = await c.query('SELECT 1 FROM remitnet_migrations WHERE version = $1', [
            m.version,
          ]);
          if (done.rows.length === 0) {
            for (const s of m.statements) await c.query(s);
            await c.query(
              'INSERT INTO remitnet_migrations (version, name, applied_at) VALUES ($1, $2, $3)',
              [m.version, m.name, new Date().toISOString()],
            );
          }
          await c.query('COMMIT');
        } catch (error) {
          await c.query('ROLLBACK').catch(() => undefined);
          throw error;
        } finally {
          c.off('error', ignore);
          c.release();
        }
      },
    },
    POSTGRES_MIGRATIONS,
  );
}

async function createMigrationsTable(pool: pg.Pool): Promise<void> {
  const sql =
    'CREATE TABLE IF NOT EXISTS remitnet_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at text NOT NULL)';
  try {
    await pool.query(sql);
  } catch (error) {
    // Two processes creating it at once: one wins, the other sees a duplicate; try again.
    const code = sqlState(error);
    if (code !== '23505' && code !== '42P07') throw error;
    await pool.query(sql);
  }
}

/** For migrate: false: refuse a schema newer than this build, or one never migrated. */
async function checkSchemaVersion(pool: pg.Pool): Promise<void> {
  const exists = await pool.query(`SELECT to_regclass('remitnet_migrations') IS NOT NULL AS ok`);
  const v = (exists.rows[0] as Row).ok
    ? Number(
        (
          (await pool.query('SELECT coalesce(max(version), 0) AS v FROM remitnet_migrations'))
            .rows[0] as Row
        ).v,
      )
    : 0;
  if (v > POSTGRES_MIGRATIONS.length) {
    throw new LedgerError(
      'store_schema_newer',
      `the database is at schema version ${v}, this remitnet knows up to ${POSTGRES_MIGRATIONS.length}`,
    );
  }
  if (v < POSTGRES_MIGRATIONS.length) {
    throw new LedgerError(
      'store_unavailable',
      `the database is at schema version ${v}, this remitnet needs ${POSTGRES_MIGRATIONS.length}: run remitnet migrate`,
    );
  }
}

// ---- connections and errors --------------------------------------------------------------

interface PoolSettings {
  readonly max: number;
  readonly connectTimeout_ms: number;
  readonly idleTimeout_ms?: number;
  readonly applicationName: string;
  /** Sets search_path on every connection (a checked identifier). */
  readonly schema?: string | undefined;
  /** Server-side deadlines (see PostgresStoreOptions); 0 or undefined: none. */
  readonly statementTimeout_ms?: number;
  readonly lockTimeout_ms?: number;
  readonly idleInTransactionTimeout_ms?: number;
}

/** A pool with this store's type parsers; idle-connection errors are absorbed, not thrown. */
export function createPool(connectionString: string, s: PoolSettings): pg.Pool {
  const session = sessionOptions(connectionString, [
    '-c jit=off',
    ...deadlineOptions(s),
    ...(s.schema === undefined ? [] : [`-c search_path=${s.schema}`]),
  ]);
  const pool = new pg.Pool({
    ...session,
    max: s.max,
    connectionTimeoutMillis: s.connectTimeout_ms,
    idleTimeoutMillis: s.idleTimeout_ms ?? 10_000,
    application_name: s.applicationName,
    types: TYPES,
    keepAlive: true,
    // jit off (in `session`): the store's statements are short, and the planner's guesses
    // about posting lists (it cannot see their length) made it JIT-compile a 5 ms read for
    // 200 ms.
  });
  // An idle connection that dies (server restart, failover) is dropped by the pool; the
  // next query opens a new one. Without a listener the error would crash the process.
  pool.on('error', () => undefined);
  return pool;
}

/**
 * The connection settings that carry session options. `pg` lets an `options` parameter in
 * the connection string replace the one given beside it, which would silently drop the
 * deadlines (and jit=off): so when the URL has its own, ours are appended to it there.
 */
export function sessionOptions(
  connectionString: string,
  options: readonly string[],
): { connectionString: string; options?: string } {
  let url: URL;
  try {
    url = new URL(connectionString);
  } catch {
    return { connectionString, options: options.join(' ') };
  }
  const own = url.searchParams.get('options');
  if (own === null) return { connectionString, options: options.join(' ') };
  url.searchParams.set('options', [own, ...options].join(' '));
  return { connectionString: url.toString() };
}

/** Session settings for the server-side deadlines (whole milliseconds; 0 turns one off). */
export function deadlineOptions(s: {
  readonly statementTimeout_ms?: number | undefined;
  readonly lockTimeout_ms?: number | undefined;
  readonly idleInTransactionTimeout_ms?: number | undefined;
}): string[] {
  const out: string[] = [];
  const add = (name: string, ms: number | undefined) => {
    if (ms === undefined) return;
    if (!Number.isInteger(ms) || ms < 0) {
      throw new RangeError(`${name} must be a whole number of milliseconds, not ${ms}`);
    }
    out.push(`-c ${name}=${ms}`);
  };
  add('statement_timeout', s.statementTimeout_ms);
  add('lock_timeout', s.lockTimeout_ms);
  add('idle_in_transaction_session_timeout', s.idleInTransactionTimeout_ms);
  return out;
}

/** A statement or lock wait cut short by a server-side deadline: what to tell the caller. */
function deadlineError(error: unknown, target: string): LedgerError | undefined {
  const code = sqlState(error);
  if (code === undefined || !DEADLINE_CODES.has(code)) return undefined;
  const what =
    code === '55P03'
      ? 'a batch waited too long for the writer lock (lock_timeout): another writer holds it'
      : 'a statement ran past its deadline (statement_timeout) or was cancelled';
  return new LedgerError(
    'store_unavailable',
    `PostgreSQL at ${target}: ${what}; nothing of the call was applied, try again`,
    { cause: error },
  );
}

/** host:port/database from a connection string; a string that is not one is refused here. */
export function describeTarget(connectionString: string): string {
  let url: URL;
  try {
    url = new URL(connectionString);
  } catch {
    throw new LedgerError(
      'store_unavailable',
      'DATABASE_URL is not a URL; expected postgres://user@host:port/database',
    );
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new LedgerError(
      'store_unavailable',
      `DATABASE_URL must start with postgres:// (got ${url.protocol}//)`,
    );
  }
  const host = url.hostname === '' ? 'localhost' : url.hostname;
  const port = url.port === '' ? '5432' : url.port;
  const database = decodeURIComponent(url.pathname.replace(/^\//, '')) || '(default database)';
  return `${host}:${port}/${database}`;
}

function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

export function isConnectionLoss(error: unknown): boolean {
  if (error === null || typeof error !== 'object') return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (NETWORK_CODES.has(code)) return true;
    // 08xxx connection exceptions; 57P01-03 admin/crash shutdown, cannot connect now.
    if (/^08[0-9A-Z]{3}$/.test(code) || code === '57P01' || code === '57P02' || code === '57P03')
      return true;
  }
  const message = (error as { message?: unknown }).message;
  return (
    typeof message === 'string' &&
    /Connection terminated|connection timeout|not queryable|timeout exceeded when trying to connect|Client was closed/i.test(
      message,
    )
  );
}

/** One short phrase for what failed, without a stack or a password. */
export function explain(error: unknown): string {
  const e = error as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : undefined;
  const message = typeof e?.message === 'string' ? e.message.split('\n')[0]! : String(error);
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused (is the server running, and on this port?)';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host name not found';
    case 'ETIMEDOUT':
      return 'connection timed out';
    case 'ECONNRESET':
      return 'connection reset by the server';
    case '28P01':
    case '28000':
      return `authentication failed: ${message}`;
    case '3D000':
      return message; // database "…" does not exist
    default:
      if (/timeout exceeded when trying to connect|timeout expired/i.test(message)) {
        return 'connection timed out';
      }
      if (/Connection terminated unexpectedly/i.test(message)) {
        return 'the connection was closed before PostgreSQL answered (not a PostgreSQL port, or the server is shutting down)';
      }
      return code !== undefined && sqlState(error) !== undefined
        ? `${message} (SQLSTATE ${code})`
        : message;
  }
}

// ---- values ------------------------------------------------------------------------------

function hex(v: bigint): string {
  return v.toString(16).padStart(32, '0');
}

function hexOrNull(v: bigint): string {
  return v === 0n ? 'NULL' : hex(v);
}

/**
 * A PostgreSQL array literal. Every element made here is digits, hex, t/f or NULL, none of
 * which needs quoting; building the text ourselves is much cheaper than pg's serializer.
 */
function arr<T>(items: readonly T[], f: (x: T) => string): string {
  const parts = new Array<string>(items.length);
  for (let i = 0; i < items.length; i++) parts[i] = f(items[i]!);
  return '{' + parts.join(',') + '}';
}

const COPY_POSTINGS = `COPY account_postings (account_id, upto, after, debits, credits)
  FROM STDIN (FORMAT binary)`;

/** Adds committed transfers (in timestamp order) to the posting buffer. */
function appendPostings(buffer: PostingBuffer, transfers: readonly Transfer[]): void {
  const lists = buffer.lists;
  for (const t of transfers) {
    let d = lists.get(t.debitAccountId);
    if (d === undefined) lists.set(t.debitAccountId, (d = { debits: [], credits: [] }));
    d.debits.push(t.timestamp);
    let c = lists.get(t.creditAccountId);
    if (c === undefined) lists.set(t.creditAccountId, (c = { debits: [], credits: [] }));
    c.credits.push(t.timestamp);
  }
}

/**
 * The stretch (buffer.from, upto] as COPY rows of account_postings: per account, its
 * debit and credit timestamps, 8 bytes each, ascending (deferred.ts packTimestamps).
 */
function postingCopyData(buffer: PostingBuffer, upto: bigint): Buffer {
  let tupleBytes = 0;
  for (const l of buffer.lists.values()) {
    tupleBytes += 2 + 5 * 4 + 16 + 8 + 8 + 8 * (l.debits.length + l.credits.length);
  }
  const { b, v, start } = copyStart(tupleBytes);
  let o = start;
  const list = (ts: readonly bigint[]) => {
    v.setInt32(o, ts.length * 8);
    o += 4;
    let previous = buffer.from;
    for (const x of ts) {
      if (x <= previous || x > upto) {
        throw new Error(`invariant: posting ${x} outside (${previous}, ${upto}] or out of order`);
      }
      previous = x;
      v.setBigInt64(o, x);
      o += 8;
    }
  };
  for (const [id, l] of buffer.lists) {
    v.setInt16(o, 5);
    v.setInt32(o + 2, 16);
    v.setBigUint64(o + 6, id >> 64n);
    v.setBigUint64(o + 14, id & U64);
    v.setInt32(o + 22, 8);
    v.setBigInt64(o + 26, upto);
    v.setInt32(o + 34, 8);
    v.setBigInt64(o + 38, buffer.from);
    o += 46;
    list(l.debits);
    list(l.credits);
  }
  return copyEnd(b, v, o);
}

const COPY_MIN_ROWS = 64;
const COPY_TRANSFERS = `COPY transfers (ts, id, debit_account_id, credit_account_id, amount,
  pending_id, user_data_128, user_data_64, user_data_32, timeout, ledger, code, flags)
  FROM STDIN (FORMAT binary)`;
const COPY_SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');

/** A buffer for COPY's binary format: the header written, room for `tupleBytes` of tuples. */
function copyStart(tupleBytes: number): { b: Buffer; v: DataView; start: number } {
  const b = Buffer.allocUnsafe(COPY_SIGNATURE.length + 8 + tupleBytes + 2);
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const o = COPY_SIGNATURE.copy(b, 0);
  v.setInt32(o, 0); // flags
  v.setInt32(o + 4, 0); // header extension length
  return { b, v, start: o + 8 };
}

/** Writes the trailer after the tuples ending at `o`; the tuples must have filled the room. */
function copyEnd(b: Buffer, v: DataView, o: number): Buffer {
  if (o + 2 !== b.length) {
    throw new Error(`invariant: COPY data of ${o + 2} bytes, ${b.length} planned`);
  }
  v.setInt16(o, -1);
  return b;
}
const U64 = (1n << 64n) - 1n;

/** The transfer rows in COPY's binary format (header, one tuple per row, trailer). */
function transferCopyData(rows: readonly Transfer[]): Buffer {
  let tupleBytes = 0;
  for (const t of rows) {
    tupleBytes += 2 + 13 * 4 + 8 + 16 * 3 + 8 * 5 + 4 * 2;
    if (t.pendingId !== 0n) tupleBytes += 16;
    if (t.userData128 !== 0n) tupleBytes += 16;
  }
  const { b, v, start } = copyStart(tupleBytes);
  let o = start;
  const int8 = (x: bigint) => {
    v.setInt32(o, 8);
    v.setBigInt64(o + 4, x);
    o += 12;
  };
  const int4 = (x: number) => {
    v.setInt32(o, 4);
    v.setInt32(o + 4, x);
    o += 8;
  };
  const uuid = (x: bigint) => {
    v.setInt32(o, 16);
    v.setBigUint64(o + 4, x >> 64n);
    v.setBigUint64(o + 12, x & U64);
    o += 20;
  };
  const uuidOrNull = (x: bigint) => {
    if (x === 0n) {
      v.setInt32(o, -1);
      o += 4;
    } else uuid(x);
  };
  for (const t of rows) {
    v.setInt16(o, 13);
    o += 2;
    int8(t.timestamp);
    uuid(t.id);
    uuid(t.debitAccountId);
    uuid(t.creditAccountId);
    int8(t.amount);
    uuidOrNull(t.pendingId);
    uuidOrNull(t.userData128);
    int8(u64ToI64(t.userData64));
    int8(BigInt(t.userData32));
    int8(BigInt(t.timeout));
    int8(BigInt(t.ledger));
    int4(t.code);
    int4(t.flags);
  }
  return copyEnd(b, v, o);
}

/**
 * COPY … FROM STDIN of one buffer, through pg's submittable interface (the client calls
 * these handlers as the server answers): resolves with the rows copied.
 */
function copyIn(c: pg.PoolClient, text: string, data: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    let rows = -1;
    let failed = false;
    const submittable = {
      text,
      submit(connection: CopyConnection) {
        connection.query(text);
      },
      handleCopyInResponse(connection: CopyConnection) {
        connection.sendCopyFromChunk(data);
        connection.endCopyFrom();
      },
      handleCommandComplete(msg: { text?: string }) {
        const m = /^COPY (\d+)$/.exec(msg.text ?? '');
        if (m !== null) rows = Number(m[1]);
      },
      handleReadyForQuery() {
        if (!failed) resolve(rows);
      },
      handleError(error: unknown) {
        failed = true;
        reject(error instanceof Error ? error : new Error(String(error)));
      },
      handleRowDescription: ignore,
      handleDataRow: ignore,
      handlePortalSuspended: ignore,
      handleEmptyQuery: ignore,
      handleCopyData: ignore,
    };
    (c as unknown as { query(s: unknown): unknown }).query(submittable);
  });
}

interface CopyConnection {
  query(text: string): void;
  sendCopyFromChunk(chunk: Buffer): void;
  endCopyFrom(): void;
}

/** The 13 column arrays of the transfer rows, built in one pass (the hot path of a batch). */
function transferColumns(rows: readonly Transfer[]): string[] {
  const n = rows.length;
  const cols: string[][] = Array.from({ length: 13 }, () => new Array<string>(n));
  const [ts, id, dr, cr, amount, pending, ud128, ud64, ud32, timeout, ledger, code, flags] =
    cols as [
      string[],
      string[],
      string[],
      string[],
      string[],
      string[],
      string[],
      string[],
      string[],
      string[],
      string[],
      string[],
      string[],
    ];
  for (let i = 0; i < n; i++) {
    const t = rows[i]!;
    ts[i] = t.timestamp.toString();
    id[i] = hex(t.id);
    dr[i] = hex(t.debitAccountId);
    cr[i] = hex(t.creditAccountId);
    amount[i] = t.amount.toString();
    pending[i] = t.pendingId === 0n ? 'NULL' : hex(t.pendingId);
    ud128[i] = t.userData128 === 0n ? 'NULL' : hex(t.userData128);
    ud64[i] = t.userData64 === 0n ? '0' : u64ToI64(t.userData64).toString();
    ud32[i] = String(t.userData32);
    timeout[i] = String(t.timeout);
    ledger[i] = String(t.ledger);
    code[i] = String(t.code);
    flags[i] = String(t.flags);
  }
  return cols.map((c) => '{' + c.join(',') + '}');
}

function uniqueIds(ids: readonly bigint[]): bigint[] {
  return [...new Set(ids)];
}

function ignore(): void {}

function sleep_ms(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function rowToAccount(r: Row): Account {
  return {
    id: r.id as bigint,
    ledger: Number(r.ledger),
    code: Number(r.code),
    flags: Number(r.flags),
    userData128: (r.user_data_128 as bigint | null) ?? 0n,
    userData64: i64ToU64(r.user_data_64 as bigint),
    userData32: Number(r.user_data_32),
    debitsPending: r.debits_pending as bigint,
    debitsPosted: r.debits_posted as bigint,
    creditsPending: r.credits_pending as bigint,
    creditsPosted: r.credits_posted as bigint,
    closed: r.closed === true,
    timestamp: r.ts as bigint,
  };
}

type Side = 'debits' | 'credits' | 'both';

/** A stretch's entries of one account on the chosen sides, in [from, to) of each list. */
interface StretchLists {
  readonly debits: Buffer | null;
  readonly credits: Buffer | null;
}

/**
 * One forward page: transfers with lo < ts <= hi, oldest first, at most `want`. Posting
 * lists first (every indexed entry is older than every row after indexed_upto), then the
 * rows after the index.
 */
async function pageForward(
  c: pg.PoolClient,
  id: string,
  lo: bigint,
  hi: bigint,
  side: Side,
  want: number,
): Promise<Row[]> {
  const upto = (await c.query(INDEXED_UPTO)).rows[0]?.indexed_upto as bigint;
  const picked: bigint[] = [];
  let from = lo;
  for (let n = STRETCHES_FIRST; picked.length < want && from < upto && from < hi;) {
    const r = await c.query(STRETCHES_FORWARD, [
      id,
      from.toString(),
      hi.toString(),
      side !== 'credits',
      side !== 'debits',
      n,
    ]);
    const stretches = r.rows as (StretchLists & { upto: bigint })[];
    for (const s of stretches) {
      mergeAscending(s, lo, hi, want, picked);
      if (picked.length >= want) break;
    }
    if (stretches.length < n) break;
    from = stretches[stretches.length - 1]!.upto;
    n = Math.min(n * 2, STRETCHES_MAX);
  }
  const indexed = await transfersAt(c, picked, 1);
  if (picked.length >= want || hi <= upto) return indexed;
  const tail = await c.query(TAIL_FORWARD, [
    id,
    (lo > upto ? lo : upto).toString(),
    hi.toString(),
    side !== 'credits',
    side !== 'debits',
    want - picked.length,
  ]);
  return [...indexed, ...(tail.rows as Row[])];
}

/** One backward page: transfers with lo <= ts < hi, newest first, at most `want`. */
async function pageBackward(
  c: pg.PoolClient,
  id: string,
  lo: bigint,
  hi: bigint,
  side: Side,
  want: number,
): Promise<Row[]> {
  const upto = (await c.query(INDEXED_UPTO)).rows[0]?.indexed_upto as bigint;
  const tail =
    hi - 1n > upto
      ? ((
          await c.query(TAIL_BACKWARD, [
            id,
            lo.toString(),
            hi.toString(),
            side !== 'credits',
            side !== 'debits',
            want,
            upto.toString(),
          ])
        ).rows as Row[])
      : [];
  const picked: bigint[] = [];
  let below = MAX_I64;
  for (let n = STRETCHES_FIRST; tail.length + picked.length < want;) {
    const r = await c.query(STRETCHES_BACKWARD, [
      id,
      lo.toString(),
      hi.toString(),
      side !== 'credits',
      side !== 'debits',
      n,
      below.toString(),
    ]);
    const stretches = r.rows as (StretchLists & { upto: bigint })[];
    for (const s of stretches) {
      mergeDescending(s, lo, hi, want - tail.length, picked);
      if (tail.length + picked.length >= want) break;
    }
    if (stretches.length < n) break;
    below = stretches[stretches.length - 1]!.upto;
    n = Math.min(n * 2, STRETCHES_MAX);
  }
  return [...tail, ...(await transfersAt(c, picked, -1))];
}

/** Appends to `out` a stretch's entries with lo < ts <= hi, ascending, until it holds `want`. */
function mergeAscending(s: StretchLists, lo: bigint, hi: bigint, want: number, out: bigint[]) {
  const d = s.debits;
  const k = s.credits;
  let i = d === null ? 0 : firstAbove(d, lo);
  let j = k === null ? 0 : firstAbove(k, lo);
  const iEnd = d === null ? 0 : firstAbove(d, hi);
  const jEnd = k === null ? 0 : firstAbove(k, hi);
  while (out.length < want && (i < iEnd || j < jEnd)) {
    const a = i < iEnd ? d!.readBigInt64BE(i * 8) : MAX_I64;
    const b = j < jEnd ? k!.readBigInt64BE(j * 8) : MAX_I64;
    if (a < b) {
      out.push(a);
      i++;
    } else {
      out.push(b);
      j++;
    }
  }
}

/** Appends a stretch's entries with lo <= ts < hi, descending, until `out` holds `want`. */
function mergeDescending(s: StretchLists, lo: bigint, hi: bigint, want: number, out: bigint[]) {
  const d = s.debits;
  const k = s.credits;
  let i = d === null ? -1 : firstAbove(d, hi - 1n) - 1;
  let j = k === null ? -1 : firstAbove(k, hi - 1n) - 1;
  const iEnd = d === null ? 0 : firstAbove(d, lo - 1n);
  const jEnd = k === null ? 0 : firstAbove(k, lo - 1n);
  while (out.length < want && (i >= iEnd || j >= jEnd)) {
    const a = i >= iEnd ? d!.readBigInt64BE(i * 8) : -1n;
    const b = j >= jEnd ? k!.readBigInt64BE(j * 8) : -1n;
    if (a > b) {
      out.push(a);
      i--;
    } else {
      out.push(b);
      j--;
    }
  }
}

/** The transfers at these timestamps, ascending (order 1) or descending (-1). */
async function transfersAt(c: pg.PoolClient, ts: readonly bigint[], order: 1 | -1) {
  if (ts.length === 0) return [];
  const r = await c.query(TRANSFERS_AT, [arr(ts, String)]);
  const rows = r.rows as Row[];
  if (rows.length !== ts.length) {
    throw new Error(`invariant: ${ts.length - rows.length} indexed transfers are missing`);
  }
  return rows.sort((x, y) => ((x.ts as bigint) < (y.ts as bigint) ? -order : order));
}

function rowToTransfer(r: Row): Transfer {
  return {
    id: r.id as bigint,
    debitAccountId: r.debit_account_id as bigint,
    creditAccountId: r.credit_account_id as bigint,
    amount: r.amount as bigint,
    pendingId: (r.pending_id as bigint | null) ?? 0n,
    userData128: (r.user_data_128 as bigint | null) ?? 0n,
    userData64: i64ToU64(r.user_data_64 as bigint),
    userData32: Number(r.user_data_32),
    timeout: Number(r.timeout),
    ledger: Number(r.ledger),
    code: Number(r.code),
    flags: Number(r.flags),
    timestamp: r.ts as bigint,
  };
}

function rowToStoredTransfer(r: Row): StoredTransfer {
  const t = rowToTransfer(r);
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
