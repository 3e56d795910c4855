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
 * only the transaction's own queries: on SQLite the transaction holds the database's write
 * lock, and an await on anything else (the ledger, a timer, the network) could deadlock.
 */
import Database from 'better-sqlite3';
import pg from 'pg';
import { runMigrations, type Migration, type MigrationReport } from './migrate.ts';

export type SqlValue = string | bigint | number | boolean | null | Buffer;
export type SqlRow = Record<string, unknown>;

export interface SqlClient {
  readonly dialect: 'sqlite' | 'postgres';
  query<T extends SqlRow = SqlRow>(sql: string, params?: readonly SqlValue[]): Promise<T[]>;
  /** Runs a statement; answers how many rows it changed. */
  execute(sql: string, params?: readonly SqlValue[]): Promise<number>;
  transaction<T>(fn: (tx: SqlClient) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

// ---- SQLite ------------------------------------------------------------------------------

const PLACEHOLDER = /\$(\d+)/g;

export class SqliteClient implements SqlClient {
  readonly dialect = 'sqlite';
  readonly db: Database.Database;
  readonly #statements = new Map<string, Database.Statement>();
  readonly #ownsDb: boolean;
  #inTransaction = false;
  /** Serializes transactions started while another is between awaits. */
  #tail: Promise<unknown> = Promise.resolve();

  constructor(db: Database.Database, ownsDb = false) {
    this.db = db;
    this.#ownsDb = ownsDb;
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

  #prepare(sql: string): Database.Statement {
    let s = this.#statements.get(sql);
    if (s === undefined) {
      s = this.db.prepare(sql.replace(PLACEHOLDER, '@p$1'));
      this.#statements.set(sql, s);
    }
    return s;
  }

  async query<T extends SqlRow = SqlRow>(
    sql: string,
    params: readonly SqlValue[] = [],
  ): Promise<T[]> {
    const s = this.#prepare(sql);
    if (!s.reader) {
      s.run(bindings(params));
      return [];
    }
    return s.all(bindings(params)) as T[];
  }

  async execute(sql: string, params: readonly SqlValue[] = []): Promise<number> {
    return this.#prepare(sql).run(bindings(params)).changes;
  }

  async transaction<T>(fn: (tx: SqlClient) => Promise<T>): Promise<T> {
    if (this.#inTransaction) return fn(this); // nested: joins the open transaction
    const run = async (): Promise<T> => {
      this.db.exec('BEGIN IMMEDIATE');
      this.#inTransaction = true;
      try {
        const value = await fn(this);
        this.db.exec('COMMIT');
        return value;
      } catch (error) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        throw error;
      } finally {
        this.#inTransaction = false;
      }
    };
    const result = this.#tail.then(run, run);
    this.#tail = result.catch(() => undefined);
    return result;
  }

  async close(): Promise<void> {
    if (this.#ownsDb && this.db.open) this.db.close();
  }
}

function bindings(params: readonly SqlValue[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i < params.length; i++) {
    const v = params[i];
    out[`p${i + 1}`] = typeof v === 'boolean' ? (v ? 1 : 0) : v;
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
    return new PostgresClient(new pg.Pool({ connectionString, max }));
  }

  async query<T extends SqlRow = SqlRow>(
    sql: string,
    params: readonly SqlValue[] = [],
  ): Promise<T[]> {
    const runner = this.#client ?? this.#pool!;
    const r = await runner.query(sql, params.map(pgValue));
    return r.rows as T[];
  }

  async execute(sql: string, params: readonly SqlValue[] = []): Promise<number> {
    const runner = this.#client ?? this.#pool!;
    const r = await runner.query(sql, params.map(pgValue));
    return r.rowCount ?? 0;
  }

  async transaction<T>(fn: (tx: SqlClient) => Promise<T>): Promise<T> {
    if (this.#client !== undefined) return fn(this); // nested: joins the open transaction
    for (let attempt = 1; ; attempt++) {
      const client = await this.#pool!.connect();
      try {
        await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
        const value = await fn(new PostgresClient(client));
        await client.query('COMMIT');
        return value;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        const code = (error as { code?: string }).code;
        if (code !== undefined && RETRYABLE.has(code) && attempt < MAX_ATTEMPTS) {
          await sleep_ms(Math.min(100, 2 ** attempt) * Math.random());
          continue;
        }
        throw error;
      } finally {
        client.release();
      }
    }
  }

  async close(): Promise<void> {
    await this.#pool?.end();
  }
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
        await client.execute(
          'CREATE TABLE IF NOT EXISTS remitnet_component_migrations (component TEXT NOT NULL, version INTEGER NOT NULL, name TEXT NOT NULL, applied_at TEXT NOT NULL, PRIMARY KEY (component, version))',
        );
        const rows = await client.query<{ version: bigint | number }>(
          'SELECT version FROM remitnet_component_migrations WHERE component = $1',
          [component],
        );
        return rows.map((r) => Number(r.version));
      },
      apply: async (m) => {
        await client.transaction(async (tx) => {
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
