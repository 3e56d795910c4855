/**
 * WalSync: no answer before an fsync that started after its COMMIT has completed. The sync
 * function is driven by hand here (a power loss cannot be staged in a test), so each test
 * sees exactly which commits a sync covers; the runtime test at the end checks the real
 * wiring (a file database, synchronous=NORMAL, real fdatasync calls).
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { buildApp } from '../../src/api/app.ts';
import { migrateApi } from '../../src/api/keys.ts';
import { openRuntime } from '../../src/api/runtime.ts';
import { LedgerError, newId } from '../../src/ledger/index.ts';
import { Ledger } from '../../src/ledger/ledger.ts';
import { SqliteClient } from '../../src/stores/sql.ts';
import { SqliteStore } from '../../src/stores/sqlite/sqlite-store.ts';
import { durableStore, WalSync } from '../../src/stores/wal-sync.ts';

const dir = mkdtempSync(join(tmpdir(), 'remitnet-walsync-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A WalSync whose fsyncs complete only when the test says so. */
function manualSync() {
  const calls: Array<(error: Error | null) => void> = [];
  const sync = new WalSync((done) => calls.push(done));
  return {
    sync,
    calls,
    finish(i: number, error: Error | null = null) {
      calls[i]!(error);
    },
  };
}

/** Lets pending I/O callbacks, immediates and microtasks run. */
const turns = async (n = 5) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

const sleep_ms = (ms: number) => new Promise((r) => setTimeout(r, ms));

function tracked<T>(p: Promise<T>) {
  const state: { settled: boolean; error?: unknown } = { settled: false };
  p.then(
    () => (state.settled = true),
    (error: unknown) => Object.assign(state, { settled: true, error }),
  );
  return state;
}

describe('WalSync', () => {
  it('answers only after a sync that started after the commit', async () => {
    const m = manualSync();
    expect(m.sync.pending).toBe(false);
    await m.sync.durable(); // nothing committed: no sync needed
    expect(m.calls.length).toBe(0);

    m.sync.committed();
    m.sync.committed();
    const a = tracked(m.sync.durable());
    const a2 = tracked(m.sync.durable());
    expect(m.calls.length).toBe(1); // one sync covers both commits and both callers
    await turns();
    expect(a.settled || a2.settled).toBe(false);

    // Commits made while that sync runs are not covered by it.
    m.sync.committed();
    const b = tracked(m.sync.durable());
    m.sync.committed();
    const c = tracked(m.sync.durable());
    expect(m.calls.length).toBe(1);
    m.finish(0);
    await turns();
    expect([a.settled, a2.settled, b.settled, c.settled]).toEqual([true, true, false, false]);
    expect(m.calls.length).toBe(2); // one more, for b and c together
    m.finish(1);
    await turns();
    expect([b.settled, c.settled]).toEqual([true, true]);
    expect(m.sync.pending).toBe(false);
    expect([m.sync.commits, m.sync.syncs]).toEqual([4, 2]);
  });

  it('refuses every waiting and later caller once an fsync fails', async () => {
    const m = manualSync();
    m.sync.committed();
    const a = tracked(m.sync.durable());
    m.finish(0, new Error('EIO'));
    await turns();
    expect(String(a.error)).toMatch(/fsync of the SQLite write-ahead log failed: EIO/);
    await expect(m.sync.durable()).rejects.toThrow(/EIO/);
    m.sync.committed();
    await expect(m.sync.durable()).rejects.toThrow(/EIO/);
    expect(m.calls.length).toBe(1); // never retried
  });
});

describe('an fsync past its deadline', () => {
  it('refuses the waiting callers and every later one; a late completion changes nothing', async () => {
    const calls: Array<(error: Error | null) => void> = [];
    const sync = new WalSync((done) => calls.push(done), undefined, { deadline_ms: 40 });
    sync.committed();
    const a = tracked(sync.durable());
    await sleep_ms(10);
    expect(a.settled).toBe(false); // still within the deadline
    await sleep_ms(80);
    expect(a.error).toBeInstanceOf(LedgerError);
    expect((a.error as LedgerError).code).toBe('commit_unconfirmed');
    expect(String(a.error)).toMatch(/did not finish within 40 ms/);
    expect(sync.failure).toBe(a.error);

    calls[0]!(null); // the disk answers at last: too late, the outcome stayed unknown
    await turns();
    await expect(sync.durable()).rejects.toThrow(/did not finish within 40 ms/);
    sync.committed();
    await expect(sync.durable()).rejects.toThrow(/did not finish/);
    expect(calls.length).toBe(1); // never retried
    expect(sync.pending).toBe(true);
  });

  it('a sync that finishes in time leaves no timer behind and no failure', async () => {
    const sync = new WalSync((done) => setTimeout(() => done(null), 5), undefined, {
      deadline_ms: 30,
    });
    for (let i = 0; i < 5; i++) {
      sync.committed();
      await sync.durable();
    }
    await sleep_ms(60); // past every deadline: none fires, since each sync finished
    expect(sync.failure).toBeUndefined();
    sync.committed();
    await sync.durable();
  });

  it('through the API: writes and reads answer 503 commit_unconfirmed, /readyz and /healthz fail', async () => {
    const path = join(dir, 'hang.db');
    const store = await SqliteStore.open({ path, synchronous: 'NORMAL', checkpoint: 'inline' });
    let hang = false;
    const sync = new WalSync(
      (done) => (hang ? undefined : setImmediate(() => done(null))),
      undefined,
      {
        deadline_ms: 100,
      },
    );
    const sql = new SqliteClient(store.db, false, sync);
    const ledger = new Ledger(durableStore(store, sync));
    await migrateApi(sql);
    const app = await buildApp({ ledger, sql, failure: () => sync.failure }, { logger: false });
    try {
      const { key } = await app.remitnet.keys.create({
        role: 'operator',
        agentId: null,
        label: 'ops',
      });
      const auth = { authorization: `Bearer ${key}` };
      const ready = await app.inject({ method: 'GET', url: '/readyz' });
      expect(ready.statusCode).toBe(200);
      expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);

      hang = true; // the disk stops answering
      const write = await app.inject({
        method: 'POST',
        url: '/v1/keys',
        headers: { ...auth, 'idempotency-key': 'k-1' },
        payload: { role: 'auditor', label: 'audit' },
      });
      expect(write.statusCode).toBe(503);
      expect(write.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(write.json()).toMatchObject({ code: 'commit_unconfirmed', status: 503 });
      expect(write.json().detail).toMatch(
        /whether this one took effect is unknown.*same Idempotency-Key/,
      );
      expect(write.body).not.toMatch(/fsync|write-ahead/); // no internals
      const read = await app.inject({ method: 'GET', url: '/v1/ledger/accounts', headers: auth });
      expect(read.statusCode).toBe(503);
      const notReady = await app.inject({ method: 'GET', url: '/readyz' });
      expect(notReady.statusCode).toBe(503);
      // Only a restart recovers: liveness fails too, so a supervisor restarts the process.
      const live = await app.inject({ method: 'GET', url: '/healthz' });
      expect(live.statusCode).toBe(503);
      expect(live.json()).toMatchObject({ code: 'restart_required' });
    } finally {
      await app.close();
      store.db.close();
    }
  });
});

describe('SqliteClient with a WalSync', () => {
  it('holds transaction answers and reads of committed data until the sync completes', async () => {
    const db = new Database(join(dir, 'client.db'));
    db.defaultSafeIntegers(true);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    const m = manualSync();
    const client = new SqliteClient(db, true, m.sync);
    db.exec('CREATE TABLE t (v INTEGER)');

    const tx = tracked(client.transaction((t) => t.execute('INSERT INTO t (v) VALUES (1)')));
    await turns();
    expect(db.prepare('SELECT count(*) FROM t').pluck().get()).toBe(1n); // committed...
    expect(tx.settled).toBe(false); // ...but not answered
    const read = tracked(client.query('SELECT v FROM t'));
    await turns();
    expect(read.settled).toBe(false);
    expect(m.calls.length).toBe(1);
    m.finish(0);
    await turns();
    expect([tx.settled, read.settled]).toEqual([true, true]);

    // An autocommit write outside a transaction is a commit of its own.
    const write = tracked(client.execute('INSERT INTO t (v) VALUES (2)'));
    await turns();
    expect(write.settled).toBe(false);
    m.finish(1);
    await turns();
    expect(write.settled).toBe(true);
    await client.close();
  });
});

describe('SqliteClient with a WalSync, misused', () => {
  it('does not wait for a sync inside an open transaction (its COMMIT waits instead)', async () => {
    const db = new Database(join(dir, 'inside.db'));
    db.defaultSafeIntegers(true);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    const m = manualSync();
    const client = new SqliteClient(db, true, m.sync);
    db.exec('CREATE TABLE t (v INTEGER)');
    m.sync.committed(); // a sync is due, as under load
    const tx = tracked(
      client.transaction(async (t) => {
        await t.execute('INSERT INTO t (v) VALUES (1)');
        // The outer client, not the tx handle: must not yield the connection to a sync wait.
        return client.query<{ n: bigint }>('SELECT count(*) AS n FROM t');
      }),
    );
    await turns();
    expect(db.inTransaction).toBe(false); // committed, not stuck waiting mid-transaction
    expect(tx.settled).toBe(false); // the answer still waits for the sync
    while (m.sync.pending) {
      m.finish(m.calls.length - 1);
      await turns();
    }
    expect(tx.settled).toBe(true);
    await client.close();
  });
});

describe('durableStore', () => {
  it('resolves a transfer batch only after its commit is synced', async () => {
    const store = await SqliteStore.open({ path: join(dir, 'ledger.db'), synchronous: 'NORMAL' });
    const m = manualSync();
    const ledger = new Ledger(durableStore(store, m.sync));
    const [a, b] = [newId(), newId()];
    const accounts = tracked(
      ledger.createAccounts([
        { id: a, ledger: 410, code: 1 },
        { id: b, ledger: 410, code: 1 },
      ]),
    );
    await turns();
    expect(accounts.settled).toBe(false);
    m.finish(0);
    await turns();
    expect(accounts.settled).toBe(true);

    const id = newId();
    const transfer = tracked(
      ledger.createTransfers([
        { id, debitAccountId: a, creditAccountId: b, amount: 5n, ledger: 410, code: 1 },
      ]),
    );
    await turns(10);
    expect(transfer.settled).toBe(false);
    expect(await store.lookupTransfers([id])).toHaveLength(1); // committed underneath
    m.finish(m.calls.length - 1);
    await turns(10);
    expect(transfer.settled).toBe(true);
    while (m.sync.pending) {
      m.finish(m.calls.length - 1);
      await turns();
    }
    await ledger.close();
  });
});

describe('the runtime on a file', () => {
  it('keeps FULL durability with the fsync off the event loop, and NORMAL when asked', async () => {
    const full = await openRuntime(loadConfig({ REMITNET_DB: join(dir, 'full.db') }), {
      expiryInterval_ms: 0,
    });
    try {
      const sqlite = full.sql as SqliteClient;
      expect(sqlite.db.pragma('synchronous', { simple: true })).toBe(1n); // NORMAL...
      const [a, b] = [newId(), newId()];
      await full.ledger.createAccounts([
        { id: a, ledger: 410, code: 1 },
        { id: b, ledger: 410, code: 1 },
      ]);
      await full.ledger.createTransfers([
        { id: newId(), debitAccountId: a, creditAccountId: b, amount: 1n, ledger: 410, code: 1 },
      ]);
      const metrics = full.metrics.registry.render();
      const syncs = Number(/remitnet_sqlite_wal_syncs (\d+)/.exec(metrics)?.[1]);
      const commits = Number(/remitnet_sqlite_commits (\d+)/.exec(metrics)?.[1]);
      expect(syncs).toBeGreaterThanOrEqual(2); // ...with real fdatasync calls behind answers
      expect(commits).toBeGreaterThanOrEqual(syncs);
    } finally {
      await full.close();
    }
    const normal = await openRuntime(
      loadConfig({ REMITNET_DB: join(dir, 'normal.db'), REMITNET_SQLITE_SYNCHRONOUS: 'NORMAL' }),
      { expiryInterval_ms: 0 },
    );
    try {
      expect((normal.sql as SqliteClient).db.pragma('synchronous', { simple: true })).toBe(1n);
      expect(normal.metrics.registry.render()).not.toMatch(/remitnet_sqlite_wal_syncs/);
    } finally {
      await normal.close();
    }
  });
});

describe('the fsync deadline setting', () => {
  it('REMITNET_FSYNC_DEADLINE_MS sets it (default 30 s) and refuses what is not a sane number', () => {
    expect(loadConfig({}).fsyncDeadline_ms).toBe(30_000);
    expect(loadConfig({ REMITNET_FSYNC_DEADLINE_MS: '5000' }).fsyncDeadline_ms).toBe(5000);
    for (const bad of ['0', '50', '1.5', 'soon', '-1']) {
      expect(() => loadConfig({ REMITNET_FSYNC_DEADLINE_MS: bad })).toThrow(
        /REMITNET_FSYNC_DEADLINE_MS must be a whole number of milliseconds/,
      );
    }
  });
});

describe('an ordered transaction', () => {
  it('answers before its sync, but not once the log has failed', async () => {
    const db = new Database(join(dir, 'ordered.db'));
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    const m = manualSync();
    const client = new SqliteClient(db, true, m.sync);
    db.exec('CREATE TABLE t (v INTEGER)');
    const ordered = () =>
      client.transaction((t) => t.execute('INSERT INTO t (v) VALUES (1)'), { ordered: true });

    await ordered(); // answered with no sync at all
    expect(m.calls.length).toBe(0);
    const read = tracked(client.query('SELECT v FROM t')); // a reader still waits for it
    await turns();
    expect(read.settled).toBe(false);
    m.finish(0, new Error('EIO'));
    await turns();
    expect(String(read.error)).toMatch(/EIO/);

    // The log's state is unknown now: an ordered write is refused like any other.
    await expect(ordered()).rejects.toThrow(/EIO/);
    await client.close().catch(() => undefined);
  });
});
