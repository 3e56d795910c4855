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
import { createTestDatabase, postgresWanted, storesWanted, withAdmin } from '../support/stores.ts';

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
    available: async () => storesWanted().includes('sqlite'),
    async newTarget(dir) {
      return join(dir, 'crash.sqlite');
    },
    async open(target) {
      // Index history and fold the balance journal often, so kills also land during and
      // after index runs and folds.
      return SqliteStore.open({
        path: target,
        synchronous: 'FULL',
        historyIndexEvery: 50,
        balanceFoldEvery: 4,
      });
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
      // A SIGKILLed client's server backend lives on until it notices: one caught in
      // COMMIT still commits (whole) moments later. Wait until the database has no
      // connections left, so the checks, which read in many queries, see a settled state.
      const name = new URL(target).pathname.slice(1);
      for (let i = 0; ; i++) {
        const r = await withAdmin((c) =>
          c.query(
            "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND backend_type = 'client backend'",
            [name],
          ),
        );
        if ((r.rows[0] as { n: number }).n === 0) break;
        if (i > 200) throw new Error(`connections to ${name} did not go away`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      return PostgresStore.open({
        connectionString: target,
        poolMax: 2,
        historyIndexEvery: 50,
        journalFoldEvery: 50,
        journalRowsMax: 4,
      });
    },
    async dispose(target) {
      const name = new URL(target).pathname.slice(1);
      await withAdmin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  },
};
