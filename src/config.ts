/**
 * Configuration from the environment, read once and frozen. Every setting has a stated
 * default; nothing else in remitnet reads process.env.
 */
import { resolve } from 'node:path';

export interface Config {
  /** postgres://… selects the PostgreSQL store; unset selects embedded SQLite. */
  readonly databaseUrl: string | undefined;
  /** SQLite file path when databaseUrl is unset. */
  readonly sqlitePath: string;
  /** SQLite durability: FULL (default) survives power loss after acknowledgement. */
  readonly sqliteSynchronous: 'FULL' | 'NORMAL' | 'EXTRA';
  readonly host: string;
  readonly port: number;
  readonly logLevel: string;
  /**
   * The file holding the installation's secret (REMITNET_SECRET_FILE, made absolute), or
   * undefined: the payout-code and request-hash keys are then kept in the database. Only
   * the path is read here, so loading configuration stays free of I/O; the file itself is
   * read and checked when a runtime opens (src/api/secrets.ts).
   */
  readonly secretFile: string | undefined;
  /**
   * SQLite on a file: the longest an fsync of the write-ahead log may run before the
   * server counts the log as failed (REMITNET_FSYNC_DEADLINE_MS, default 30,000): it then
   * refuses every caller and asks to be restarted (src/stores/wal-sync.ts).
   */
  readonly fsyncDeadline_ms: number;
}

/** pino's levels, and silent. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export function loadConfig(raw: NodeJS.ProcessEnv = process.env): Config {
  // A variable set to nothing (`HOST=`) means unset, as for DATABASE_URL: an empty HOST
  // would listen on every interface, an empty PORT on a random port, an empty REMITNET_DB
  // on the working directory.
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(raw)) if (v !== undefined && v.trim() !== '') env[k] = v;
  const sync = (env.REMITNET_SQLITE_SYNCHRONOUS ?? 'FULL').toUpperCase();
  if (sync !== 'FULL' && sync !== 'NORMAL' && sync !== 'EXTRA') {
    throw new Error(`REMITNET_SQLITE_SYNCHRONOUS must be FULL, NORMAL or EXTRA, not ${sync}`);
  }
  const port = Number(env.PORT ?? '8080');
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`PORT must be a port number, not ${env.PORT}`);
  }
  const logLevel = env.LOG_LEVEL ?? 'info';
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new Error(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, not ${logLevel}`);
  }
  const fsyncDeadline_ms = Number(env.REMITNET_FSYNC_DEADLINE_MS ?? '30000');
  if (!Number.isInteger(fsyncDeadline_ms) || fsyncDeadline_ms < 100) {
    throw new Error(
      `REMITNET_FSYNC_DEADLINE_MS must be a whole number of milliseconds, at least 100, not ${env.REMITNET_FSYNC_DEADLINE_MS}`,
    );
  }
  return Object.freeze({
    databaseUrl: env.DATABASE_URL === '' ? undefined : env.DATABASE_URL,
    sqlitePath: resolve(env.REMITNET_DB ?? 'data/remitnet.db'),
    sqliteSynchronous: sync,
    host: env.HOST ?? '127.0.0.1',
    port,
    logLevel,
    secretFile:
      env.REMITNET_SECRET_FILE === undefined || env.REMITNET_SECRET_FILE === ''
        ? undefined
        : resolve(env.REMITNET_SECRET_FILE),
    fsyncDeadline_ms,
  });
}
