/**
 * Derived ids and hashes on the hot path: the one-shot SHA-256 is the Hash object's digest,
 * remembered account ids are the ids derived afresh, and both stay what they always were
 * (ids already in ledgers must not move).
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  commissionId,
  creditLineId,
  derivedId,
  inFlightId,
  positionId,
  writeOffId,
} from '../../src/network/accounts.ts';
import { sha256Hex } from '../../src/network/sha256.ts';
import { hashKey } from '../../src/api/keys.ts';
import type { CurrencyCode } from '../../src/money/index.ts';

/** What the ids were derived with before: a Hash object, hex, top 128 bits. */
function reference(...parts: string[]): bigint {
  const h = createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 32);
  const id = BigInt('0x' + h);
  return id === 0n || id === 2n ** 128n - 1n ? 1n : id;
}

describe('sha256Hex', () => {
  it('is createHash(sha256) in hex, for any string (as UTF-8)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        expect(sha256Hex(s)).toBe(createHash('sha256').update(s).digest('hex'));
      }),
    );
    expect(sha256Hex('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });

  it('is what API keys are stored by', () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        expect(hashKey(s)).toBe(createHash('sha256').update(s).digest('hex'));
      }),
    );
  });
});

describe('derived ids', () => {
  it('are the ids derived before, and known values do not move', () => {
    fc.assert(
      fc.property(fc.array(fc.string(), { minLength: 1, maxLength: 5 }), (parts) => {
        expect(derivedId(...parts)).toBe(reference(...parts));
      }),
    );
    expect(derivedId('acct', 'in_flight', 'KRW')).toBe(reference('acct', 'in_flight', 'KRW'));
  });

  it('remembered account ids are the ids derived afresh, every time, past the bound', () => {
    const cur = fc.constantFrom<CurrencyCode>('KRW', 'CNY', 'USD', 'EUR');
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 1, maxLength: 32 }),
        cur,
        (agent, c) => {
          for (let round = 0; round < 2; round++) {
            expect(positionId(agent, c)).toBe(reference('acct', 'position', agent, c));
            expect(commissionId(agent, c)).toBe(reference('acct', 'commission', agent, c));
            expect(creditLineId(agent, c)).toBe(reference('acct', 'credit_line', agent, c));
            expect(inFlightId(c)).toBe(reference('acct', 'in_flight', c));
            expect(writeOffId(c)).toBe(reference('acct', 'write_off', c));
          }
        },
      ),
      { numRuns: 4000 }, // 12,000 names and more: the memo is emptied at least once
    );
    // Distinct names, distinct ids: the memo keys on the whole name.
    expect(positionId('ab', 'KRW')).not.toBe(commissionId('ab', 'KRW'));
    expect(positionId('ab', 'KRW')).not.toBe(positionId('ab', 'CNY'));
  });
});
