/**
 * Stores the crash test can kill: each opens a durable store at a target the parent
 * chooses (SQLite: a file path; PostgreSQL, later: a URL and schema). The child process
 * (crash-child.ts) and the parent (crash.test.ts) open the same target through this one
 * map, so a new store joins the crash test by adding an entry here.
 */
import { join } from 'node:path';
import type { LedgerStore } from '../../src/ledger/store.ts';
import { SqliteStore } from '../../src/stores/sqlite/sqlite-store.ts';
import { PostgresStore } from '../../src/stores/postgres/postgres-store.ts';
import { createTestDatabase, postgresWanted, withAdmin } from '../support/stores.ts';

export interface CrashStoreFactory {
  readonly name: string;
  /** A new, empty target inside `dir` (a directory private to this test run). */
  newTarget(dir: string): Promise<string>;
  /** Opens (creating if needed) a durable store at `target`: an acknowledged batch survives. */
  open(target: string): Promise<LedgerStore>;
  /** Whether this run tests the store (PostgreSQL: wanted and reachable, see support/stores.ts). */
  available?(): Promise<boolean>;
  /** Drops what newTarget made outside `dir` (PostgreSQL: the database). */
  dispose?(target: string): Promise<void>;
}

export const CRASH_STORES: Record<string, CrashStoreFactory> = {
  sqlite: {
    name: 'sqlite',
    async newTarget(dir) {
      return join(dir, 'crash.sqlite');
    },
    async open(target) {
      return SqliteStore.open({ path: target, synchronous: 'FULL' });
    },
  },
  postgres: {
    name: 'postgres',
    available: postgresWanted,
    // A database of its own on the test server (TEST_DATABASE_URL); the target is its URL.
    async newTarget() {
      return (await createTestDatabase()).url;
    },
    async open(target) {
      return PostgresStore.open({ connectionString: target, poolMax: 2 });
    },
    async dispose(target) {
      const name = new URL(target).pathname.slice(1);
      await withAdmin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  },
};
