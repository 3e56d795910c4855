/**
 * Chooses and opens the ledger store from configuration: PostgreSQL when DATABASE_URL is
 * set, else embedded SQLite (creating its folder).
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Config } from '../config.ts';
import type { LedgerStore } from '../ledger/store.ts';
import { SqliteStore } from './sqlite/sqlite-store.ts';

export async function openLedgerStore(config: Config): Promise<LedgerStore> {
  if (config.databaseUrl !== undefined) {
    throw new Error('DATABASE_URL is set but the PostgreSQL store is not built yet');
  }
  if (config.sqlitePath !== ':memory:') mkdirSync(dirname(config.sqlitePath), { recursive: true });
  return SqliteStore.open({ path: config.sqlitePath, synchronous: config.sqliteSynchronous });
}
