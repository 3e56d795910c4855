/**
 * Operability: liveness (/healthz), readiness (/readyz: stores reachable, not shutting
 * down), Prometheus metrics (/metrics), and /v1/me (who a key is).
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../app.ts';
import { ApiError } from '../problem.ts';
import { defineRoute, principalOf, READERS } from '../route.ts';
import { ProblemResponses } from '../schemas.ts';

const Health = Type.Object({ status: Type.String() });

/**
 * How long /readyz waits for the stores. A probe that hangs tells a balancer nothing (and
 * a disk that stopped answering holds every read behind its fsync), so past this the
 * answer is 503; probes usually time out after a second or two themselves.
 */
export const READY_DEADLINE_MS = 2000;

export function registerOpsRoutes(app: FastifyInstance, ctx: ApiContext): void {
  defineRoute(app, {
    method: 'GET',
    url: '/healthz',
    access: 'public',
    summary: 'Liveness: the process answers and needs no restart',
    tags: ['operations'],
    schema: { response: { 200: Health, ...ProblemResponses } },
    handler: async () => {
      if (ctx.failure() !== undefined) {
        throw new ApiError(
          'restart_required',
          'a store failed in a way only a restart recovers from (see the error log)',
        );
      }
      return { status: 'ok' };
    },
  });

  defineRoute(app, {
    method: 'GET',
    url: '/readyz',
    access: 'public',
    summary: 'Readiness: the stores answer and the server is not shutting down',
    tags: ['operations'],
    schema: { response: { 200: Health, ...ProblemResponses } },
    handler: async () => {
      if (!ctx.ready) throw new ApiError('not_ready', 'the server is shutting down');
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<'late'>((resolve) => {
        timer = setTimeout(() => resolve('late'), READY_DEADLINE_MS);
      });
      const checks = (async () => {
        await ctx.sql.query('SELECT 1 AS one');
        await ctx.ledger.store.nextExpiry(); // a read: Ledger.lookupAccounts would sweep (write)
        await ctx.readiness();
        return 'ok' as const;
      })();
      try {
        const outcome = await Promise.race([checks, deadline]);
        if (outcome === 'late') {
          checks.catch(() => {}); // it may still fail later; nobody is waiting for it
          throw new ApiError('not_ready', `a store did not answer within ${READY_DEADLINE_MS} ms`);
        }
      } catch (error) {
        if (error instanceof ApiError) throw error;
        throw new ApiError('not_ready', 'a store cannot be reached');
      } finally {
        clearTimeout(timer);
      }
      return { status: 'ready' };
    },
  });

  defineRoute(app, {
    method: 'GET',
    url: '/metrics',
    access: 'public',
    summary: 'Prometheus metrics (text exposition format 0.0.4)',
    tags: ['operations'],
    schema: { produces: ['text/plain'] },
    handler: async (_request, reply) => {
      reply.type('text/plain; version=0.0.4; charset=utf-8');
      return ctx.metrics.registry.render();
    },
  });

  defineRoute(app, {
    method: 'GET',
    url: '/v1/me',
    access: READERS,
    summary: 'The role (and, for agents, the agent) of the calling API key',
    tags: ['access'],
    schema: {
      response: {
        200: Type.Object({
          key_id: Type.String(),
          role: Type.String(),
          agent_id: Type.Union([Type.String(), Type.Null()]),
          label: Type.String(),
        }),
        ...ProblemResponses,
      },
    },
    handler: async (request) => {
      const p = principalOf(request);
      return { key_id: p.keyId, role: p.role, agent_id: p.agentId, label: p.label };
    },
  });
}
