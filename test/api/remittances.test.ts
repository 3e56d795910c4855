/**
 * A complete two-hop remittance through the HTTP API, each step by the key of the agent
 * who does it, plus the conventions: problem codes, replay, scoping.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { customers, QUOTE_BODY } from '../../bench/api-network.ts';
import { corridorApi, type CorridorApi } from './support.ts';

let t: CorridorApi;
let people: { sender: string; recipient: string };

beforeAll(async () => {
  t = await corridorApi();
  people = await customers(t.caller('operator'));
});
afterAll(() => t.close());

async function newRemittance(): Promise<{ id: string; code: string }> {
  const q = await t.as(t.agentKeys.origin, 'POST', '/v1/quotes', QUOTE_BODY);
  expect(q.statusCode, q.body).toBe(201);
  const quote = q.json().quotes[0];
  const c = await t.as(t.agentKeys.origin, 'POST', '/v1/remittances', {
    quote_id: quote.id,
    sender_id: people.sender,
    recipient_id: people.recipient,
  });
  expect(c.statusCode, c.body).toBe(201);
  return { id: c.json().remittance.id, code: c.json().payout_code };
}

describe('a two-hop remittance over HTTP', () => {
  it('goes quote -> create -> fund -> accept, accept -> pay out -> completed', async () => {
    const q = await t.as(t.agentKeys.origin, 'POST', '/v1/quotes', QUOTE_BODY);
    const quote = q.json().quotes[0];
    expect(quote.hops).toBe(2);
    expect(quote.send).toEqual({ amount: '500000', currency: 'KRW' });
    expect(quote.deliver.currency).toBe('CNY');
    expect(typeof quote.deliver.amount).toBe('string');

    const { id, code } = await newRemittance();
    expect(code).toMatch(/^[0-9A-Z-]+$/);
    const fund = await t.as(t.agentKeys.origin, 'POST', `/v1/remittances/${id}/fund`);
    expect(fund.statusCode, fund.body).toBe(200);
    expect(fund.json().state).toBe('funded');

    // Only the awaited agent may accept.
    const wrong = await t.as(t.agentKeys.payout, 'POST', `/v1/remittances/${id}/accept`);
    expect(wrong.statusCode).toBe(403);
    expect(wrong.headers['content-type']).toMatch(/problem\+json/);
    expect(wrong.json().code).toBe('actor_not_allowed');

    const a1 = await t.as(t.agentKeys.intermediary, 'POST', `/v1/remittances/${id}/accept`);
    expect(a1.statusCode, a1.body).toBe(200);
    const tasks = await t.as(t.agentKeys.payout, 'GET', `/v1/agents/${t.corridor.payout}/tasks`);
    expect(tasks.json().accept.map((r: { id: string }) => r.id)).toContain(id);
    const a2 = await t.as(t.agentKeys.payout, 'POST', `/v1/remittances/${id}/accept`);
    expect(a2.statusCode, a2.body).toBe(200);
    expect(a2.json().state).toBe('ready');

    const bad = await t.as(t.agentKeys.payout, 'POST', `/v1/remittances/${id}/payout`, {
      code: '0000-0000-000',
    });
    expect(bad.statusCode).toBeGreaterThanOrEqual(400);
    expect(bad.statusCode).toBeLessThan(500);

    const paid = await t.as(t.agentKeys.payout, 'POST', `/v1/remittances/${id}/payout`, { code });
    expect(paid.statusCode, paid.body).toBe(200);
    expect(['paid', 'completed']).toContain(paid.json().state);

    const timeline = await t.as(t.agentKeys.origin, 'GET', `/v1/remittances/${id}/timeline`);
    expect(timeline.statusCode).toBe(200);
    expect(timeline.json().items.length).toBeGreaterThan(3);

    const statement = await t.as(
      t.agentKeys.payout,
      'GET',
      `/v1/agents/${t.corridor.payout}/statement?currency=CNY`,
    );
    expect(statement.statusCode, statement.body).toBe(200);
    expect(statement.json().items.length).toBeGreaterThan(0);
  });

  it('replays a transition with the same Idempotency-Key and refuses another body', async () => {
    const { id } = await newRemittance();
    const h = { 'idempotency-key': `fund-${id}` };
    const r1 = await t.as(t.agentKeys.origin, 'POST', `/v1/remittances/${id}/fund`, undefined, h);
    const r2 = await t.as(t.agentKeys.origin, 'POST', `/v1/remittances/${id}/fund`, undefined, h);
    expect(r1.statusCode).toBe(200);
    expect(r2.statusCode).toBe(200);
    expect(r2.body).toBe(r1.body);
    expect(r2.headers['idempotent-replayed']).toBe('true');
    const r3 = await t.as(
      t.agentKeys.origin,
      'POST',
      `/v1/remittances/${id}/cancel`,
      { reason: 'x' },
      h,
    );
    expect(r3.statusCode).toBe(409);
    expect(r3.json().code).toBe('idempotency_key_reused');
  });

  it('replays a create without the payout code', async () => {
    const q = (await t.as(t.agentKeys.origin, 'POST', '/v1/quotes', QUOTE_BODY)).json().quotes[0];
    const body = { quote_id: q.id, sender_id: people.sender, recipient_id: people.recipient };
    const h = { 'idempotency-key': `create-${q.id}` };
    const r1 = await t.as(t.agentKeys.origin, 'POST', '/v1/remittances', body, h);
    const r2 = await t.as(t.agentKeys.origin, 'POST', '/v1/remittances', body, h);
    expect(r1.json().payout_code).toBeTypeOf('string');
    expect(r2.statusCode).toBe(201);
    expect(r2.json().replayed).toBe(true);
    expect(r2.json().payout_code).toBeNull();
    expect(r2.json().remittance.id).toBe(r1.json().remittance.id);
    const r3 = await t.as(
      t.agentKeys.origin,
      'POST',
      '/v1/remittances',
      { ...body, codeword: 'x' },
      h,
    );
    expect(r3.statusCode).toBe(409);
  });

  it("hides other agents' remittances", async () => {
    const { id } = await newRemittance();
    expect((await t.call('agentA', 'GET', `/v1/remittances/${id}`)).statusCode).toBe(404);
    expect((await t.call('agentA', 'POST', `/v1/remittances/${id}/fund`)).statusCode).toBe(404);
    expect((await t.call('auditor', 'GET', `/v1/remittances/${id}`)).statusCode).toBe(200);
    expect((await t.call('auditor', 'POST', `/v1/remittances/${id}/fund`)).statusCode).toBe(403);
    const mine = await t.as(t.agentKeys.origin, 'GET', '/v1/remittances');
    expect(mine.json().items.map((r: { id: string }) => r.id)).toContain(id);
    const theirs = await t.call('agentA', 'GET', '/v1/remittances');
    expect(theirs.json().items).toHaveLength(0);
  });

  it("answers an agent creating from another agent's quote as for a quote that does not exist", async () => {
    const q = await t.as(t.agentKeys.origin, 'POST', '/v1/quotes', QUOTE_BODY);
    const quoteId: string = q.json().quotes[0].id;
    const missing = quoteId.slice(0, -4) + (quoteId.endsWith('0000') ? '1111' : '0000');
    const body = (id: string) => ({
      quote_id: id.toUpperCase(),
      sender_id: people.sender,
      recipient_id: people.recipient,
    });
    const theirs = await t.call('agentA', 'POST', '/v1/remittances', body(quoteId));
    const none = await t.call('agentA', 'POST', '/v1/remittances', body(missing));
    expect(theirs.statusCode, theirs.body).toBe(404);
    expect(theirs.json().code).toBe('quote_not_found');
    expect(none.statusCode).toBe(404);
    expect(none.json().code).toBe('quote_not_found');
    expect(Object.keys(theirs.json()).sort()).toEqual(Object.keys(none.json()).sort());
    // Its own agent creates from it (the id in upper case is the same quote).
    const mine = await t.as(t.agentKeys.origin, 'POST', '/v1/remittances', body(quoteId));
    expect(mine.statusCode, mine.body).toBe(201);
    expect(mine.json().remittance.quote_id).toBe(quoteId);
  });

  it('answers an agent off the route 404 at every step, as for an id that does not exist', async () => {
    // fund, accept and payout check visibility on the row the step reads (no read of the
    // route's own): the answer must not tell such an id from one that does not exist.
    const { id, code } = await newRemittance();
    const missing = id.slice(0, -4) + (id.endsWith('0000') ? '1111' : '0000');
    const steps = [
      ['fund', undefined],
      ['accept', undefined],
      ['payout', { code }],
    ] as const;
    const probe = async () => {
      for (const [step, body] of steps) {
        const theirs = await t.call('agentA', 'POST', `/v1/remittances/${id}/${step}`, body);
        const none = await t.call('agentA', 'POST', `/v1/remittances/${missing}/${step}`, body);
        expect(theirs.statusCode, theirs.body).toBe(404);
        expect(theirs.json().code).toBe('remittance_not_found');
        expect(none.statusCode).toBe(404);
        expect(none.json().code).toBe('remittance_not_found');
        expect(Object.keys(theirs.json()).sort()).toEqual(Object.keys(none.json()).sort());
      }
    };
    await probe(); // created
    // An id in upper case names the same remittance (the route lowercases it).
    const fund = await t.as(t.agentKeys.origin, 'POST', `/v1/remittances/${id.toUpperCase()}/fund`);
    expect(fund.statusCode, fund.body).toBe(200);
    await probe(); // funded
    for (const who of [t.agentKeys.intermediary, t.agentKeys.payout]) {
      expect((await t.as(who, 'POST', `/v1/remittances/${id}/accept`)).statusCode).toBe(200);
    }
    await probe(); // ready
    const paid = await t.as(t.agentKeys.payout, 'POST', `/v1/remittances/${id}/payout`, { code });
    expect(paid.statusCode, paid.body).toBe(200);
    expect(paid.json().state).toBe('completed');
  });

  it('lets an agent read its own ledger accounts through the statement owner map', async () => {
    const me = await t.as(t.agentKeys.payout, 'GET', `/v1/agents/${t.corridor.payout}/exposure`);
    expect(me.statusCode, me.body).toBe(200);
    const other = await t.as(t.agentKeys.payout, 'GET', `/v1/agents/${t.corridor.origin}/exposure`);
    expect(other.statusCode).toBe(404);
  });
});
