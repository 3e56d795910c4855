/**
 * SQLite's background checkpointer failing. The store leaves copying the WAL back to a
 * worker thread (SQLite's autocheckpoint on its own connection stays only as a backstop,
 * at 4000 pages); if that thread dies or its checkpoints keep failing, the store must
 * checkpoint on its own connection as SQLite does by default (1000 pages) and say so.
 *
 * The failures are staged through `checkpointStatementForTests`: a statement that does
 * not prepare kills the thread as it starts; one that fails when run (malformed JSON, a
 * real SQLITE_ERROR) is a checkpoint that keeps failing.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { openRuntime } from '../../src/api/runtime.ts';
import { Ledger } from '../../src/ledger/ledger.ts';
import { NS_PER_S, type TransferInput } from '../../src/ledger/types.ts';
import { SqliteStore, type SqliteStoreOptions } from '../../src/stores/sqlite/sqlite-store.ts';

const dir = mkdtempSync(join(tmpdir(), 'remitnet-sqlite-checkpointer-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const newPath = () => join(dir, `c-${++files}.sqlite`);
const USD = 840;
const T0 = 1_760_000_000n * NS_PER_S;
const MiB = 1024 * 1024;
const ACCOUNTS = 1000;
const BATCH = 8189;

/** A ledger on a file store with deterministic transfers and the balances they must give. */
async function ledgerOn(options: SqliteStoreOptions) {
  const store = await SqliteStore.open(options);
  let now = T0;
  const ledger = new Ledger(store, { clock: () => (now += 1000n) });
  const ids = Array.from({ length: ACCOUNTS }, (_, i) => BigInt(i + 1));
  expect(await ledger.createAccounts(ids.map((id) => ({ id, ledger: USD, code: 1 })))).toEqual(
    ids.map(() => 'ok'),
  );
  const debits = new Map(ids.map((id) => [id, 0n]));
  const credits = new Map(ids.map((id) => [id, 0n]));
  let next = 1_000_000n;
  let total = 0n;
  return {
    store,
    ledger,
    /** One batch of BATCH transfers, each between two of the accounts; all must succeed. */
    async batch() {
      const transfers: TransferInput[] = [];
      for (let i = 0; i < BATCH; i++) {
        const id = next++;
        const k = Number(id % BigInt(ACCOUNTS));
        const dr = ids[k]!;
        const cr = ids[(k * 7 + 3) % ACCOUNTS]!;
        const amount = (id % 97n) + 1n;
        transfers.push({
          id,
          debitAccountId: dr,
          creditAccountId: cr,
          amount,
          ledger: USD,
          code: 1,
        });
        debits.set(dr, debits.get(dr)! + amount);
        credits.set(cr, credits.get(cr)! + amount);
        total += amount;
      }
      const results = await ledger.createTransfers(transfers);
      expect(results.every((r) => r === 'ok')).toBe(true);
    },
    /** Every account's posted balances are what the batches made, and they sum up. */
    async check(reader: SqliteStore = store) {
      const accounts = await reader.lookupAccounts(ids);
      expect(accounts.map((a) => [a.debitsPosted, a.creditsPosted])).toEqual(
        ids.map((id) => [debits.get(id), credits.get(id)]),
      );
      const sum = (k: 'debitsPosted' | 'creditsPosted') => accounts.reduce((s, a) => s + a[k], 0n);
      expect(sum('debitsPosted')).toBe(total);
      expect(sum('creditsPosted')).toBe(total);
    },
  };
}

const walSize = (path: string) => statSync(`${path}-wal`).size;

/**
 * Writes `batches` batches and returns the largest the WAL file grew. About 1.5 MB of
 * WAL frames each: without any checkpoint, 30 of them leave a WAL of about 45 MB and the
 * database file as created (a few pages); SQLite's autocheckpoint (1000 pages, 4 MB) keeps
 * the WAL to that plus the biggest transaction (a history index run: about 6 MB).
 */
async function writeBatches(
  l: Awaited<ReturnType<typeof ledgerOn>>,
  path: string,
  batches: number,
) {
  let largest = 0;
  for (let b = 0; b < batches; b++) {
    await l.batch();
    largest = Math.max(largest, walSize(path));
  }
  return largest;
}

describe('SQLite background checkpointer failure', () => {
  it('a checkpointer thread that dies hands checkpoints back to SQLite: the WAL stays bounded', async () => {
    const path = newPath();
    const l = await ledgerOn({ path, checkpointStatementForTests: 'SELEC x' });
    try {
      await vi.waitFor(() => expect(l.store.checkpointer.mode).toBe('inline'), { timeout: 5000 });
      expect(l.store.checkpointer.failure).toMatch(
        /^checkpointer thread failed: SQLITE_ERROR: near "SELEC": syntax error$/,
      );
      expect(l.store.db.pragma('wal_autocheckpoint', { simple: true })).toBe(1000n);
      const largest = await writeBatches(l, path, 30);
      // The WAL stayed small, and the database file took the rows: they were checkpointed.
      expect(largest).toBeLessThan(16 * MiB);
      expect(statSync(path).size).toBeGreaterThan(30 * MiB);
      await l.check();
    } finally {
      await l.store.close();
    }
    // What is on disk, read by a new connection, is the same.
    const again = await SqliteStore.open({ path, checkpoint: 'inline' });
    try {
      await l.check(again);
    } finally {
      await again.close();
    }
  });

  it('checkpoints that keep failing (not busy) make the thread give up and say why', async () => {
    const path = newPath();
    const told: string[] = [];
    const l = await ledgerOn({
      path,
      checkpointStatementForTests: "SELECT json('x')",
      onCheckpointerFailure: (reason) => told.push(reason),
    });
    try {
      // The statement prepares: the thread runs, and fails only when it checkpoints.
      await new Promise((r) => setTimeout(r, 300));
      expect(l.store.checkpointer).toEqual({ mode: 'background' });
      expect(l.store.db.pragma('wal_autocheckpoint', { simple: true })).toBe(4000n);
      // It checkpoints 200 ms after the last commit (the accounts: the first failure) or
      // once 1000 WAL frames wait (after about 3 batches here, then after every batch while
      // they keep waiting), and gives up at the third failure in a row.
      let batches = 0;
      while (l.store.checkpointer.mode === 'background' && batches < 40) {
        await l.batch();
        batches++;
        await new Promise((r) => setTimeout(r, 20)); // lets its message in
      }
      expect(l.store.checkpointer).toEqual({
        mode: 'inline',
        failure: 'checkpoint failed 3 times in a row: SQLITE_ERROR: malformed JSON',
      });
      expect(batches).toBeGreaterThanOrEqual(2);
      expect(told).toEqual([l.store.checkpointer.failure]); // told once, with the reason
      expect(l.store.db.pragma('wal_autocheckpoint', { simple: true })).toBe(1000n);
      const grown = walSize(path);
      const largest = await writeBatches(l, path, 30);
      expect(largest).toBeLessThanOrEqual(Math.max(grown, 16 * MiB));
      expect(statSync(path).size).toBeGreaterThan(30 * MiB);
      await l.check();
    } finally {
      await l.store.close();
    }
  });

  it('falls back whatever a client sharing the connection is doing when the thread dies', async () => {
    // In a transaction (a SqliteClient's, across awaits): the pragma is taken at once.
    const one = await SqliteStore.open({ path: newPath(), checkpointStatementForTests: 'SELEC x' });
    try {
      one.db.exec('BEGIN');
      one.db.prepare('SELECT count(*) FROM accounts').get();
      await vi.waitFor(() => expect(one.checkpointer.mode).toBe('inline'), { timeout: 5000 });
      expect(one.db.inTransaction).toBe(true);
      expect(one.db.pragma('wal_autocheckpoint', { simple: true })).toBe(1000n);
      one.db.exec('COMMIT');
    } finally {
      await one.close();
    }
    // Mid-iteration, better-sqlite3 refuses any other statement: the next write takes it.
    const path = newPath();
    const l = await ledgerOn({ path, checkpointStatementForTests: 'SELEC x' });
    try {
      const rows = l.store.db.prepare('SELECT id FROM accounts').iterate();
      rows.next();
      await vi.waitFor(() => expect(l.store.checkpointer.mode).toBe('inline'), { timeout: 5000 });
      rows.return?.();
      expect(l.store.db.pragma('wal_autocheckpoint', { simple: true })).toBe(4000n);
      await l.batch();
      expect(l.store.db.pragma('wal_autocheckpoint', { simple: true })).toBe(1000n);
      expect(await writeBatches(l, path, 20)).toBeLessThan(16 * MiB);
      await l.check();
    } finally {
      await l.store.close();
    }
  });

  it('a healthy checkpointer stays in the background, and stopping it is no failure', async () => {
    const path = newPath();
    const l = await ledgerOn({ path });
    expect(l.store.checkpointer).toEqual({ mode: 'background' });
    await writeBatches(l, path, 3);
    await l.check();
    await l.store.close();
    expect(l.store.checkpointer).toEqual({ mode: 'background' });
    const memory = await SqliteStore.open({ path: ':memory:' });
    const inline = await SqliteStore.open({ path: newPath(), checkpoint: 'inline' });
    expect(memory.checkpointer).toEqual({ mode: 'inline' });
    expect(inline.checkpointer).toEqual({ mode: 'inline' });
    expect(inline.db.pragma('wal_autocheckpoint', { simple: true })).toBe(1000n);
    await memory.close();
    await inline.close();
  });

  it('the runtime reports the background checkpointer as a gauge', async () => {
    const runtime = await openRuntime(loadConfig({ REMITNET_DB: newPath() }), {
      expiryInterval_ms: 0,
    });
    try {
      expect(runtime.metrics.registry.render()).toMatch(
        /^remitnet_sqlite_checkpointer_background 1$/m,
      );
    } finally {
      await runtime.close();
    }
  });
});
