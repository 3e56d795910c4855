/**
 * `remitnet migrate`: brings the configured database's ledger schema up to this build
 * (PostgreSQL when DATABASE_URL is set, else the embedded SQLite file) and says what it
 * applied. A schema from a newer remitnet is refused, never used. Stores also migrate when
 * they open; this command lets an operator do it on its own, before starting processes.
 *
 * Note: the domain modules (network, remittances, api keys) apply their own component
 * migrations (migrateComponent in src/stores/sql.ts) when their services start; there is
 * no exported list of them yet. When one exists, call it here after the ledger.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { Command } from 'commander';
import { loadConfig } from '../../config.ts';
import type { MigrationReport } from '../../stores/migrate.ts';
import { describeTarget, PostgresStore } from '../../stores/postgres/postgres-store.ts';
import { migrateSqlite } from '../../stores/sqlite/sqlite-store.ts';

export function registerMigrate(program: Command): void {
  program
    .command('migrate')
    .description('apply schema migrations to the configured database (DATABASE_URL or SQLite)')
    .action(async () => {
      const config = loadConfig();
      let where: string;
      let report: MigrationReport;
      if (config.databaseUrl !== undefined) {
        where = `PostgreSQL at ${describeTarget(config.databaseUrl)}`;
        report = await PostgresStore.migrate(config.databaseUrl);
      } else {
        where = `SQLite at ${config.sqlitePath}`;
        if (config.sqlitePath !== ':memory:') {
          mkdirSync(dirname(config.sqlitePath), { recursive: true });
        }
        const db = new Database(config.sqlitePath);
        try {
          db.defaultSafeIntegers(true);
          db.pragma('journal_mode = WAL');
          db.pragma(`synchronous = ${config.sqliteSynchronous}`);
          report = await migrateSqlite(db);
        } finally {
          db.close();
        }
      }
      const json = (program.opts() as { json?: boolean }).json === true;
      if (json) {
        console.log(JSON.stringify({ database: where, ...report }));
      } else if (report.applied.length === 0) {
        console.log(`${where}: ledger schema up to date (version ${report.to})`);
      } else {
        console.log(
          `${where}: ledger schema from version ${report.from} to ${report.to}, applied: ${report.applied.join(', ')}`,
        );
      }
    });
}
