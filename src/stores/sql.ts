/**
 * A small portable SQL client for the domain modules (network, remittances, api keys…),
 * so one repository works on SQLite and PostgreSQL. The ledger does not use it: its
 * stores are hand-tuned (see sqlite/ and postgres/).
 *
 * Rules for SQL written against it: `$1, $2…` placeholders; portable types only (TEXT,
 * BIGINT, INTEGER; money as BIGINT minor units, never REAL; JSON as TEXT); no
 * database-specific functions. Values bind as string, bigint, number (whole), boolean
 * (stored 0/1), null, or Buffer. Integer columns read back as bigint on both databases.
 *
 * Transactions: `transaction(fn)` runs fn atomically and retries it on serialization
 * failures and deadlocks (PostgreSQL), so fn must be safe to run again. Inside fn, await
 * only the transaction's own queries (the `tx` handle): on SQLite the transaction holds the
 * database's write lock and is group-committed with others, and an await on anything else
 * (the ledger, a timer, the network) could stall every caller. Writes go through
 * transaction(); query()/execute() outside one are for reads and migrations.
 */
import Database from 'better-sqlite3';
import pg from 'pg';
import { runMigrations, type Migration, type MigrationReport } from './migrate.ts';
import { LedgerError } from '../ledger/results.ts';
import { deadlineOptions, isConnectionLoss, sessionOptions } from './postgres/postgres-store.ts';
import type { WalSync } from './wal-sync.ts';

export type SqlValue = string | bigint | number | boolean | null | Buffer;
export type SqlRow = Record<string, unknown>;

export interface TransactionOptions {
  /**
   * Answer as soon as the transaction has committed, without waiting until the commit is
   * durable. Only for a write that counts together with a later write to the same database
   * (a remittance step's intent, written just before its ledger batch): SQLite's log keeps
   * commits in order, so a later commit that is durable makes this one durable too, and a
   * crash before then loses both. Nothing else changes: readers, and the answers of every
   * other transaction, still wait until it is durable; so does its own refusal (fn threw:
   * no later write of the caller's covers what it read). On PostgreSQL, and on SQLite
   * without an off-loop sync (synchronous=FULL), COMMIT returns durable anyway.
   */
  readonly ordered?: boolean;
}

export interface SqlClient {
  readonly dialect: 'sqlite' | 'postgres';
  query<T extends SqlRow = SqlRow>(sql: string, params?: readonly SqlValue[]): Promise<T[]>;
  /** Runs a statement; answers how many rows it changed. */
  execute(sql: string, params?: readonly SqlValue[]): Promise<number>;
  transaction<T>(fn: (tx: SqlClient) => Promise<T>, options?: TransactionOptions): Promise<T>;
  close(): Promise<void>;
}

// ---- SQLite ------------------------------------------------------------------------------

const PLACEHOLDER = /\$(\d+)/g;

/**
 * A statement prepared with its `$n` placeholders as anonymous `?`, in order, and which
 * parameter each `?` takes (0-based; `$1` may appear twice, `$13` before `$2`). Binding an
 * array by position is cheaper than binding an object by name (better-sqlite3 looks each
 * name up), and statements run by the dozen on every request.
 */
interface Prepared {
  readonly statement: Database.Statement;
  readonly order: readonly number[];
}

interface QueuedTransaction {
  readonly fn: (tx: SqlClient) => Promise<unknown>;
  readonly ordered: boolean;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

export interface SqliteClientOptions {
  /**
   * Called after each COMMIT the client makes (a group of transactions, or a write outside
   * one), before any answer. The runtime passes the ledger store's noteCommitted: the
   * client's commits grow the shared connection's WAL and must count toward a checkpoint.
   * It must not throw, and it runs on every commit: keep it cheap.
   */
  readonly onCommit?: () => void;
}

/** Most transactions merged into one durable commit. */
const GROUP_MAX = 512;

/**
 * SQLite with group commit: transactions requested in the same turn of the event loop run
 * one after another inside ONE database transaction, each in its own SAVEPOINT (so one
 * failing rolls back only itself), and share one durable COMMIT. Each caller's promise
 * resolves only after that COMMIT, so an answer still means its change is durable.
 */
export class SqliteClient implements SqlClient {
  readonly dialect = 'sqlite';
  readonly db: Database.Database;
  readonly #statements = new Map<string, Prepared>();
  readonly #ownsDb: boolean;
  readonly #walSync: WalSync | undefined;
  readonly #onCommit: (() => void) | undefined;
  #queue: QueuedTransaction[] = [];
  #scheduled = false;

  /**
   * `walSync`: the connection runs synchronous=NORMAL and its COMMITs are made durable off
   * the event loop (wal-sync.ts); every answer, read or write, waits for it.
   */
  constructor(
    db: Database.Database,
    ownsDb = false,
    walSync?: WalSync,
    options: SqliteClientOptions = {},
  ) {
    this.db = db;
    this.#ownsDb = ownsDb;
    this.#walSync = walSync;
    this.#onCommit = options.onCommit;
  }

  /** Opens its own connection to a file (WAL, synchronous=FULL, bigint integers). */
  static open(path: string): SqliteClient {
    const db = new Database(path);
    db.defaultSafeIntegers(true);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('busy_timeout = 5000');
    return new SqliteClient(db, true);
  }

  #prepared(sql: string): Prepared {
    let p = this.#statements.get(sql);
    if (p === undefined) {
      const order: number[] = [];
      const statement = this.db.prepare(
        sql.replace(PLACEHOLDER, (_match, n: string) => {
          order.push(Number(n) - 1);
          return '?';
        }),
      );
      p = { statement, order };
      this.#statements.set(sql, p);
    }
    return p;
  }

  prepare(sql: string): Database.Statement {
    return this.#prepared(sql).statement;
  }

  async query<T extends SqlRow = SqlRow>(
    sql: string,
    params: readonly SqlValue[] = [],
  ): Promise<T[]> {
    const rows = this.queryNow<T>(sql, params);
    if (this.#walSync !== undefined || this.#onCommit !== undefined) {
      await this.#answered(!this.prepare(sql).reader);
    }
    return rows;
  }

  async execute(sql: string, params: readonly SqlValue[] = []): Promise<number> {
    const changes = this.executeNow(sql, params);
    await this.#answered(true);
    return changes;
  }

  /** Runs a statement now, with no durability wait (inside a transaction: see below). */
  queryNow<T extends SqlRow = SqlRow>(sql: string, params: readonly SqlValue[] = []): T[] {
    const { statement, order } = this.#prepared(sql);
    if (!statement.reader) {
      statement.run(bindings(params, order));
      return [];
    }
    return statement.all(bindings(params, order)) as T[];
  }

  executeNow(sql: string, params: readonly SqlValue[] = []): number {
    const { statement, order } = this.#prepared(sql);
    return statement.run(bindings(params, order)).changes;
  }

  /**
   * Outside a transaction a write autocommits; either way, answer only what is durable.
   * Inside an open transaction (a caller that used the client, not its tx handle) nothing
   * waits: awaiting a sync there would let other work onto the connection mid-transaction,
   * and the transaction's own COMMIT waits for it anyway.
   */
  async #answered(wrote: boolean): Promise<void> {
    if (this.db.inTransaction) return;
    if (wrote) this.#onCommit?.();
    const sync = this.#walSync;
    if (sync === undefined) return;
    if (wrote) sync.committed();
    await sync.durable();
  }

  transaction<T>(fn: (tx: SqlClient) => Promise<T>, options?: TransactionOptions): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const ordered = options?.ordered === true;
      this.#queue.push({ fn, ordered, resolve: resolve as (v: unknown) => void, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => void this.#flush());
      }
    });
  }

  async #flush(): Promise<void> {
    // Callers are answered only once no transaction is open. A caller's code resumes as
    // soon as its promise settles, and if that happened between the groups of this loop it
    // would run inside the next group's transaction: its reads would see, and a write of
    // its own would join, that group's work, which a savepoint may yet roll back.
    const answers: Array<() => void> = [];
    while (this.#queue.length > 0) {
      const group = this.#queue.splice(0, GROUP_MAX);
      const outcomes: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }> = [];
      try {
        this.db.exec('BEGIN IMMEDIATE');
        const tx = new SqliteTransaction(this, 0);
        for (const t of group) {
          this.db.exec('SAVEPOINT tx');
          try {
            const value = await t.fn(tx);
            this.db.exec('RELEASE tx');
            outcomes.push({ ok: true, value });
          } catch (error) {
            this.db.exec('ROLLBACK TO tx');
            this.db.exec('RELEASE tx');
            outcomes.push({ ok: false, error });
          }
        }
        this.db.exec('COMMIT');
      } catch (error) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        answers.push(() => group.forEach((t) => t.reject(error)));
        continue;
      }
      this.#onCommit?.();
      // Only an ordered transaction whose fn succeeded answers early: one that threw has no
      // later commit of its caller's to cover what it read (another step's ordered intent,
      // say), so its refusal waits like any other answer. None does once the log has failed:
      // its caller would go on to write more to a log whose state is unknown.
      const sync = this.#walSync;
      const healthy = sync?.failure === undefined;
      const early = group.map((t, i) => healthy && t.ordered && outcomes[i]!.ok);
      const settle = (now: boolean | undefined) =>
        group.forEach((t, i) => {
          if (now !== undefined && early[i] !== now) return;
          const o = outcomes[i]!;
          if (o.ok) t.resolve(o.value);
          else t.reject(o.error);
        });
      /** Refuses every caller not answered early. */
      const refuse = (error: unknown) =>
        group.forEach((t, i) => {
          if (!early[i]) t.reject(error);
        });
      if (sync === undefined) {
        answers.push(() => settle(undefined));
        continue;
      }
      // The next group may commit while this one's fsync runs; both answers wait for it.
      // Ordered transactions answer now (see TransactionOptions); readers still wait. A
      // group of nothing but ordered transactions starts no sync: the next commit's covers it.
      sync.committed();
      answers.push(() => settle(true));
      if (early.every(Boolean)) continue;
      const failed = sync.failure;
      if (failed !== undefined) {
        answers.push(() => refuse(failed));
        continue;
      }
      // Completes in an I/O callback, never between this loop's groups.
      sync.durable().then(() => settle(false), refuse);
    }
    this.#scheduled = false;
    for (const answer of answers) answer();
  }

  async close(): Promise<void> {
    await this.#walSync?.durable();
    if (this.#ownsDb && this.db.open) this.db.close();
  }
}

/** The handle a transaction's fn gets; a nested transaction() is a savepoint within it. */
class SqliteTransaction implements SqlClient {
  readonly dialect = 'sqlite';
  readonly #client: SqliteClient;
  readonly #depth: number;

  constructor(client: SqliteClient, depth: number) {
    this.#client = client;
    this.#depth = depth;
  }

  // Inside the transaction nothing waits for durability: its COMMIT does, for all of it.
  async query<T extends SqlRow = SqlRow>(sql: string, params?: readonly SqlValue[]): Promise<T[]> {
    return this.#client.queryNow<T>(sql, params);
  }

  async execute(sql: string, params?: readonly SqlValue[]): Promise<number> {
    return this.#client.executeNow(sql, params);
  }

  async transaction<T>(fn: (tx: SqlClient) => Promise<T>): Promise<T> {
    const name = `nested${this.#depth + 1}`;
    const db = this.#client.db;
    db.exec(`SAVEPOINT ${name}`);
    try {
      const value = await fn(new SqliteTransaction(this.#client, this.#depth + 1));
      db.exec(`RELEASE ${name}`);
      return value;
    } catch (error) {
      db.exec(`ROLLBACK TO ${name}`);
      db.exec(`RELEASE ${name}`);
      throw error;
    }
  }

  async close(): Promise<void> {
    throw new Error('a transaction handle cannot close the database');
  }
}

/** The values for a statement's `?`s, in order (see Prepared); a boolean binds as 0 or 1. */
function bindings(params: readonly SqlValue[], order: readonly number[]): unknown[] {
  const out = new Array<unknown>(order.length);
  for (let i = 0; i < order.length; i++) {
    const k = order[i]!;
    // A placeholder with no value: as better-sqlite3 says of a missing named parameter.
    if (k >= params.length) throw new RangeError(`missing a value for the placeholder $${k + 1}`);
    const v = params[k];
    out[i] = typeof v === 'boolean' ? (v ? 1 : 0) : v;
  }
  return out;
}

// ---- PostgreSQL --------------------------------------------------------------------------

// int8 as bigint, never a lossy number (the project rule: pg parses int8 as bigint).
pg.types.setTypeParser(20, (v: string) => BigInt(v));

const RETRYABLE = new Set(['40001', '40P01']); // serialization_failure, deadlock_detected
const MAX_ATTEMPTS = 8;

export class PostgresClient implements SqlClient {
  readonly dialect = 'postgres';
  readonly #pool: pg.Pool | undefined;
  readonly #client: pg.PoolClient | undefined;

  constructor(target: pg.Pool | pg.PoolClient) {
    if (target instanceof pg.Pool) this.#pool = target;
    else this.#client = target;
  }

  static open(connectionString: string, max = 10): PostgresClient {
    // The same server-side deadlines as the ledger store's (postgres-store.ts): no domain
    // call waits on the database forever, and a session stuck in a transaction is ended.
    const session = sessionOptions(
      connectionString,
      deadlineOptions({
        statementTimeout_ms: 30_000,
        lockTimeout_ms: 10_000,
        idleInTransactionTimeout_ms: 60_000,
      }),
    );
    return new PostgresClient(new pg.Pool({ ...session, max }));
  }

  async query<T extends SqlRow = SqlRow>(
    sql: string,
    params: readonly SqlValue[] = [],
  ): Promise<T[]> {
    if (this.#client !== undefined) {
      return (await this.#client.query(sql, params.map(pgValue))).rows as T[];
    }
    try {
      return (await this.#pool!.query(sql, params.map(pgValue))).rows as T[];
    } catch (error) {
      throw unavailable(error) ?? error;
    }
  }

  async execute(sql: string, params: readonly SqlValue[] = []): Promise<number> {
    if (this.#client !== undefined) {
      return (await this.#client.query(sql, params.map(pgValue))).rowCount ?? 0;
    }
    try {
      return (await this.#pool!.query(sql, params.map(pgValue))).rowCount ?? 0;
    } catch (error) {
      throw unavailable(error) ?? error;
    }
  }

  async transaction<T>(fn: (tx: SqlClient) => Promise<T>): Promise<T> {
    if (this.#client !== undefined) return this.#savepoint(fn); // nested
    for (let attempt = 1; ; attempt++) {
      let client: pg.PoolClient;
      try {
        client = await this.#pool!.connect();
      } catch (error) {
        throw unavailable(error) ?? error;
      }
      // The server may end the session between two queries (idle_in_transaction_session
      // _timeout, a restart): that arrives as an 'error' event, fatal without a listener.
      client.on('error', ignoreError);
      let broken = false;
      try {
        await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
        const value = await fn(new PostgresClient(client));
        await client.query('COMMIT');
        return value;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {
          broken = true;
        });
        const code = (error as { code?: string }).code;
        if (code !== undefined && RETRYABLE.has(code) && attempt < MAX_ATTEMPTS) {
          await sleep_ms(Math.min(100, 2 ** attempt) * Math.random());
          continue;
        }
        throw unavailable(error) ?? error;
      } finally {
        client.off('error', ignoreError);
        client.release(broken);
      }
    }
  }

  async #savepoint<T>(fn: (tx: SqlClient) => Promise<T>): Promise<T> {
    const client = this.#client!;
    await client.query('SAVEPOINT nested');
    try {
      const value = await fn(this);
      await client.query('RELEASE SAVEPOINT nested');
      return value;
    } catch (error) {
      await client.query('ROLLBACK TO SAVEPOINT nested');
      await client.query('RELEASE SAVEPOINT nested');
      throw error;
    }
  }

  async close(): Promise<void> {
    await this.#pool?.end();
  }
}

const ignoreError = (): void => undefined;

/**
 * SQLSTATEs of a call the database gave up on, not a refusal of its content (a lost
 * connection is recognised as the ledger store does it, isConnectionLoss).
 */
const UNAVAILABLE_CODES = new Set([
  '57014', // query_canceled: statement_timeout
  '55P03', // lock_not_available: lock_timeout
  '40001', // serialization_failure, still after every retry
  '40P01', // deadlock_detected, still after every retry
  '53300', // too_many_connections
]);

/**
 * A domain call PostgreSQL could not carry out for reasons of its own (a deadline, a lost
 * connection, contention that outlasted the retries) becomes store_unavailable: the API
 * answers 503 (retry later), not 500, and logs it as the database's trouble. Anything else
 * (a constraint violation, a bug) passes through unchanged.
 */
function unavailable(error: unknown): LedgerError | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (typeof code === 'string' && UNAVAILABLE_CODES.has(code)) {
    return new LedgerError('store_unavailable', `PostgreSQL (${code}): ${message}`, {
      cause: error,
    });
  }
  if (isConnectionLoss(error)) {
    return new LedgerError('store_unavailable', `PostgreSQL: ${message}`, { cause: error });
  }
  return undefined;
}

function pgValue(v: SqlValue): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'boolean') return v ? 1 : 0;
  return v;
}

function sleep_ms(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

// ---- migrations per component ------------------------------------------------------------

/**
 * Applies one component's migrations (each module keeps its own numbered list, e.g.
 * 'network', 'remittances', 'api'), recorded in remitnet_component_migrations.
 */
export async function migrateComponent(
  client: SqlClient,
  component: string,
  migrations: readonly Migration[],
): Promise<MigrationReport> {
  return runMigrations(
    {
      appliedVersions: async () => {
        try {
          await client.execute(
            'CREATE TABLE IF NOT EXISTS remitnet_component_migrations (component TEXT NOT NULL, version INTEGER NOT NULL, name TEXT NOT NULL, applied_at TEXT NOT NULL, PRIMARY KEY (component, version))',
          );
        } catch (error) {
          // PostgreSQL: two processes creating it at once; one of them made it (23505 on
          // its type, or 42P07): it exists, which is all this asks.
          const code = (error as { code?: unknown }).code;
          if (code !== '23505' && code !== '42P07') throw error;
        }
        const rows = await client.query<{ version: bigint | number }>(
          'SELECT version FROM remitnet_component_migrations WHERE component = $1',
          [component],
        );
        return rows.map((r) => Number(r.version));
      },
      apply: async (m) => {
        await client.transaction(async (tx) => {
          // A migration may rewrite whole tables, and processes starting at the same time
          // wait on its locks: the deadlines are for requests, not for this.
          if (tx.dialect === 'postgres') {
            await tx.execute('SET LOCAL statement_timeout = 0');
            await tx.execute('SET LOCAL lock_timeout = 0');
            // Several processes may start on a fresh database at once: one migrates, the
            // others wait here, then find the version recorded (as the ledger's migrations).
            await tx.execute(
              'LOCK TABLE remitnet_component_migrations IN SHARE ROW EXCLUSIVE MODE',
            );
          }
          const done = await tx.query(
            'SELECT 1 AS one FROM remitnet_component_migrations WHERE component = $1 AND version = $2',
            [component, m.version],
          );
          if (done.length > 0) return;
          for (const s of m.statements) await tx.execute(s);
          await tx.execute(
            'INSERT INTO remitnet_component_migrations (component, version, name, applied_at) VALUES ($1, $2, $3, $4)',
            [component, m.version, m.name, new Date().toISOString()],
          );
        });
      },
    },
    migrations,
  );
}
