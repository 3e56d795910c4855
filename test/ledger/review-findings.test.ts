/**
 * Ledger review: tests for the defects found (see the review's report). Every test this file
 * runs by default failed on the code under review (b0eabd2) and passes since the fixes:
 * F1 0ed3d93, F3 0e1860a, F2 1ddce27, F4 the commit that changed this header.
 *
 * F1 (SQLite) a batch that sweeps, on a full account cache, writes pre-sweep balances and
 *    caches the swept ones over its own: a committed transfer vanishes from the balances.
 * F2 (SQLite) a batch rerun after a duplicate id (optimistic check) restores a stale clock
 *    after another connection wrote: it is stamped before that connection's rows, below
 *    indexed_upto, and is then missing from history and balance-at for good.
 * F3 (SQLite) the clock is rebuilt from stored rows (max ts, floor_ts), so the timestamps of
 *    failed events, and a transfer batch's sweep, are forgotten by another connection (or a
 *    restart): a pending answered pending_transfer_expired is then posted; money freed by an
 *    expiry is spent at a time history still shows it reserved.
 * F4 (both stores) a pending whose deadline falls inside a batch is answered
 *    pending_transfer_expired there, yet stays pending after the batch; balance-at at the
 *    deadline counts it, and changes once a later sweep releases it as of that deadline.
 *
 * The defects of one store run on that store only; the same scenarios on PostgreSQL passed
 * already (controls, which now run always).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ledger } from '../../src/ledger/ledger.ts';
import type { LedgerStore } from '../../src/ledger/store.ts';
import {
  AccountFlags,
  NS_PER_S,
  TransferFlags,
  type TransferInput,
} from '../../src/ledger/types.ts';
import { PostgresStore } from '../../src/stores/postgres/postgres-store.ts';
import { SqliteStore } from '../../src/stores/sqlite/sqlite-store.ts';
import {
  createTestDatabase,
  postgresWanted,
  storeMatrix,
  storesWanted,
} from '../support/stores.ts';

const USD = 840;
const P = TransferFlags.pending;
const POST = TransferFlags.postPending;

const factories = await storeMatrix();

/**
 * The same scenarios on PostgreSQL, which passed them before the fixes (the SQLite-only
 * defects below): now that both stores pass, they run always, so the stores keep agreeing.
 */
const controls = it;

const transfer = (
  id: bigint,
  dr: bigint,
  cr: bigint,
  amount: bigint,
  over: Partial<TransferInput> = {},
): TransferInput => ({
  id,
  debitAccountId: dr,
  creditAccountId: cr,
  amount,
  ledger: USD,
  code: 1,
  ...over,
});

describe.each(factories.map((f) => [f.name, f] as const))('F4 on %s', (_n, factory) => {
  let store: LedgerStore;
  let now = 1_750_000_000n * NS_PER_S;
  let space = 0n;
  const clock = () => now;

  beforeAll(async () => {
    store = await factory.create();
  });
  afterAll(async () => {
    await factory.cleanup();
  });

  async function accounts(ledger: Ledger, n: number) {
    space += 1n;
    const base = space << 64n;
    let next = base + 1000n;
    const ids = Array.from({ length: n }, (_v, i) => base + BigInt(i + 1));
    now += 100n * NS_PER_S;
    expect(await ledger.createAccounts(ids.map((id) => ({ id, ledger: USD, code: 1 })))).toEqual(
      ids.map(() => 'ok'),
    );
    return { ids, id: () => next++ };
  }

  it('a pending the batch declared expired (its deadline within the batch) is not still counted after it, nor at its deadline', async () => {
    const ledger = new Ledger(store, { clock });
    const { ids, id } = await accounts(ledger, 3);
    const [a, b, c] = ids as [bigint, bigint, bigint];
    const pid = id();
    expect(
      await ledger.createTransfers([transfer(pid, a, b, 50n, { flags: P, timeout: 1 })]),
    ).toEqual(['ok']);
    const [p] = await ledger.lookupTransfers([pid]);
    const deadline = p!.timestamp + NS_PER_S;
    // The batch starts one nanosecond before the deadline: its second event is stamped at it.
    now = deadline - 1n;
    const postId = id();
    expect(
      await ledger.createTransfers([
        transfer(id(), c, b, 1n),
        { id: postId, pendingId: pid, flags: POST },
      ]),
    ).toEqual(['ok', 'pending_transfer_expired']);
    // The ledger has stamped an event at the deadline and refused the post as expired there,
    // so the reservation is released as of the deadline: no read may still count it.
    const atDeadline = await ledger.getAccountBalanceAt(a, deadline);
    const [acc] = await ledger.lookupAccounts([a]);
    const state = (await ledger.lookupPending([pid])).get(pid)!;
    // A later sweep puts the release at the deadline; the past balance must not change then.
    now = deadline + NS_PER_S;
    await ledger.expire();
    const atDeadlineLater = await ledger.getAccountBalanceAt(a, deadline);
    expect({
      balanceAtDeadline: atDeadline.debitsPending,
      accountPending: acc!.debitsPending,
      status: state.status,
    }).toEqual({
      balanceAtDeadline: atDeadlineLater.debitsPending,
      accountPending: 0n,
      status: 'expired',
    });
  });
});

/**
 * Two ledger processes on one database (two connections), both clocks reading the same time.
 * A batch whose first event fails and whose second, a post, is stamped at its pending's deadline
 * is answered pending_transfer_expired; no later batch, from any process, may post it.
 */
async function expiredThenPosted(one: LedgerStore, two: LedgerStore): Promise<void> {
  let now = 1_760_000_000n * NS_PER_S;
  const l1 = new Ledger(one, { clock: () => now });
  const l2 = new Ledger(two, { clock: () => now });
  const [a, b] = [0x11n, 0x12n];
  expect(
    await l1.createAccounts([
      { id: a, ledger: USD, code: 1 },
      { id: b, ledger: USD, code: 1 },
    ]),
  ).toEqual(['ok', 'ok']);
  now += NS_PER_S;
  expect(await l1.createTransfers([transfer(0x21n, a, b, 50n, { flags: P, timeout: 1 })])).toEqual([
    'ok',
  ]);
  const [p] = await l1.lookupTransfers([0x21n]);
  const deadline = p!.timestamp + NS_PER_S;
  now = deadline - 1n;
  // Event 0 (stamped deadline - 1) fails; event 1, the post, is stamped at the deadline.
  expect(
    await l1.createTransfers([
      transfer(0x22n, a, b, 0n),
      { id: 0x23n, pendingId: 0x21n, flags: POST },
    ]),
  ).toEqual(['amount_must_be_positive', 'pending_transfer_expired']);
  // The other process, its clock at the same instant, tries to post the same reservation.
  const again = await l2.createTransfers([{ id: 0x24n, pendingId: 0x21n, flags: POST }]);
  const state = (await l2.lookupPending([0x21n])).get(0x21n)!;
  expect({ again, status: state.status }).toEqual({
    again: ['pending_transfer_expired'],
    status: 'expired',
  });
}

describe('F3: two processes on one database: an answer of pending_transfer_expired stands', () => {
  it('SQLite (two connections to one file)', async () => {
    if (!storesWanted().includes('sqlite')) return;
    const dir = mkdtempSync(join(tmpdir(), 'remitnet-review-'));
    const path = join(dir, 'ledger.db');
    const one = await SqliteStore.open({ path, synchronous: 'NORMAL' });
    const two = await SqliteStore.open({ path, synchronous: 'NORMAL' });
    try {
      await expiredThenPosted(one, two);
    } finally {
      await one.close();
      await two.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  controls('PostgreSQL, control: passes (two stores on one schema)', async () => {
    if (!(await postgresWanted())) return;
    const db = await createTestDatabase();
    const one = await PostgresStore.open({ connectionString: db.url, poolMax: 2 });
    const two = await PostgresStore.open({ connectionString: db.url, poolMax: 2 });
    try {
      await expiredThenPosted(one, two);
    } finally {
      await one.close();
      await two.close();
      await db.drop();
    }
  });
});

/**
 * Clocks that disagree (as clock.test.ts), but the sweep is done by a transfer batch whose
 * every event failed: it expired a reservation as of its deadline and stored no row.
 */
async function sweptByFailedBatch(one: LedgerStore, two: LedgerStore): Promise<void> {
  const T0 = 1_800_000_000n * NS_PER_S;
  const ahead = new Ledger(one, { clock: () => T0 + 10n * NS_PER_S });
  const behind = new Ledger(two, { clock: () => T0 });
  const [holder, payee, source] = [0xa1n, 0xa2n, 0xa3n];
  expect(
    await behind.createAccounts([
      { id: holder, ledger: USD, code: 1, flags: AccountFlags.debitsMustNotExceedCredits },
      { id: payee, ledger: USD, code: 1 },
      { id: source, ledger: USD, code: 1 },
    ]),
  ).toEqual(['ok', 'ok', 'ok']);
  expect(
    await behind.createTransfers([
      transfer(0xb1n, source, holder, 10n),
      transfer(0xb2n, holder, payee, 10n, { flags: P, timeout: 5 }),
    ]),
  ).toEqual(['ok', 'ok']);
  // The ledger that is ahead (past the deadline, T0 + 5 s) submits a batch that fails whole;
  // its transaction sweeps first, so the reservation is released as of its deadline.
  expect(await ahead.createTransfers([transfer(0xb9n, holder, payee, 0n)])).toEqual([
    'amount_must_be_positive',
  ]);
  const pending = (await behind.lookupPending([0xb2n])).get(0xb2n)!;
  expect(pending.status).toBe('expired');
  // The ledger that lags spends the freed money: it must be timestamped after the expiry.
  expect(await behind.createTransfers([transfer(0xb3n, holder, payee, 10n)])).toEqual(['ok']);
  const [spent] = await behind.lookupTransfers([0xb3n]);
  const history = await behind.getAccountBalanceAt(holder, spent!.timestamp);
  expect({
    spentAfterExpiry: spent!.timestamp > pending.resolvedAt!,
    heldAtSpend: history.creditsPosted,
    owedAtSpend: history.debitsPending + history.debitsPosted,
  }).toEqual({ spentAfterExpiry: true, heldAtSpend: 10n, owedAtSpend: 10n });
}

describe('F3: two processes on one database: a batch after a failed batch that swept is timestamped after the sweep', () => {
  it('SQLite (two connections to one file)', async () => {
    if (!storesWanted().includes('sqlite')) return;
    const dir = mkdtempSync(join(tmpdir(), 'remitnet-review-'));
    const path = join(dir, 'ledger.db');
    const one = await SqliteStore.open({ path, synchronous: 'NORMAL' });
    const two = await SqliteStore.open({ path, synchronous: 'NORMAL' });
    try {
      await sweptByFailedBatch(one, two);
    } finally {
      await one.close();
      await two.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  controls('PostgreSQL, control: passes (two stores on one schema)', async () => {
    if (!(await postgresWanted())) return;
    const db = await createTestDatabase();
    const one = await PostgresStore.open({ connectionString: db.url, poolMax: 2 });
    const two = await PostgresStore.open({ connectionString: db.url, poolMax: 2 });
    try {
      await sweptByFailedBatch(one, two);
    } finally {
      await one.close();
      await two.close();
      await db.drop();
    }
  });
});

/**
 * A batch that first sweeps an expired reservation, on a store whose account cache is full:
 * the batch's own reads of new accounts evict the cache, including the released balances the
 * sweep left there for the batch to see (they are not yet written: the journal row comes
 * after). The batch then reads the reserved account back from the row (pre-sweep) and writes
 * that; and the batch's result is cached into slots the eviction detached.
 */
async function sweepThenEvict(
  open: () => Promise<LedgerStore>,
  reopen: () => Promise<LedgerStore>,
) {
  const store = await open();
  let now = 1_750_000_000n * NS_PER_S;
  const ledger = new Ledger(store, { clock: () => now });
  const [A, B, C, D, E, F] = [1n, 2n, 3n, 4n, 5n, 6n];
  const show = (
    accs: readonly {
      debitsPending: bigint;
      debitsPosted: bigint;
      creditsPending: bigint;
      creditsPosted: bigint;
    }[],
  ) => accs.map((a) => [a.debitsPending, a.debitsPosted, a.creditsPending, a.creditsPosted]);
  try {
    expect(
      await ledger.createAccounts([A, B, C, D, E, F].map((id) => ({ id, ledger: USD, code: 1 }))),
    ).toEqual(Array(6).fill('ok'));
    now += NS_PER_S;
    expect(
      await ledger.createTransfers([transfer(10n, A, B, 50n, { flags: P, timeout: 1 })]),
    ).toEqual(['ok']);
    now += 5n * NS_PER_S; // past the deadline; nobody reads, so the next batch sweeps
    expect(
      await ledger.createTransfers([
        transfer(11n, C, D, 1n),
        transfer(12n, E, F, 1n),
        transfer(13n, A, B, 10n),
      ]),
    ).toEqual(['ok', 'ok', 'ok']);
    // One more transfer through the same store, on the balances it holds for A and B.
    expect(await ledger.createTransfers([transfer(14n, A, B, 1n)])).toEqual(['ok']);
    expect((await store.lookupPending([10n])).get(10n)!.status).toBe('expired');
    const want = [
      [0n, 11n, 0n, 0n],
      [0n, 0n, 0n, 11n],
    ];
    const fresh = await reopen();
    try {
      expect({
        thisStore: show(await store.lookupAccounts([A, B])),
        anotherConnection: show(await fresh.lookupAccounts([A, B])),
      }).toEqual({ thisStore: want, anotherConnection: want });
    } finally {
      await fresh.close();
    }
  } finally {
    await store.close();
  }
}

describe('F1: a batch that sweeps, on a store whose account cache is full, keeps its own effect', () => {
  it('SQLite (accountCacheMax 4, six accounts)', async () => {
    if (!storesWanted().includes('sqlite')) return;
    const dir = mkdtempSync(join(tmpdir(), 'remitnet-review-'));
    const path = join(dir, 'ledger.db');
    try {
      await sweepThenEvict(
        () => SqliteStore.open({ path, accountCacheMax: 4 }),
        () => SqliteStore.open({ path }),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  controls('PostgreSQL, control: passes (accountCacheMax 4, six accounts)', async () => {
    if (!(await postgresWanted())) return;
    const db = await createTestDatabase();
    try {
      await sweepThenEvict(
        () => PostgresStore.open({ connectionString: db.url, poolMax: 2, accountCacheMax: 4 }),
        () => PostgresStore.open({ connectionString: db.url, poolMax: 2 }),
      );
    } finally {
      await db.drop();
    }
  });
});

/**
 * A batch that reruns after a duplicate id (the optimistic check) on one connection, after
 * another connection wrote: the rerun must keep the timestamps it read in the first attempt.
 */
async function rerunAfterOtherWrote(one: LedgerStore, two: LedgerStore): Promise<void> {
  const T0 = 1_810_000_000n * NS_PER_S;
  const ahead = new Ledger(one, { clock: () => T0 + 10n * NS_PER_S });
  const behind = new Ledger(two, { clock: () => T0 });
  const [a, b] = [0xc1n, 0xc2n];
  expect(
    await behind.createAccounts([
      { id: a, ledger: USD, code: 1 },
      { id: b, ledger: USD, code: 1 },
    ]),
  ).toEqual(['ok', 'ok']);
  const x = transfer(0xd1n, a, b, 1n);
  expect(await behind.createTransfers([x])).toEqual(['ok']);
  // The other process, whose clock is ahead, commits two transfers (with historyIndexEvery 2,
  // its batch also indexes the history so far: indexed_upto is its last timestamp).
  expect(
    await ahead.createTransfers([transfer(0xd2n, a, b, 1n), transfer(0xd4n, a, b, 1n)]),
  ).toEqual(['ok', 'ok']);
  // This one retries x (same id and fields: exists) with a new transfer after it.
  expect(await behind.createTransfers([x, transfer(0xd3n, a, b, 1n)])).toEqual(['exists', 'ok']);
  const [earlier, later] = await behind.lookupTransfers([0xd4n, 0xd3n]);
  const page = await behind.getAccountTransfers({ accountId: a, limit: 100 });
  const [account] = await behind.lookupAccounts([a]);
  const history = await behind.getAccountBalanceAt(a, T0 + 100n * NS_PER_S);
  expect({
    // Timestamps are strictly increasing in commit order.
    stampedAfterTheOtherProcess: later!.timestamp > earlier!.timestamp,
    // Every transfer is in the account's history, and the balance rebuilt from it is the balance.
    historyIds: page.transfers.map((t) => t.id).sort((p, q) => (p < q ? -1 : 1)),
    debitsPostedFromHistory: history.debitsPosted,
  }).toEqual({
    stampedAfterTheOtherProcess: true,
    historyIds: [0xd1n, 0xd2n, 0xd3n, 0xd4n],
    debitsPostedFromHistory: account!.debitsPosted,
  });
}

describe('F2: two processes on one database: a batch rerun after a duplicate id is timestamped after the other process', () => {
  it('SQLite (two connections to one file)', async () => {
    if (!storesWanted().includes('sqlite')) return;
    const dir = mkdtempSync(join(tmpdir(), 'remitnet-review-'));
    const path = join(dir, 'ledger.db');
    const one = await SqliteStore.open({ path, synchronous: 'NORMAL', historyIndexEvery: 2 });
    const two = await SqliteStore.open({ path, synchronous: 'NORMAL', historyIndexEvery: 2 });
    try {
      await rerunAfterOtherWrote(one, two);
    } finally {
      await one.close();
      await two.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  controls('PostgreSQL, control: passes (two stores on one schema)', async () => {
    if (!(await postgresWanted())) return;
    const db = await createTestDatabase();
    const options = { connectionString: db.url, poolMax: 2, historyIndexEvery: 2 };
    const one = await PostgresStore.open(options);
    const two = await PostgresStore.open(options);
    try {
      await rerunAfterOtherWrote(one, two);
    } finally {
      await one.close();
      await two.close();
      await db.drop();
    }
  });
});
