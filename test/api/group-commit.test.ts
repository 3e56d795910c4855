/**
 * Throughput by design: requests that arrive together reach the ledger together. 200
 * concurrent transfer requests through the whole HTTP stack (auth, idempotency, handler)
 * are committed in far fewer durable ledger batches, and every one answered is applied.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../../src/api/app.ts';
import { instrumentStore } from '../../src/api/instrument.ts';
import { createApiMetrics } from '../../src/api/metrics.ts';
import { idToHex, Ledger, newId } from '../../src/ledger/index.ts';
import { currency } from '../../src/money/index.ts';
import { testApi, type TestApi } from './support.ts';

const cny = currency('CNY').numeric;
const [from, to] = [newId(), newId()];
const metrics = createApiMetrics();
let t: TestApi;
let ledger: Ledger;

beforeAll(async () => {
  t = await testApi({}, async (base) => {
    ledger = new Ledger(instrumentStore(base.store, metrics));
    await ledger.createAccounts([
      { id: from, ledger: cny, code: 1 },
      { id: to, ledger: cny, code: 1 },
    ]);
    const route = (app: FastifyInstance, _ctx: ApiContext) => {
      app.post(
        '/test/transfer',
        { config: { access: ['operator'], idempotent: true } },
        async (request) => {
          const id = BigInt('0x' + (request.body as { id: string }).id);
          const [result] = await ledger.createTransfers([
            { id, debitAccountId: from, creditAccountId: to, amount: 1n, ledger: cny, code: 1 },
          ]);
          return { result };
        },
      );
    };
    return { plugins: [route] };
  });
});
afterAll(() => t.close());

describe('group commit through the API', () => {
  it('merges concurrent requests into few durable batches', async () => {
    const ids = Array.from({ length: 200 }, () => idToHex(newId()));
    const answers = await Promise.all(
      ids.map((id) => t.call('operator', 'POST', '/test/transfer', { id })),
    );
    for (const a of answers) expect(a.json()).toEqual({ result: 'ok' });
    const batches = metrics.ledgerBatches.get();
    expect(batches).toBeLessThanOrEqual(10);
    const found = await ledger.lookupTransfers(ids.map((id) => BigInt('0x' + id)));
    expect(found).toHaveLength(200);
  });
});
