/**
 * Runs the API on a socket: listen, answer, and on SIGTERM or SIGINT shut down gracefully.
 *
 * Shutdown order: /readyz turns 503 (balancers stop sending), the server stops accepting
 * and waits for in-flight requests (each already waits for its durable batch), then the
 * ledger drains its queue and the stores close. A second signal exits at once.
 */
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { buildApp, type AppServices } from './app.ts';
import type { Runtime } from './runtime.ts';

export interface ServeOptions {
  readonly host: string;
  readonly port: number;
  readonly logger: FastifyBaseLogger | false;
  readonly plugins?: AppServices['plugins'];
  readonly accountOwner?: AppServices['accountOwner'];
  readonly agentExists?: AppServices['agentExists'];
  readonly readiness?: AppServices['readiness'];
  /** Called after the server closed and before the runtime closes (e.g. domain shutdown). */
  readonly beforeRuntimeClose?: () => Promise<void>;
  /** Install SIGTERM/SIGINT handlers (the CLI does; tests call close() themselves). */
  readonly handleSignals?: boolean;
}

export interface RunningServer {
  readonly app: FastifyInstance;
  /** http://host:port */
  readonly url: string;
  /** Graceful shutdown; resolves when everything is closed. Safe to call twice. */
  close(): Promise<void>;
  /** Resolves when close() finished (from a signal or a call). */
  readonly closed: Promise<void>;
}

export async function serve(runtime: Runtime, options: ServeOptions): Promise<RunningServer> {
  const app = await buildApp(
    {
      ledger: runtime.ledger,
      sql: runtime.sql,
      ...(options.plugins === undefined ? {} : { plugins: options.plugins }),
      ...(options.accountOwner === undefined ? {} : { accountOwner: options.accountOwner }),
      ...(options.agentExists === undefined ? {} : { agentExists: options.agentExists }),
      ...(options.readiness === undefined ? {} : { readiness: options.readiness }),
      failure: () => runtime.failure(),
      requestHashKey: runtime.requestHashKey,
    },
    { logger: options.logger, metrics: runtime.metrics },
  );
  const address = await app.listen({ host: options.host, port: options.port });
  const url = address.replace('[::1]', 'localhost');

  let closing: Promise<void> | undefined;
  let markClosed!: () => void;
  const closed = new Promise<void>((r) => (markClosed = r));
  const close = (): Promise<void> => {
    closing ??= (async () => {
      app.remitnet.ready = false;
      try {
        await app.close();
        await options.beforeRuntimeClose?.();
      } finally {
        await runtime.close();
        markClosed();
      }
    })();
    return closing;
  };

  if (options.handleSignals === true) {
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      signals++;
      if (signals > 1) process.exit(130);
      app.log.info({ signal }, 'shutting down: finishing in-flight requests and ledger batches');
      close().then(
        () => app.log.info('shut down cleanly'),
        (error: unknown) => {
          app.log.error({ err: error }, 'shutdown failed');
          process.exitCode = 1;
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    void closed.then(() => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
    });
  }

  return { app, url, close, closed };
}
