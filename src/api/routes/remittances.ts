/**
 * Remittance routes: create from a quote, read (state, timeline, history), and each
 * transition: fund, accept, decline, pay out, cancel, reissue the payout code, resolve a
 * held one, write off.
 *
 * The domain checks who may act at each step (the origin agent funds, the awaited agent
 * accepts, the payout agent pays); the API adds that an agent sees only remittances whose
 * route includes it (404 otherwise). The payout code is in the create answer once and is
 * never stored by the API: creating uses the domain's own idempotency (mode 'domain').
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type {
  CreateRemittanceResult,
  OutcomeHook,
  Remittance,
  Remitnet,
  RemittanceState,
} from '../../remittances/index.ts';
import { involves, RemitnetError } from '../../remittances/index.ts';
import type { ApiContext } from '../app.ts';
import { ApiError } from '../problem.ts';
import {
  ACTORS,
  agentScope,
  answerRecorded,
  defineRoute,
  JSON_TYPE,
  OPERATOR,
  OVERSIGHT,
  principalOf,
  READERS,
} from '../route.ts';
import { Body, Id, Page, PageQuery, parseLimit, ProblemResponses } from '../schemas.ts';
import {
  HistoryWire,
  historyToWire,
  remittanceToWire,
  RemittanceWire,
  TimelineWire,
  timelineToWire,
} from './domain-wire.ts';
import { actorOf } from './network.ts';

const STATES: readonly RemittanceState[] = [
  'created',
  'funded',
  'ready',
  'paid',
  'completed',
  'cancelled',
  'expired',
  'refunded',
  'held',
  'written_off',
];

const Params = Type.Object({ id: Id });

type IdParams = { Params: { id: string } };
const Reason = Type.String({ minLength: 1, maxLength: 500 });

export function registerRemittanceRoutes(
  app: FastifyInstance,
  ctx: ApiContext,
  remitnet: Remitnet,
): void {
  const { remittances } = remitnet;
  void ctx;

  /** The remittance, if this key may see it (404 for an agent not on its route). */
  async function visible(request: FastifyRequest, idText: string): Promise<Remittance> {
    const r = await remittances.get(idText.toLowerCase());
    const scope = agentScope(request);
    if (scope !== null && !involves(r, scope)) {
      // Exactly what an id that does not exist gets: ids are guessable (time-ordered).
      throw new RemitnetError('remittance_not_found', idText.toLowerCase());
    }
    return r;
  }

  const CreateBody = Body({
    quote_id: Id,
    sender_id: Id,
    recipient_id: Id,
    codeword: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    id_document_ref: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  });
  defineRoute<{ Body: Static<typeof CreateBody> }>(app, {
    method: 'POST',
    url: '/v1/remittances',
    access: ACTORS,
    idempotent: 'domain',
    status: 201,
    summary: 'Create a remittance from a quote; the answer holds the payout code, once',
    description:
      'The payout code is shown only in the first answer; remitnet keeps only its hash. A retry with the same Idempotency-Key and body answers the same remittance with `replayed: true` and `payout_code: null`. An agent key creates only from its own quotes.',
    tags: ['remittances'],
    schema: {
      body: CreateBody,
      response: {
        201: Type.Object({
          remittance: RemittanceWire,
          payout_code: Type.Union([Type.String(), Type.Null()]),
          replayed: Type.Boolean(),
        }),
        ...ProblemResponses,
      },
    },
    handler: async (request, reply) => {
      const b = request.body;
      // An agent key creates only from its own quotes: the domain reads the quote first and
      // answers quote_not_found for another agent's (quoteOf).
      const scope = agentScope(request);
      const key = `${principalOf(request).keyId}:${request.headers['idempotency-key'] as string}`;
      let replayed = false;
      const answer = await answerRecorded(
        request,
        reply,
        201,
        async (onCreated) => {
          const result = await remittances.create(
            {
              quoteId: b.quote_id.toLowerCase(),
              senderId: b.sender_id.toLowerCase(),
              recipientId: b.recipient_id.toLowerCase(),
              idempotencyKey: key,
              ...(b.codeword === undefined ? {} : { codeword: b.codeword }),
              ...(b.id_document_ref === undefined ? {} : { idDocumentRef: b.id_document_ref }),
              ...(scope === null ? {} : { quoteOf: scope }),
            },
            actorOf(request),
            onCreated,
          );
          replayed = result.replayed;
          return result;
        },
        (result: CreateRemittanceResult) => ({
          remittance: remittanceToWire(result.remittance),
          payout_code: result.payoutCode ?? null,
          replayed: result.replayed,
        }),
      );
      if (replayed) void reply.header('idempotent-replayed', 'true');
      return answer;
    },
  });

  defineRoute<{
    Querystring: { state?: string; agent_id?: string; limit?: string; cursor?: string };
  }>(app, {
    method: 'GET',
    url: '/v1/remittances',
    access: READERS,
    summary: 'List remittances (an agent key: those whose route includes it)',
    tags: ['remittances'],
    schema: {
      querystring: Type.Object(
        {
          ...PageQuery,
          state: Type.Optional(Type.Union(STATES.map((s) => Type.Literal(s)))),
          agent_id: Type.Optional(Id),
        },
        { additionalProperties: false },
      ),
      response: { 200: Page(RemittanceWire, 'remittances'), ...ProblemResponses },
    },
    handler: async (request) => {
      const q = request.query;
      const scope = agentScope(request);
      const agentId = scope ?? q.agent_id?.toLowerCase();
      if (scope !== null && q.agent_id !== undefined && q.agent_id.toLowerCase() !== scope) {
        throw new ApiError('forbidden', 'an agent key lists only its own remittances');
      }
      const page = await remittances.list({
        ...(agentId === undefined ? {} : { agentId }),
        ...(q.state === undefined ? {} : { state: q.state as RemittanceState }),
        limit: parseLimit(q.limit, 50, 500),
        ...(q.cursor === undefined ? {} : { cursor: q.cursor }),
      });
      return { items: page.items.map(remittanceToWire), next_cursor: page.nextCursor ?? null };
    },
  });

  defineRoute<IdParams>(app, {
    method: 'GET',
    url: '/v1/remittances/:id',
    access: READERS,
    summary: 'A remittance: its state, route and amounts',
    tags: ['remittances'],
    schema: { params: Params, response: { 200: RemittanceWire, ...ProblemResponses } },
    handler: async (request) => remittanceToWire(await visible(request, request.params.id)),
  });

  defineRoute<IdParams>(app, {
    method: 'GET',
    url: '/v1/remittances/:id/timeline',
    access: READERS,
    summary: "The sender's tracking view: states in plain words, no names or personal data",
    tags: ['remittances'],
    schema: {
      params: Params,
      response: { 200: Type.Object({ items: TimelineWire }), ...ProblemResponses },
    },
    handler: async (request) => {
      const r = await visible(request, request.params.id);
      return { items: timelineToWire(await remittances.timeline(r.id)) };
    },
  });

  defineRoute<IdParams>(app, {
    method: 'GET',
    url: '/v1/remittances/:id/history',
    access: OVERSIGHT,
    summary: 'Every recorded transition with its actor and reason',
    tags: ['remittances'],
    schema: {
      params: Params,
      response: { 200: Type.Object({ items: HistoryWire }), ...ProblemResponses },
    },
    handler: async (request) => ({
      items: historyToWire(await remittances.history(request.params.id.toLowerCase())),
    }),
  });

  const Transition = (
    url: string,
    summary: string,
    access: readonly ('operator' | 'agent' | 'auditor')[],
    body: ReturnType<typeof Body> | undefined,
    run: (
      id: string,
      request: FastifyRequest,
      onOutcome?: OutcomeHook,
      visibleTo?: string,
    ) => Promise<Remittance>,
    /**
     * The service checks what the key may see (visibleTo) on the row its step reads, which
     * saves this route a read of its own; else visible() checks it first. Only for steps
     * whose first act is that read (fund, accept, payout): the others check their input
     * first, and an agent off the route must be told 404 before anything else.
     */
    serviceChecksVisibility = false,
  ) =>
    defineRoute<IdParams>(app, {
      method: 'POST',
      url,
      access,
      idempotent: true,
      summary,
      tags: ['remittances'],
      schema: {
        params: Params,
        ...(body === undefined ? {} : { body }),
        response: { 200: RemittanceWire, ...ProblemResponses },
      },
      handler: async (request, reply) => {
        let id: string;
        let visibleTo: string | undefined;
        if (serviceChecksVisibility) {
          id = request.params.id.toLowerCase();
          visibleTo = agentScope(request) ?? undefined;
        } else {
          id = (await visible(request, request.params.id)).id;
        }
        return answerRecorded(
          request,
          reply,
          200,
          (onOutcome) => run(id, request, onOutcome, visibleTo),
          remittanceToWire,
        );
      },
    });

  Transition(
    '/v1/remittances/:id/fund',
    "The origin agent took the sender's cash: reserve the amount on the ledger",
    ACTORS,
    undefined,
    (id, request, onOutcome, visibleTo) =>
      remittances.fund(id, actorOf(request), onOutcome, visibleTo),
    true,
  );
  Transition(
    '/v1/remittances/:id/accept',
    'The awaited agent accepts its hop (the payout agent: only with enough cash on hand)',
    ACTORS,
    undefined,
    (id, request, onOutcome, visibleTo) =>
      remittances.accept(id, actorOf(request), onOutcome, visibleTo),
    true,
  );
  const ReasonBody = Body({ reason: Reason });
  Transition(
    '/v1/remittances/:id/decline',
    'The awaited agent declines: reroute within the quoted cost, else refund',
    ACTORS,
    ReasonBody,
    (id, request) =>
      remittances.decline(id, actorOf(request), (request.body as { reason: string }).reason),
  );
  const PayoutBody = Body({
    code: Type.Optional(Type.String({ minLength: 1, maxLength: 40 })),
    id_document_ref: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    codeword: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  });
  Transition(
    '/v1/remittances/:id/payout',
    "The payout agent checked the recipient's proofs and paid: every reservation posts",
    ACTORS,
    PayoutBody,
    (id, request, onOutcome, visibleTo) => {
      const b = request.body as Static<typeof PayoutBody>;
      return remittances.payout(
        id,
        {
          ...(b.code === undefined ? {} : { code: b.code }),
          ...(b.id_document_ref === undefined ? {} : { idDocumentRef: b.id_document_ref }),
          ...(b.codeword === undefined ? {} : { codeword: b.codeword }),
        },
        actorOf(request),
        onOutcome,
        visibleTo,
      );
    },
    true,
  );
  Transition(
    '/v1/remittances/:id/cancel',
    'Cancel: before funding nothing moves; after funding the sender is refunded',
    ACTORS,
    ReasonBody,
    (id, request) =>
      remittances.cancel(id, actorOf(request), (request.body as { reason: string }).reason),
  );
  const ResolveBody = Body({
    action: Type.Union([Type.Literal('resume'), Type.Literal('refund')]),
    reason: Reason,
  });
  Transition(
    '/v1/remittances/:id/resolve',
    'Resolve a held remittance: resume (reroute) or refund through its origin agent',
    OPERATOR,
    ResolveBody,
    (id, request) => {
      const b = request.body as Static<typeof ResolveBody>;
      return remittances.resolveHeld(id, b.action, actorOf(request), b.reason);
    },
  );
  const WriteOffBody = Body({ refund_via_agent_id: Id, reason: Reason });
  Transition(
    '/v1/remittances/:id/write-off',
    "Book the loss of a held remittance whose origin agent is gone with the sender's cash",
    OPERATOR,
    WriteOffBody,
    (id, request) => {
      const b = request.body as Static<typeof WriteOffBody>;
      return remittances.writeOff(
        id,
        { refundViaAgentId: b.refund_via_agent_id.toLowerCase() },
        actorOf(request),
        b.reason,
      );
    },
  );

  const ReissueBody = Body({ reason: Reason });
  defineRoute<IdParams & { Body: Static<typeof ReissueBody> }>(app, {
    method: 'POST',
    url: '/v1/remittances/:id/reissue-code',
    access: OPERATOR,
    idempotent: true,
    summary: 'Issue a new payout code (the old one stops working); shown once',
    description:
      'The new code is in this answer only. A retry with the same Idempotency-Key issues no other code: it answers the remittance with `payout_code: null` (the code is stored nowhere, only its hash).',
    tags: ['remittances'],
    schema: {
      params: Params,
      body: ReissueBody,
      response: {
        200: Type.Object({
          remittance: RemittanceWire,
          payout_code: Type.Union([Type.String(), Type.Null()], {
            description: 'The new code, shown once; null on a replay',
          }),
        }),
        ...ProblemResponses,
      },
    },
    handler: async (request) => {
      const record = request.idempotencyRecord;
      request.idempotencySecret = true;
      const r = await remittances.reissuePayoutCode(
        request.params.id.toLowerCase(),
        actorOf(request),
        request.body.reason,
        // The Idempotency-Key answer goes with the new code's hash, in one transaction, and
        // without the code: a retry replays it and issues nothing.
        record === null
          ? undefined
          : (tx, remittance) =>
              record(tx, {
                status: 200,
                contentType: JSON_TYPE,
                body: JSON.stringify({
                  remittance: remittanceToWire(remittance),
                  payout_code: null,
                }),
              }),
      );
      return { remittance: remittanceToWire(r.remittance), payout_code: r.payoutCode };
    },
  });
}
