/**
 * `remitnet migrate`: brings the configured database up to this build (PostgreSQL when
 * DATABASE_URL is set, else the embedded SQLite file): the ledger schema first, then each
 * domain component's (network, remittances, api), and says what it applied. A schema from
 * a newer remitnet is refused, never used. Services also migrate when they start; this
 * command lets an operator do it on its own, before starting processes.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { Command } from 'commander';
import { loadConfig } from '../../config.ts';
import type { MigrationReport } from '../../stores/migrate.ts';
import { describeTarget, PostgresStore } from '../../stores/postgres/postgres-store.ts';
import { migrateSqlite } from '../../stores/sqlite/sqlite-store.ts';
import {
  migrateComponent,
  PostgresClient,
  SqliteClient,
  type SqlClient,
} from '../../stores/sql.ts';
import { NETWORK_MIGRATIONS } from '../../network/schema.ts';
import { REMITTANCE_MIGRATIONS } from '../../remittances/schema.ts';
import { API_MIGRATIONS } from '../../api/keys.ts';

/** Domain components in dependency order, each with its own numbered migrations. */
const COMPONENTS = [
  ['network', NETWORK_MIGRATIONS],
  ['remittances', REMITTANCE_MIGRATIONS],
  ['api', API_MIGRATIONS],
] as const;

async function migrateComponents(sql: SqlClient): Promise<Record<string, MigrationReport>> {
  const out: Record<string, MigrationReport> = {};
  for (const [name, migrations] of COMPONENTS)
    out[name] = await migrateComponent(sql, name, migrations);
  return out;
}

export function registerMigrate(program: Command): void {
  program
    .command('migrate')
    .description('apply schema migrations to the configured database (DATABASE_URL or SQLite)')
    .action(async () => {
      const config = loadConfig();
      let where: string;
      let report: MigrationReport;
      let components: Record<string, MigrationReport>;
      if (config.databaseUrl !== undefined) {
        where = `PostgreSQL at ${describeTarget(config.databaseUrl)}`;
        report = await PostgresStore.migrate(config.databaseUrl);
        const sql = PostgresClient.open(config.databaseUrl, 1);
        try {
          components = await migrateComponents(sql);
        } finally {
          await sql.close();
        }
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
          components = await migrateComponents(new SqliteClient(db));
        } finally {
          db.close();
        }
      }
      const json = (program.opts() as { json?: boolean }).json === true;
      if (json) {
        console.log(JSON.stringify({ database: where, ...report, components }));
        return;
      }
      const line = (name: string, r: MigrationReport): string =>
        r.applied.length === 0
          ? `${name} schema up to date (version ${r.to})`
          : `${name} schema from version ${r.from} to ${r.to}, applied: ${r.applied.join(', ')}`;
      console.log(`${where}: ${line('ledger', report)}`);
      for (const [name, r] of Object.entries(components)) console.log(`  ${line(name, r)}`);
    });
}
