/**
 * remitnet as a running service: runtime + domain + HTTP server, as `remitnet serve`,
 * `npm start` and the load benchmark start it.
 */
import type { DestinationStream } from 'pino';
import type { Config } from '../config.ts';
import { loadDemo } from '../demo/index.ts';
import { accountOwnerOf, agentExistsOf, domainPlugin } from './domain.ts';
import { ApiKeyStore } from './keys.ts';
import { createLogger } from './logger.ts';
import { openRuntime } from './runtime.ts';
import { serve, type RunningServer } from './server.ts';

export interface ServiceOptions {
  readonly config: Config;
  readonly host?: string;
  readonly port?: number;
  /** Load the demo network when the database has none yet. */
  readonly demo?: boolean;
  /** Log level ('silent' for none). */
  readonly logLevel?: string;
  /** Where log lines go (default stdout; tests collect them). */
  readonly logDestination?: DestinationStream;
  readonly handleSignals?: boolean;
}

export interface Service {
  readonly server: RunningServer;
  /** A new operator key, when this start created one (a fresh database). */
  readonly operatorKey: string | null;
  /** What --demo loaded, for the start banner. */
  readonly demoSummary: string | null;
}

export async function startService(options: ServiceOptions): Promise<Service> {
  const { config } = options;
  const level = options.logLevel ?? config.logLevel;
  const logger = createLogger({
    level,
    ...(options.logDestination === undefined ? {} : { destination: options.logDestination }),
  });
  const runtime = await openRuntime(config, {
    sweepInterval_ms: 5000,
    onBackgroundError: (job, error) =>
      logger.error({ err: error, job }, 'background job failed; it runs again on the next tick'),
    onStoreDegraded: (what, reason) =>
      logger.error(
        { what, reason },
        "the SQLite checkpointer thread failed; SQLite's own autocheckpoint took over, so commits now copy the WAL back themselves (slower, still bounded); restart to get the thread back",
      ),
  });
  if (runtime.keySource === 'database') {
    // Zero configuration keeps working, but says once what it costs and how to fix it.
    logger.warn(
      { keys_in: 'database', fix: 'remitnet secret move-out --file PATH' },
      'the payout-code and request-hash keys are stored in the database, next to the hashes ' +
        'they protect: anyone with a copy of it (a backup, a dump) can test guesses of ' +
        'codewords and payout codes offline. Move them out: run ' +
        '`remitnet secret move-out --file PATH` (PATH must not exist yet), then restart with ' +
        'REMITNET_SECRET_FILE=PATH (docs/operations.md, "Secrets")',
    );
  }
  try {
    const keys = new ApiKeyStore(runtime.sql);
    let operatorKey: string | null = null;
    let demoSummary: string | null = null;
    if (options.demo === true) {
      const demo = await loadDemo(runtime.remitnet);
      demoSummary = `${demo.loaded ? 'loaded' : 'already present'}: ${demo.agents} agents, ${demo.links} links, ${demo.remittances.length} remittances`;
    }
    const server = await serve(runtime, {
      host: options.host ?? config.host,
      port: options.port ?? config.port,
      logger,
      plugins: [domainPlugin(runtime.remitnet)],
      accountOwner: accountOwnerOf(runtime.remitnet),
      agentExists: agentExistsOf(runtime.remitnet),
      handleSignals: options.handleSignals ?? false,
    });
    // Only once the server listens: a start that fails (the port taken) must not leave an
    // operator key behind that nobody was shown.
    if (options.demo === true && (await keys.countActive('operator')) === 0) {
      operatorKey = (await keys.create({ role: 'operator', label: 'created by serve --demo' })).key;
    }
    return { server, operatorKey, demoSummary };
  } catch (error) {
    await runtime.close();
    throw error;
  }
}
