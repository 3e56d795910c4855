/**
 * Exact rates and commissions: decimal strings parsed into bigint rationals, and the two
 * rounding rules every quote and every booking share.
 *
 * Owns: conversion between currencies (minor units, with each currency's exponent) and the
 * commission formula. Never: a float. Rounding rules (stated once, used everywhere):
 * - conversion rounds DOWN (floor): the network never owes onward more than it took in;
 * - commission rounds UP (ceil) in the agent's favour; the recipient's amount is what is
 *   left, so quote and ledger agree to the last minor unit.
 */
import { currency, divide, type CurrencyCode } from '../money/index.ts';
import { RemitnetError } from './errors.ts';
import type { CommissionRule } from './types.ts';

export interface Rational {
  readonly num: bigint;
  readonly den: bigint;
}

const DECIMAL = /^(\d{1,18})(?:\.(\d{1,18}))?$/;

/** "0.0052" -> 52/10000. Refuses signs, exponents, and more than 18 digits either side. */
export function parseDecimal(text: string, what: string, allowZero = false): Rational {
  const m = typeof text === 'string' ? DECIMAL.exec(text) : null;
  if (m === null) throw new RemitnetError('rate_invalid', `${what}: ${JSON.stringify(text)}`);
  const [, whole = '', fraction = ''] = m;
  const num = BigInt(whole + fraction);
  const den = 10n ** BigInt(fraction.length);
  if (num === 0n && !allowZero) throw new RemitnetError('rate_invalid', `${what} is zero`);
  return { num, den };
}

/**
 * Converts `amountMinor` of `from` into `to` at `rate` (major units of `to` per major unit
 * of `from`), rounding down. minor_to = minor_from * rate * 10^e_to / 10^e_from.
 */
export function convert(
  amountMinor: bigint,
  from: CurrencyCode,
  to: CurrencyCode,
  rate: Rational,
): bigint {
  const eFrom = BigInt(currency(from).exponent);
  const eTo = BigInt(currency(to).exponent);
  return divide(amountMinor * rate.num * 10n ** eTo, rate.den * 10n ** eFrom, 'floor');
}

/** Basis points from a percent string: "10" -> 1000 bp as a rational (exact). */
export function commissionOf(amountInMinor: bigint, rule: CommissionRule): bigint {
  const pct = parseDecimal(rule.percent, 'commission percent', true);
  const proportional = divide(amountInMinor * pct.num, pct.den * 100n, 'ceil');
  const c = proportional + rule.fixedMinor;
  return c > rule.minimumMinor ? c : rule.minimumMinor;
}

/** The rule an agent applies in a corridor and currency: exact corridor first, then "*". */
export function findRule(
  rules: readonly CommissionRule[],
  corridor: string,
  code: CurrencyCode,
): CommissionRule | undefined {
  return (
    rules.find((r) => r.corridor === corridor && r.currency === code) ??
    rules.find((r) => r.corridor === '*' && r.currency === code)
  );
}

/** Checks a percent is a decimal from 0 to 100. */
export function checkPercent(text: string): void {
  const p = parseDecimal(text, 'commission percent', true);
  if (p.num > 100n * p.den) throw new RemitnetError('rate_invalid', 'a percent above 100');
}
