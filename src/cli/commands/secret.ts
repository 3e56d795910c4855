/**
 * `remitnet secret new|move-out`: the installation's secret file (REMITNET_SECRET_FILE),
 * which keeps the payout-code and request-hash keys out of the database and so out of its
 * backups and dumps. The format and the start-up rules are in src/api/secrets.ts.
 *
 * move-out works on the database directly, without the runtime: the runtime refuses to
 * start in exactly the states this command exists to repair.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { loadConfig, type Config } from '../../config.ts';
import { migrateApi } from '../../api/keys.ts';
import { moveKeysOut, newSecretFile } from '../../api/secrets.ts';
import { PostgresClient, SqliteClient, type SqlClient } from '../../stores/sql.ts';
import { describeTarget } from '../../stores/postgres/postgres-store.ts';
import { outputFor } from '../output.ts';

/** The API's SQL tables of the configured database, which must exist already. */
async function withApiSql<T>(config: Config, fn: (sql: SqlClient) => Promise<T>): Promise<T> {
  let sql: SqlClient;
  if (config.databaseUrl !== undefined) {
    sql = PostgresClient.open(config.databaseUrl, 1);
  } else {
    // Opening a path that does not exist would create an empty database and then report
    // that it holds no keys; the likelier mistake is REMITNET_DB, so say that instead.
    if (config.sqlitePath === ':memory:' || !existsSync(config.sqlitePath)) {
      throw new Error(
        `there is no database at ${config.sqlitePath}; set REMITNET_DB (or DATABASE_URL) to ` +
          'the database whose keys are to move',
      );
    }
    sql = SqliteClient.open(config.sqlitePath);
  }
  try {
    await migrateApi(sql);
    return await fn(sql);
  } finally {
    await sql.close();
  }
}

export function registerSecret(program: Command): void {
  const secret = program
    .command('secret')
    .description('keep the payout-code and request-hash keys in a file, not in the database')
    .addHelpText(
      'after',
      `
Payout codes and codewords are stored only as HMACs; whoever has both the HMACs and their
key can test guesses offline. Without REMITNET_SECRET_FILE the keys are kept in the database
itself, so every backup or dump carries them. With it, they come from this file (mode 0600,
kept apart from the database and its backups) and the database holds none.

Examples:
  remitnet secret new --file /etc/remitnet/secret        # a new installation
  REMITNET_SECRET_FILE=/etc/remitnet/secret remitnet serve
  remitnet secret move-out --file /etc/remitnet/secret   # an installation that ran without one`,
    );

  secret
    .command('new')
    .description('write a new random 32-byte master secret to a new file (mode 0600)')
    .requiredOption('--file <path>', 'where to write it; an existing file is never replaced')
    .action((opts: { file: string }, cmd: Command) => {
      const out = outputFor(cmd);
      const path = resolve(opts.file);
      newSecretFile(path);
      out.result({ file: path, written: true }, () => [
        `wrote a new secret to ${path} (mode 0600)`,
        `next: start remitnet with REMITNET_SECRET_FILE=${path}`,
        'Back it up apart from the database: without it, outstanding payout codes cannot be verified.',
      ]);
    });

  secret
    .command('move-out')
    .description(
      'move the keys stored in the database into a new file, then delete them from the database',
    )
    .requiredOption('--file <path>', 'where to write them; it must not exist yet')
    .addHelpText(
      'after',
      `
The keys are kept exactly as they are (payout codes issued before still verify): the file
holds them, the database keeps only a check value so that a start with another file, or
with none, is refused. The file is written and synced before anything is deleted; if the
command is interrupted, run it again with the same --file. A running server keeps working;
restart it with REMITNET_SECRET_FILE set to the file.`,
    )
    .action(async (opts: { file: string }, cmd: Command) => {
      const out = outputFor(cmd);
      const config = loadConfig();
      const path = resolve(opts.file);
      const moved = await withApiSql(config, (sql) => moveKeysOut(sql, path));
      const database =
        config.databaseUrl === undefined
          ? config.sqlitePath
          : `PostgreSQL at ${describeTarget(config.databaseUrl)}`;
      out.result({ file: path, database, moved: true, wrote_file: moved.wroteFile }, () => [
        `moved the keys from ${database} to ${path} (mode 0600)`,
        `next: restart remitnet with REMITNET_SECRET_FILE=${path}`,
        'Back the file up apart from the database: without it, outstanding payout codes cannot be verified.',
      ]);
    });
}
