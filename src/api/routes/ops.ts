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

export function registerOpsRoutes(app: FastifyInstance, ctx: ApiContext): void {
  defineRoute(app, {
    method: 'GET',
    url: '/healthz',
    access: 'public',
    summary: 'Liveness: the process answers',
    tags: ['operations'],
    schema: { response: { 200: Health } },
    handler: async () => ({ status: 'ok' }),
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
      try {
        await ctx.sql.query('SELECT 1 AS one');
        await ctx.ledger.store.nextExpiry(); // a read: Ledger.lookupAccounts would sweep (write)
        await ctx.readiness();
      } catch {
        throw new ApiError('not_ready', 'a store cannot be reached');
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
