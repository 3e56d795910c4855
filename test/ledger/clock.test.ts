/**
 * Several ledgers (processes) on one store, with clocks that disagree: an expiry one of
 * them sweeps must never be followed by a batch that another timestamps before it, or
 * history would show a reservation released after money it had freed was spent.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AccountFlags, Ledger, TransferFlags } from '../../src/ledger/index.ts';
import { SqliteStore } from '../../src/stores/sqlite/sqlite-store.ts';
import type { LedgerStore } from '../../src/ledger/store.ts';
import { storeMatrix } from '../support/stores.ts';

const S = 1_000_000_000n;
const T0 = 1_800_000_000n * S;
const KRW = 410;

async function scenario(storeA: LedgerStore, storeB: LedgerStore): Promise<void> {
  // A's clock runs 10 s ahead of B's.
  const ahead = new Ledger(storeA, { clock: () => T0 + 10n * S });
  const behind = new Ledger(storeB, { clock: () => T0 });
  const [holder, payee] = [0xa1n, 0xa2n];
  expect(
    await behind.createAccounts([
      { id: holder, ledger: KRW, code: 1, flags: AccountFlags.debitsMustNotExceedCredits },
      { id: payee, ledger: KRW, code: 1 },
      { id: 0xa3n, ledger: KRW, code: 1 },
    ]),
  ).toEqual(['ok', 'ok', 'ok']);
  expect(
    await behind.createTransfers([
      {
        id: 0xb1n,
        debitAccountId: 0xa3n,
        creditAccountId: holder,
        amount: 10n,
        ledger: KRW,
        code: 1,
      },
      {
        id: 0xb2n,
        debitAccountId: holder,
        creditAccountId: payee,
        amount: 10n,
        ledger: KRW,
        code: 1,
        flags: TransferFlags.pending,
        timeout: 5,
      },
    ]),
  ).toEqual(['ok', 'ok']);

  // The ledger that is ahead reads, and so expires the reservation (its deadline: T0 + 5 s).
  const [afterExpiry] = await ahead.lookupAccounts([holder]);
  expect(afterExpiry!.debitsPending).toBe(0n);
  const pending = (await ahead.lookupPending([0xb2n])).get(0xb2n)!;
  expect(pending.status).toBe('expired');

  // The ledger that lags spends the freed money: it must be timestamped after the expiry.
  expect(
    await behind.createTransfers([
      {
        id: 0xb3n,
        debitAccountId: holder,
        creditAccountId: payee,
        amount: 10n,
        ledger: KRW,
        code: 1,
      },
    ]),
  ).toEqual(['ok']);
  const [spent] = await behind.lookupTransfers([0xb3n]);
  expect(spent!.timestamp).toBeGreaterThan(pending.resolvedAt!);

  // History never shows the holder owing more than it held.
  for (const at of [spent!.timestamp - 1n, spent!.timestamp, pending.resolvedAt!]) {
    const b = await behind.getAccountBalanceAt(holder, at);
    expect(b.debitsPending + b.debitsPosted).toBeLessThanOrEqual(b.creditsPosted);
  }
}

const factories = await storeMatrix();
afterAll(async () => {
  for (const f of factories) await f.cleanup();
});

describe.each(factories.map((f) => [f.name, f] as const))(
  'clocks that disagree on %s',
  (_n, factory) => {
    it('two ledgers on one store: a batch after a sweep is timestamped after it', async () => {
      const store = await factory.create();
      await scenario(store, store);
    });
  },
);

describe('clocks that disagree on two SQLite connections to one file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'remitnet-clock-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a batch on one connection after a sweep on the other is timestamped after it', async () => {
    const path = join(dir, 'ledger.db');
    const a = await SqliteStore.open({ path });
    const b = await SqliteStore.open({ path });
    try {
      await scenario(a, b);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
