import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  packAccountBalances,
  packBalances,
  packTimestamps,
  unpackBalances,
  unpackTimestamps,
  type BalanceEntry,
} from '../../src/stores/deferred.ts';
import { MAX_AMOUNT } from '../../src/ledger/types.ts';

const amount = fc.bigInt({ min: 0n, max: MAX_AMOUNT });
const entry: fc.Arbitrary<BalanceEntry> = fc.record({
  accountTimestamp: fc.bigInt({ min: 1n, max: MAX_AMOUNT }),
  debitsPending: amount,
  debitsPosted: amount,
  creditsPending: amount,
  creditsPosted: amount,
  closed: fc.boolean(),
});

describe('deferred encodings', () => {
  it('balance entries round-trip', () => {
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 50 }), (entries) => {
        expect(unpackBalances(packBalances(entries))).toEqual(entries);
      }),
    );
  });

  it('accounts pack as the entries keyed by their timestamps', () => {
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 50 }), (entries) => {
        const accounts = entries.map(({ accountTimestamp, ...rest }) => ({
          ...rest,
          timestamp: accountTimestamp,
        }));
        expect(packAccountBalances(accounts).equals(packBalances(entries))).toBe(true);
      }),
    );
    const a = {
      timestamp: 1n,
      debitsPending: -1n,
      debitsPosted: 0n,
      creditsPending: 0n,
      creditsPosted: 0n,
      closed: false,
    };
    expect(() => packAccountBalances([a])).toThrow(/balance/);
  });

  it('posting lists round-trip, from a Uint8Array view too', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.bigInt({ min: 1n, max: MAX_AMOUNT }), { maxLength: 50 }),
        (ts) => {
          const sorted = [...ts].sort((a, b) => (a < b ? -1 : 1));
          const packed = packTimestamps(sorted);
          const view = new Uint8Array(packed.buffer, packed.byteOffset, packed.byteLength);
          expect(unpackTimestamps(view)).toEqual(sorted);
        },
      ),
    );
  });

  it('refuses what it cannot hold or a blob that is not its own', () => {
    const e = {
      accountTimestamp: 1n,
      debitsPending: 0n,
      debitsPosted: 0n,
      creditsPending: 0n,
      closed: false,
    };
    expect(() => packBalances([{ ...e, creditsPosted: MAX_AMOUNT + 1n }])).toThrow(/balance/);
    expect(() => packBalances([{ ...e, creditsPosted: -1n }])).toThrow(/balance/);
    expect(() => unpackBalances(Buffer.alloc(40))).toThrow(/40 bytes/);
    const bad = packBalances([{ ...e, creditsPosted: 0n }]);
    bad[40] = 2;
    expect(() => unpackBalances(bad)).toThrow(/closed = 2/);
    expect(() => packTimestamps([2n, 1n])).toThrow(/order/);
    expect(() => packTimestamps([1n, 1n])).toThrow(/order/);
    expect(() => unpackTimestamps(Buffer.alloc(7))).toThrow(/7 bytes/);
  });
});
