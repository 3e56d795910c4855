/**
 * Money: an amount in integer minor units (bigint) with its currency.
 *
 * Owns: parsing and formatting decimal strings, exact arithmetic, and proportional
 * splits with explicit rounding. Never: a JS number as an amount. Every function takes and
 * returns bigint minor units; the only strings are decimal strings at the edges.
 */
import { currency, MoneyError, type CurrencyCode } from './currency.ts';

/** The largest amount or balance a ledger account can hold: a signed 64-bit integer. */
export const MAX_MINOR = (1n << 63n) - 1n;

export interface Money {
  readonly amountMinor: bigint;
  readonly currency: CurrencyCode;
}

export function money(amountMinor: bigint, code: CurrencyCode): Money {
  if (typeof amountMinor !== 'bigint') {
    // Types forbid it; this guards untyped callers (JSON, JS) from a float slipping in.
    throw new MoneyError('amount_malformed', `an amount must be a bigint of minor units`);
  }
  currency(code);
  return Object.freeze({ amountMinor, currency: code });
}

const DECIMAL = /^(-)?(\d+)(?:\.(\d+))?$/;

export interface ParseOptions {
  /** Allow a leading minus sign. Amounts people send never are; adjustments may be. */
  readonly allowNegative?: boolean;
}

/**
 * Parses a decimal string ("1000000", "12.34") in the given currency into minor units.
 * Refuses exponents, separators, signs (unless allowed), more decimals than the currency
 * has, and anything that does not fit in a ledger balance.
 */
export function parseAmount(text: string, code: string, options: ParseOptions = {}): bigint {
  const c = currency(code);
  if (typeof text !== 'string') {
    throw new MoneyError(
      'amount_malformed',
      `an amount must be a decimal string such as "12.50", not a ${typeof text}`,
    );
  }
  const m = DECIMAL.exec(text.trim());
  if (m === null) {
    throw new MoneyError(
      'amount_malformed',
      `${JSON.stringify(text)} is not a decimal amount; write digits with at most one "." (for example "1250.50")`,
    );
  }
  const [, minus, whole = '', fraction = ''] = m;
  if (minus !== undefined && options.allowNegative !== true) {
    throw new MoneyError(
      'amount_negative',
      `${text} ${c.code} is negative; amounts must be zero or more`,
    );
  }
  if (fraction.length > c.exponent) {
    throw new MoneyError(
      'amount_too_precise',
      `${text} ${c.code} has more decimal places than ${c.code} allows (${c.exponent})`,
    );
  }
  const minor = BigInt(whole + fraction.padEnd(c.exponent, '0'));
  if (minor > MAX_MINOR) {
    throw new MoneyError('amount_too_large', `${text} ${c.code} is larger than a ledger can hold`);
  }
  return minus === undefined ? minor : -minor;
}

/** Formats minor units as a plain decimal string with exactly the currency's decimals. */
export function formatAmount(amountMinor: bigint, code: string): string {
  const c = currency(code);
  const negative = amountMinor < 0n;
  const digits = (negative ? -amountMinor : amountMinor).toString();
  if (c.exponent === 0) return (negative ? '-' : '') + digits;
  const padded = digits.padStart(c.exponent + 1, '0');
  const whole = padded.slice(0, -c.exponent);
  const fraction = padded.slice(-c.exponent);
  return `${negative ? '-' : ''}${whole}.${fraction}`;
}

/** "1,000,000 KRW"-style text for people; never parsed back. */
export function displayMoney(m: Money): string {
  return `${formatAmount(m.amountMinor, m.currency)} ${m.currency}`;
}

export function addMoney(a: Money, b: Money): Money {
  assertSameCurrency(a, b);
  return money(a.amountMinor + b.amountMinor, a.currency);
}

export function subtractMoney(a: Money, b: Money): Money {
  assertSameCurrency(a, b);
  return money(a.amountMinor - b.amountMinor, a.currency);
}

function assertSameCurrency(a: Money, b: Money): void {
  if (a.currency !== b.currency) {
    throw new MoneyError('currency_mismatch', `cannot combine ${a.currency} with ${b.currency}`);
  }
}

export type Rounding = 'floor' | 'ceil' | 'half_even';

/**
 * Integer division with an explicit rounding rule, for bigint numerators and positive
 * denominators. Every proportional computation in remitnet goes through here, so the
 * rounding of each cent is stated at the call site.
 */
export function divide(numerator: bigint, denominator: bigint, rounding: Rounding): bigint {
  if (denominator <= 0n) throw new RangeError('divide: denominator must be positive');
  const q = numerator / denominator; // truncates toward zero
  const r = numerator % denominator;
  if (r === 0n) return q;
  const down = numerator < 0n ? q - 1n : q; // floor
  switch (rounding) {
    case 'floor':
      return down;
    case 'ceil':
      return down + 1n;
    case 'half_even': {
      const rem = numerator - down * denominator; // 0 < rem < denominator
      const twice = 2n * rem;
      if (twice < denominator) return down;
      if (twice > denominator) return down + 1n;
      return down % 2n === 0n ? down : down + 1n;
    }
  }
}

/**
 * Splits an amount into parts proportional to `weights` that add up exactly to the amount
 * (largest-remainder method; ties go to the earliest part). Money is never lost to rounding.
 */
export function allocate(amountMinor: bigint, weights: readonly bigint[]): bigint[] {
  if (weights.length === 0) throw new RangeError('allocate: at least one weight is needed');
  if (weights.some((w) => w < 0n)) throw new RangeError('allocate: weights must not be negative');
  const total = weights.reduce((a, b) => a + b, 0n);
  if (total === 0n) throw new RangeError('allocate: weights must not all be zero');
  // Split a negative amount as its magnitude (division truncates toward zero, so the
  // remainder below would be negative and never handed out).
  if (amountMinor < 0n) return allocate(-amountMinor, weights).map((p) => -p);
  const parts = weights.map((w) => (amountMinor * w) / total);
  let rest = amountMinor - parts.reduce((a, b) => a + b, 0n);
  const order = weights
    .map((w, i) => ({ i, rem: (amountMinor * w) % total }))
    .sort((a, b) => (a.rem === b.rem ? a.i - b.i : a.rem > b.rem ? -1 : 1));
  for (let k = 0; rest > 0n; k++, rest--) {
    const idx = order[k % order.length]!.i;
    parts[idx] = parts[idx]! + 1n;
  }
  return parts;
}
