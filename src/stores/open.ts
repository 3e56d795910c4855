/**
 * Chooses and opens the ledger store from configuration: PostgreSQL when DATABASE_URL is
 * set, else embedded SQLite (creating its folder).
 *
 * A wrong or unreachable DATABASE_URL fails with one LedgerError line naming the server
 * and what failed (the CLI prints it as `remitnet: <message>`); a schema written by a
 * newer remitnet is refused (store_schema_newer), on either store.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Config } from '../config.ts';
import type { LedgerStore } from '../ledger/store.ts';
import { PostgresStore } from './postgres/postgres-store.ts';
import { SqliteStore } from './sqlite/sqlite-store.ts';

export interface StoreHooks {
  /** SQLite: the background checkpointer failed and SQLite's autocheckpoint took over. */
  readonly onCheckpointerFailure?: (reason: string) => void;
}

export async function openLedgerStore(
  config: Config,
  hooks: StoreHooks = {},
): Promise<LedgerStore> {
  if (config.databaseUrl !== undefined) {
    return PostgresStore.open({ connectionString: config.databaseUrl });
  }
  if (config.sqlitePath !== ':memory:') mkdirSync(dirname(config.sqlitePath), { recursive: true });
  return SqliteStore.open({
    path: config.sqlitePath,
    synchronous: config.sqliteSynchronous,
    ...(hooks.onCheckpointerFailure === undefined
      ? {}
      : { onCheckpointerFailure: hooks.onCheckpointerFailure }),
  });
}
