/**
 * API review: each test states an invariant the API (or its CLI) promises and that the
 * reviewed code broke (each failed then, for the reason in its name; each passes since the
 * fix).
 */
import type { AddressInfo } from 'node:net';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { customers, QUOTE_BODY } from '../../bench/api-network.ts';
import { hashKey } from '../../src/api/keys.ts';
import { registerClientCommands } from '../../src/cli/commands/client.ts';
import type { SqlClient, SqliteClient } from '../../src/stores/sql.ts';
import { corridorApi, testApi, type CorridorApi } from './support.ts';

let t: CorridorApi;
let people: { sender: string; recipient: string };

beforeAll(async () => {
  t = await corridorApi();
  people = await customers(t.caller('operator'));
});
afterAll(() => t.close());

async function quote(): Promise<string> {
  const q = await t.as(t.agentKeys.origin, 'POST', '/v1/quotes', QUOTE_BODY);
  expect(q.statusCode, q.body).toBe(201);
  return q.json().quotes[0].id as string;
}

async function created(): Promise<{ id: string; code: string; quote: string }> {
  const quoteId = await quote();
  const c = await t.as(t.agentKeys.origin, 'POST', '/v1/remittances', {
    quote_id: quoteId,
    sender_id: people.sender,
    recipient_id: people.recipient,
  });
  expect(c.statusCode, c.body).toBe(201);
  return { id: c.json().remittance.id, code: c.json().payout_code, quote: quoteId };
}

async function ready(): Promise<{ id: string; code: string }> {
  const r = await created();
  for (const [key, step] of [
    [t.agentKeys.origin, 'fund'],
    [t.agentKeys.intermediary, 'accept'],
    [t.agentKeys.payout, 'accept'],
  ] as const) {
    const s = await t.as(key, 'POST', `/v1/remittances/${r.id}/${step}`);
    expect(s.statusCode, s.body).toBe(200);
  }
  return r;
}

describe('secrets are shown once', () => {
  it('POST /v1/keys never stores the new API key in plaintext, nor shows it again on a replay', async () => {
    const h = { 'idempotency-key': 'review-key-create-1' };
    const r1 = await t.call('operator', 'POST', '/v1/keys', { role: 'operator', label: 'r' }, h);
    expect(r1.statusCode, r1.body).toBe(201);
    const key = r1.json().key as string;
    expect(key).toMatch(/^rnk_/);

    // Keys are "stored only as a hash": no table may hold the key itself.
    const rows = await t.sql.query<{ body: string }>(
      'SELECT body FROM api_idempotency WHERE idem_key = $1',
      ['review-key-create-1'],
    );
    const stored = rows.map((r) => r.body).join('\n');
    expect(stored.includes(key), 'api_idempotency.body holds the plaintext API key').toBe(false);

    // "Shown once": a retry must not hand the (operator!) key out a second time.
    const r2 = await t.call('operator', 'POST', '/v1/keys', { role: 'operator', label: 'r' }, h);
    expect(r2.body.includes(key), 'the replay shows the API key again').toBe(false);
  });

  it('POST /v1/remittances/:id/reissue-code replayed with the same Idempotency-Key issues no second code', async () => {
    const r = await ready();
    const h = { 'idempotency-key': `review-reissue-${r.id}` };
    const body = { reason: 'sender lost the code' };
    const first = await t.call('operator', 'POST', `/v1/remittances/${r.id}/reissue-code`, body, h);
    expect(first.statusCode, first.body).toBe(200);
    const code1 = first.json().payout_code as string;

    // A network retry of the same request (same key, same body).
    const retry = await t.call('operator', 'POST', `/v1/remittances/${r.id}/reissue-code`, body, h);
    expect(retry.statusCode).toBeLessThan(500);

    const history = await t.call('operator', 'GET', `/v1/remittances/${r.id}/history`);
    const reissues = (history.json().items as Array<{ event: string }>).filter(
      (e) => e.event === 'payout_code_reissued',
    );
    // One intended operation, one effect: the retry must not reissue again...
    expect(reissues, 'the retry reissued the code a second time').toHaveLength(1);
    // ...and so the code handed out by the first answer must still pay out.
    const paid = await t.as(t.agentKeys.payout, 'POST', `/v1/remittances/${r.id}/payout`, {
      code: code1,
    });
    expect(paid.statusCode, `the first reissued code stopped working: ${paid.body}`).toBe(200);
  });
});

describe('agent keys', () => {
  it('are made only for an agent that exists', async () => {
    const unknown = await t.call('operator', 'POST', '/v1/keys', {
      role: 'agent',
      agent_id: '0123456789abcdef0123456789abcdef',
    });
    expect(unknown.statusCode).toBe(422);
    expect(unknown.json()).toMatchObject({ code: 'unprocessable' });
    expect(unknown.json().detail).toMatch(/create the agent first/);
    const known = await t.call('operator', 'POST', '/v1/keys', {
      role: 'agent',
      agent_id: t.corridor.origin,
    });
    expect(known.statusCode, known.body).toBe(201);
  });
});

describe('revocation', () => {
  it('a key revoked while its verification is in flight stops working at once', async () => {
    // An SQL client that can hold one api_keys lookup after it has read its row (a slow
    // read, as on a busy PostgreSQL), so a revocation can commit in between.
    let hold: { hash: string; reached: () => void; gate: Promise<void> } | null = null;
    const api = await testApi({}, async (_ledger, sql) => {
      const proxy = new Proxy(sql, {
        get(target, prop) {
          if (prop === 'query') {
            return async (text: string, params?: readonly unknown[]) => {
              const rows = await target.query(text, params as never);
              const h = hold;
              if (
                h !== null &&
                text.includes('FROM api_keys WHERE hash') &&
                params?.[0] === h.hash
              ) {
                hold = null;
                h.reached();
                await h.gate;
              }
              return rows;
            };
          }
          const v = Reflect.get(target, prop, target) as unknown;
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        },
      }) as SqliteClient as SqlClient;
      return { sql: proxy };
    });
    try {
      const { key, info } = await api.app.remitnet.keys.create({
        role: 'auditor',
        label: 'victim',
      });
      let reached!: () => void;
      let release!: () => void;
      const reachedP = new Promise<void>((r) => (reached = r));
      const gate = new Promise<void>((r) => (release = r));
      hold = { hash: hashKey(key), reached, gate };
      const auth = { authorization: `Bearer ${key}` };

      const inFlight = api.app.inject({ url: '/v1/me', headers: auth }); // read before revoke
      await reachedP;
      const rev = await api.call('operator', 'POST', `/v1/keys/${info.keyId}/revoke`);
      expect(rev.statusCode, rev.body).toBe(200);
      release();
      await inFlight; // began before the revocation: either answer is acceptable

      const after = await api.app.inject({ url: '/v1/me', headers: auth });
      expect(after.statusCode, 'a request made after the revocation was acknowledged').toBe(401);
    } finally {
      await api.close();
    }
  });
});

describe('bad input never yields 5xx', () => {
  it('GET /v1/ledger/accounts with a cursor past 2^63-1 is a 400, not a 500', async () => {
    const cursor = Buffer.from('a1:9223372036854775808').toString('base64url');
    const r = await t.call('operator', 'GET', `/v1/ledger/accounts?cursor=${cursor}`);
    expect(r.statusCode, r.body).toBe(400);
    expect(r.json().code).toBe('invalid_request');
  });
});

describe('errors are problem+json', () => {
  it('a malformed percent-encoding in the path answers application/problem+json', async () => {
    const r = await t.call('operator', 'GET', '/v1/remittances/%zz');
    expect(r.statusCode).toBe(400);
    expect(r.headers['content-type'], r.body).toMatch(/^application\/problem\+json/);
    expect(r.json().code).toBeTypeOf('string');
    expect(r.json().request_id).toBeTypeOf('string');
  });
});

describe("another agent's things look exactly like things that do not exist", () => {
  it('GET /v1/remittances/:id and /v1/quotes/:id answer the same problem for foreign and unknown ids', async () => {
    const r = await created();
    const unknown = '12'.repeat(16);
    const pairs: Array<[string, string]> = [
      [`/v1/remittances/${r.id}`, `/v1/remittances/${unknown}`],
      [`/v1/quotes/${r.quote}`, `/v1/quotes/${unknown}`],
    ];
    for (const [foreignUrl, unknownUrl] of pairs) {
      const foreign = await t.call('agentA', 'GET', foreignUrl);
      const missing = await t.call('agentA', 'GET', unknownUrl);
      expect(foreign.statusCode).toBe(404);
      expect(missing.statusCode).toBe(404);
      // Same code, so an agent cannot tell "exists but not yours" from "does not exist".
      expect(
        foreign.json().code,
        `${foreignUrl}: foreign=${foreign.json().code} unknown=${missing.json().code}`,
      ).toBe(missing.json().code);
    }
  });
});

describe('amounts', () => {
  it('POST /v1/agents/:id/write-off answers the amount in canonical form, not as typed', async () => {
    // Only a debt can be written off: a completed remittance leaves the origin owing the
    // sender's cash (KRW, no decimals) to the network.
    const { id, code } = await ready();
    const paid = await t.as(t.agentKeys.payout, 'POST', `/v1/remittances/${id}/payout`, { code });
    expect(paid.statusCode, paid.body).toBe(200);
    const r = await t.call('operator', 'POST', `/v1/agents/${t.corridor.origin}/write-off`, {
      amount: { amount: '0001', currency: 'KRW' },
      reason: 'review',
    });
    expect(r.statusCode, r.body).toBe(200);
    // Every other amount the API answers has exactly the currency's decimals.
    expect(r.json().written_off).toEqual({ amount: '1', currency: 'KRW' });
  });

  it('GET .../balance?at= refuses a date that does not exist instead of rolling it over', async () => {
    const account = (await t.call('operator', 'GET', '/v1/ledger/accounts?limit=1')).json().items[0]
      .id as string;
    const r = await t.call(
      'operator',
      'GET',
      `/v1/ledger/accounts/${account}/balance?at=2026-02-30T00:00:00Z`,
    );
    expect(r.statusCode, `answered as_of ${r.json().as_of}`).toBe(400);
  });
});

describe('CLI', () => {
  it('`remitnet send --fund --idempotency-key K` creates and funds (K is documented as the safe way to retry)', async () => {
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = t.app.server.address() as AddressInfo;
    const quoteId = await quote();
    const program = new Command().option('--json').exitOverride();
    registerClientCommands(program);
    const written: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string) => (written.push(String(chunk)), true)) as never;
    let failure: string | undefined;
    try {
      await program.parseAsync(
        [
          '--json',
          'send',
          '--quote',
          quoteId,
          '--sender',
          people.sender,
          '--recipient',
          people.recipient,
          '--fund',
          '--idempotency-key',
          `review-cli-${quoteId}`,
          '--url',
          `http://127.0.0.1:${port}`,
          '--key',
          t.agentKeys.origin,
        ],
        { from: 'user' },
      );
    } catch (error) {
      failure = (error as Error).message;
    } finally {
      process.stdout.write = write;
    }
    expect(failure, "the fund POST reused the create POST's Idempotency-Key").toBeUndefined();
    expect(JSON.parse(written.join('')).remittance.state).toBe('funded');
  });
});
