import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_MIGRATIONS, migrateApi } from '../../src/api/keys.ts';
import { migrateComponent, SqliteClient } from '../../src/stores/sql.ts';
import { AccountFlags, newId, TransferFlags } from '../../src/ledger/index.ts';
import { currency } from '../../src/money/index.ts';
import { idToHex } from '../../src/ledger/ids.ts';
import { READY_DEADLINE_MS } from '../../src/api/routes/ops.ts';
import { testApi, type TestApi } from './support.ts';

let t: TestApi;
const cny = currency('CNY').numeric;
const [a1, a2] = [newId(), newId()];

beforeAll(async () => {
  t = await testApi({
    accountOwner: async (account) => (account.id === a1 ? 'aa'.repeat(16) : null),
  });
  await t.ledger.createAccounts([
    { id: a1, ledger: cny, code: 1 },
    { id: a2, ledger: cny, code: 2, flags: AccountFlags.debitsMustNotExceedCredits },
  ]);
  for (let i = 0; i < 5; i++) {
    await t.ledger.createTransfers([
      { id: newId(), debitAccountId: a1, creditAccountId: a2, amount: 1250n, ledger: cny, code: 7 },
    ]);
  }
  await t.ledger.createTransfers([
    {
      id: newId(),
      debitAccountId: a1,
      creditAccountId: a2,
      amount: 99n,
      ledger: cny,
      code: 7,
      flags: TransferFlags.pending,
      timeout: 3600,
    },
  ]);
});
afterAll(() => t.close());

describe('operations', () => {
  it('answers healthz, readyz and metrics without a key', async () => {
    expect((await t.call(null, 'GET', '/healthz')).json()).toEqual({ status: 'ok' });
    expect((await t.call(null, 'GET', '/readyz')).json()).toEqual({ status: 'ready' });
    const m = await t.call(null, 'GET', '/metrics');
    expect(m.statusCode).toBe(200);
    expect(m.headers['content-type']).toMatch(/^text\/plain/);
    expect(m.body).toContain('remitnet_http_requests_total{');
  });

  it('answers /readyz 503 when a store does not answer within its deadline', async () => {
    const hung = await testApi({ readiness: () => new Promise<void>(() => {}) });
    try {
      const started = Date.now();
      const r = await hung.call(null, 'GET', '/readyz');
      expect(r.statusCode).toBe(503);
      expect(r.json()).toMatchObject({
        code: 'not_ready',
        detail: `a store did not answer within ${READY_DEADLINE_MS} ms`,
      });
      expect(Date.now() - started).toBeGreaterThanOrEqual(READY_DEADLINE_MS - 50);
      const failing = await testApi({ readiness: () => Promise.reject(new Error('down')) });
      try {
        const f = await failing.call(null, 'GET', '/readyz');
        expect(f.json()).toMatchObject({ code: 'not_ready', detail: 'a store cannot be reached' });
      } finally {
        await failing.close();
      }
    } finally {
      await hung.close();
    }
  });

  it('while shutting down, turns new requests away with a problem+json 503 and closes', async () => {
    t.app.remitnet.ready = false;
    try {
      const r = await t.call('operator', 'GET', '/v1/me');
      expect(r.statusCode).toBe(503);
      expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(r.headers.connection).toBe('close');
      expect(r.json()).toMatchObject({ code: 'not_ready' });
      expect((await t.call(null, 'GET', '/readyz')).statusCode).toBe(503);
      expect((await t.call(null, 'GET', '/healthz')).statusCode).toBe(200); // alive
    } finally {
      t.app.remitnet.ready = true;
    }
  });

  it('serves an OpenAPI 3.1 document and docs', async () => {
    const doc = (await t.call(null, 'GET', '/openapi.json')).json();
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toContain('/v1/ledger/accounts/{id}/transfers');
    expect(doc.components.schemas.Money).toBeDefined();
    const docs = await t.call(null, 'GET', '/docs/');
    expect(docs.statusCode).toBe(200);
    expect(docs.body).toContain('swagger');
  });

  it('returns a request id and honours a sane given one', async () => {
    const r = await t.call(null, 'GET', '/healthz', undefined, { 'x-request-id': 'abc-123' });
    expect(r.headers['x-request-id']).toBe('abc-123');
    const r2 = await t.call(null, 'GET', '/healthz', undefined, { 'x-request-id': 'bad id\u0001' });
    expect(r2.headers['x-request-id']).toMatch(/^[A-Za-z0-9_-]{8}-[0-9a-z]+$/);
  });
});

describe('errors', () => {
  it('answers unknown routes with problem+json', async () => {
    const r = await t.call('operator', 'GET', '/v1/nope');
    expect(r.statusCode).toBe(404);
    expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(r.json()).toMatchObject({ code: 'route_not_found', status: 404 });
  });

  it('refuses missing and unknown keys', async () => {
    const r = await t.call(null, 'GET', '/v1/me');
    expect(r.statusCode).toBe(401);
    expect(r.json().code).toBe('unauthenticated');
    const r2 = await t.app.inject({
      method: 'GET',
      url: '/v1/me',
      headers: { authorization: 'Bearer rnk_' + 'x'.repeat(43) },
    });
    expect(r2.statusCode).toBe(401);
  });

  it('validation errors name the field', async () => {
    const r = await t.call('operator', 'POST', '/v1/keys', { role: 'operator', extra: 1 });
    expect(r.statusCode).toBe(400);
    expect(r.json()).toMatchObject({ code: 'invalid_request' });
    expect(r.json().detail).toContain('extra');
  });
});

describe('ledger', () => {
  it('shows an account with decimal-string balances', async () => {
    const r = await t.call('auditor', 'GET', `/v1/ledger/accounts/${idToHex(a1)}`);
    expect(r.statusCode).toBe(200);
    const body = r.json();
    expect(body.debits_posted).toEqual({ amount: '62.50', currency: 'CNY' });
    expect(body.debits_pending).toEqual({ amount: '0.99', currency: 'CNY' });
    expect(body.net_posted).toEqual({ amount: '-62.50', currency: 'CNY' });
    expect(body.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
  });

  it('pages through transfers with a cursor', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let i = 0; i < 10; i++) {
      const q: string = cursor === null ? '' : `&cursor=${cursor}`;
      const r = await t.call(
        'operator',
        'GET',
        `/v1/ledger/accounts/${idToHex(a1)}/transfers?limit=4${q}`,
      );
      expect(r.statusCode).toBe(200);
      const page = r.json();
      seen.push(...page.items.map((x: { id: string }) => x.id));
      cursor = page.next_cursor;
      if (cursor === null) break;
    }
    expect(seen).toHaveLength(6);
    expect(new Set(seen).size).toBe(6);
  });

  it('gives balances as of a past time', async () => {
    const r = await t.call(
      'operator',
      'GET',
      `/v1/ledger/accounts/${idToHex(a1)}/balance?at=2000-01-01T00:00:00Z`,
    );
    expect(r.statusCode).toBe(200);
    expect(r.json().debits_posted).toEqual({ amount: '0.00', currency: 'CNY' });
    const bad = await t.call(
      'operator',
      'GET',
      `/v1/ledger/accounts/${idToHex(a1)}/balance?at=yesterday`,
    );
    expect(bad.statusCode).toBe(400);
  });

  it('lets an agent see only its own accounts', async () => {
    expect((await t.call('agentA', 'GET', `/v1/ledger/accounts/${idToHex(a1)}`)).statusCode).toBe(
      200,
    );
    expect((await t.call('agentA', 'GET', `/v1/ledger/accounts/${idToHex(a2)}`)).statusCode).toBe(
      404,
    );
    expect((await t.call('agentB', 'GET', `/v1/ledger/accounts/${idToHex(a1)}`)).statusCode).toBe(
      404,
    );
    expect((await t.call('agentA', 'GET', '/v1/ledger/accounts')).statusCode).toBe(403);
  });
});

describe('keys and idempotency', () => {
  it('creates a key once, replays with the same key and refuses a different body', async () => {
    const h = { 'idempotency-key': 'k-1' };
    const r1 = await t.call('operator', 'POST', '/v1/keys', { role: 'auditor', label: 'x' }, h);
    expect(r1.statusCode).toBe(201);
    const r2 = await t.call('operator', 'POST', '/v1/keys', { label: 'x', role: 'auditor' }, h);
    expect(r2.statusCode).toBe(201);
    expect(r2.headers['idempotent-replayed']).toBe('true');
    // The same key's info, but never the key again (it is shown once, stored nowhere).
    expect(r2.json()).toEqual({ ...r1.json(), key: null });
    const r3 = await t.call('operator', 'POST', '/v1/keys', { role: 'operator' }, h);
    expect(r3.statusCode).toBe(409);
    expect(r3.json().code).toBe('idempotency_key_reused');
    const key = r1.json().key as string;
    const me = await t.app.inject({ url: '/v1/me', headers: { authorization: `Bearer ${key}` } });
    expect(me.json().role).toBe('auditor');
    const rev = await t.call('operator', 'POST', `/v1/keys/${r1.json().info.id}/revoke`);
    expect(rev.statusCode).toBe(200);
    const after = await t.app.inject({
      url: '/v1/me',
      headers: { authorization: `Bearer ${key}` },
    });
    expect(after.statusCode).toBe(401);
  });

  it('handles concurrent duplicates: one effect, same answer', async () => {
    const h = { 'idempotency-key': 'k-conc' };
    const rs = await Promise.all(
      Array.from({ length: 8 }, () =>
        t.call('operator', 'POST', '/v1/keys', { role: 'auditor', label: 'conc' }, h),
      ),
    );
    expect(new Set(rs.map((r) => r.statusCode))).toEqual(new Set([201]));
    // One answer shows the key; the duplicates answer the same info without it.
    const shown = rs.filter((r) => r.json().key !== null);
    expect(shown).toHaveLength(1);
    const info = JSON.stringify(shown[0]!.json().info);
    expect(new Set(rs.map((r) => JSON.stringify(r.json().info)))).toEqual(new Set([info]));
    const list = (await t.call('operator', 'GET', '/v1/keys')).json();
    expect(list.items.filter((k: { label: string }) => k.label === 'conc')).toHaveLength(1);
  });

  it('requires an Idempotency-Key on POSTs', async () => {
    const r = await t.app.inject({
      method: 'POST',
      url: '/v1/keys',
      headers: { authorization: `Bearer ${t.keys.operator}` },
      payload: { role: 'auditor' },
    });
    expect(r.statusCode).toBe(400);
    expect(r.json().code).toBe('idempotency_key_required');
  });

  it('keys are scoped per API key', async () => {
    const h = { 'idempotency-key': 'shared' };
    const r1 = await t.call('operator', 'POST', '/v1/keys', { role: 'auditor', label: 's' }, h);
    const r2 = await t.call('agentA', 'POST', '/v1/keys', { role: 'auditor', label: 's' }, h);
    expect(r1.statusCode).toBe(201);
    expect(r2.statusCode).toBe(403);
  });
});

describe('upgrading the Idempotency-Key records', () => {
  it('drops the API keys older answers of POST /v1/keys kept, and nothing else', async () => {
    const db = new Database(':memory:');
    db.defaultSafeIntegers(true);
    const sql = new SqliteClient(db, true);
    try {
      await migrateComponent(sql, 'api', API_MIGRATIONS.slice(0, 2));
      const insert = (key: string, body: string) =>
        sql.transaction((tx) =>
          tx.execute(
            'INSERT INTO api_idempotency (key_id, idem_key, request_hash, status, content_type, body, created_at) VALUES ($1, $2, $3, 201, $4, $5, $6)',
            ['k', key, 'h', 'application/json', body, new Date().toISOString()],
          ),
        );
      const secret = `rnk_${'A'.repeat(43)}`;
      await insert('old-key', JSON.stringify({ key: secret, info: { id: 'x' } }));
      await insert('other', JSON.stringify({ remittance: { id: 'r' } }));
      await migrateApi(sql);
      const rows = await sql.query<{ idem_key: string; body: string }>(
        'SELECT idem_key, body FROM api_idempotency ORDER BY idem_key',
      );
      expect(rows).toEqual([
        { idem_key: 'old-key', body: '' },
        { idem_key: 'other', body: JSON.stringify({ remittance: { id: 'r' } }) },
      ]);
    } finally {
      await sql.close();
    }
  });
});
