/**
 * Graceful shutdown on a real socket: requests in flight when close() starts are answered,
 * and every transfer whose request got a 2xx is in the database after it reopens.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { loadConfig } from '../../src/config.ts';
import { openRuntime } from '../../src/api/runtime.ts';
import { serve } from '../../src/api/server.ts';
import { ApiKeyStore } from '../../src/api/keys.ts';
import { idToHex, newId } from '../../src/ledger/index.ts';
import { currency } from '../../src/money/index.ts';
import type { ApiContext } from '../../src/api/app.ts';

const dir = mkdtempSync(join(tmpdir(), 'remitnet-shutdown-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function post(
  url: string,
  key: string,
  path: string,
  body: unknown,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const data = JSON.stringify(body);
    const req = http.request(
      url + path,
      {
        method: 'POST',
        headers: {
          authorization: `Bearer ${key}`,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(data),
          'idempotency-key': String(newId()),
        },
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', () => resolve({ status: 0, body: '' }));
    req.end(data);
  });
}

describe('graceful shutdown', () => {
  it('answers in-flight requests and keeps every acknowledged transfer', async () => {
    const config = loadConfig({ REMITNET_DB: join(dir, 'r.db') });
    const cny = currency('CNY').numeric;
    const [from, to] = [newId(), newId()];
    const runtime = await openRuntime(config);
    await runtime.ledger.createAccounts([
      { id: from, ledger: cny, code: 1 },
      { id: to, ledger: cny, code: 1 },
    ]);
    const key = (await new ApiKeyStore(runtime.sql).create({ role: 'operator' })).key;
    let arrived = 0;
    const testRoute = (app: FastifyInstance, ctx: ApiContext) => {
      app.post(
        '/test/transfer',
        { config: { access: ['operator'], idempotent: true } },
        async (request) => {
          arrived++;
          const id = BigInt('0x' + (request.body as { id: string }).id);
          const [result] = await ctx.ledger.createTransfers([
            { id, debitAccountId: from, creditAccountId: to, amount: 1n, ledger: cny, code: 1 },
          ]);
          return { result };
        },
      );
    };
    const server = await serve(runtime, {
      host: '127.0.0.1',
      port: 0,
      logger: false,
      plugins: [testRoute],
    });
    const ids = Array.from({ length: 300 }, () => idToHex(newId()));
    const answers = ids.map((id) => post(server.url, key, '/test/transfer', { id }));
    // Close while requests are in flight: some have reached the handler, others not yet.
    while (arrived < 50) await new Promise((r) => setTimeout(r, 1));
    const closing = server.close();
    const results = await Promise.all(answers);
    await closing;

    const ok = ids.filter((_, i) => results[i]!.status === 200);
    for (const r of results) expect([0, 200, 503]).toContain(r.status);
    expect(ok.length).toBeGreaterThanOrEqual(50);

    const reopened = await openRuntime(config, { expiryInterval_ms: 0 });
    try {
      const found = await reopened.ledger.lookupTransfers(ok.map((id) => BigInt('0x' + id)));
      expect(found.length).toBe(ok.length);
    } finally {
      await reopened.close();
    }
  });
});
