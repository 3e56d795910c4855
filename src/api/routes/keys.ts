/**
 * API keys over HTTP: an operator creates (the key is in the answer once), lists and
 * revokes keys; an auditor lists them. The CLI's `remitnet keys` does the same on the
 * database directly, which is how the first operator key comes to exist.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../app.ts';
import type { ApiKeyInfo } from '../keys.ts';
import { ApiError } from '../problem.ts';
import { defineRoute, JSON_TYPE, OPERATOR, OVERSIGHT } from '../route.ts';
import { Body, Id, ProblemResponses } from '../schemas.ts';

export const KeyInfo = Type.Object({
  id: Type.String(),
  prefix: Type.String({ description: 'The first characters of the key, to tell keys apart' }),
  role: Type.Union([Type.Literal('operator'), Type.Literal('agent'), Type.Literal('auditor')]),
  agent_id: Type.Union([Id, Type.Null()]),
  label: Type.String(),
  created_at: Type.String({ format: 'date-time' }),
  revoked_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});

const CreateKey = Body({
  role: Type.Union([Type.Literal('operator'), Type.Literal('agent'), Type.Literal('auditor')]),
  agent_id: Type.Optional(Id),
  label: Type.Optional(Type.String({ maxLength: 200 })),
});

export function keyToWire(info: ApiKeyInfo): Static<typeof KeyInfo> {
  return {
    id: info.keyId,
    prefix: info.prefix,
    role: info.role,
    agent_id: info.agentId,
    label: info.label,
    created_at: info.createdAt,
    revoked_at: info.revokedAt,
  };
}

export function registerKeyRoutes(app: FastifyInstance, ctx: ApiContext): void {
  defineRoute<{ Body: Static<typeof CreateKey> }>(app, {
    method: 'POST',
    url: '/v1/keys',
    access: OPERATOR,
    idempotent: true,
    status: 201,
    summary: 'Create an API key (shown once in the answer, stored only as a hash)',
    description:
      'The key is in this answer only. A retry with the same Idempotency-Key answers the same key info with `key: null`: the key itself is never stored, not even with the Idempotency-Key record.',
    tags: ['access'],
    schema: {
      body: CreateKey,
      response: {
        201: Type.Object({
          key: Type.Union([Type.String(), Type.Null()], {
            description: 'The key, shown once; null on a replay',
          }),
          info: KeyInfo,
        }),
        ...ProblemResponses,
      },
    },
    handler: async (request) => {
      const b = request.body;
      if ((b.role === 'agent') !== (b.agent_id !== undefined)) {
        throw new ApiError('invalid_request', 'agent_id is required for, and only for, role agent');
      }
      const agentId = b.agent_id?.toLowerCase();
      if (agentId !== undefined && !(await ctx.agentExists(agentId))) {
        // A key for an agent that does not exist could act for nobody (or, were an agent
        // later created with that id, for it without anyone having meant it).
        throw new ApiError(
          'unprocessable',
          'no agent has this agent_id; create the agent first (POST /v1/agents)',
        );
      }
      const record = request.idempotencyRecord;
      request.idempotencySecret = true;
      const { key, info } = await ctx.keys.create(
        {
          role: b.role,
          agentId: b.agent_id?.toLowerCase() ?? null,
          label: b.label ?? '',
        },
        // The Idempotency-Key answer is written with the key, in one transaction, and
        // without it: a replay shows the key's info, never the key again.
        record === null
          ? undefined
          : (tx, created) =>
              record(tx, {
                status: 201,
                contentType: JSON_TYPE,
                body: JSON.stringify({ key: null, info: keyToWire(created) }),
              }),
      );
      return { key, info: keyToWire(info) };
    },
  });

  defineRoute(app, {
    method: 'GET',
    url: '/v1/keys',
    access: OVERSIGHT,
    summary: 'List API keys (never the keys themselves)',
    tags: ['access'],
    schema: {
      response: { 200: Type.Object({ items: Type.Array(KeyInfo) }), ...ProblemResponses },
    },
    handler: async () => ({ items: (await ctx.keys.list()).map(keyToWire) }),
  });

  defineRoute<{ Params: { id: string } }>(app, {
    method: 'POST',
    url: '/v1/keys/:id/revoke',
    access: OPERATOR,
    idempotent: true,
    summary: 'Revoke an API key; it stops working at once',
    tags: ['access'],
    schema: {
      params: Type.Object({ id: Id }),
      response: { 200: KeyInfo, ...ProblemResponses },
    },
    handler: async (request) => {
      const id = request.params.id.toLowerCase();
      if (!(await ctx.keys.revoke(id))) throw new ApiError('not_found', 'no API key has this id');
      return keyToWire((await ctx.keys.get(id))!);
    },
  });
}
