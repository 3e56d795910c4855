/**
 * SQLite account history: posting lists (one row per account per indexed stretch) merged
 * with the rows newer than the index, and the migration that turns a v3 database's
 * per-transfer index (account_transfers) into posting lists with its history intact.
 *
 * Every read is checked against a brute-force answer computed from the transfers table.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkHistory } from '../support/history.ts';
import { Ledger } from '../../src/ledger/ledger.ts';
import { TransferFlags } from '../../src/ledger/types.ts';
import { u128ToBytes } from '../../src/stores/codec.ts';
import { SQLITE_MIGRATIONS } from '../../src/stores/sqlite/schema.ts';
import { migrateSqlite, SqliteStore } from '../../src/stores/sqlite/sqlite-store.ts';

const dir = mkdtempSync(join(tmpdir(), 'remitnet-sqlite-history-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const newPath = () => join(dir, `h-${++files}.sqlite`);

/** Every transfer of an account, oldest first, straight from the transfers table. */
function bruteForce(db: Database.Database, accountId: bigint): { ts: bigint; debit: boolean }[] {
  const id = u128ToBytes(accountId);
  const rows = db
    .prepare(
      'SELECT ts, debit_account_id = ? AS debit FROM transfers WHERE debit_account_id = ? OR credit_account_id = ? ORDER BY ts',
    )
    .raw()
    .all(id, id, id) as [bigint, bigint][];
  return rows.map(([ts, debit]) => ({ ts, debit: debit === 1n }));
}

/** Balances rebuilt by brute force: what getAccountBalanceAt must answer. */
function balanceBruteForce(db: Database.Database, accountId: bigint, at: bigint) {
  const id = u128ToBytes(accountId);
  const rows = db
    .prepare(
      `SELECT t.amount, t.flags, t.debit_account_id = ? AS debit, p.ts IS NOT NULL AS pending, p.resolved_at
       FROM transfers t LEFT JOIN pending_transfers p ON p.ts = t.ts
       WHERE (t.debit_account_id = ? OR t.credit_account_id = ?) AND t.ts <= ?`,
    )
    .raw()
    .all(id, id, id, at) as [bigint, bigint, bigint, bigint, bigint | null][];
  const b = { debitsPending: 0n, debitsPosted: 0n, creditsPending: 0n, creditsPosted: 0n };
  for (const [amount, flags, debit, pending, resolvedAt] of rows) {
    if ((flags & 10n) === 0n) {
      if (debit === 1n) b.debitsPosted += amount;
      else b.creditsPosted += amount;
    }
    if (pending === 1n && (resolvedAt === null || resolvedAt > at)) {
      if (debit === 1n) b.debitsPending += amount;
      else b.creditsPending += amount;
    }
  }
  return b;
}

async function checkBalances(store: SqliteStore, accountId: bigint) {
  const all = bruteForce(store.db, accountId);
  const times = [
    all[0]!.ts - 1n,
    ...[0.1, 0.5, 0.77, 1].map((f) => all[Math.floor(f * (all.length - 1))]!.ts),
  ];
  for (const at of times) {
    const got = await store.getAccountBalanceAt(accountId, at);
    expect(got).toEqual({
      accountId,
      timestamp: at,
      ...balanceBruteForce(store.db, accountId, at),
    });
  }
}

function stretches(db: Database.Database): number {
  return Number(db.prepare('SELECT count(*) FROM history_stretches').pluck().get());
}

function tailRows(db: Database.Database): number {
  return Number(
    db
      .prepare(
        'SELECT count(*) FROM transfers WHERE ts > (SELECT indexed_upto FROM ledger_clock WHERE id = 1)',
      )
      .pluck()
      .get(),
  );
}

describe('SQLite account history: posting lists and the tail', () => {
  it('reads across many stretches and the rows after them, every way, as brute force', async () => {
    const store = await SqliteStore.open({ path: newPath(), historyIndexEvery: 50 });
    try {
      const S = 1_000_000_000n;
      let now = 1_760_000_000n * S;
      const ledger = new Ledger(store, { clock: () => (now += 1000n) });
      const accounts = [1n, 2n, 3n, 4n, 5n, 6n];
      expect(
        await ledger.createAccounts(accounts.map((id) => ({ id, ledger: 840, code: 1 }))),
      ).toEqual(accounts.map(() => 'ok'));
      // Account 6 is rare: it takes part in few transfers, so most stretches lack it.
      let next = 100n;
      for (let b = 0; b < 40; b++) {
        const batch = Array.from({ length: 1 + ((b * 7) % 31) }, (_v, k) => {
          const i = Number(next);
          const dr = accounts[i % 5]!;
          const cr = i % 37 === 0 ? 6n : accounts[(i % 5) + 1 === 5 ? 0 : (i % 5) + 1]!;
          return {
            id: next++,
            debitAccountId: k % 3 === 0 ? cr : dr,
            creditAccountId: k % 3 === 0 ? dr : cr,
            amount: BigInt(1 + (i % 97)),
            ledger: 840,
            code: 1,
            flags: i % 11 === 0 ? TransferFlags.pending : 0,
          };
        });
        expect(new Set(await ledger.createTransfers(batch))).toEqual(new Set(['ok']));
      }
      // Post some pending transfers, so history holds posts too.
      const pendings = [...Array(Number(next - 100n)).keys()]
        .map((k) => 100n + BigInt(k))
        .filter((id) => Number(id) % 11 === 0)
        .slice(0, 20);
      expect(
        await ledger.createTransfers(
          pendings.map((p, k) => ({
            id: next++,
            pendingId: p,
            flags: k % 2 === 0 ? TransferFlags.postPending : TransferFlags.voidPending,
          })),
        ),
      ).toEqual(pendings.map(() => 'ok'));
      expect(stretches(store.db)).toBeGreaterThan(8);
      expect(tailRows(store.db)).toBeGreaterThan(0);
      for (const a of accounts) {
        await checkHistory(
          store,
          a,
          bruteForce(store.db, a),
          a === 6n ? [1, 2, 100] : [1, 7, 50, 8189],
        );
        await checkBalances(store, a);
      }
    } finally {
      await store.close();
    }
  });
});

// The v3 store's statements, as they were: the history index filled in bulk.
const V3_INDEX_HISTORY = `INSERT INTO account_transfers (account_id, ts)
  SELECT debit_account_id, ts FROM transfers WHERE ts > (SELECT indexed_upto FROM ledger_clock WHERE id = 1)
  UNION ALL
  SELECT credit_account_id, ts FROM transfers WHERE ts > (SELECT indexed_upto FROM ledger_clock WHERE id = 1)
  ORDER BY 1, 2`;
const V3_RAISE_INDEXED_UPTO = `UPDATE ledger_clock SET indexed_upto = coalesce((SELECT max(ts) FROM transfers), 0) WHERE id = 1`;

describe('SQLite migration from schema 3 (account_transfers) to posting lists', () => {
  it('keeps every account history and balance of an existing database', async () => {
    const path = newPath();
    const ACCOUNTS = 20;
    const db = new Database(path);
    db.defaultSafeIntegers(true);
    await migrateSqlite(db, SQLITE_MIGRATIONS.slice(0, 3));
    const accountId = (k: number) => 0xacc000n + BigInt(k);
    const insertAccount = db.prepare(
      `INSERT INTO accounts (ts, id, ledger, code, flags, user_data_128, user_data_64, user_data_32,
         debits_pending, debits_posted, credits_pending, credits_posted, closed)
       VALUES (?, ?, 410, 1, 0, NULL, 0, 0, 0, 0, 0, 0, 0)`,
    );
    for (let k = 0; k < ACCOUNTS; k++) insertAccount.run(BigInt(k + 1), u128ToBytes(accountId(k)));
    // Transfers i = 0.. between account i % 20 and another; every 13th pending, some of
    // those resolved later; ts = 1000 + i.
    const insertTransfers = db.prepare(
      `WITH RECURSIVE n(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?)
       INSERT INTO transfers (ts, id, debit_account_id, credit_account_id, amount, pending_id,
         user_data_128, user_data_64, user_data_32, timeout, ledger, code, flags)
       SELECT 1000 + i, unhex(printf('%032x', 1000000 + i)),
         (SELECT id FROM accounts WHERE ts = 1 + i % 20),
         (SELECT id FROM accounts WHERE ts = 1 + (i % 20 + 1 + (i / 20) % 19) % 20),
         1 + i % 1000, NULL, NULL, 0, 0, 0, 410, 1, CASE WHEN i % 13 = 0 THEN 2 ELSE 0 END
       FROM n`,
    );
    const FIRST = 140_000;
    const TOTAL = 150_000;
    insertTransfers.run(0, FIRST);
    // Pending states: pending transfers with i % 39 = 0 were voided 5 transfers later.
    db.exec(`INSERT INTO pending_transfers (ts, status, expires_at, resolved_at)
      SELECT ts, CASE WHEN (ts - 1000) % 39 = 0 THEN 2 ELSE 0 END, NULL,
        CASE WHEN (ts - 1000) % 39 = 0 THEN ts + 5 ELSE NULL END
      FROM transfers WHERE flags = 2`);
    db.exec(V3_INDEX_HISTORY);
    db.exec(V3_RAISE_INDEXED_UPTO);
    insertTransfers.run(FIRST, TOTAL); // the tail: newer than the index
    db.exec(`INSERT INTO pending_transfers (ts, status, expires_at, resolved_at)
      SELECT ts, 0, NULL, NULL FROM transfers WHERE flags = 2 AND ts >= ${1000 + FIRST}`);
    // Account balances as the v3 store kept them.
    db.exec(`UPDATE accounts SET
      debits_posted = coalesce((SELECT sum(amount) FROM transfers t WHERE t.debit_account_id = accounts.id AND t.flags = 0), 0),
      credits_posted = coalesce((SELECT sum(amount) FROM transfers t WHERE t.credit_account_id = accounts.id AND t.flags = 0), 0),
      debits_pending = coalesce((SELECT sum(amount) FROM transfers t JOIN pending_transfers p ON p.ts = t.ts
        WHERE t.debit_account_id = accounts.id AND p.status = 0), 0),
      credits_pending = coalesce((SELECT sum(amount) FROM transfers t JOIN pending_transfers p ON p.ts = t.ts
        WHERE t.credit_account_id = accounts.id AND p.status = 0), 0)`);
    expect(Number(db.prepare('SELECT count(*) FROM account_transfers').pluck().get())).toBe(
      2 * FIRST,
    );
    const before = db.prepare('SELECT * FROM accounts ORDER BY ts').all();
    db.close();

    const store = await SqliteStore.open({ path, historyIndexEvery: 5000 });
    try {
      const tables = store.db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .pluck()
        .all();
      expect(tables).not.toContain('account_transfers');
      // 140,000 indexed transfers: stretches of 65,536, 65,536 and 8,928.
      expect(stretches(store.db)).toBe(3);
      expect(tailRows(store.db)).toBe(TOTAL - FIRST);
      const lists = store.db
        .prepare('SELECT count(*), sum(length(list)) FROM account_postings')
        .raw()
        .get() as bigint[];
      expect(lists).toEqual([BigInt(3 * ACCOUNTS), BigInt(2 * FIRST * 8)]);
      for (const k of [0, 7, 19]) {
        await checkHistory(store, accountId(k), bruteForce(store.db, accountId(k)), [1000, 8189]);
        await checkBalances(store, accountId(k));
      }
      // Account rows are unchanged, and read back exactly.
      expect(store.db.prepare('SELECT * FROM accounts ORDER BY ts').all()).toEqual(before);
      const scanned = await store.scanAccounts(0n, 100);
      expect(scanned.map((a) => a.id)).toEqual(
        Array.from({ length: ACCOUNTS }, (_v, k) => accountId(k)),
      );
      // The migrated store carries on: new transfers, indexed into new stretches.
      const ledger = new Ledger(store);
      for (let b = 0; b < 3; b++) {
        const batch = Array.from({ length: 4000 }, (_v, j) => ({
          id: 5_000_000n + BigInt(b * 4000 + j),
          debitAccountId: accountId(j % ACCOUNTS),
          creditAccountId: accountId((j + 1 + b) % ACCOUNTS),
          amount: 3n,
          ledger: 410,
          code: 1,
        }));
        expect(new Set(await ledger.createTransfers(batch))).toEqual(new Set(['ok']));
      }
      expect(stretches(store.db)).toBe(5);
      await checkHistory(store, accountId(3), bruteForce(store.db, accountId(3)), [8189]);
      await checkBalances(store, accountId(3));
    } finally {
      await store.close();
    }
  });
});

describe('SQLite account history when the batch of an index run fails late', () => {
  it('indexes, in a later run, the rows that the failed run would have indexed', async () => {
    const store = await SqliteStore.open({ path: newPath(), historyIndexEvery: 10 });
    try {
      const ledger = new Ledger(store);
      expect(
        await ledger.createAccounts([1n, 2n].map((id) => ({ id, ledger: 840, code: 1 }))),
      ).toEqual(['ok', 'ok']);
      const transfer = (id: bigint) => ({
        id,
        debitAccountId: 1n,
        creditAccountId: 2n,
        amount: 1n,
        ledger: 840,
        code: 1,
      });
      // Six rows, below the index interval: they wait, unindexed.
      expect(await ledger.createTransfers([1n, 2n, 3n, 4n, 5n, 6n].map(transfer))).toEqual(
        Array(6).fill('ok'),
      );
      // A batch that crosses the interval (an index run) and whose last event fails, so it
      // also raises the clock floor: made to fail there, after the index run.
      store.db.exec(`CREATE TRIGGER fail_floor BEFORE UPDATE OF floor_ts ON ledger_clock
        BEGIN SELECT RAISE(ABORT, 'the disk is full'); END`);
      await expect(
        ledger.createTransfers([
          ...[7n, 8n, 9n, 10n, 11n].map(transfer),
          { ...transfer(12n), amount: 0n },
        ]),
      ).rejects.toThrow(/disk is full/);
      store.db.exec('DROP TRIGGER fail_floor');
      // The next index run must hold the six older rows as well as the new ones.
      expect(await ledger.createTransfers([20n, 21n, 22n, 23n, 24n, 25n].map(transfer))).toEqual(
        Array(6).fill('ok'),
      );
      expect(stretches(store.db)).toBe(1);
      expect(tailRows(store.db)).toBe(0);
      await checkHistory(store, 1n, bruteForce(store.db, 1n), [1, 5, 100]);
    } finally {
      await store.close();
    }
  });
});
