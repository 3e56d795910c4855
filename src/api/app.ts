/**
 * The HTTP API: a Fastify app over remitnet's services, built by buildApp() and usable
 * with inject() in tests (no socket) or listen() in the server.
 *
 * Owns: authentication and role checks, Idempotency-Key handling, problem+json errors,
 * request ids and the one log line per request, metrics, the OpenAPI document and /docs.
 * Never: business rules (the domain decides), SQL, or a secret in a log or a response.
 * Handlers stay lean: validate, one service call, serialize.
 */
import { randomBytes } from 'node:crypto';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { Ledger } from '../ledger/index.ts';
import { ApiKeyStore, settingOrCreate } from './keys.ts';
import { newStoredKey, REQUEST_HASH_SETTING } from './secrets.ts';
import {
  IdempotencyStore,
  IDEMPOTENCY_KEY_PATTERN,
  requestHash,
  type RecordAnswer,
} from './idempotency.ts';
import { createApiMetrics, type ApiMetrics } from './metrics.ts';
import { ApiError, toProblem } from './problem.ts';
import { MoneySchema, Problem } from './schemas.ts';
import { registerOpsRoutes } from './routes/ops.ts';
import { registerKeyRoutes } from './routes/keys.ts';
import { registerLedgerRoutes, type AccountOwner } from './routes/ledger.ts';
import type { SqlClient } from '../stores/sql.ts';

export interface AppServices {
  readonly ledger: Ledger;
  /** The SQL client for the API's own tables (keys, idempotency), already migrated. */
  readonly sql: SqlClient;
  /** Which agent owns a ledger account (32 hex digits), or null; agents see only their own. */
  readonly accountOwner?: AccountOwner;
  /** Extra routes (the domain's), registered with the same conventions. */
  readonly plugins?: ReadonlyArray<(app: FastifyInstance, ctx: ApiContext) => void>;
  /** Readiness checks besides the ledger and SQL stores. */
  readonly readiness?: () => Promise<void>;
  /** Whether an agent exists (the domain's); an agent key is only made for one that does. */
  readonly agentExists?: (agentId: string) => Promise<boolean>;
  /**
   * A failure only a restart clears (the SQLite log's fsync failed or hung: wal-sync.ts),
   * if one happened. /healthz then answers 503, so a supervisor restarts the process.
   */
  readonly failure?: () => Error | undefined;
  /**
   * The key for Idempotency-Key request fingerprints, from the runtime (secret file or
   * database: secrets.ts). Without it (tests, embedders) the key is kept in the database,
   * made on first use.
   */
  readonly requestHashKey?: string | Buffer;
}

export interface AppOptions {
  /** A pino logger (tests pass one writing to memory), or false for none. */
  readonly logger?: FastifyBaseLogger | false;
  /** Largest accepted body in bytes. */
  readonly bodyLimit_bytes?: number;
  readonly metrics?: ApiMetrics;
  /** Public base URL, shown in the OpenAPI document's servers list. */
  readonly publicUrl?: string;
  /** How long Idempotency-Key answers are kept (default 24 hours; 0 keeps them forever). */
  readonly idempotencyRetention_ms?: number;
}

export interface ApiContext {
  readonly ledger: Ledger;
  readonly sql: SqlClient;
  readonly keys: ApiKeyStore;
  readonly idempotency: IdempotencyStore;
  readonly metrics: ApiMetrics;
  readonly accountOwner: AccountOwner;
  /** False once shutdown began: /readyz answers 503 so balancers stop sending. */
  ready: boolean;
  readonly readiness: () => Promise<void>;
  readonly failure: () => Error | undefined;
  readonly agentExists: (agentId: string) => Promise<boolean>;
}

declare module 'fastify' {
  interface FastifyInstance {
    remitnet: ApiContext;
  }
  interface FastifyRequest {
    idempotencyFinish:
      ((r: { status: number; contentType: string; body: string } | null) => Promise<void>) | null;
    /**
     * For a new idempotent request: writes its answer's record inside the caller's
     * transaction (see IdempotencyStore), or null. A handler that uses it must send exactly
     * the body it recorded.
     */
    idempotencyRecord: RecordAnswer | null;
    /**
     * Set by a handler whose answer holds a secret (a new API key, a payout code): if its
     * redacted record could not be written with the effect, the record kept afterwards
     * keeps no body rather than the secret.
     */
    idempotencySecret: boolean;
    startedAt_ns: bigint;
  }
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/**
 * Request ids: a random per-process prefix and a counter, unique across restarts without
 * the cost of a random UUID per request. A sane X-Request-Id from the caller wins.
 */
function requestIds(): () => string {
  const prefix = randomBytes(6).toString('base64url');
  let n = 0;
  return () => `${prefix}-${(++n).toString(36)}`;
}

export async function buildApp(
  services: AppServices,
  options: AppOptions = {},
): Promise<FastifyInstance> {
  const nextRequestId = requestIds();
  const app = Fastify({
    ...(options.logger === undefined || options.logger === false
      ? { logger: false }
      : { loggerInstance: options.logger }),
    // One log line per request, written in onResponse (below), instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.bodyLimit_bytes ?? 64 * 1024,
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : nextRequestId();
    },
    // Bodies are validated exactly as sent: no silent stripping of unknown fields, no
    // turning "12" into 12. Query strings are declared as strings and parsed by handlers.
    ajv: {
      customOptions: {
        removeAdditional: false,
        coerceTypes: false,
        useDefaults: false,
        allErrors: false,
      },
    },
    // While closing, new requests get a problem+json 503 from the onRequest hook below
    // (Fastify's own 503 would be its plain JSON).
    return503OnClosing: false,
    // Errors Fastify meets before routing (a malformed URL) are problems like any other.
    frameworkErrors: (error, request, reply) => sendProblem(reply, request, error),
    // A request must arrive whole within 30 s: a slow-drip body cannot hold a socket open.
    requestTimeout: 30_000,
    forceCloseConnections: 'idle',
  });

  const ctx: ApiContext = {
    ledger: services.ledger,
    sql: services.sql,
    keys: new ApiKeyStore(services.sql),
    idempotency: new IdempotencyStore(
      services.sql,
      services.requestHashKey ??
        (await settingOrCreate(services.sql, REQUEST_HASH_SETTING, newStoredKey)),
    ),
    metrics: options.metrics ?? createApiMetrics(),
    accountOwner: services.accountOwner ?? (async () => null),
    ready: true,
    readiness: services.readiness ?? (async () => {}),
    failure: services.failure ?? (() => undefined),
    agentExists: services.agentExists ?? (async () => true),
  };
  app.decorate('remitnet', ctx);

  const retention_ms = options.idempotencyRetention_ms ?? 24 * 3600 * 1000;
  if (retention_ms > 0) {
    const purge = setInterval(
      () => {
        const before = new Date(Date.now() - retention_ms).toISOString();
        ctx.idempotency.purge(before).catch((error: unknown) => {
          app.log.warn({ err: error }, 'idempotency purge failed; retried later');
        });
      },
      Math.min(retention_ms, 10 * 60 * 1000),
    );
    purge.unref();
    app.addHook('onClose', async () => clearInterval(purge));
  }
  app.decorateRequest('principal', null);
  app.decorateRequest('idempotencyFinish', null);
  app.decorateRequest('idempotencyRecord', null);
  app.decorateRequest('idempotencySecret', false);
  app.decorateRequest('startedAt_ns', 0n);

  app.addSchema(MoneySchema);
  app.addSchema(Problem);

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'remitnet',
        version: '0.1.0',
        description:
          'A remittance network of independent agents on an exact double-entry ledger. Amounts are decimal strings with their currency; ids are 32 hex digits; times are ISO 8601; errors are RFC 9457 problem details with a stable `code`. Every POST that creates or moves money needs an `Idempotency-Key` header.',
      },
      ...(options.publicUrl === undefined ? {} : { servers: [{ url: options.publicUrl }] }),
      components: {
        securitySchemes: {
          apiKey: {
            type: 'http',
            scheme: 'bearer',
            description: 'An API key from `remitnet keys create`: Authorization: Bearer rnk_…',
          },
        },
      },
      security: [{ apiKey: [] }],
    },
    refResolver: {
      buildLocalReference(json, _baseUri, _fragment, i) {
        return typeof json.$id === 'string' ? json.$id : `def-${i}`;
      },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true, logLevel: 'warn' });

  app.addHook('onRequest', async (request, reply) => {
    request.startedAt_ns = process.hrtime.bigint();
    reply.header('x-request-id', request.id);
    if (!ctx.ready && request.url.split('?')[0] !== '/healthz') {
      // Shutting down: requests already running finish; new ones are turned away, and the
      // connection is closed so the client's next request goes elsewhere.
      reply.header('connection', 'close');
      throw new ApiError('not_ready', 'the server is shutting down; retry on another instance');
    }
    const access = request.routeOptions.config.access;
    // Unknown routes and the docs' own routes carry no access: treat as public.
    if (access === undefined || access === 'public') return;
    const header = request.headers.authorization;
    const m = typeof header === 'string' ? /^Bearer (\S+)$/i.exec(header) : null;
    if (m === null) {
      reply.header('www-authenticate', 'Bearer');
      throw new ApiError(
        'unauthenticated',
        'send an API key as "Authorization: Bearer rnk_…"; create one with `remitnet keys create`',
      );
    }
    const principal = await ctx.keys.verify(m[1]!);
    if (principal === undefined) {
      reply.header('www-authenticate', 'Bearer error="invalid_token"');
      throw new ApiError('unauthenticated', 'this API key is unknown or was revoked');
    }
    request.principal = principal;
    if (!access.includes(principal.role)) {
      throw new ApiError(
        'forbidden',
        `the ${principal.role} role may not ${request.method} ${request.routeOptions.url}`,
      );
    }
  });

  app.addHook('preValidation', async (request, reply) => {
    const mode = request.routeOptions.config.idempotent;
    if (mode !== true && mode !== 'domain') return;
    const key = request.headers['idempotency-key'];
    if (key === undefined) {
      throw new ApiError(
        'idempotency_key_required',
        'send an Idempotency-Key header (for example a UUID) so a retry cannot act twice',
      );
    }
    if (typeof key !== 'string' || !IDEMPOTENCY_KEY_PATTERN.test(key)) {
      throw new ApiError(
        'idempotency_key_invalid',
        'the Idempotency-Key must be 1 to 255 visible ASCII characters',
      );
    }
    void reply;
  });

  app.addHook('preHandler', async (request, reply) => {
    const mode = request.routeOptions.config.idempotent;
    if (mode !== true && mode !== 'domain') return;
    const key = request.headers['idempotency-key'] as string;
    const principal = request.principal!;
    const path = request.url.split('?')[0]!;
    const hash = requestHash(ctx.idempotency.hashKey, request.method, path, request.body);
    const begun = await ctx.idempotency.begin(principal.keyId, key, hash, mode === true);
    if (begun === 'in_flight') throw new ApiError('idempotency_key_in_flight');
    switch (begun.kind) {
      case 'mismatch':
        throw new ApiError(
          'idempotency_key_reused',
          'this Idempotency-Key was already used with a different request; use a new key for a new operation',
        );
      case 'replay':
        ctx.metrics.idempotentReplays.inc();
        // 'domain' mode: the domain answers the retry itself (without the secret).
        if (begun.response === null) return;
        if (begun.response.body === '') {
          // A record that kept no answer: written by a route that did not keep them (before
          // an upgrade), or whose answer held a secret. Running the request again could act
          // twice, so say what happened instead.
          throw new ApiError(
            'idempotency_answer_unavailable',
            'this Idempotency-Key was used before and its answer was not kept; read the current state (GET) instead of retrying',
          );
        }
        reply
          .code(begun.response.status)
          .header('content-type', begun.response.contentType)
          .header('idempotent-replayed', 'true');
        return reply.send(begun.response.body);
      case 'new':
        request.idempotencyFinish = begun.finish;
        request.idempotencyRecord = begun.record;
    }
  });

  app.addHook('onSend', async (request, reply, payload) => {
    const finish = request.idempotencyFinish;
    if (finish !== null) {
      request.idempotencyFinish = null;
      const ok = reply.statusCode >= 200 && reply.statusCode < 300 && typeof payload === 'string';
      await finish(
        ok
          ? {
              status: reply.statusCode,
              contentType: String(reply.getHeader('content-type') ?? 'application/json'),
              body: request.idempotencySecret ? '' : (payload as string),
            }
          : null,
      );
    }
    return payload;
  });

  app.addHook('onResponse', async (request, reply) => {
    // A request that never reached onSend (aborted) releases its key here.
    if (request.idempotencyFinish !== null) await request.idempotencyFinish(null);
    const route = request.routeOptions.url ?? 'unmatched';
    const seconds = Number(process.hrtime.bigint() - request.startedAt_ns) / 1e9;
    ctx.metrics.observeRequest(request.method, route, reply.statusCode, seconds);
    request.log.info(
      {
        method: request.method,
        route,
        url: request.url.split('?')[0],
        status: reply.statusCode,
        ms: Math.round(seconds * 1e6) / 1e3,
        role: request.principal?.role,
        key_id: request.principal?.keyId,
      },
      'request',
    );
  });

  app.setErrorHandler(async (error, request, reply) => {
    const problem = toProblem(error, request.id, request.url.split('?')[0]);
    if (problem.status >= 500) {
      request.log.error({ err: error }, 'request failed');
    }
    reply
      .code(problem.status)
      .type('application/problem+json')
      .serializer((p: unknown) => JSON.stringify(p));
    return problem;
  });

  app.setNotFoundHandler(async (request, reply) => {
    const problem = toProblem(
      new ApiError(
        'route_not_found',
        `no route ${request.method} ${request.url.split('?')[0]}; the routes are listed at /openapi.json`,
      ),
      request.id,
    );
    reply
      .code(404)
      .type('application/problem+json')
      .serializer((p: unknown) => JSON.stringify(p));
    return problem;
  });

  registerOpsRoutes(app, ctx);
  registerKeyRoutes(app, ctx);
  registerLedgerRoutes(app, ctx);
  for (const plugin of services.plugins ?? []) plugin(app, ctx);

  app.get('/openapi.json', { schema: { hide: true }, config: { access: 'public' } }, async () =>
    app.swagger(),
  );

  await app.ready();
  return app;
}

/** Sends an error as problem+json from places outside the error handler. */
export function sendProblem(reply: FastifyReply, request: FastifyRequest, error: unknown): void {
  const problem = toProblem(error, request.id);
  void reply
    .code(problem.status)
    .type('application/problem+json')
    .serializer((p: unknown) => JSON.stringify(p))
    .send(problem);
}
