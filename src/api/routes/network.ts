/**
 * Network routes: agents (create, read, update, cash, exposure limits, exposure, statement,
 * tasks, suspend, reinstate), links and their rate tables, customers, quotes.
 *
 * Operators administer; auditors read everything; an agent reads only itself, reports its
 * own cash, registers customers and asks quotes from itself as origin. Anything of another
 * agent answers 404 to an agent, like something that does not exist.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { isCurrencyCode, parseAmount, type CurrencyCode } from '../../money/index.ts';
import {
  positionId,
  type Actor,
  type AgentRole,
  type AgentStatus,
  type QuoteOptions,
} from '../../network/index.ts';
import { RemitnetError, type Remitnet } from '../../remittances/index.ts';
import type { ApiContext } from '../app.ts';
import { ApiError } from '../problem.ts';
import {
  ACTORS,
  agentScope,
  answerRecorded,
  defineRoute,
  OPERATOR,
  OVERSIGHT,
  principalOf,
  READERS,
} from '../route.ts';
import { Body, Id, Money, Page, PageQuery, parseLimit, ProblemResponses } from '../schemas.ts';
import { fromWireMoney, toWireMoney } from '../wire.ts';
import {
  AgentWire,
  agentToWire,
  Commission,
  Contact,
  CustomerData,
  customerDataFromWire,
  CustomerWire,
  customerToWire,
  ExposureWire,
  exposureToWire,
  LinkWire,
  linkToWire,
  Location,
  QuoteWire,
  quoteToWire,
  Rate,
  rateFromWire,
  remittanceToWire,
  RemittanceWire,
  SuspensionWire,
  suspensionToWire,
} from './domain-wire.ts';
import { LedgerTransfer, transferToWire } from './ledger.ts';

/** The domain actor a request acts as. Auditors never reach a writing route. */
export function actorOf(request: FastifyRequest): Actor {
  const p = principalOf(request);
  if (p.role === 'agent') return { kind: 'agent', id: p.agentId! };
  if (p.role === 'operator') return { kind: 'operator', id: p.keyId };
  throw new ApiError('forbidden', 'an auditor key reads, it never acts');
}

/** 404 for an agent asking about another agent. */
export function requireOwnAgent(request: FastifyRequest, agentId: string): void {
  const scope = agentScope(request);
  if (scope !== null && scope !== agentId.toLowerCase()) {
    throw new ApiError('not_found', 'no agent with this id is visible to this key');
  }
}

function currencyOf(text: string): CurrencyCode {
  if (!isCurrencyCode(text)) {
    throw new ApiError(
      'invalid_request',
      `${JSON.stringify(text)} is not a currency remitnet knows`,
    );
  }
  return text;
}

function decimalMinor(text: string, cur: string): bigint {
  return parseAmount(text, cur);
}

function moneyRecord(list: readonly Money[] | undefined): Partial<Record<CurrencyCode, bigint>> {
  const out: Partial<Record<CurrencyCode, bigint>> = {};
  for (const m of list ?? []) {
    const { amountMinor, currency } = fromWireMoney(m);
    if (out[currency] !== undefined) {
      throw new ApiError('invalid_request', `${currency} is given twice`);
    }
    out[currency] = amountMinor;
  }
  return out;
}

const AgentRoles = Type.Array(
  Type.Union([Type.Literal('origin'), Type.Literal('intermediary'), Type.Literal('payout')]),
  { minItems: 1, maxItems: 3, uniqueItems: true },
);
const Currencies = Type.Array(Type.String({ pattern: '^[A-Z]{3}$' }), {
  minItems: 1,
  maxItems: 20,
  uniqueItems: true,
});
const Reason = Type.String({ minLength: 1, maxLength: 500 });

const CreateAgent = Body({
  name: Type.String({ minLength: 1, maxLength: 200 }),
  location: Location,
  currencies: Currencies,
  roles: AgentRoles,
  contact: Contact,
  commissions: Type.Optional(Type.Array(Commission, { maxItems: 50 })),
  exposure_limits: Type.Optional(Type.Array(Money, { maxItems: 20 })),
  cash_on_hand: Type.Optional(Type.Array(Money, { maxItems: 20 })),
});

const UpdateAgent = Body({
  name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  location: Type.Optional(Location),
  currencies: Type.Optional(Currencies),
  roles: Type.Optional(AgentRoles),
  contact: Type.Optional(Contact),
  commissions: Type.Optional(Type.Array(Commission, { maxItems: 50 })),
});

function commissionsFromWire(list: readonly Static<typeof Commission>[] | undefined) {
  return (list ?? []).map((c) => {
    const cur = currencyOf(c.currency);
    return {
      corridor: c.corridor,
      currency: cur,
      percent: c.percent,
      fixedMinor: decimalMinor(c.fixed, cur),
      minimumMinor: decimalMinor(c.minimum, cur),
    };
  });
}

function sendCurrency(fromSend: CurrencyCode | undefined, given: string | undefined): CurrencyCode {
  if (fromSend !== undefined) {
    if (given !== undefined && given !== fromSend) {
      throw new ApiError('invalid_request', 'send_currency differs from the currency of send');
    }
    return fromSend;
  }
  if (given === undefined)
    throw new ApiError('invalid_request', 'a deliver quote needs send_currency');
  return currencyOf(given);
}

const AgentParams = Type.Object({ id: Id });
type AgentIdParams = { Params: { id: string } };

export function registerNetworkRoutes(
  app: FastifyInstance,
  ctx: ApiContext,
  remitnet: Remitnet,
): void {
  const { network, remittances } = remitnet;
  void ctx;

  // ---- agents ------------------------------------------------------------------------

  defineRoute<{ Body: Static<typeof CreateAgent> }>(app, {
    method: 'POST',
    url: '/v1/agents',
    access: OPERATOR,
    idempotent: true,
    status: 201,
    summary: 'Register an agent (its ledger accounts are created with it)',
    tags: ['agents'],
    schema: { body: CreateAgent, response: { 201: AgentWire, ...ProblemResponses } },
    handler: async (request) => {
      const b = request.body;
      const agent = await network.createAgent(
        {
          name: b.name,
          location: b.location,
          currencies: b.currencies.map(currencyOf),
          roles: b.roles as AgentRole[],
          contact: b.contact,
          commissions: commissionsFromWire(b.commissions),
          exposureLimits: moneyRecord(b.exposure_limits),
          cashOnHand: moneyRecord(b.cash_on_hand),
        },
        actorOf(request),
      );
      return agentToWire(agent);
    },
  });

  defineRoute<{
    Querystring: { status?: string; country?: string; limit?: string; cursor?: string };
  }>(app, {
    method: 'GET',
    url: '/v1/agents',
    access: OVERSIGHT,
    summary: 'List agents (the current agent list FATF R.14 asks for)',
    tags: ['agents'],
    schema: {
      querystring: Type.Object(
        {
          ...PageQuery,
          status: Type.Optional(
            Type.Union([
              Type.Literal('active'),
              Type.Literal('suspended'),
              Type.Literal('unreachable'),
            ]),
          ),
          country: Type.Optional(Type.String({ pattern: '^[A-Z]{2}$' })),
        },
        { additionalProperties: false },
      ),
      response: { 200: Page(AgentWire, 'agents'), ...ProblemResponses },
    },
    handler: async (request) => {
      const q = request.query;
      const page = await network.listAgents({
        ...(q.status === undefined ? {} : { status: q.status as AgentStatus }),
        ...(q.country === undefined ? {} : { country: q.country }),
        limit: parseLimit(q.limit, 50, 500),
        ...(q.cursor === undefined ? {} : { cursor: q.cursor }),
      });
      return { items: page.items.map(agentToWire), next_cursor: page.nextCursor ?? null };
    },
  });

  defineRoute<AgentIdParams>(app, {
    method: 'GET',
    url: '/v1/agents/:id',
    access: READERS,
    summary: 'An agent (an agent key: only itself)',
    tags: ['agents'],
    schema: { params: AgentParams, response: { 200: AgentWire, ...ProblemResponses } },
    handler: async (request) => {
      requireOwnAgent(request, request.params.id);
      return agentToWire(await network.getAgent(request.params.id.toLowerCase()));
    },
  });

  defineRoute<AgentIdParams & { Body: Static<typeof UpdateAgent> }>(app, {
    method: 'PATCH',
    url: '/v1/agents/:id',
    access: OPERATOR,
    summary: 'Change an agent: name, location, currencies (add only), roles, contact, commissions',
    tags: ['agents'],
    schema: {
      params: AgentParams,
      body: UpdateAgent,
      response: { 200: AgentWire, ...ProblemResponses },
    },
    handler: async (request) => {
      const b = request.body;
      const agent = await network.updateAgent(
        request.params.id.toLowerCase(),
        {
          ...(b.name === undefined ? {} : { name: b.name }),
          ...(b.location === undefined ? {} : { location: b.location }),
          ...(b.currencies === undefined ? {} : { currencies: b.currencies.map(currencyOf) }),
          ...(b.roles === undefined ? {} : { roles: b.roles as AgentRole[] }),
          ...(b.contact === undefined ? {} : { contact: b.contact }),
          ...(b.commissions === undefined
            ? {}
            : { commissions: commissionsFromWire(b.commissions) }),
        },
        actorOf(request),
      );
      return agentToWire(agent);
    },
  });

  const CashBody = Body({ cash: Money });
  defineRoute<AgentIdParams & { Body: Static<typeof CashBody> }>(app, {
    method: 'POST',
    url: '/v1/agents/:id/cash',
    access: ACTORS,
    idempotent: true,
    summary: 'Report the cash an agent has on hand in one currency (agents: their own)',
    tags: ['agents'],
    schema: {
      params: AgentParams,
      body: CashBody,
      response: { 200: AgentWire, ...ProblemResponses },
    },
    handler: async (request) => {
      requireOwnAgent(request, request.params.id);
      const { amountMinor, currency } = fromWireMoney(request.body.cash);
      return agentToWire(
        await network.reportCash(
          request.params.id.toLowerCase(),
          currency,
          amountMinor,
          actorOf(request),
        ),
      );
    },
  });

  const LimitBody = Body({ limit: Money });
  defineRoute<AgentIdParams & { Body: Static<typeof LimitBody> }>(app, {
    method: 'POST',
    url: '/v1/agents/:id/exposure-limit',
    access: OPERATOR,
    idempotent: true,
    summary: 'Set the most an agent may owe the network in a currency (booked on the ledger)',
    tags: ['agents'],
    schema: {
      params: AgentParams,
      body: LimitBody,
      response: { 200: AgentWire, ...ProblemResponses },
    },
    handler: async (request) => {
      const { amountMinor, currency } = fromWireMoney(request.body.limit);
      return agentToWire(
        await network.setExposureLimit(
          request.params.id.toLowerCase(),
          currency,
          amountMinor,
          actorOf(request),
        ),
      );
    },
  });

  defineRoute<AgentIdParams>(app, {
    method: 'GET',
    url: '/v1/agents/:id/exposure',
    access: READERS,
    summary:
      'What the network stands to lose with an agent: positions, cash, remittances in flight',
    tags: ['agents'],
    schema: { params: AgentParams, response: { 200: ExposureWire, ...ProblemResponses } },
    handler: async (request) => {
      requireOwnAgent(request, request.params.id);
      return exposureToWire(await remittances.exposure(request.params.id.toLowerCase()));
    },
  });

  defineRoute<
    AgentIdParams & { Querystring: { currency: string; limit?: string; cursor?: string } }
  >(app, {
    method: 'GET',
    url: '/v1/agents/:id/statement',
    access: READERS,
    summary: "An agent's statement in one currency: every entry on its position account",
    tags: ['agents'],
    schema: {
      params: AgentParams,
      querystring: Type.Object(
        { ...PageQuery, currency: Type.String({ pattern: '^[A-Z]{3}$' }) },
        { additionalProperties: false },
      ),
      response: { 200: Page(LedgerTransfer, 'statement entries'), ...ProblemResponses },
    },
    handler: async (request) => {
      requireOwnAgent(request, request.params.id);
      const id = request.params.id.toLowerCase();
      const agent = await network.getAgent(id);
      const cur = currencyOf(request.query.currency);
      if (!agent.currencies.includes(cur)) {
        throw new ApiError('not_found', `the agent has no ${cur} account`);
      }
      const page = await ctx.ledger.getAccountTransfers({
        accountId: positionId(id, cur),
        limit: parseLimit(request.query.limit),
        ...(request.query.cursor === undefined ? {} : { cursor: request.query.cursor }),
      });
      return { items: page.transfers.map(transferToWire), next_cursor: page.nextCursor ?? null };
    },
  });

  defineRoute<AgentIdParams>(app, {
    method: 'GET',
    url: '/v1/agents/:id/tasks',
    access: READERS,
    summary: 'What awaits an agent: hops to accept or decline, payouts to make',
    tags: ['agents'],
    schema: {
      params: AgentParams,
      response: {
        200: Type.Object({
          accept: Type.Array(RemittanceWire),
          pay_out: Type.Array(RemittanceWire),
        }),
        ...ProblemResponses,
      },
    },
    handler: async (request) => {
      requireOwnAgent(request, request.params.id);
      const id = request.params.id.toLowerCase();
      const [funded, ready] = await Promise.all([
        remittances.list({ agentId: id, state: 'funded', limit: 500 }),
        remittances.list({ agentId: id, state: 'ready', limit: 500 }),
      ]);
      return {
        accept: funded.items.filter((r) => r.awaitingAgentId === id).map(remittanceToWire),
        pay_out: ready.items.filter((r) => r.payoutAgentId === id).map(remittanceToWire),
      };
    },
  });

  const SuspendBody = Body({
    reason: Reason,
    policy: Type.Optional(
      Type.Union([Type.Literal('reroute'), Type.Literal('hold'), Type.Literal('refund')]),
    ),
    status: Type.Optional(Type.Union([Type.Literal('suspended'), Type.Literal('unreachable')])),
  });
  defineRoute<AgentIdParams & { Body: Static<typeof SuspendBody> }>(app, {
    method: 'POST',
    url: '/v1/agents/:id/suspend',
    access: OPERATOR,
    idempotent: true,
    summary: 'Suspend an agent and apply a policy to remittances in flight through it',
    tags: ['agents'],
    schema: {
      params: AgentParams,
      body: SuspendBody,
      response: { 200: SuspensionWire, ...ProblemResponses },
    },
    handler: async (request) => {
      const b = request.body;
      return suspensionToWire(
        await remittances.suspendAgent(
          request.params.id.toLowerCase(),
          {
            ...(b.policy === undefined ? {} : { policy: b.policy }),
            ...(b.status === undefined ? {} : { status: b.status }),
          },
          actorOf(request),
          b.reason,
        ),
      );
    },
  });

  const ReinstateBody = Body({ reason: Reason });
  defineRoute<AgentIdParams & { Body: Static<typeof ReinstateBody> }>(app, {
    method: 'POST',
    url: '/v1/agents/:id/reinstate',
    access: OPERATOR,
    idempotent: true,
    summary: 'Make a suspended or unreachable agent active again',
    tags: ['agents'],
    schema: {
      params: AgentParams,
      body: ReinstateBody,
      response: { 200: AgentWire, ...ProblemResponses },
    },
    handler: async (request) =>
      agentToWire(
        await network.setAgentStatus(
          request.params.id.toLowerCase(),
          'active',
          actorOf(request),
          request.body.reason,
        ),
      ),
  });

  const PositionWriteOff = Body({ amount: Money, reason: Reason });
  defineRoute<AgentIdParams & { Body: Static<typeof PositionWriteOff> }>(app, {
    method: 'POST',
    url: '/v1/agents/:id/write-off',
    access: OPERATOR,
    idempotent: true,
    summary: 'Write off what an agent owes the network on settled business (a booked loss)',
    tags: ['agents'],
    schema: {
      params: AgentParams,
      body: PositionWriteOff,
      response: { 200: Type.Object({ written_off: Money }), ...ProblemResponses },
    },
    handler: async (request) => {
      const { amountMinor, currency } = fromWireMoney(request.body.amount);
      await remittances.writeOffPosition(
        request.params.id.toLowerCase(),
        currency,
        amountMinor,
        `${principalOf(request).keyId}:${request.headers['idempotency-key'] as string}`,
        actorOf(request),
        request.body.reason,
      );
      return { written_off: toWireMoney(amountMinor, currency) };
    },
  });

  // ---- links -------------------------------------------------------------------------

  const CreateLink = Body({
    from_agent_id: Id,
    to_agent_id: Id,
    currency: Type.String({ pattern: '^[A-Z]{3}$' }),
    rates: Type.Optional(Type.Array(Rate, { maxItems: 50 })),
    expected_minutes: Type.Optional(Type.Integer({ minimum: 0, maximum: 525_600 })),
  });
  defineRoute<{ Body: Static<typeof CreateLink> }>(app, {
    method: 'POST',
    url: '/v1/links',
    access: OPERATOR,
    idempotent: true,
    status: 201,
    summary: 'Link two agents: the first hands value over to the second, in a currency',
    tags: ['links'],
    schema: { body: CreateLink, response: { 201: LinkWire, ...ProblemResponses } },
    handler: async (request) => {
      const b = request.body;
      return linkToWire(
        await network.createLink(
          {
            fromAgentId: b.from_agent_id.toLowerCase(),
            toAgentId: b.to_agent_id.toLowerCase(),
            currency: currencyOf(b.currency),
            rates: (b.rates ?? []).map(rateFromWire),
            ...(b.expected_minutes === undefined ? {} : { expectedMinutes: b.expected_minutes }),
          },
          actorOf(request),
        ),
      );
    },
  });

  defineRoute<{ Querystring: { agent_id?: string } }>(app, {
    method: 'GET',
    url: '/v1/links',
    access: OVERSIGHT,
    summary: 'Links, optionally of one agent',
    tags: ['links'],
    schema: {
      querystring: Type.Object({ agent_id: Type.Optional(Id) }, { additionalProperties: false }),
      response: { 200: Type.Object({ items: Type.Array(LinkWire) }), ...ProblemResponses },
    },
    handler: async (request) => {
      const a = request.query.agent_id;
      const links = await network.listLinks(a === undefined ? {} : { agentId: a.toLowerCase() });
      return { items: links.map(linkToWire) };
    },
  });

  defineRoute<AgentIdParams>(app, {
    method: 'GET',
    url: '/v1/links/:id',
    access: OVERSIGHT,
    summary: 'A link with its rate table',
    tags: ['links'],
    schema: { params: AgentParams, response: { 200: LinkWire, ...ProblemResponses } },
    handler: async (request) => linkToWire(await network.getLink(request.params.id.toLowerCase())),
  });

  const PatchLink = Body({
    rates: Type.Optional(Type.Array(Rate, { maxItems: 50 })),
    expected_minutes: Type.Optional(Type.Integer({ minimum: 0, maximum: 525_600 })),
    active: Type.Optional(Type.Boolean()),
  });
  defineRoute<AgentIdParams & { Body: Static<typeof PatchLink> }>(app, {
    method: 'PATCH',
    url: '/v1/links/:id',
    access: OPERATOR,
    summary: "Change a link's rate table, expected minutes, or switch it off",
    tags: ['links'],
    schema: {
      params: AgentParams,
      body: PatchLink,
      response: { 200: LinkWire, ...ProblemResponses },
    },
    handler: async (request) => {
      const b = request.body;
      return linkToWire(
        await network.updateLink(
          request.params.id.toLowerCase(),
          {
            ...(b.rates === undefined ? {} : { rates: b.rates.map(rateFromWire) }),
            ...(b.expected_minutes === undefined ? {} : { expectedMinutes: b.expected_minutes }),
            ...(b.active === undefined ? {} : { active: b.active }),
          },
          actorOf(request),
        ),
      );
    },
  });

  // ---- customers ---------------------------------------------------------------------

  const CreateCustomer = Body({
    role: Type.Union([Type.Literal('sender'), Type.Literal('recipient')]),
    name: Type.String({ minLength: 1, maxLength: 200 }),
    reference: Type.String({ minLength: 1, maxLength: 100 }),
    country: Type.Optional(Type.String({ pattern: '^[A-Z]{2}$' })),
    region: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    data: Type.Optional(CustomerData),
  });
  defineRoute<{ Body: Static<typeof CreateCustomer> }>(app, {
    method: 'POST',
    url: '/v1/customers',
    access: ACTORS,
    idempotent: true,
    status: 201,
    summary: 'Register a sender or recipient (only the data FATF R.16 and configuration need)',
    tags: ['customers'],
    schema: { body: CreateCustomer, response: { 201: CustomerWire, ...ProblemResponses } },
    handler: async (request) => {
      const b = request.body;
      return customerToWire(
        await network.createCustomer(
          {
            role: b.role,
            name: b.name,
            reference: b.reference,
            ...(b.country === undefined ? {} : { country: b.country }),
            ...(b.region === undefined ? {} : { region: b.region }),
            data: customerDataFromWire(b.data),
          },
          actorOf(request),
        ),
      );
    },
  });

  defineRoute<AgentIdParams>(app, {
    method: 'GET',
    url: '/v1/customers/:id',
    access: OVERSIGHT,
    summary: 'A customer (operators and auditors only: personal data)',
    tags: ['customers'],
    schema: { params: AgentParams, response: { 200: CustomerWire, ...ProblemResponses } },
    handler: async (request) =>
      customerToWire(await network.getCustomer(request.params.id.toLowerCase())),
  });

  // ---- quotes ------------------------------------------------------------------------

  const QuoteBody = Body({
    origin_agent_id: Type.Optional(Id),
    payout_country: Type.String({ pattern: '^[A-Z]{2}$' }),
    payout_region: Type.String({ minLength: 1, maxLength: 100 }),
    payout_currency: Type.String({ pattern: '^[A-Z]{3}$' }),
    send: Type.Optional(Money),
    deliver: Type.Optional(Money),
    send_currency: Type.Optional(
      Type.String({ pattern: '^[A-Z]{3}$', description: 'with deliver: what the sender pays in' }),
    ),
    options: Type.Optional(Type.Integer({ minimum: 1, maximum: 10 })),
  });
  defineRoute<{ Body: Static<typeof QuoteBody> }>(app, {
    method: 'POST',
    url: '/v1/quotes',
    access: ACTORS,
    idempotent: true,
    status: 201,
    summary: 'Price routes to a recipient: fix what the sender pays or what the recipient gets',
    description:
      'Give exactly one of `send` (the sender hands over this much) or `deliver` (the recipient gets this much). Options come best first: lowest total cost, then fastest, then best delivery record. An agent key quotes from itself as origin.',
    tags: ['quotes'],
    schema: {
      body: QuoteBody,
      response: {
        201: Type.Object({ quotes: Type.Array(QuoteWire) }),
        ...ProblemResponses,
      },
    },
    handler: async (request, reply) => {
      const b = request.body;
      const scope = agentScope(request);
      const origin = (b.origin_agent_id ?? scope)?.toLowerCase();
      if (origin === undefined || origin === null) {
        throw new ApiError('invalid_request', 'origin_agent_id is required for operator keys');
      }
      if (scope !== null && origin !== scope) {
        throw new ApiError('forbidden', 'an agent quotes only from itself as origin');
      }
      if ((b.send === undefined) === (b.deliver === undefined)) {
        throw new ApiError('invalid_request', 'give exactly one of send or deliver');
      }
      const send = b.send === undefined ? undefined : fromWireMoney(b.send);
      const deliver = b.deliver === undefined ? undefined : fromWireMoney(b.deliver);
      const payoutCurrency = currencyOf(b.payout_currency);
      if (deliver !== undefined && deliver.currency !== payoutCurrency) {
        throw new ApiError('invalid_request', 'deliver must be in payout_currency');
      }
      return answerRecorded(
        request,
        reply,
        201,
        (onStored) =>
          network.quote(
            {
              originAgentId: origin,
              payoutCountry: b.payout_country,
              payoutRegion: b.payout_region,
              payoutCurrency,
              sendCurrency: sendCurrency(send?.currency, b.send_currency),
              ...(send === undefined ? {} : { sendAmountMinor: send.amountMinor }),
              ...(deliver === undefined ? {} : { deliverAmountMinor: deliver.amountMinor }),
              ...(b.options === undefined ? {} : { options: b.options }),
            },
            onStored,
          ),
        (options: QuoteOptions) => ({ quotes: options.quotes.map(quoteToWire) }),
      );
    },
  });

  defineRoute<AgentIdParams>(app, {
    method: 'GET',
    url: '/v1/quotes/:id',
    access: READERS,
    summary: 'A quote (an agent key: only quotes from itself)',
    tags: ['quotes'],
    schema: { params: AgentParams, response: { 200: QuoteWire, ...ProblemResponses } },
    handler: async (request) => {
      const q = await network.getQuote(request.params.id.toLowerCase());
      const scope = agentScope(request);
      if (scope !== null && q.originAgentId !== scope) {
        // Exactly what an id that does not exist gets: ids are guessable (time-ordered).
        throw new RemitnetError('quote_not_found', request.params.id.toLowerCase());
      }
      return quoteToWire(q);
    },
  });
}
