/**
 * Account history read through a store, page by page, compared with a brute-force answer:
 * shared by the SQLite and PostgreSQL history suites (each computes its brute force from
 * its own tables).
 */
import { expect } from 'vitest';
import type { LedgerStore } from '../../src/ledger/store.ts';
import type { Transfer } from '../../src/ledger/types.ts';

export type Side = 'debits' | 'credits' | 'both';

/** One transfer of an account's history: its timestamp, and whether the account was debited. */
export interface Posting {
  readonly ts: bigint;
  readonly debit: boolean;
}

/** Reads a whole history through the store in pages of `limit`, following cursors. */
export async function readAll(
  store: LedgerStore,
  accountId: bigint,
  limit: number,
  opts: { side?: Side; reversed?: boolean; timestampMin?: bigint; timestampMax?: bigint },
): Promise<bigint[]> {
  const out: bigint[] = [];
  let cursor: string | undefined;
  for (let pages = 0; ; pages++) {
    if (pages > 100_000) throw new Error('too many pages');
    const page = await store.getAccountTransfers({
      accountId,
      limit,
      ...opts,
      ...(cursor === undefined ? {} : { cursor }),
    });
    out.push(...page.transfers.map((t: Transfer) => t.timestamp));
    if (page.nextCursor === undefined) return out;
    cursor = page.nextCursor;
  }
}

/**
 * Checks pages of every size in `limits`, in both directions, by side and by time range
 * (all, inner, narrow, open-ended either way, exactly one, empty), against `all` (the
 * account's history by brute force, ascending).
 */
export async function checkHistory(
  store: LedgerStore,
  accountId: bigint,
  all: readonly Posting[],
  limits: readonly number[],
): Promise<void> {
  expect(all.length).toBeGreaterThan(0);
  const expected = (side: Side, min?: bigint, max?: bigint) =>
    all
      .filter((x) => side === 'both' || (side === 'debits') === x.debit)
      .filter((x) => (min === undefined || x.ts >= min) && (max === undefined || x.ts <= max))
      .map((x) => x.ts);
  const tsAt = (f: number) => all[Math.min(all.length - 1, Math.floor(f * all.length))]!.ts;
  const ranges: [bigint | undefined, bigint | undefined][] = [
    [undefined, undefined],
    [tsAt(0.2), tsAt(0.7)],
    [tsAt(0.1), tsAt(0.15)],
    [tsAt(0.5), undefined],
    [undefined, tsAt(0.3)],
    [tsAt(0.4), tsAt(0.4)], // exactly one
    [tsAt(0.9) + 1n, tsAt(0.9) + 1n], // empty, in between
  ];
  for (const limit of limits) {
    for (const side of ['both', 'debits', 'credits'] as const) {
      for (const [min, max] of ranges) {
        const want = expected(side, min, max);
        const range = {
          ...(min === undefined ? {} : { timestampMin: min }),
          ...(max === undefined ? {} : { timestampMax: max }),
        };
        expect(await readAll(store, accountId, limit, { side, ...range })).toEqual(want);
        expect(await readAll(store, accountId, limit, { side, reversed: true, ...range })).toEqual(
          [...want].reverse(),
        );
      }
    }
  }
}
