/**
 * Review of the changes of 2026-11-28 (f0c2968..11a6260): one test per defect found. Each
 * named what went wrong and failed on the reviewed code; each passes since the fix.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { customers, QUOTE_BODY } from '../bench/api-network.ts';
import { requestHash } from '../src/api/idempotency.ts';
import { ApiKeyStore, migrateApi } from '../src/api/keys.ts';
import { toProblem } from '../src/api/problem.ts';
import { PostgresStore } from '../src/stores/postgres/postgres-store.ts';
import { PostgresClient } from '../src/stores/sql.ts';
import { corridorApi, type CorridorApi } from './api/support.ts';
import { asAgent, createFrom, koreanCorridor, makeWorld } from './remittances/support.ts';
import { createTestDatabase, postgresWanted } from './support/stores.ts';

const pgEnabled = await postgresWanted();

describe('Idempotency-Key records written before today', () => {
  let t: CorridorApi;
  let people: { sender: string; recipient: string };
  beforeAll(async () => {
    t = await corridorApi();
    people = await customers(t.caller('operator'));
  });
  afterAll(() => t.close());

  it('a reissue-code retry whose record was stored before the upgrade (domain mode: body "") is told its answer was not kept, not an empty 200', async () => {
    // A remittance ready for payout.
    const q = await t.as(t.agentKeys.origin, 'POST', '/v1/quotes', QUOTE_BODY);
    const c = await t.as(t.agentKeys.origin, 'POST', '/v1/remittances', {
      quote_id: q.json().quotes[0].id,
      sender_id: people.sender,
      recipient_id: people.recipient,
    });
    const id = c.json().remittance.id as string;
    for (const [key, step] of [
      [t.agentKeys.origin, 'fund'],
      [t.agentKeys.intermediary, 'accept'],
      [t.agentKeys.payout, 'accept'],
    ] as const) {
      const s = await t.as(key, 'POST', `/v1/remittances/${id}/${step}`);
      expect(s.statusCode, s.body).toBe(200);
    }

    // Before today reissue-code was `idempotent: 'domain'`: IdempotencyStore.begin(...,
    // storeBody = false) and finish() kept the fingerprint and status only, body ''.
    // This is the row the previous build wrote for a reissue that answered 200.
    const path = `/v1/remittances/${id}/reissue-code`;
    const body = { reason: 'sender lost the code' };
    const principal = await t.app.remitnet.keys.verify(t.keys.operator);
    const hash = requestHash(t.app.remitnet.idempotency.hashKey, 'POST', path, body);
    await t.sql.transaction((tx) =>
      tx.execute(
        'INSERT INTO api_idempotency (key_id, idem_key, request_hash, status, content_type, body, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)',
        [
          principal!.keyId,
          'reissue-before-upgrade',
          hash,
          200,
          'application/json; charset=utf-8',
          '',
          new Date().toISOString(),
        ],
      ),
    );

    // The client retries after the upgrade (within the 24 h retention), as told to.
    const retry = await t.call('operator', 'POST', path, body, {
      'idempotency-key': 'reissue-before-upgrade',
    });
    // Either an answer in the route's schema (remittance + payout_code null) or a problem;
    // never a 200 whose JSON body is empty.
    expect(
      retry.statusCode === 200 && retry.body === '',
      `200 with an empty application/json body (content-type ${retry.headers['content-type']})`,
    ).toBe(false);
  });
});

describe.skipIf(!pgEnabled)('PostgreSQL deadlines of the domain client', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>> | undefined;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('a DATABASE_URL with its own ?options= (e.g. a search_path) keeps every deadline', async () => {
    const url = new URL(db!.url);
    url.searchParams.set('options', '-c search_path=public');
    const sql = PostgresClient.open(url.toString());
    try {
      const [s] = await sql.query<{ statement_timeout: string }>('SHOW statement_timeout');
      const [l] = await sql.query<{ lock_timeout: string }>('SHOW lock_timeout');
      const [i] = await sql.query<{ idle_in_transaction_session_timeout: string }>(
        'SHOW idle_in_transaction_session_timeout',
      );
      expect({
        statement: s!.statement_timeout,
        lock: l!.lock_timeout,
        idle: i!.idle_in_transaction_session_timeout,
      }).toEqual({ statement: '30s', lock: '10s', idle: '1min' });
    } finally {
      await sql.close();
    }
  });

  it('a domain write past lock_timeout is answered 503, not 500 internal_error', async () => {
    const sql = PostgresClient.open(db!.url);
    const other = new pg.Client({ connectionString: db!.url });
    other.on('error', () => undefined);
    try {
      await migrateApi(sql);
      const keys = new ApiKeyStore(sql);
      const { info } = await keys.create({ role: 'auditor', label: 'r' });
      // Another session holds the key's row (a stuck transaction, a long migration, ...).
      await other.connect();
      await other.query('BEGIN');
      await other.query('SELECT 1 FROM api_keys WHERE id = $1 FOR UPDATE', [info.keyId]);
      let error: unknown;
      try {
        await keys.revoke(info.keyId); // POST /v1/keys/:id/revoke
      } catch (e) {
        error = e;
      }
      expect(error, 'lock_timeout (10 s) did not fire').toBeDefined();
      const problem = toProblem(error, 'req-1');
      // A deadline is a store that is not available right now: retry later (503), as the
      // ledger store maps it (store_unavailable); not "something went wrong on our side".
      expect({ status: problem.status, code: problem.code }).toEqual({
        status: 503,
        code: expect.stringMatching(/unavailable/),
      });
    } finally {
      await other.query('ROLLBACK').catch(() => undefined);
      await other.end().catch(() => undefined);
      await sql.close();
    }
  }, 30_000);
});

describe.skipIf(!pgEnabled)('PostgreSQL ledger store deadlines', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>> | undefined;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('a process starting while another migrates (> 10 s) waits for it: no lock_timeout on migrations', async () => {
    // Another process is applying the ledger migrations (e.g. migration 2 rebuilding the
    // posting lists of a big ledger): it holds the migrations lock for its whole run.
    const other = new pg.Client({ connectionString: db!.url });
    other.on('error', () => undefined);
    await other.connect();
    await other.query(
      'CREATE TABLE IF NOT EXISTS remitnet_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at text NOT NULL)',
    );
    await other.query('BEGIN');
    await other.query('LOCK TABLE remitnet_migrations IN SHARE ROW EXCLUSIVE MODE');
    const done = new Promise<void>((resolve) =>
      setTimeout(() => {
        void other
          .query('ROLLBACK')
          .then(() => other.end())
          .finally(resolve);
      }, 12_000),
    );
    // "Several processes may open the same database at once: one migrates, the others
    // wait here and then find the version recorded" (migratePostgres). This one, with the
    // default deadlines, gives up after lock_timeout (10 s) instead of waiting.
    let store: PostgresStore | undefined;
    try {
      store = await PostgresStore.open({ connectionString: db!.url });
    } catch (error) {
      expect.fail(`start-up failed while another process migrated: ${String(error)}`);
    } finally {
      await done;
      await store?.close();
    }
  }, 40_000);
});

describe('periodic recover() (runtime tick: recover({ minAge_ms: 30 s }))', () => {
  it('re-drives an old interrupted step even while 500 younger steps of older remittances are in progress', async () => {
    const world = await makeWorld();
    try {
      const { rn, ledger } = world;
      const c = await koreanCorridor(rn, { hops: 1 });
      const made: string[] = [];
      for (let i = 0; i < 501; i++) made.push((await createFrom(rn, c, 10_000n)).id);
      const ids = [...made].sort();
      const stuck = ids[ids.length - 1]!; // the newest remittance
      const busy = ids.slice(0, 500); // older remittances
      const real = ledger.createTransfers.bind(ledger);
      // The ledger is briefly away: a step's intent is written, its ledger call fails.
      ledger.createTransfers = async () => {
        throw new Error('ledger away');
      };
      await expect(rn.remittances.fund(stuck, asAgent(c.seoul))).rejects.toMatchObject({
        code: 'ledger_unavailable',
      });
      world.advance(31_000); // the stuck step is now older than minAge
      // Meanwhile 500 steps on older remittances are in progress (young: left alone).
      for (const id of busy) {
        await expect(rn.remittances.fund(id, asAgent(c.seoul))).rejects.toMatchObject({
          code: 'ledger_unavailable',
        });
      }
      ledger.createTransfers = real;
      const report = await rn.remittances.recover({ minAge_ms: 30_000 });
      const row = await rn.remittances.repo.get(stuck);
      // The 31 s old step is due; the young ones are not. It must be re-driven.
      expect(
        { report, pendingStep: row!.pendingStep, state: row!.state },
        'the batch (ORDER BY id LIMIT 500) is filled by young rows, then filtered by age',
      ).toEqual({ report: { redriven: 1, failed: 0 }, pendingStep: undefined, state: 'funded' });
    } finally {
      await world.close();
    }
  }, 60_000);
});
