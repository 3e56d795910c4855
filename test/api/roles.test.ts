/**
 * The role matrix: every route of the API, called by every kind of caller (no key, an
 * operator, an auditor, the agent whose business it is, and an agent that has nothing to
 * do with it), each against fresh state, with the exact status each must get.
 *
 * The test fails if a route exists that the matrix does not cover, so a new route cannot
 * ship without saying who may use it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCorridor, customers, QUOTE_BODY } from '../../bench/api-network.ts';
import { routeTable } from '../../src/api/route.ts';
import { idToHex } from '../../src/ledger/ids.ts';
import { positionId } from '../../src/network/index.ts';
import { corridorApi, type CorridorApi } from './support.ts';

type Who = 'anonymous' | 'operator' | 'auditor' | 'own' | 'other';
const WHO: readonly Who[] = ['anonymous', 'operator', 'auditor', 'own', 'other'];

interface Call {
  readonly url: string;
  readonly body?: unknown;
  /** Which agent key is "own" for this call. */
  readonly own: 'origin' | 'intermediary' | 'payout';
}

interface Case {
  /** Builds a fresh call for each caller (writes change state, so each gets its own). */
  readonly call: (who: Who) => Promise<Call>;
  /** Expected status per caller (anonymous is always 401 unless public). */
  readonly expect: Partial<Record<Who, number>>;
}

let t: CorridorApi;
let people: { sender: string; recipient: string };
let tagSeq = 0;

beforeAll(async () => {
  t = await corridorApi();
  people = await customers(t.caller('operator'));
});
afterAll(() => t.close());

async function ok(r: Promise<{ statusCode: number; body: string }>): Promise<unknown> {
  const res = await r;
  if (res.statusCode >= 300) throw new Error(`${res.statusCode} ${res.body}`);
  return JSON.parse(res.body) as unknown;
}

async function created(): Promise<{ id: string; code: string; quote: string }> {
  const q = (await ok(t.as(t.agentKeys.origin, 'POST', '/v1/quotes', QUOTE_BODY))) as {
    quotes: Array<{ id: string }>;
  };
  const c = (await ok(
    t.as(t.agentKeys.origin, 'POST', '/v1/remittances', {
      quote_id: q.quotes[0]!.id,
      sender_id: people.sender,
      recipient_id: people.recipient,
    }),
  )) as { remittance: { id: string }; payout_code: string };
  return { id: c.remittance.id, code: c.payout_code, quote: q.quotes[0]!.id };
}
async function funded() {
  const r = await created();
  await ok(t.as(t.agentKeys.origin, 'POST', `/v1/remittances/${r.id}/fund`));
  return r;
}
async function ready() {
  const r = await funded();
  await ok(t.as(t.agentKeys.intermediary, 'POST', `/v1/remittances/${r.id}/accept`));
  await ok(t.as(t.agentKeys.payout, 'POST', `/v1/remittances/${r.id}/accept`));
  return r;
}
/** A remittance held because its origin agent was suspended (a corridor of its own). */
async function held(): Promise<{ id: string; origin: string; via: string }> {
  const op = t.caller('operator');
  const c = await buildCorridor(op, ` h${++tagSeq}`);
  const key = (await t.app.remitnet.keys.create({ role: 'agent', agentId: c.origin })).key;
  const q = (await ok(t.as(key, 'POST', '/v1/quotes', QUOTE_BODY))) as {
    quotes: Array<{ id: string }>;
  };
  const r = (await ok(
    t.as(key, 'POST', '/v1/remittances', {
      quote_id: q.quotes[0]!.id,
      sender_id: people.sender,
      recipient_id: people.recipient,
    }),
  )) as { remittance: { id: string } };
  await ok(t.as(key, 'POST', `/v1/remittances/${r.remittance.id}/fund`));
  await ok(
    t.call('operator', 'POST', `/v1/agents/${c.origin}/suspend`, {
      reason: 'arrested',
      policy: 'hold',
    }),
  );
  return { id: r.remittance.id, origin: c.origin, via: c.intermediary };
}
async function throwawayAgent(): Promise<string> {
  const c = await buildCorridor(t.caller('operator'), ` t${++tagSeq}`);
  return c.origin;
}
async function newKeyId(): Promise<string> {
  return (await t.app.remitnet.keys.create({ role: 'auditor', label: 'to revoke' })).info.keyId;
}

const READ_ALL = { operator: 200, auditor: 200, own: 200, other: 404 };
const READ_OVERSIGHT = { operator: 200, auditor: 200, own: 403, other: 403 };
const OPERATOR_ONLY = (status: number) => ({
  operator: status,
  auditor: 403,
  own: 403,
  other: 403,
});
const ACT = (status: number) => ({ operator: status, auditor: 403, own: status, other: 404 });

const C = (own: Call['own'], url: string, body?: unknown): Call => ({
  own,
  url,
  ...(body === undefined ? {} : { body }),
});

function cases(): Record<string, Case> {
  const { origin, payout } = t.corridor;
  const account = () => idToHex(positionId(payout, 'CNY'));
  return {
    'GET /healthz': { call: async () => C('origin', '/healthz'), expect: {} },
    'GET /readyz': { call: async () => C('origin', '/readyz'), expect: {} },
    'GET /metrics': { call: async () => C('origin', '/metrics'), expect: {} },
    'GET /v1/me': {
      call: async () => C('origin', '/v1/me'),
      expect: { operator: 200, auditor: 200, own: 200, other: 200 },
    },
    'POST /v1/keys': {
      call: async () => C('origin', '/v1/keys', { role: 'auditor', label: 'm' }),
      expect: OPERATOR_ONLY(201),
    },
    'GET /v1/keys': { call: async () => C('origin', '/v1/keys'), expect: READ_OVERSIGHT },
    'POST /v1/keys/:id/revoke': {
      call: async () => C('origin', `/v1/keys/${await newKeyId()}/revoke`),
      expect: OPERATOR_ONLY(200),
    },
    'GET /v1/ledger/accounts': {
      call: async () => C('payout', '/v1/ledger/accounts?limit=5'),
      expect: READ_OVERSIGHT,
    },
    'GET /v1/ledger/accounts/:id': {
      call: async () => C('payout', `/v1/ledger/accounts/${account()}`),
      expect: READ_ALL,
    },
    'GET /v1/ledger/accounts/:id/balance': {
      call: async () => C('payout', `/v1/ledger/accounts/${account()}/balance`),
      expect: READ_ALL,
    },
    'GET /v1/ledger/accounts/:id/transfers': {
      call: async () => C('payout', `/v1/ledger/accounts/${account()}/transfers`),
      expect: READ_ALL,
    },
    'GET /v1/ledger/transfers/:id': {
      call: async () => {
        const page = (await ok(
          t.call('operator', 'GET', `/v1/ledger/accounts/${account()}/transfers?limit=1`),
        )) as { items: Array<{ id: string }> };
        return C('payout', `/v1/ledger/transfers/${page.items[0]!.id}`);
      },
      expect: READ_ALL,
    },
    'POST /v1/agents': {
      call: async () =>
        C('origin', '/v1/agents', {
          name: `New agent ${++tagSeq}`,
          location: { country: 'CN', region: 'Jilin', city: 'Tumen' },
          currencies: ['CNY'],
          roles: ['intermediary'],
          contact: { kind: 'phone', address: '+86 1' },
        }),
      expect: OPERATOR_ONLY(201),
    },
    'GET /v1/agents': { call: async () => C('origin', '/v1/agents'), expect: READ_OVERSIGHT },
    'GET /v1/agents/:id': {
      call: async () => C('origin', `/v1/agents/${origin}`),
      expect: READ_ALL,
    },
    'PATCH /v1/agents/:id': {
      call: async () => C('origin', `/v1/agents/${origin}`, { name: `Seoul broker ${++tagSeq}` }),
      expect: OPERATOR_ONLY(200),
    },
    'POST /v1/agents/:id/cash': {
      call: async () =>
        C('payout', `/v1/agents/${payout}/cash`, {
          cash: { amount: '10000000000.00', currency: 'CNY' },
        }),
      expect: ACT(200),
    },
    'POST /v1/agents/:id/exposure-limit': {
      call: async () =>
        C('origin', `/v1/agents/${await throwawayAgent()}/exposure-limit`, {
          limit: { amount: '2000000000000', currency: 'KRW' },
        }),
      expect: OPERATOR_ONLY(200),
    },
    'GET /v1/agents/:id/exposure': {
      call: async () => C('payout', `/v1/agents/${payout}/exposure`),
      expect: READ_ALL,
    },
    'GET /v1/agents/:id/statement': {
      call: async () => C('payout', `/v1/agents/${payout}/statement?currency=CNY`),
      expect: READ_ALL,
    },
    'GET /v1/agents/:id/tasks': {
      call: async () => C('payout', `/v1/agents/${payout}/tasks`),
      expect: READ_ALL,
    },
    'POST /v1/agents/:id/suspend': {
      call: async () =>
        C('origin', `/v1/agents/${await throwawayAgent()}/suspend`, { reason: 'r' }),
      expect: OPERATOR_ONLY(200),
    },
    'POST /v1/agents/:id/reinstate': {
      call: async () => {
        const a = await throwawayAgent();
        await ok(t.call('operator', 'POST', `/v1/agents/${a}/suspend`, { reason: 'r' }));
        return C('origin', `/v1/agents/${a}/reinstate`, { reason: 'back' });
      },
      expect: OPERATOR_ONLY(200),
    },
    'POST /v1/agents/:id/write-off': {
      // An agent that owes something (a held remittance posted its funding): only a debt can
      // be written off.
      call: async () =>
        C('origin', `/v1/agents/${(await held()).origin}/write-off`, {
          amount: { amount: '100', currency: 'KRW' },
          reason: 'gone',
        }),
      expect: OPERATOR_ONLY(200),
    },
    'POST /v1/links': {
      call: async () => {
        const [a, b] = [await throwawayAgent(), await throwawayAgent()];
        return C('origin', '/v1/links', { from_agent_id: a, to_agent_id: b, currency: 'KRW' });
      },
      expect: OPERATOR_ONLY(201),
    },
    'GET /v1/links': { call: async () => C('origin', '/v1/links'), expect: READ_OVERSIGHT },
    'GET /v1/links/:id': {
      call: async () => {
        const links = (await ok(t.call('operator', 'GET', '/v1/links'))) as {
          items: Array<{ id: string }>;
        };
        return C('origin', `/v1/links/${links.items[0]!.id}`);
      },
      expect: READ_OVERSIGHT,
    },
    'PATCH /v1/links/:id': {
      call: async () => {
        const links = (await ok(
          t.call('operator', 'GET', `/v1/links?agent_id=${t.corridor.intermediary}`),
        )) as { items: Array<{ id: string; from_agent_id: string }> };
        const l = links.items.find((x) => x.from_agent_id === t.corridor.intermediary)!;
        return C('origin', `/v1/links/${l.id}`, { expected_minutes: 30 });
      },
      expect: OPERATOR_ONLY(200),
    },
    'POST /v1/customers': {
      call: async () =>
        C('origin', '/v1/customers', { role: 'sender', name: 'Park', reference: `S-${++tagSeq}` }),
      expect: { operator: 201, auditor: 403, own: 201, other: 201 },
    },
    'GET /v1/customers/:id': {
      call: async () => C('origin', `/v1/customers/${people.sender}`),
      expect: READ_OVERSIGHT,
    },
    'POST /v1/quotes': {
      call: async () => C('origin', '/v1/quotes', { ...QUOTE_BODY, origin_agent_id: origin }),
      expect: { operator: 201, auditor: 403, own: 201, other: 403 },
    },
    'GET /v1/quotes/:id': {
      call: async () => C('origin', `/v1/quotes/${(await created()).quote}`),
      expect: READ_ALL,
    },
    'POST /v1/remittances': {
      call: async () => {
        const q = (await ok(t.as(t.agentKeys.origin, 'POST', '/v1/quotes', QUOTE_BODY))) as {
          quotes: Array<{ id: string }>;
        };
        return C('origin', '/v1/remittances', {
          quote_id: q.quotes[0]!.id,
          sender_id: people.sender,
          recipient_id: people.recipient,
        });
      },
      expect: ACT(201),
    },
    'GET /v1/remittances': {
      call: async () => C('origin', '/v1/remittances'),
      expect: { operator: 200, auditor: 200, own: 200, other: 200 },
    },
    'GET /v1/remittances/:id': {
      call: async () => C('origin', `/v1/remittances/${(await created()).id}`),
      expect: READ_ALL,
    },
    'GET /v1/remittances/:id/timeline': {
      call: async () => C('origin', `/v1/remittances/${(await created()).id}/timeline`),
      expect: READ_ALL,
    },
    'GET /v1/remittances/:id/history': {
      call: async () => C('origin', `/v1/remittances/${(await created()).id}/history`),
      expect: READ_OVERSIGHT,
    },
    'POST /v1/remittances/:id/fund': {
      call: async () => C('origin', `/v1/remittances/${(await created()).id}/fund`),
      expect: ACT(200),
    },
    'POST /v1/remittances/:id/accept': {
      call: async () => C('intermediary', `/v1/remittances/${(await funded()).id}/accept`),
      expect: ACT(200),
    },
    'POST /v1/remittances/:id/decline': {
      call: async () =>
        C('intermediary', `/v1/remittances/${(await funded()).id}/decline`, { reason: 'no cash' }),
      expect: ACT(200),
    },
    'POST /v1/remittances/:id/payout': {
      call: async () => {
        const r = await ready();
        return C('payout', `/v1/remittances/${r.id}/payout`, { code: r.code });
      },
      expect: ACT(200),
    },
    'POST /v1/remittances/:id/cancel': {
      call: async () =>
        C('origin', `/v1/remittances/${(await created()).id}/cancel`, { reason: 'changed mind' }),
      expect: ACT(200),
    },
    'POST /v1/remittances/:id/reissue-code': {
      call: async () =>
        C('payout', `/v1/remittances/${(await ready()).id}/reissue-code`, { reason: 'lost' }),
      expect: OPERATOR_ONLY(200),
    },
    'POST /v1/remittances/:id/resolve': {
      call: async () => {
        const h = await held();
        await ok(
          t.call('operator', 'POST', `/v1/agents/${h.origin}/reinstate`, { reason: 'back' }),
        );
        return C('origin', `/v1/remittances/${h.id}/resolve`, { action: 'refund', reason: 'r' });
      },
      expect: OPERATOR_ONLY(200),
    },
    'POST /v1/remittances/:id/write-off': {
      call: async () => {
        const h = await held();
        return C('origin', `/v1/remittances/${h.id}/write-off`, {
          refund_via_agent_id: h.via,
          reason: 'origin gone with the cash',
        });
      },
      expect: OPERATOR_ONLY(200),
    },
  };
}

describe('role matrix', () => {
  it('covers every route', () => {
    const table = routeTable(t.app).map((r) => `${r.method} ${r.url}`);
    expect(Object.keys(cases()).sort()).toEqual([...new Set(table)].sort());
  });

  it('gives every caller exactly its due on every route', async () => {
    const table = routeTable(t.app);
    const all = cases();
    const failures: string[] = [];
    let calls = 0;
    for (const route of table) {
      const name = `${route.method} ${route.url}`;
      const c = all[name]!;
      for (const who of WHO) {
        const call = await c.call(who);
        const key =
          who === 'anonymous'
            ? null
            : who === 'operator'
              ? t.keys.operator
              : who === 'auditor'
                ? t.keys.auditor
                : who === 'other'
                  ? t.keys.agentA
                  : t.agentKeys[call.own];
        const headers: Record<string, string> = {};
        if (key !== null) headers.authorization = `Bearer ${key}`;
        if (route.method !== 'GET') headers['idempotency-key'] = `matrix-${++calls}`;
        const r = await t.app.inject({
          method: route.method,
          url: call.url,
          headers,
          ...(call.body === undefined ? {} : { payload: call.body as object }),
        });
        const want =
          route.access === 'public' ? 200 : who === 'anonymous' ? 401 : (c.expect[who] ?? NaN);
        if (r.statusCode !== want) {
          failures.push(
            `${name} as ${who}: got ${r.statusCode}, want ${want}: ${r.body.slice(0, 160)}`,
          );
        }
        if (r.statusCode === 403 && who !== 'other') {
          // An access-control refusal says so with the stable code.
          expect(r.json().code).toBe('forbidden');
        }
      }
    }
    expect(failures).toEqual([]);
  });
});
