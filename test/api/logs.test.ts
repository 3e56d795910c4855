/**
 * Logs: one JSON line per request with its request id, and never a secret: no API key, no
 * payout code, no codeword, no Authorization header, no body. An unknown error answers a
 * generic 500 with the request id and no stack; the stack goes to the log only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { customers, QUOTE_BODY } from '../../bench/api-network.ts';
import { corridorApi, type CorridorApi } from './support.ts';

let t: CorridorApi;
const secrets: string[] = [];

beforeAll(async () => {
  t = await corridorApi();
});
afterAll(() => t.close());

describe('logs', () => {
  it('carry request ids and no secrets through a whole remittance', async () => {
    secrets.push(t.keys.operator, t.keys.auditor, ...Object.values(t.agentKeys));
    const people = await customers(t.caller('operator'));
    const q = await t.as(t.agentKeys.origin, 'POST', '/v1/quotes', QUOTE_BODY);
    const codeword = 'grandmother-kimchi-1953';
    const c = await t.as(t.agentKeys.origin, 'POST', '/v1/remittances', {
      quote_id: q.json().quotes[0].id,
      sender_id: people.sender,
      recipient_id: people.recipient,
      codeword,
    });
    expect(c.statusCode, c.body).toBe(201);
    const { remittance, payout_code: code } = c.json();
    secrets.push(code, code.replaceAll('-', ''), codeword);
    const id = remittance.id as string;
    await t.as(t.agentKeys.origin, 'POST', `/v1/remittances/${id}/fund`);
    await t.as(t.agentKeys.intermediary, 'POST', `/v1/remittances/${id}/accept`);
    await t.as(t.agentKeys.payout, 'POST', `/v1/remittances/${id}/accept`);
    // a wrong code and the right one, and an operator creating a key (its answer holds a key)
    await t.as(t.agentKeys.payout, 'POST', `/v1/remittances/${id}/payout`, {
      code: 'ZZZZ-ZZZZ-ZZZ',
    });
    const paid = await t.as(t.agentKeys.payout, 'POST', `/v1/remittances/${id}/payout`, { code });
    expect(paid.statusCode, paid.body).toBe(200);
    const k = await t.call('operator', 'POST', '/v1/keys', { role: 'auditor' });
    secrets.push(k.json().key);
    const bad = await t.app.inject({
      url: '/v1/me',
      headers: { authorization: 'Bearer rnk_THIS-IS-A-SECRET-GUESS-0000000000000000000' },
    });
    expect(bad.statusCode).toBe(401);
    secrets.push('rnk_THIS-IS-A-SECRET-GUESS-0000000000000000000');

    expect(t.logs.length).toBeGreaterThan(10);
    const requestLines = [];
    for (const line of t.logs) {
      const entry = JSON.parse(line) as Record<string, unknown>;
      if (entry.msg === 'request') requestLines.push(entry);
      for (const s of secrets)
        expect(line.includes(s), `log line holds a secret: ${line}`).toBe(false);
      expect(line.toLowerCase()).not.toContain('bearer');
    }
    expect(requestLines.length).toBeGreaterThanOrEqual(8);
    for (const e of requestLines) {
      expect(typeof e.reqId).toBe('string');
      expect(typeof e.status).toBe('number');
      expect(typeof e.route).toBe('string');
    }
  });

  it('answers an unknown error with a generic 500 and logs the stack', async () => {
    const { buildApp } = await import('../../src/api/app.ts');
    const { createLogger } = await import('../../src/api/logger.ts');
    const lines: string[] = [];
    const app = await buildApp(
      {
        ledger: t.ledger,
        sql: t.sql,
        plugins: [
          (a) =>
            a.get('/boom', { config: { access: 'public' } }, async () => {
              throw new Error('internal detail: /var/lib/secret.db is locked');
            }),
        ],
      },
      { logger: createLogger({ destination: { write: (l: string) => void lines.push(l) } }) },
    );
    try {
      const r = await app.inject({ url: '/boom', headers: { 'x-request-id': 'req-boom-1' } });
      expect(r.statusCode).toBe(500);
      expect(r.headers['content-type']).toMatch(/problem\+json/);
      const body = r.json();
      expect(body.code).toBe('internal_error');
      expect(body.request_id).toBe('req-boom-1');
      expect(r.body).not.toContain('secret.db');
      expect(r.body).not.toContain('at ');
      const logged = lines.map((l) => JSON.parse(l)).find((e) => e.msg === 'request failed');
      expect(logged.reqId).toBe('req-boom-1');
      expect(logged.err.stack).toContain('Error');
    } finally {
      await app.close();
    }
  });
});
