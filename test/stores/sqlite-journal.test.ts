/**
 * SQLite balance journal: a batch writes the balances of the accounts it changed as one
 * journal row; every so often a batch folds the journal into the accounts table. Whoever
 * reads an account (this connection after its cache is dropped, another connection,
 * another process) must see the newest journal entry over the account row.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Ledger } from '../../src/ledger/ledger.ts';
import {
  AccountFlags,
  NS_PER_S,
  TransferFlags,
  type Account,
  type TransferInput,
} from '../../src/ledger/types.ts';
import { u128ToBytes } from '../../src/stores/codec.ts';
import { SqliteStore } from '../../src/stores/sqlite/sqlite-store.ts';

const dir = mkdtempSync(join(tmpdir(), 'remitnet-sqlite-journal-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const newPath = () => join(dir, `j-${++files}.sqlite`);
const USD = 840;
const T0 = 1_760_000_000n * NS_PER_S;

const t = (
  id: bigint,
  dr: bigint,
  cr: bigint,
  amount: bigint,
  extra: Partial<TransferInput> = {},
): TransferInput => ({
  id,
  debitAccountId: dr,
  creditAccountId: cr,
  amount,
  ledger: USD,
  code: 1,
  ...extra,
});

function journalRows(store: SqliteStore): number {
  // A fold leaves an empty marker row: count the rows that hold balances.
  return Number(
    store.db
      .prepare('SELECT count(*) FROM balance_journal WHERE length(entries) > 0')
      .pluck()
      .get(),
  );
}

/** An account's row in the accounts table, as stored (no journal applied). */
function accountRow(store: SqliteStore, id: bigint) {
  const r = store.db
    .prepare(
      'SELECT debits_pending, debits_posted, credits_pending, credits_posted, closed FROM accounts WHERE id = ?',
    )
    .raw()
    .get(u128ToBytes(id)) as bigint[];
  return r.map(Number);
}

const balances = (a: Account) => [
  Number(a.debitsPending),
  Number(a.debitsPosted),
  Number(a.creditsPending),
  Number(a.creditsPosted),
  a.closed ? 1 : 0,
];

/** A fresh connection's view of every account: what another process would read. */
async function freshView(path: string, ids: readonly bigint[]): Promise<number[][]> {
  const other = await SqliteStore.open({ path, checkpoint: 'inline' });
  try {
    return (await other.lookupAccounts(ids)).map(balances);
  } finally {
    await other.close();
  }
}

describe('SQLite balance journal', () => {
  it('another connection reads journal-only balances, spends them exactly, and is seen back', async () => {
    const path = newPath();
    // No fold in this test: every balance change lives only in the journal.
    const one = await SqliteStore.open({ path, balanceFoldEvery: 1_000_000 });
    const two = await SqliteStore.open({ path, balanceFoldEvery: 1_000_000 });
    try {
      let now = T0;
      const l1 = new Ledger(one, { clock: () => (now += 1000n) });
      const l2 = new Ledger(two, { clock: () => (now += 1000n) });
      const [a, b, c] = [1n, 2n, 3n];
      expect(
        await l1.createAccounts([
          { id: a, ledger: USD, code: 1, flags: AccountFlags.debitsMustNotExceedCredits },
          { id: b, ledger: USD, code: 1 },
          { id: c, ledger: USD, code: 1 },
        ]),
      ).toEqual(['ok', 'ok', 'ok']);
      expect(await l1.createTransfers([t(10n, b, a, 100n), t(11n, a, c, 30n)])).toEqual([
        'ok',
        'ok',
      ]);
      expect(journalRows(one)).toBe(1);
      expect(accountRow(one, a)).toEqual([0, 0, 0, 0, 0]); // the row is behind the journal
      const [seen] = await l2.lookupAccounts([a]);
      expect(balances(seen!)).toEqual([0, 30, 0, 100, 0]);
      const scanned = await two.scanAccounts(0n, 10);
      expect(scanned.map(balances)).toEqual([
        [0, 30, 0, 100, 0],
        [0, 100, 0, 0, 0],
        [0, 0, 0, 30, 0],
      ]);
      // Connection two may spend exactly what the journal says a holds, and not a unit more.
      expect(await l2.createTransfers([t(12n, a, c, 71n)])).toEqual(['exceeds_credits']);
      expect(await l2.createTransfers([t(13n, a, c, 70n)])).toEqual(['ok']);
      // Connection one (its cache now stale) sees it: a holds nothing more.
      expect(await l1.createTransfers([t(14n, a, c, 1n)])).toEqual(['exceeds_credits']);
      expect(balances((await l1.lookupAccounts([a]))[0]!)).toEqual([0, 100, 0, 100, 0]);
      expect(journalRows(one)).toBe(2);
      expect(await freshView(path, [a, b, c])).toEqual([
        [0, 100, 0, 100, 0],
        [0, 100, 0, 0, 0],
        [0, 0, 0, 100, 0],
      ]);
    } finally {
      await one.close();
      await two.close();
    }
  });

  it('folds into the accounts table and empties the journal; reopening replays what is left', async () => {
    const path = newPath();
    const store = await SqliteStore.open({ path, balanceFoldEvery: 10 });
    const ids = [1n, 2n, 3n, 4n, 5n, 6n];
    let now = T0;
    const ledger = new Ledger(store, { clock: () => (now += 1000n) });
    expect(await ledger.createAccounts(ids.map((id) => ({ id, ledger: USD, code: 1 })))).toEqual(
      ids.map(() => 'ok'),
    );
    const expected = new Map(ids.map((id) => [id, [0, 0, 0, 0, 0]]));
    let next = 100n;
    let folds = 0;
    let journalOnly = 0;
    for (let round = 0; round < 28; round++) {
      const k = round % ids.length;
      const dr = ids[k]!;
      const cr = ids[(k + 1 + (round % 4)) % ids.length]!;
      const before = journalRows(store);
      expect(await ledger.createTransfers([t(next++, dr, cr, BigInt(round + 1))])).toEqual(['ok']);
      expected.get(dr)![1]! += round + 1;
      expected.get(cr)![3]! += round + 1;
      const after = journalRows(store);
      if (after === 0) {
        folds++;
        expect(before).toBeGreaterThan(0);
        // Folded: the table alone holds every balance.
        for (const id of ids) expect(accountRow(store, id)).toEqual(expected.get(id));
      } else {
        expect(after).toBe(before + 1);
        if (ids.some((id) => accountRow(store, id).join() !== expected.get(id)!.join()))
          journalOnly++;
      }
      expect((await store.lookupAccounts(ids)).map(balances)).toEqual(
        ids.map((id) => expected.get(id)),
      );
    }
    // Ten entries a fold, two a batch: a fold every sixth batch.
    expect(folds).toBe(4);
    expect(journalOnly).toBeGreaterThan(10);
    expect(journalRows(store)).toBeGreaterThan(0);
    await store.close();
    // A new connection, as after a restart: table rows plus the journal that is left.
    expect(await freshView(path, ids)).toEqual(ids.map((id) => expected.get(id)));
    // It folds a journal it read from the table (not from its own memory) exactly.
    const again = await SqliteStore.open({ path, balanceFoldEvery: 10 });
    try {
      const l = new Ledger(again, { clock: () => (now += 1000n) });
      while (journalRows(again) !== 0) {
        expect(await l.createTransfers([t(next++, 1n, 2n, 1n)])).toEqual(['ok']);
        expected.get(1n)![1]! += 1;
        expected.get(2n)![3]! += 1;
      }
      for (const id of ids) expect(accountRow(again, id)).toEqual(expected.get(id));
    } finally {
      await again.close();
    }
  });

  it("two connections writing in turn, each folding, read each other's journal rows and folds", async () => {
    const path = newPath();
    const stores = [
      await SqliteStore.open({ path, balanceFoldEvery: 7 }),
      await SqliteStore.open({ path, balanceFoldEvery: 13 }),
    ];
    try {
      let now = T0;
      const ledgers = stores.map((s) => new Ledger(s, { clock: () => (now += 1000n) }));
      const ids = [1n, 2n, 3n, 4n, 5n];
      expect(
        await ledgers[0]!.createAccounts(ids.map((id) => ({ id, ledger: USD, code: 1 }))),
      ).toEqual(ids.map(() => 'ok'));
      const want = new Map(ids.map((id) => [id, [0, 0, 0, 0, 0]]));
      let next = 100n;
      let markers = 0;
      for (let i = 0; i < 60; i++) {
        // Runs of one to three batches on the same connection, then the other's turn.
        const who = Math.floor(i / (1 + (i % 3))) % 2;
        const dr = ids[i % ids.length]!;
        const cr = ids[(i * 2 + 1) % ids.length]!;
        if (dr === cr) continue;
        expect(await ledgers[who]!.createTransfers([t(next++, dr, cr, BigInt(i + 1))])).toEqual([
          'ok',
        ]);
        want.get(dr)![1]! += i + 1;
        want.get(cr)![3]! += i + 1;
        if (
          stores[0]!.db.prepare('SELECT 1 FROM balance_journal WHERE length(entries) = 0').get()
        ) {
          markers++;
        }
        for (const s of stores) {
          expect((await s.lookupAccounts(ids)).map(balances)).toEqual(
            ids.map((id) => want.get(id)),
          );
        }
      }
      expect(markers).toBeGreaterThan(10);
      expect(await freshView(path, ids)).toEqual(ids.map((id) => want.get(id)));
    } finally {
      for (const s of stores) await s.close();
    }
  });

  it('another process reads journal-only balances, closed flags and expiries', async () => {
    const path = newPath();
    const store = await SqliteStore.open({ path, balanceFoldEvery: 1_000_000 });
    try {
      let now = T0;
      const ledger = new Ledger(store, { clock: () => now });
      const [a, b, c] = [1n, 2n, 3n];
      expect(
        await ledger.createAccounts([a, b, c].map((id) => ({ id, ledger: USD, code: 1 }))),
      ).toEqual(['ok', 'ok', 'ok']);
      expect(
        await ledger.createTransfers([
          t(10n, a, b, 5n),
          // closes c while it stands
          t(11n, c, b, 7n, { flags: TransferFlags.pending | TransferFlags.closingDebit }),
          t(12n, a, b, 9n, { flags: TransferFlags.pending, timeout: 1 }),
        ]),
      ).toEqual(['ok', 'ok', 'ok']);
      const want1 = [
        [9, 5, 0, 0, 0],
        [0, 0, 16, 5, 0],
        [7, 0, 0, 0, 1],
      ];
      expect(await readInChild(path, [a, b, c])).toEqual(want1);
      // A closed account refuses transfers, for another connection too.
      const other = await SqliteStore.open({ path });
      try {
        const l2 = new Ledger(other, { clock: () => now });
        expect(await l2.createTransfers([t(13n, c, a, 1n)])).toEqual([
          'debit_account_already_closed',
        ]);
      } finally {
        await other.close();
      }
      // The reservation on a expires; the sweep's balances go through the journal too.
      now += 2n * NS_PER_S;
      expect(await ledger.expire()).toBe(1);
      expect(accountRow(store, a)).toEqual([0, 0, 0, 0, 0]);
      expect(await readInChild(path, [a, b, c])).toEqual([
        [0, 5, 0, 0, 0],
        [0, 0, 7, 5, 0],
        [7, 0, 0, 0, 1],
      ]);
      // Voiding the closing transfer reopens c.
      expect(
        await ledger.createTransfers([
          t(14n, 0n, 0n, 0n, { pendingId: 11n, flags: TransferFlags.voidPending }),
        ]),
      ).toEqual(['ok']);
      expect(await readInChild(path, [c])).toEqual([[0, 0, 0, 0, 0]]);
    } finally {
      await store.close();
    }
  });

  it('a cache too small to hold the accounts reads them back through the journal', async () => {
    // Three slots for eight accounts: the cache (and the unindexed posting lists kept with
    // it) is dropped again and again, so accounts are read from their rows plus the
    // journal, and index runs read the rows back.
    const path = newPath();
    const store = await SqliteStore.open({
      path,
      accountCacheMax: 3,
      balanceFoldEvery: 11,
      historyIndexEvery: 5,
    });
    try {
      let now = T0;
      const ledger = new Ledger(store, { clock: () => (now += 1000n) });
      const ids = [1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n];
      expect(await ledger.createAccounts(ids.map((id) => ({ id, ledger: USD, code: 1 })))).toEqual(
        ids.map(() => 'ok'),
      );
      const want = new Map(ids.map((id) => [id, [0, 0, 0, 0, 0]]));
      let next = 1000n;
      for (let b = 0; b < 25; b++) {
        const batch = Array.from({ length: 1 + (b % 4) }, (_v, k) => {
          const dr = ids[(b + k) % ids.length]!;
          const cr = ids[(b * 3 + k + 1) % ids.length]!;
          return { dr, cr, amount: BigInt(1 + b + k) };
        }).filter((x) => x.dr !== x.cr);
        const results = await ledger.createTransfers(
          batch.map((x) => t(next++, x.dr, x.cr, x.amount)),
        );
        expect(results).toEqual(batch.map(() => 'ok'));
        for (const x of batch) {
          want.get(x.dr)![1]! += Number(x.amount);
          want.get(x.cr)![3]! += Number(x.amount);
        }
        expect((await store.lookupAccounts(ids)).map(balances)).toEqual(
          ids.map((id) => want.get(id)),
        );
      }
      expect((await store.scanAccounts(0n, 100)).map(balances)).toEqual(
        ids.map((id) => want.get(id)),
      );
      expect(await freshView(path, ids)).toEqual(ids.map((id) => want.get(id)));
      // History is whole too: every transfer of account 1, from the index and the tail.
      const page = await ledger.getAccountTransfers({ accountId: 1n, limit: 1000 });
      const all = store.db
        .prepare(
          'SELECT count(*) FROM transfers WHERE debit_account_id = ? OR credit_account_id = ?',
        )
        .pluck()
        .get(u128ToBytes(1n), u128ToBytes(1n));
      expect(BigInt(page.transfers.length)).toBe(all);
      expect(
        Number(store.db.prepare('SELECT count(*) FROM history_stretches').pluck().get()),
      ).toBeGreaterThan(3);
    } finally {
      await store.close();
    }
  });

  it('a batch undone by a duplicate id leaves the journal and the cache right', async () => {
    const path = newPath();
    const store = await SqliteStore.open({ path, balanceFoldEvery: 7, historyIndexEvery: 3 });
    try {
      let now = T0;
      const ledger = new Ledger(store, { clock: () => (now += 1000n) });
      expect(
        await ledger.createAccounts([1n, 2n].map((id) => ({ id, ledger: USD, code: 1 }))),
      ).toEqual(['ok', 'ok']);
      let total = 0n;
      for (let i = 0; i < 12; i++) {
        // Every batch repeats the previous batch's id: the optimistic run is undone, then
        // rerun with real look-ups.
        const batch = [t(BigInt(100 + i), 1n, 2n, 3n), t(BigInt(200 + i), 2n, 1n, 1n)];
        if (i > 0) batch.unshift(t(BigInt(100 + i - 1), 1n, 2n, 3n));
        const results = await ledger.createTransfers(batch);
        expect(results).toEqual(i > 0 ? ['exists', 'ok', 'ok'] : ['ok', 'ok']);
        total += 1n;
        const [x] = await ledger.lookupAccounts([1n]);
        expect([x!.debitsPosted, x!.creditsPosted]).toEqual([3n * total, total]);
      }
      expect(await freshView(path, [1n, 2n])).toEqual([
        [0, 36, 0, 12, 0],
        [0, 12, 0, 36, 0],
      ]);
      const page = await ledger.getAccountTransfers({ accountId: 1n, limit: 100 });
      expect(page.transfers.length).toBe(24);
    } finally {
      await store.close();
    }
  });
});

/** Reads balances in a separate node process (its own connection, its own caches). */
function readInChild(path: string, ids: readonly bigint[]): Promise<number[][]> {
  const script = `
    const { SqliteStore } = await import(${JSON.stringify(
      new URL('../../src/stores/sqlite/sqlite-store.ts', import.meta.url).href,
    )});
    const store = await SqliteStore.open({ path: process.argv[1], checkpoint: 'inline' });
    const ids = process.argv.slice(2).map(BigInt);
    const accounts = await store.lookupAccounts(ids);
    await store.close();
    process.stdout.write(JSON.stringify(accounts.map((a) => [a.debitsPending, a.debitsPosted,
      a.creditsPending, a.creditsPosted].map(Number).concat(a.closed ? 1 : 0))));`;
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script, path, ...ids.map(String)],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`child exited ${code}: ${err}`));
      else resolve(JSON.parse(out) as number[][]);
    });
  });
}
