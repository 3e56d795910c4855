/**
 * Money: decimal strings in and out (round trips, as properties), every MoneyError code with
 * its message, divide under each rounding rule against an independent reference, and
 * allocate, whose parts always add up to the amount.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  addMoney,
  allCurrencies,
  allocate,
  currency,
  currencyByLedger,
  displayMoney,
  divide,
  formatAmount,
  isCurrencyCode,
  MAX_MINOR,
  money,
  MoneyError,
  parseAmount,
  subtractMoney,
  type MoneyErrorCode,
  type Rounding,
} from '../../src/money/index.ts';

const SEED = Number(process.env.MONEY_PROPERTY_SEED ?? 4217);
const RUNS = { numRuns: 500, seed: SEED };
const codes = allCurrencies().map((c) => c.code);

function moneyError(fn: () => unknown): MoneyError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(MoneyError);
    return error as MoneyError;
  }
  throw new Error('expected a MoneyError');
}

function expectMoneyError(fn: () => unknown, code: MoneyErrorCode, message: string): void {
  const e = moneyError(fn);
  expect(e.code).toBe(code);
  expect(e.message).toBe(message);
}

describe('parseAmount and formatAmount', () => {
  it('format then parse gives the amount back, in every currency', () => {
    fc.assert(
      fc.property(fc.constantFrom(...codes), fc.bigInt(0n, MAX_MINOR), (code, minor) => {
        const text = formatAmount(minor, code);
        expect(parseAmount(text, code)).toBe(minor);
        const exponent = currency(code).exponent;
        if (exponent === 0) expect(text).toMatch(/^\d+$/);
        else expect(text).toMatch(new RegExp(`^\\d+\\.\\d{${exponent}}$`));
      }),
      RUNS,
    );
  });

  it('negative amounts round-trip when allowed', () => {
    fc.assert(
      fc.property(fc.constantFrom(...codes), fc.bigInt(-MAX_MINOR, MAX_MINOR), (code, minor) => {
        const text = formatAmount(minor, code);
        expect(parseAmount(text, code, { allowNegative: true })).toBe(minor);
        expect(text.startsWith('-')).toBe(minor < 0n);
      }),
      RUNS,
    );
  });

  it('parse of any decimal string within the exponent equals the exact minor units', () => {
    const decimal = fc.record({
      code: fc.constantFrom(...codes),
      whole: fc.stringMatching(/^\d{1,15}$/),
      fraction: fc.stringMatching(/^\d{0,3}$/),
    });
    fc.assert(
      fc.property(decimal, ({ code, whole, fraction }) => {
        const exponent = currency(code).exponent;
        fc.pre(fraction.length <= exponent);
        const text = fraction === '' ? whole : `${whole}.${fraction}`;
        // Reference: the rational whole.fraction times 10^exponent, by plain arithmetic.
        let expected = BigInt(whole) * 10n ** BigInt(exponent);
        if (fraction !== '') {
          expected += BigInt(fraction) * 10n ** BigInt(exponent - fraction.length);
        }
        expect(parseAmount(text, code)).toBe(expected);
        // Formatting gives the canonical text, which parses to the same amount.
        expect(parseAmount(formatAmount(expected, code), code)).toBe(expected);
      }),
      RUNS,
    );
  });

  it('formats with exactly the currency decimals', () => {
    expect(formatAmount(0n, 'USD')).toBe('0.00');
    expect(formatAmount(5n, 'USD')).toBe('0.05');
    expect(formatAmount(-5n, 'USD')).toBe('-0.05');
    expect(formatAmount(123456n, 'USD')).toBe('1234.56');
    expect(formatAmount(1000000n, 'KRW')).toBe('1000000');
    expect(formatAmount(-7n, 'JPY')).toBe('-7');
    expect(formatAmount(1n, 'KWD')).toBe('0.001');
    expect(formatAmount(MAX_MINOR, 'USD')).toBe('92233720368547758.07');
    expect(displayMoney(money(1250n, 'EUR'))).toBe('12.50 EUR');
  });

  it('parses the edges: leading zeros, surrounding space, the largest amount', () => {
    expect(parseAmount('007.5', 'USD')).toBe(750n);
    expect(parseAmount(' 12.34 ', 'USD')).toBe(1234n);
    expect(parseAmount('0', 'KWD')).toBe(0n);
    expect(parseAmount('1.234', 'KWD')).toBe(1234n);
    expect(parseAmount('92233720368547758.07', 'USD')).toBe(MAX_MINOR);
    expect(parseAmount('9223372036854775807', 'JPY')).toBe(MAX_MINOR);
    expect(parseAmount('-0', 'USD', { allowNegative: true })).toBe(0n);
    expect(parseAmount('-92233720368547758.07', 'USD', { allowNegative: true })).toBe(-MAX_MINOR);
  });
});

describe('MoneyError codes and messages', () => {
  it('currency_unknown', () => {
    const hint = 'use an ISO 4217 code such as AED, AFN, CNY, EUR';
    expectMoneyError(
      () => currency('XXX'),
      'currency_unknown',
      `"XXX" is not a currency remitnet knows; ${hint}`,
    );
    expectMoneyError(
      () => parseAmount('1', 'usd'),
      'currency_unknown',
      `"usd" is not a currency remitnet knows; ${hint}`,
    );
    expectMoneyError(
      () => money(1n, 'ZZZ' as 'USD'),
      'currency_unknown',
      `"ZZZ" is not a currency remitnet knows; ${hint}`,
    );
    expectMoneyError(
      () => formatAmount(1n, ''),
      'currency_unknown',
      `"" is not a currency remitnet knows; ${hint}`,
    );
  });

  it('amount_malformed', () => {
    for (const text of [
      '',
      ' ',
      '1e5',
      '1,000',
      '1.',
      '.5',
      '+1',
      '1.2.3',
      'abc',
      '0x10',
      '1 000',
    ]) {
      expectMoneyError(
        () => parseAmount(text, 'USD'),
        'amount_malformed',
        `${JSON.stringify(text)} is not a decimal amount; write digits with at most one "." (for example "1250.50")`,
      );
    }
    expectMoneyError(
      () => parseAmount(12 as unknown as string, 'USD'),
      'amount_malformed',
      'an amount must be a decimal string such as "12.50", not a number',
    );
    expectMoneyError(
      () => money(1.5 as unknown as bigint, 'USD'),
      'amount_malformed',
      'an amount must be a bigint of minor units',
    );
  });

  it('amount_too_precise', () => {
    expectMoneyError(
      () => parseAmount('12.345', 'CNY'),
      'amount_too_precise',
      '12.345 CNY has more decimal places than CNY allows (2)',
    );
    expectMoneyError(
      () => parseAmount('1.5', 'JPY'),
      'amount_too_precise',
      '1.5 JPY has more decimal places than JPY allows (0)',
    );
    expectMoneyError(
      () => parseAmount('0.0001', 'KWD'),
      'amount_too_precise',
      '0.0001 KWD has more decimal places than KWD allows (3)',
    );
    // Trailing zeros are decimals too: the text is refused, not silently rounded.
    expectMoneyError(
      () => parseAmount('1.000', 'USD'),
      'amount_too_precise',
      '1.000 USD has more decimal places than USD allows (2)',
    );
  });

  it('amount_negative', () => {
    expectMoneyError(
      () => parseAmount('-5', 'USD'),
      'amount_negative',
      '-5 USD is negative; amounts must be zero or more',
    );
    expectMoneyError(
      () => parseAmount('-0.01', 'EUR', { allowNegative: false }),
      'amount_negative',
      '-0.01 EUR is negative; amounts must be zero or more',
    );
  });

  it('amount_too_large', () => {
    expectMoneyError(
      () => parseAmount('92233720368547758.08', 'USD'),
      'amount_too_large',
      '92233720368547758.08 USD is larger than a ledger can hold',
    );
    expectMoneyError(
      () => parseAmount('9223372036854775808', 'KRW'),
      'amount_too_large',
      '9223372036854775808 KRW is larger than a ledger can hold',
    );
    expectMoneyError(
      () => parseAmount('-9223372036854775808', 'KRW', { allowNegative: true }),
      'amount_too_large',
      '-9223372036854775808 KRW is larger than a ledger can hold',
    );
  });

  it('currency_mismatch', () => {
    expectMoneyError(
      () => addMoney(money(1n, 'USD'), money(1n, 'EUR')),
      'currency_mismatch',
      'cannot combine USD with EUR',
    );
    expectMoneyError(
      () => subtractMoney(money(1n, 'KRW'), money(1n, 'KPW')),
      'currency_mismatch',
      'cannot combine KRW with KPW',
    );
    expect(addMoney(money(150n, 'USD'), money(50n, 'USD'))).toEqual(money(200n, 'USD'));
    expect(subtractMoney(money(150n, 'USD'), money(200n, 'USD'))).toEqual(money(-50n, 'USD'));
  });

  it('every MoneyError code above is one the type declares', () => {
    const all: Record<MoneyErrorCode, true> = {
      currency_unknown: true,
      amount_malformed: true,
      amount_too_precise: true,
      amount_negative: true,
      amount_too_large: true,
      currency_mismatch: true,
    };
    expect(Object.keys(all)).toHaveLength(6);
  });
});

describe('currencies', () => {
  it('codes and ledger numbers map both ways', () => {
    for (const c of allCurrencies()) {
      expect(currencyByLedger(c.numeric)).toBe(c);
      expect(currency(c.code)).toBe(c);
      expect(isCurrencyCode(c.code)).toBe(true);
    }
    expect(currencyByLedger(0)).toBeUndefined();
    expect(isCurrencyCode('usd')).toBe(false);
    expect(isCurrencyCode(840)).toBe(false);
    expect(currency('KRW').exponent).toBe(0);
    expect(currency('USD').numeric).toBe(840);
  });
});

/** Reference rounding: of the two integers around n/d, the nearer (or by the rule). */
function referenceDivide(n: bigint, d: bigint, rounding: Rounding): bigint {
  // Find floor by search from a truncating estimate, comparing products only.
  let lo = n / d - 1n;
  while ((lo + 1n) * d <= n) lo += 1n;
  while (lo * d > n) lo -= 1n;
  if (lo * d === n) return lo;
  if (rounding === 'floor') return lo;
  if (rounding === 'ceil') return lo + 1n;
  const below = n - lo * d; // distance to lo, times d
  const above = (lo + 1n) * d - n; // distance to lo + 1, times d
  if (below < above) return lo;
  if (above < below) return lo + 1n;
  return lo % 2n === 0n ? lo : lo + 1n;
}

describe('divide', () => {
  const roundings: Rounding[] = ['floor', 'ceil', 'half_even'];

  it('matches the reference for every rounding rule', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.bigInt(-1000n, 1000n), fc.bigInt(-(1n << 80n), 1n << 80n)),
        fc.oneof(fc.bigInt(1n, 12n), fc.bigInt(1n, 1n << 70n)),
        fc.constantFrom(...roundings),
        (n, d, rounding) => {
          expect(divide(n, d, rounding)).toBe(referenceDivide(n, d, rounding));
        },
      ),
      { ...RUNS, numRuns: 2000 },
    );
  });

  it('known values, ties included', () => {
    const table: [bigint, bigint, bigint, bigint, bigint][] = [
      // n, d, floor, ceil, half_even
      [5n, 2n, 2n, 3n, 2n],
      [7n, 2n, 3n, 4n, 4n],
      [-5n, 2n, -3n, -2n, -2n],
      [-7n, 2n, -4n, -3n, -4n],
      [1n, 3n, 0n, 1n, 0n],
      [2n, 3n, 0n, 1n, 1n],
      [-1n, 3n, -1n, 0n, 0n],
      [-2n, 3n, -1n, 0n, -1n],
      [6n, 3n, 2n, 2n, 2n],
      [0n, 7n, 0n, 0n, 0n],
    ];
    for (const [n, d, floor, ceil, halfEven] of table) {
      expect([divide(n, d, 'floor'), divide(n, d, 'ceil'), divide(n, d, 'half_even')]).toEqual([
        floor,
        ceil,
        halfEven,
      ]);
    }
  });

  it('refuses a denominator that is not positive', () => {
    expect(() => divide(1n, 0n, 'floor')).toThrow(RangeError);
    expect(() => divide(1n, -2n, 'ceil')).toThrow(RangeError);
  });
});

describe('allocate', () => {
  const weights = fc
    .array(fc.oneof(fc.bigInt(0n, 10n), fc.bigInt(0n, 1n << 40n)), { minLength: 1, maxLength: 12 })
    .filter((w) => w.some((x) => x > 0n));

  it('parts add up exactly, each within one unit of its exact share', () => {
    fc.assert(
      fc.property(fc.bigInt(0n, MAX_MINOR), weights, (amount, ws) => {
        const parts = allocate(amount, ws);
        expect(parts).toHaveLength(ws.length);
        expect(parts.reduce((a, b) => a + b, 0n)).toBe(amount);
        const total = ws.reduce((a, b) => a + b, 0n);
        parts.forEach((p, i) => {
          const exact = (amount * ws[i]!) / total; // floor of the exact share
          expect(p === exact || p === exact + 1n).toBe(true);
          if (ws[i] === 0n) expect(p).toBe(0n);
        });
      }),
      RUNS,
    );
  });

  it('parts of a negative amount add up exactly too', () => {
    fc.assert(
      fc.property(fc.bigInt(-MAX_MINOR, -1n), weights, (amount, ws) => {
        expect(allocate(amount, ws).reduce((a, b) => a + b, 0n)).toBe(amount);
      }),
      RUNS,
    );
    expect(allocate(-1n, [1n, 1n])).toEqual([-1n, 0n]);
    expect(allocate(-100n, [1n, 1n, 1n])).toEqual([-34n, -33n, -33n]);
  });

  it('largest remainder first; ties go to the earliest part', () => {
    expect(allocate(100n, [1n, 1n, 1n])).toEqual([34n, 33n, 33n]);
    expect(allocate(10n, [1n, 2n])).toEqual([3n, 7n]);
    expect(allocate(5n, [0n, 1n, 1n])).toEqual([0n, 3n, 2n]);
    expect(allocate(1n, [1n, 1n, 1n, 1n])).toEqual([1n, 0n, 0n, 0n]);
    expect(allocate(0n, [3n, 4n])).toEqual([0n, 0n]);
  });

  it('refuses no weights, negative weights and all-zero weights', () => {
    expect(() => allocate(10n, [])).toThrow(RangeError);
    expect(() => allocate(10n, [1n, -1n])).toThrow(RangeError);
    expect(() => allocate(10n, [0n, 0n])).toThrow(RangeError);
  });
});
