/**
 * How routes are declared: every route states who may call it and whether it needs an
 * Idempotency-Key, next to its schema. The declarations are also a table the role-matrix
 * test walks, so no route can be added without saying who may use it.
 */
import type {
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  FastifySchema,
  RouteGenericInterface,
} from 'fastify';
import type { SqlClient } from '../stores/sql.ts';
import type { Principal, Role } from './keys.ts';
import { ApiError } from './problem.ts';

/**
 * Who may call a route. 'public': anyone, no key. Otherwise the roles allowed; an agent
 * allowed on a route still sees only its own things (the handler scopes or answers 404).
 */
export type Access = 'public' | readonly Role[];

export const READERS: readonly Role[] = ['operator', 'agent', 'auditor'];
export const OPERATOR: readonly Role[] = ['operator'];
export const OVERSIGHT: readonly Role[] = ['operator', 'auditor'];
export const ACTORS: readonly Role[] = ['operator', 'agent'];

export interface RouteInfo {
  readonly method: 'GET' | 'POST' | 'DELETE' | 'PUT' | 'PATCH';
  readonly url: string;
  readonly access: Access;
  readonly idempotent: Idempotency;
  readonly summary: string;
}

/**
 * false: no key. true: the key is required and the API stores and replays the answer.
 * 'domain': the key is required and handed to the domain, which replays by itself; the
 * API stores nothing (used where the answer holds a secret, such as a payout code, that
 * must never be stored).
 */
export type Idempotency = boolean | 'domain';

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: Access;
    idempotent?: Idempotency;
  }
  interface FastifyRequest {
    principal: Principal | null;
  }
}

export interface RouteSpec<G extends RouteGenericInterface> {
  readonly method: RouteInfo['method'];
  readonly url: string;
  readonly access: Access;
  /** Require an Idempotency-Key and replay answers (every POST that creates or moves). */
  readonly idempotent?: Idempotency;
  readonly summary: string;
  readonly description?: string;
  readonly tags: readonly string[];
  readonly schema: Omit<FastifySchema, 'summary' | 'tags'>;
  readonly status?: number;
  readonly handler: (request: FastifyRequest<G>, reply: FastifyReply) => Promise<unknown>;
}

const TABLE = Symbol.for('remitnet.routeTable');

export const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * Writes made inside the transaction that records a request's effect, given its result.
 * `answerRef` names the request's answer record, for a service that may finish the effect
 * later, without the request (see recordRecoveredAnswer).
 */
export type InTransaction<T> = ((tx: SqlClient, result: T) => Promise<void>) & {
  readonly answerRef?: string;
};

/**
 * Runs a handler's one service call so that, for a new idempotent request, the
 * Idempotency-Key record is written in the same transaction as the call's effect (one
 * durable commit for both, see IdempotencyStore.record), and answers exactly the body it
 * recorded. `run` passes the hook to the service, which calls it only on success.
 */
export async function answerRecorded<T>(
  request: FastifyRequest,
  reply: FastifyReply,
  status: number,
  run: (hook: InTransaction<T> | undefined) => Promise<T>,
  wire: (result: T) => unknown,
): Promise<unknown> {
  const record = request.idempotencyRecord;
  if (record === null) return wire(await run(undefined));
  let body: string | undefined;
  const hook = async (tx: SqlClient, r: T) => {
    void reply.code(status); // the serializer is chosen by the status code
    const text = reply.serialize(wire(r)) as string;
    await record(tx, { status, contentType: JSON_TYPE, body: text });
    body = text;
  };
  const result = await run(Object.assign(hook, { answerRef: record.answerRef }));
  if (body === undefined) return wire(result);
  void reply.type(JSON_TYPE);
  return body;
}

/** Registers a route and records its access in the app's route table. */
export function defineRoute<G extends RouteGenericInterface>(
  app: FastifyInstance,
  spec: RouteSpec<G>,
): void {
  const table = routeTable(app);
  table.push({
    method: spec.method,
    url: spec.url,
    access: spec.access,
    idempotent: spec.idempotent ?? false,
    summary: spec.summary,
  });
  const status = spec.status ?? 200;
  app.route({
    method: spec.method,
    url: spec.url,
    config: { access: spec.access, idempotent: spec.idempotent ?? false },
    schema: {
      ...spec.schema,
      summary: spec.summary,
      ...(spec.description === undefined ? {} : { description: spec.description }),
      tags: [...spec.tags],
      ...(spec.access === 'public' ? { security: [] } : {}),
      ...(spec.idempotent === true || spec.idempotent === 'domain'
        ? {
            headers: {
              type: 'object',
              properties: {
                'idempotency-key': {
                  type: 'string',
                  minLength: 1,
                  maxLength: 255,
                  description:
                    'Required. A unique key per intended operation; a retry with the same key and body returns the original answer',
                },
              },
              required: ['idempotency-key'],
            },
          }
        : {}),
    },
    handler: async (request, reply) => {
      const result = await spec.handler(request as unknown as FastifyRequest<G>, reply);
      if (reply.sent) return reply;
      reply.code(status);
      return result;
    },
  });
}

export function routeTable(app: FastifyInstance): RouteInfo[] {
  const holder = app as unknown as { [TABLE]?: RouteInfo[] };
  holder[TABLE] ??= [];
  return holder[TABLE];
}

/** The principal of a request that passed authentication (never null on a keyed route). */
export function principalOf(request: FastifyRequest): Principal {
  const p = request.principal;
  if (p === null) throw new ApiError('unauthenticated');
  return p;
}

/** For an agent: its own agent id. For operator and auditor: null (sees every agent). */
export function agentScope(request: FastifyRequest): string | null {
  const p = principalOf(request);
  return p.role === 'agent' ? p.agentId : null;
}
