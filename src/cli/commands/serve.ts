/**
 * `remitnet serve`: runs the HTTP API on the configured database. With --demo on a fresh
 * database it loads the demo network and prints an operator key, so a newcomer can start
 * with one command (`npm start`).
 */
import type { Command } from 'commander';
import { LOG_LEVELS, loadConfig } from '../../config.ts';
import { startService } from '../../api/service.ts';
import { outputFor } from '../output.ts';

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run the HTTP API (docs at /docs, OpenAPI at /openapi.json)')
    .option('--host <host>', 'address to listen on (env HOST, default 127.0.0.1)')
    .option('--port <port>', 'port to listen on (env PORT, default 8080; 0 picks a free one)')
    .option('--demo', 'load the demo network if the database has none, and print an operator key')
    .option('--log-level <level>', 'trace, debug, info, warn, error or silent (env LOG_LEVEL)')
    .addHelpText(
      'after',
      `
The database is embedded SQLite at $REMITNET_DB (default data/remitnet.db) unless
DATABASE_URL names a PostgreSQL server. Logs are JSON lines on stdout; the banner with the
URL goes to stderr. SIGTERM or Ctrl-C shuts down gracefully: in-flight requests and ledger
batches finish first.

REMITNET_SECRET_FILE names the file holding the keys that payout codes and codewords are
hashed under; without it they are kept in the database and a warning says how to move
them out (\`remitnet secret --help\`, docs/operations.md "Secrets").

Examples:
  remitnet serve --demo              # try it: demo network, operator key printed
  PORT=9000 remitnet serve           # production-like, keys from \`remitnet keys create\``,
    )
    .action(
      async (
        opts: { host?: string; port?: string; demo?: boolean; logLevel?: string },
        cmd: Command,
      ) => {
        const out = outputFor(cmd);
        const config = loadConfig();
        const port = opts.port === undefined ? undefined : Number(opts.port);
        if (
          port !== undefined &&
          (opts.port!.trim() === '' || !Number.isInteger(port) || port < 0 || port > 65535)
        ) {
          throw new Error(`--port must be a port number, not ${opts.port}`);
        }
        if (opts.logLevel !== undefined && !LOG_LEVELS.includes(opts.logLevel)) {
          throw new Error(
            `--log-level must be one of ${LOG_LEVELS.join(', ')}, not ${opts.logLevel}`,
          );
        }
        const service = await startService({
          config,
          ...(opts.host === undefined ? {} : { host: opts.host }),
          ...(port === undefined ? {} : { port }),
          demo: opts.demo === true,
          ...(opts.logLevel === undefined ? {} : { logLevel: opts.logLevel }),
          handleSignals: true,
        });
        const { url } = service.server;
        const banner = {
          url,
          docs: `${url}/docs`,
          openapi: `${url}/openapi.json`,
          database: config.databaseUrl === undefined ? config.sqlitePath : 'postgresql',
          operator_key: service.operatorKey,
          demo: service.demoSummary,
        };
        if (out.json) {
          // One line on stderr: stdout carries the server's JSON log lines, and the key
          // shown once must not go to wherever the logs are collected.
          process.stderr.write(JSON.stringify(banner) + '\n');
        } else {
          const lines = [
            '',
            `remitnet is running at ${url}`,
            `  API docs:  ${url}/docs`,
            `  OpenAPI:   ${url}/openapi.json`,
            `  database:  ${banner.database}`,
          ];
          if (service.demoSummary !== null) lines.push(`  demo:      ${service.demoSummary}`);
          if (service.operatorKey !== null) {
            lines.push(
              '',
              `  operator key (shown once): ${service.operatorKey}`,
              `  try: curl -H "Authorization: Bearer ${service.operatorKey}" ${url}/v1/me`,
            );
          } else if (opts.demo === true) {
            lines.push(
              '',
              '  an operator key was created on an earlier start; make another with',
              '  `remitnet keys create --role operator`',
            );
          }
          lines.push('', 'Ctrl-C stops it gracefully.', '');
          process.stderr.write(lines.join('\n') + '\n');
        }
        await service.server.closed;
      },
    );
}
