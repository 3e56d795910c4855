/**
 * The store matrix: every store-dependent suite runs once per store, through this file.
 *
 * REMITNET_TEST_STORES (comma-separated: sqlite,postgres) narrows the matrix. By default
 * SQLite always runs and PostgreSQL runs when a server answers at TEST_DATABASE_URL
 * (default postgres://root@127.0.0.1:5432/postgres); when it does not, the suite says so
 * plainly and skips it, except under CI=true, where PostgreSQL is mandatory.
 *
 * Each PostgreSQL store gets a database of its own (remitnet_test_<random>), created
 * through the admin URL and dropped (WITH (FORCE)) by cleanup().
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { SqliteStore } from '../../src/stores/sqlite/sqlite-store.ts';
import {
  PostgresStore,
  type PostgresStoreOptions,
} from '../../src/stores/postgres/postgres-store.ts';
import type { LedgerStore } from '../../src/ledger/store.ts';

export interface StoreFactory {
  readonly name: string;
  /** A new, empty, migrated store of this kind, private to the caller. */
  create(): Promise<LedgerStore>;
  /** Drops whatever create() made (databases, schemas, files). */
  cleanup(): Promise<void>;
}

export function sqliteFactory(): StoreFactory {
  const stores: LedgerStore[] = [];
  return {
    name: 'sqlite',
    async create() {
      // A tiny history-index interval, so suites read both the account index and the
      // rows written after it (the default, 65,536, would leave test data all in the tail),
      // and a tiny balance fold interval, so they read balances both from the journal and
      // from folded account rows.
      const s = await SqliteStore.open({
        path: ':memory:',
        historyIndexEvery: 7,
        balanceFoldEvery: 9,
      });
      stores.push(s);
      return s;
    },
    async cleanup() {
      await Promise.all(stores.map((s) => s.close()));
    },
  };
}

/** The server the PostgreSQL part of the matrix uses (a database it may create databases in). */
export function testDatabaseUrl(): string {
  return process.env.TEST_DATABASE_URL ?? 'postgres://root@127.0.0.1:5432/postgres';
}

/** The same server, another database. */
export function databaseUrl(adminUrl: string, database: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

/** Runs fn with a short-lived admin connection. */
export async function withAdmin<T>(fn: (c: pg.Client) => Promise<T>, timeout_ms = 5000) {
  const c = new pg.Client({
    connectionString: testDatabaseUrl(),
    connectionTimeoutMillis: timeout_ms,
  });
  c.on('error', () => undefined);
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

/**
 * Drops a test database once its clients have gone. A pool's end() can resolve while a
 * client's backend is still closing; DROP … WITH (FORCE) would then terminate it, and the
 * client, no longer listened to, reports the FATAL as an unhandled error. So wait (up to
 * 5 s) for the server to show no client backends on it, then drop (forcing any left).
 */
export async function dropTestDatabase(name: string): Promise<void> {
  if (!/^[a-z0-9_]+$/.test(name)) throw new Error(`not a test database name: ${name}`);
  await withAdmin(async (c) => {
    for (let i = 0; i < 100; i++) {
      const r = await c.query(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND backend_type = 'client backend'",
        [name],
      );
      if ((r.rows[0] as { n: number }).n === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  });
}

/** Creates an empty database on the test server and returns its URL and a drop function. */
export async function createTestDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `remitnet_test_${randomBytes(6).toString('hex')}`;
  await withAdmin((c) => c.query(`CREATE DATABASE ${name}`));
  return {
    url: databaseUrl(testDatabaseUrl(), name),
    drop: async () => {
      await dropTestDatabase(name);
    },
  };
}

/** Whether the test server answers; undefined when it does, else why not. */
export async function postgresUnreachable(): Promise<string | undefined> {
  try {
    await withAdmin((c) => c.query('SELECT 1'), 2000);
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message || String(error) : String(error);
  }
}

/**
 * PostgreSQL stores for the matrix: one database per factory (created on first use,
 * dropped by cleanup), one schema per store inside it, so a suite that makes hundreds of
 * stores pays for CREATE SCHEMA, not CREATE DATABASE, and idle connections close fast.
 */
export function postgresFactory(options: Partial<PostgresStoreOptions> = {}): StoreFactory {
  const stores: LedgerStore[] = [];
  let db: Promise<{ url: string; drop: () => Promise<void> }> | undefined;
  let n = 0;
  return {
    name: 'postgres',
    async create() {
      db ??= createTestDatabase();
      const { url } = await db;
      // Tiny intervals, as for SQLite: suites then read posting lists across stretches and
      // the rows after them, and balances from the journal, folded and not.
      const s = await PostgresStore.open({
        poolMax: 2,
        idleTimeout_ms: 500,
        historyIndexEvery: 7,
        journalFoldEvery: 11,
        journalRowsMax: 3,
        ...options,
        connectionString: url,
        schema: `store_${++n}`,
      });
      stores.push(s);
      return s;
    },
    async cleanup() {
      await Promise.all(stores.map((s) => s.close().catch(() => undefined)));
      stores.length = 0;
      const made = db;
      db = undefined;
      if (made !== undefined) await (await made).drop();
    },
  };
}

let reachability: Promise<string | undefined> | undefined;

/**
 * Whether this run tests PostgreSQL: yes when wanted and reachable; when wanted and not
 * reachable, a plain message and no (or, under CI=true, an error).
 */
/** The stores REMITNET_TEST_STORES names (default: both). */
export function storesWanted(): string[] {
  return (process.env.REMITNET_TEST_STORES ?? 'sqlite,postgres').split(',').map((s) => s.trim());
}

export async function postgresWanted(): Promise<boolean> {
  if (!storesWanted().includes('postgres')) return false;
  reachability ??= postgresUnreachable();
  const why = await reachability;
  if (why === undefined) return true;
  const where = new URL(testDatabaseUrl()).host;
  if (process.env.CI === 'true') {
    throw new Error(`PostgreSQL is mandatory under CI=true, but ${where} did not answer: ${why}`);
  }
  console.warn(
    `SKIPPED the PostgreSQL store tests: no server answered at ${where} (${why}). ` +
      'Start PostgreSQL or set TEST_DATABASE_URL to run them.',
  );
  return false;
}

/** The stores this run tests. */
export async function storeMatrix(): Promise<StoreFactory[]> {
  const out: StoreFactory[] = [];
  if (storesWanted().includes('sqlite')) out.push(sqliteFactory());
  if (await postgresWanted()) out.push(postgresFactory());
  return out;
}
