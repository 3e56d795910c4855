/**
 * `remitnet init` and `remitnet demo`: prepare a database (every component's migrations and
 * a first operator key) and load the demo network. Both work on the database directly:
 * they are how an installation comes to have the key it needs to call the API at all.
 */
import type { Command } from 'commander';
import { loadConfig } from '../../config.ts';
import { ApiKeyStore } from '../../api/keys.ts';
import { openRuntime } from '../../api/runtime.ts';
import { loadDemo } from '../../demo/index.ts';
import { outputFor } from '../output.ts';

export function registerInit(program: Command): void {
  program
    .command('init')
    .description('create and migrate the database, and print a first operator key')
    .option('--demo', 'also load the demo network')
    .addHelpText(
      'after',
      `
The database is $REMITNET_DB (default data/remitnet.db), or PostgreSQL at $DATABASE_URL.
Running init again is safe: migrations already applied are skipped, and a new operator key
is made only when no active one exists.`,
    )
    .action(async (opts: { demo?: boolean }, cmd: Command) => {
      const out = outputFor(cmd);
      const config = loadConfig();
      const runtime = await openRuntime(config, { expiryInterval_ms: 0 });
      try {
        const keys = new ApiKeyStore(runtime.sql);
        const key =
          (await keys.countActive('operator')) === 0
            ? (await keys.create({ role: 'operator', label: 'created by init' })).key
            : null;
        const demo = opts.demo === true ? await loadDemo(runtime.remitnet) : null;
        out.result(
          {
            database: config.databaseUrl === undefined ? config.sqlitePath : 'postgresql',
            operator_key: key,
            demo,
          },
          () => [
            `database ready: ${config.databaseUrl === undefined ? config.sqlitePath : 'postgresql'}`,
            key === null
              ? 'an operator key exists already (see `remitnet keys list`)'
              : `operator key (shown once): ${key}`,
            ...(demo === null
              ? []
              : [`demo: ${demo.loaded ? 'loaded' : 'already present'}, ${demo.agents} agents`]),
            'next: remitnet serve',
          ],
        );
      } finally {
        await runtime.close();
      }
    });

  program
    .command('demo')
    .description('load the demo network (two corridors, remittances in several states)')
    .action(async (_opts: unknown, cmd: Command) => {
      const out = outputFor(cmd);
      const runtime = await openRuntime(loadConfig(), { expiryInterval_ms: 0 });
      try {
        const progress = out.progress('loading demo', 1);
        const demo = await loadDemo(runtime.remitnet);
        progress.tick();
        progress.done();
        out.result(demo, () => [
          demo.loaded
            ? `loaded ${demo.agents} agents, ${demo.links} links, ${demo.remittances.length} remittances`
            : `the database already has a network (${demo.agents} agents); nothing loaded`,
          ...demo.remittances.map(
            (r) =>
              `  ${r.id}  ${r.corridor}  ${r.state}${r.payoutCode === undefined ? '' : `  payout code ${r.payoutCode}`}`,
          ),
        ]);
      } finally {
        await runtime.close();
      }
    });
}
