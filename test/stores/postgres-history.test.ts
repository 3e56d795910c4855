/**
 * PostgreSQL deferred state (schema.ts, migration 2): account history as posting lists
 * (one row per account per indexed stretch) merged with the rows newer than the index;
 * the balance journal (one row per batch) folded into accounts every so often, seen by
 * every reader, in this process and in another; and the migration of a version-1
 * database with history into both, intact.
 *
 * Every read is checked against a brute-force answer computed from the transfers table.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkHistory } from '../support/history.ts';
import { Ledger } from '../../src/ledger/ledger.ts';
import { TransferFlags, type TransferInput } from '../../src/ledger/types.ts';
import { unpackTimestamps } from '../../src/stores/deferred.ts';
import { POSTGRES_MIGRATIONS } from '../../src/stores/postgres/schema.ts';
import {
  PostgresStore,
  type PostgresStoreOptions,
} from '../../src/stores/postgres/postgres-store.ts';
import { createTestDatabase, postgresWanted } from '../support/stores.ts';
import { ledgerViolations } from './postgres-checks.ts';

const enabled = await postgresWanted();
const LEDGER = 410;

const hex = (v: bigint) => v.toString(16).padStart(32, '0');

/** Every transfer of an account, oldest first, straight from the transfers table. */
async function bruteForce(store: PostgresStore, accountId: bigint) {
  const r = await store.pool.query(
    `SELECT ts, debit_account_id = $1::uuid AS debit FROM transfers
     WHERE debit_account_id = $1::uuid OR credit_account_id = $1::uuid ORDER BY ts`,
    [hex(accountId)],
  );
  return (r.rows as { ts: bigint; debit: boolean }[]).map((x) => ({ ts: x.ts, debit: x.debit }));
}

async function balanceBruteForce(store: PostgresStore, accountId: bigint, at: bigint) {
  const r = await store.pool.query(
    `SELECT t.amount, t.flags, t.debit_account_id = $1::uuid AS debit, p.ts IS NOT NULL AS pending,
       p.resolved_at FROM transfers t LEFT JOIN pending_transfers p ON p.ts = t.ts
     WHERE (t.debit_account_id = $1::uuid OR t.credit_account_id = $1::uuid) AND t.ts <= $2`,
    [hex(accountId), at.toString()],
  );
  const b = { debitsPending: 0n, debitsPosted: 0n, creditsPending: 0n, creditsPosted: 0n };
  for (const x of r.rows as {
    amount: bigint;
    flags: number;
    debit: boolean;
    pending: boolean;
    resolved_at: bigint | null;
  }[]) {
    if ((x.flags & 10) === 0) {
      if (x.debit) b.debitsPosted += x.amount;
      else b.creditsPosted += x.amount;
    }
    if (x.pending && (x.resolved_at === null || x.resolved_at > at)) {
      if (x.debit) b.debitsPending += x.amount;
      else b.creditsPending += x.amount;
    }
  }
  return b;
}

async function checkBalances(store: PostgresStore, accountId: bigint) {
  const all = await bruteForce(store, accountId);
  const times = [
    all[0]!.ts - 1n,
    ...[0.1, 0.5, 0.77, 1].map((f) => all[Math.floor(f * (all.length - 1))]!.ts),
  ];
  for (const at of times) {
    expect(await store.getAccountBalanceAt(accountId, at)).toEqual({
      accountId,
      timestamp: at,
      ...(await balanceBruteForce(store, accountId, at)),
    });
  }
}

async function count(store: PostgresStore, sql: string): Promise<number> {
  return Number((await store.pool.query(sql)).rows[0].n);
}
const stretches = (s: PostgresStore) =>
  count(s, 'SELECT count(DISTINCT upto) AS n FROM account_postings');
const tailRows = (s: PostgresStore) =>
  count(
    s,
    'SELECT count(*) AS n FROM transfers WHERE ts > (SELECT indexed_upto FROM ledger_clock WHERE id = 1)',
  );
const journalRows = (s: PostgresStore) => count(s, 'SELECT count(*) AS n FROM balance_journal');

/** A deterministic random workload: plain, pending, posted and voided transfers. */
function workload(seed: number, accounts: readonly bigint[]) {
  let a = seed >>> 0;
  const random = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  let nextId = 1000n;
  const pendings: bigint[] = [];
  return (n: number): TransferInput[] => {
    const out: TransferInput[] = [];
    for (let i = 0; i < n; i++) {
      const r = random();
      const pendingId = pendings.length > 0 && r < 0.2 ? pendings.shift() : undefined;
      if (pendingId !== undefined) {
        out.push({
          id: nextId++,
          pendingId,
          flags: r < 0.1 ? TransferFlags.postPending : TransferFlags.voidPending,
        });
        continue;
      }
      const d = Math.floor(random() * accounts.length);
      let c = Math.floor(random() * (accounts.length - 1));
      if (c >= d) c++;
      const pending = random() < 0.25;
      const id = nextId++;
      if (pending) pendings.push(id);
      out.push({
        id,
        debitAccountId: accounts[d]!,
        creditAccountId: accounts[c]!,
        amount: BigInt(1 + Math.floor(random() * 1000)),
        ledger: LEDGER,
        code: 1,
        ...(pending ? { flags: TransferFlags.pending } : {}),
      });
    }
    return out;
  };
}

describe.skipIf(!enabled)('PostgreSQL deferred history and balance journal', () => {
  let db: { url: string; drop: () => Promise<void> };
  const stores: PostgresStore[] = [];
  let schemas = 0;
  const open = async (options: Partial<PostgresStoreOptions> & { schema?: string } = {}) => {
    const s = await PostgresStore.open({
      connectionString: db.url,
      schema: `h_${++schemas}`,
      poolMax: 2,
      ...options,
    });
    stores.push(s);
    return s;
  };
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    for (const s of stores) await s.close().catch(() => undefined);
    await db?.drop();
  });

  it('reads across many stretches and the rows after them, every way, as brute force', async () => {
    const store = await open({ historyIndexEvery: 37, journalFoldEvery: 50, journalRowsMax: 4 });
    const ledger = new Ledger(store);
    const accounts = [1n, 2n, 3n, 4n, 5n];
    await ledger.createAccounts(accounts.map((id) => ({ id, ledger: LEDGER, code: 1 })));
    const next = workload(7, accounts);
    for (let b = 0; b < 40; b++) {
      const results = await ledger.createTransfers(next(1 + (b % 13)));
      expect(results.filter((r) => r !== 'ok')).toEqual([]);
    }
    expect(await stretches(store)).toBeGreaterThan(4);
    expect(await tailRows(store)).toBeGreaterThan(0);
    // Each stretch's lists decode (deferred.ts) to ascending timestamps inside it.
    const lists = await store.pool.query(
      'SELECT after, upto, debits, credits FROM account_postings',
    );
    for (const row of lists.rows as {
      after: bigint;
      upto: bigint;
      debits: Buffer;
      credits: Buffer;
    }[]) {
      for (const ts of [...unpackTimestamps(row.debits), ...unpackTimestamps(row.credits)]) {
        expect(ts > row.after && ts <= row.upto).toBe(true);
      }
    }
    for (const id of [1n, 4n]) {
      await checkHistory(store, id, await bruteForce(store, id), [1, 4, 1000]);
      await checkBalances(store, id);
    }
    expect(await ledgerViolations(store.pool)).toEqual([]);
  });

  it('another process sees balances only the journal holds, then writes on them; folds keep them', async () => {
    // Never folds by itself: every balance change stays in the journal.
    const writer = await open({
      historyIndexEvery: 1_000_000,
      journalFoldEvery: 1_000_000,
      journalRowsMax: 1_000_000,
    });
    const schema = `h_${schemas}`;
    const other = await open({ schema, journalFoldEvery: 1_000_000, journalRowsMax: 1_000_000 });
    const accounts = [1n, 2n, 3n];
    const ledger = new Ledger(writer);
    await ledger.createAccounts(accounts.map((id) => ({ id, ledger: LEDGER, code: 1 })));
    const next = workload(11, accounts);
    for (let b = 0; b < 12; b++) await ledger.createTransfers(next(5));
    expect(await journalRows(writer)).toBeGreaterThan(5);
    const raw = await writer.pool.query(
      'SELECT sum(debits_posted + credits_posted + debits_pending + credits_pending) AS n FROM accounts',
    );
    expect(BigInt(raw.rows[0].n)).toBe(0n); // the table itself was never updated
    const seenByWriter = await writer.lookupAccounts(accounts);
    const seenByOther = await other.lookupAccounts(accounts);
    expect(seenByOther).toEqual(seenByWriter);
    expect(seenByOther.some((a) => a.debitsPosted > 0n)).toBe(true);
    expect(await other.scanAccounts(-1n, 10)).toEqual(seenByWriter);
    expect(await ledgerViolations(writer.pool)).toEqual([]);

    // The other process writes: its cache is cold and the clock says someone else wrote,
    // so it reads accounts with the journal applied; a limit only the journal shows holds.
    const otherLedger = new Ledger(other);
    await otherLedger.createAccounts([
      { id: 9n, ledger: LEDGER, code: 1, flags: 2 /* debitsMustNotExceedCredits */ },
    ]);
    expect(
      await otherLedger.createTransfers([
        { id: 90n, debitAccountId: 1n, creditAccountId: 9n, amount: 77n, ledger: LEDGER, code: 1 },
        { id: 91n, debitAccountId: 9n, creditAccountId: 2n, amount: 78n, ledger: LEDGER, code: 1 },
        { id: 92n, debitAccountId: 9n, creditAccountId: 2n, amount: 77n, ledger: LEDGER, code: 1 },
      ]),
    ).toEqual(['ok', 'exceeds_credits', 'ok']);
    // And the first writer, whose cache is now stale, continues from those balances.
    for (let b = 0; b < 4; b++) await ledger.createTransfers(next(5));
    expect(await ledgerViolations(writer.pool)).toEqual([]);

    // A fold (a store that folds at every batch) moves everything into accounts: the raw
    // rows then equal what readers saw, and the journal holds only the last batch.
    const folder = await open({ schema, journalRowsMax: 1 });
    const before = await other.lookupAccounts([...accounts, 9n]);
    await new Ledger(folder).createTransfers([
      { id: 99n, debitAccountId: 3n, creditAccountId: 9n, amount: 1n, ledger: LEDGER, code: 1 },
    ]);
    expect(await journalRows(writer)).toBe(1);
    const rows = await writer.pool.query(
      `SELECT id, debits_posted, credits_posted, debits_pending, credits_pending FROM accounts
       WHERE id = ANY($1::uuid[]) ORDER BY ts`,
      [`{${[1n, 2n].map(hex).join(',')}}`],
    );
    expect(
      rows.rows.map((r: Record<string, bigint>) => [
        r.debits_posted,
        r.credits_posted,
        r.debits_pending,
        r.credits_pending,
      ]),
    ).toEqual(
      before
        .slice(0, 2)
        .map((a) => [a.debitsPosted, a.creditsPosted, a.debitsPending, a.creditsPending]),
    );
    // Every process still agrees, and the ledger is whole.
    const after = await other.lookupAccounts([...accounts, 9n]);
    expect(await writer.lookupAccounts([...accounts, 9n])).toEqual(after);
    expect(after[2]!.debitsPosted).toBe(before[2]!.debitsPosted + 1n);
    expect(await ledgerViolations(writer.pool)).toEqual([]);
  });

  it('the SQL checks see a wrong balance in the journal or in accounts, and a wrong posting list', async () => {
    const store = await open({ historyIndexEvery: 10, journalFoldEvery: 1_000_000 });
    const ledger = new Ledger(store);
    await ledger.createAccounts([1n, 2n, 3n].map((id) => ({ id, ledger: LEDGER, code: 1 })));
    const next = workload(5, [1n, 2n, 3n]);
    for (let b = 0; b < 6; b++) await ledger.createTransfers(next(4));
    expect(await ledgerViolations(store.pool)).toEqual([]);
    // Each damage is made in a transaction the checks run inside, then rolled back.
    const broken = async (sql: string, rule: RegExp) => {
      const c = await store.pool.connect();
      try {
        await c.query('BEGIN');
        await c.query(sql);
        const found = await ledgerViolations(c);
        expect(
          found.some((v) => rule.test(v)),
          found.join('; '),
        ).toBe(true);
      } finally {
        await c.query('ROLLBACK');
        c.release();
      }
    };
    // One byte of the newest journal row: the debits posted of its first entry.
    await broken(
      `UPDATE balance_journal SET balances = set_byte(balances, 23, get_byte(balances, 23) # 1)
       WHERE version = (SELECT max(version) FROM balance_journal)`,
      /balances equal the sums/,
    );
    // A posting list missing its last timestamp.
    await broken(
      `UPDATE account_postings SET debits = substr(debits, 1, length(debits) - 8)
       WHERE (account_id, upto) = (SELECT account_id, upto FROM account_postings
         WHERE length(debits) > 0 LIMIT 1)`,
      /posting lists/,
    );
    // After a fold, the accounts row itself.
    const folder = await open({ schema: `h_${schemas}`, journalRowsMax: 1 });
    await new Ledger(folder).createTransfers(next(1));
    await new Ledger(folder).createTransfers(next(1));
    expect(await journalRows(store)).toBe(1);
    expect(await ledgerViolations(store.pool)).toEqual([]);
    await broken(
      `UPDATE accounts SET credits_posted = credits_posted + 1
       WHERE ts NOT IN (SELECT ('x' || encode(substr(balances, i * 41 + 1, 8), 'hex'))::bit(64)::bigint
         FROM balance_journal, generate_series(0, length(balances) / 41 - 1) AS i)`,
      /balances equal the sums/,
    );
  });

  it('migrates a version-1 database with history: lists, balances, and later writes', async () => {
    const schema = `h_v1_${randomBytes(3).toString('hex')}`;
    const pg = (await import('pg')).default;
    const c = new pg.Client({ connectionString: db.url, options: `-c search_path=${schema}` });
    await c.connect();
    try {
      await c.query(`CREATE SCHEMA ${schema}`);
      await c.query(
        'CREATE TABLE remitnet_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at text NOT NULL)',
      );
      for (const s of POSTGRES_MIGRATIONS[0]!.statements) await c.query(s);
      await c.query(
        "INSERT INTO remitnet_migrations (version, name, applied_at) VALUES (1, 'ledger', 'then')",
      );
      // Accounts 1..4, then 300 transfers between them (every 7th pending, half of those
      // later voided), balances computed here, as a version-1 store would have left them.
      const ids = [1n, 2n, 3n, 4n];
      for (const [i, id] of ids.entries()) {
        await c.query(
          `INSERT INTO accounts VALUES ($1::uuid, $2, ${LEDGER}, 1, 0, NULL, 0, 0, 0, 0, 0, 0, false)`,
          [hex(id), 100 + i],
        );
      }
      const bal = new Map(ids.map((id) => [id, { dp: 0n, dpo: 0n, cp: 0n, cpo: 0n }]));
      let ts = 1000n;
      for (let k = 0; k < 300; k++) {
        const d = ids[k % 4]!;
        const cr = ids[(k + 1 + (k % 3)) % 4]!;
        const amount = BigInt(1 + ((k * 37) % 500));
        const pending = k % 7 === 0;
        const voided = pending && k % 14 === 0;
        ts++;
        await c.query(
          `INSERT INTO transfers VALUES ($1, $2::uuid, $3::uuid, $4::uuid, $5, NULL, NULL, 0, 0, 0, ${LEDGER}, 1, $6)`,
          [ts, hex(10_000n + BigInt(k)), hex(d), hex(cr), amount, pending ? 2 : 0],
        );
        if (pending) {
          await c.query('INSERT INTO pending_transfers VALUES ($1, $2, NULL, $3)', [
            ts,
            voided ? 2 : 0,
            voided ? ts + 1n : null,
          ]);
          if (voided) {
            ts++;
            await c.query(
              `INSERT INTO transfers VALUES ($1, $2::uuid, $3::uuid, $4::uuid, $5, $6::uuid, NULL, 0, 0, 0, ${LEDGER}, 1, 8)`,
              [ts, hex(20_000n + BigInt(k)), hex(d), hex(cr), amount, hex(10_000n + BigInt(k))],
            );
          } else {
            bal.get(d)!.dp += amount;
            bal.get(cr)!.cp += amount;
          }
        } else {
          bal.get(d)!.dpo += amount;
          bal.get(cr)!.cpo += amount;
        }
      }
      for (const [id, b] of bal) {
        await c.query(
          `UPDATE accounts SET debits_pending = $2, debits_posted = $3, credits_pending = $4,
             credits_posted = $5 WHERE id = $1::uuid`,
          [hex(id), b.dp, b.dpo, b.cp, b.cpo],
        );
      }
      await c.query('UPDATE ledger_clock SET last_ts = $1, version = 7', [ts]);
    } finally {
      await c.end();
    }

    const store = await open({ schema, historyIndexEvery: 25, journalRowsMax: 3 });
    expect(await ledgerViolations(store.pool)).toEqual([]);
    expect(await tailRows(store)).toBe(0); // all history indexed, as one stretch
    expect(await stretches(store)).toBe(1);
    const indexes = await store.pool.query(
      `SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND tablename = 'transfers' ORDER BY 1`,
      [schema],
    );
    expect(indexes.rows.map((r: { indexname: string }) => r.indexname)).toEqual([
      'transfers_id_key',
      'transfers_pkey',
    ]);
    for (const id of [1n, 3n]) {
      await checkHistory(store, id, await bruteForce(store, id), [1, 7, 1000]);
      await checkBalances(store, id);
    }
    // Writing on: new stretches after the migrated one, folds, and the same answers.
    const ledger = new Ledger(store);
    const next = workload(3, [1n, 2n, 3n, 4n]);
    for (let b = 0; b < 15; b++) {
      expect((await ledger.createTransfers(next(9))).filter((r) => r !== 'ok')).toEqual([]);
    }
    expect(await stretches(store)).toBeGreaterThan(3);
    for (const id of [2n, 4n]) {
      await checkHistory(store, id, await bruteForce(store, id), [3, 1000]);
      await checkBalances(store, id);
    }
    expect(await ledgerViolations(store.pool)).toEqual([]);
  });
});

describe.skipIf(!enabled)('PostgreSQL: big batches go in by binary COPY', () => {
  let db: { url: string; drop: () => Promise<void> };
  let store: PostgresStore;
  beforeAll(async () => {
    db = await createTestDatabase();
    store = await PostgresStore.open({ connectionString: db.url, poolMax: 2 });
  });
  afterAll(async () => {
    await store?.close();
    await db?.drop();
  });

  it('runs its statements with JIT off (the planner cannot size posting lists, and JIT-compiled a 5 ms read)', async () => {
    expect((await store.pool.query('SHOW jit')).rows[0].jit).toBe('off');
  });

  it('stores every field exactly, at the edges of each type', async () => {
    const ledger = new Ledger(store);
    const U128 = (1n << 128n) - 1n;
    const U64 = (1n << 64n) - 1n;
    const top = U128 - 1n; // the highest id an account may have
    expect(
      await ledger.createAccounts([
        { id: top, ledger: LEDGER, code: 1 },
        { id: 1n, ledger: LEDGER, code: 1 },
      ]),
    ).toEqual(['ok', 'ok']);
    const batch: TransferInput[] = [];
    for (let i = 0; i < 200; i++) {
      const edge = i % 4;
      batch.push({
        id: (1n << 127n) + BigInt(i),
        debitAccountId: i % 2 === 0 ? top : 1n,
        creditAccountId: i % 2 === 0 ? 1n : top,
        amount: edge === 0 ? (1n << 63n) / 1000n : BigInt(i + 1),
        ledger: LEDGER,
        code: edge === 1 ? 65535 : 1 + i,
        userData128: edge === 0 ? U128 : edge === 1 ? 0n : BigInt(i) << 64n,
        userData64: edge === 0 ? U64 : edge === 1 ? 0n : (1n << 63n) + BigInt(i),
        userData32: edge === 0 ? 0xffff_ffff : i,
        ...(edge === 3 ? { flags: TransferFlags.pending, timeout: 0xffff_ffff } : {}),
      });
    }
    expect((await ledger.createTransfers(batch)).filter((r) => r !== 'ok')).toEqual([]);
    // Posts of half of the pending ones: rows with a pending_id, in a big batch too.
    const posts: TransferInput[] = batch
      .filter((t) => t.flags === TransferFlags.pending)
      .slice(0, 25)
      .map((t, k) => ({
        id: 5000n + BigInt(k),
        pendingId: t.id,
        flags: TransferFlags.postPending,
      }));
    const filler: TransferInput[] = Array.from({ length: 60 }, (_, k) => ({
      id: 6000n + BigInt(k),
      debitAccountId: 1n,
      creditAccountId: top,
      amount: 1n,
      ledger: LEDGER,
      code: 1,
    }));
    expect((await ledger.createTransfers([...posts, ...filler])).filter((r) => r !== 'ok')).toEqual(
      [],
    );
    const stored = await store.lookupTransfers([...batch, ...posts].map((t) => t.id));
    expect(stored).toHaveLength(batch.length + posts.length);
    for (const [i, t] of batch.entries()) {
      expect(stored[i]).toMatchObject({
        id: t.id,
        debitAccountId: t.debitAccountId,
        creditAccountId: t.creditAccountId,
        amount: t.amount,
        pendingId: 0n,
        userData128: t.userData128,
        userData64: t.userData64,
        userData32: t.userData32,
        timeout: t.timeout ?? 0,
        ledger: LEDGER,
        code: t.code,
        flags: t.flags ?? 0,
      });
    }
    for (const [k, p] of posts.entries()) {
      const pending = batch.find((t) => t.id === p.pendingId)!;
      expect(stored[batch.length + k]).toMatchObject({
        id: p.id,
        pendingId: p.pendingId,
        debitAccountId: pending.debitAccountId,
        amount: pending.amount,
        flags: TransferFlags.postPending,
      });
    }
    // Resubmitted, the batch's COPY hits the unique index on ids; the store reruns it with
    // the ids looked up, and every event answers exists.
    expect(new Set(await ledger.createTransfers(filler))).toEqual(new Set(['exists']));
    expect(await ledgerViolations(store.pool)).toEqual([]);
  });
});
