/**
 * How values cross the HTTP boundary: amounts as decimal strings with their currency,
 * 128-bit ids as 32 lowercase hex digits, times as ISO 8601 (UTC, up to nanoseconds).
 *
 * Owns: the conversions between those wire forms and remitnet's internal bigints. Never:
 * a JSON number for an amount, a balance or an id.
 */
import { currencyByLedger, formatAmount, parseAmount, type CurrencyCode } from '../money/index.ts';
import { idToHex } from '../ledger/ids.ts';
import { ApiError } from './problem.ts';

export interface WireMoney {
  readonly amount: string;
  readonly currency: string;
}

export function toWireMoney(amountMinor: bigint, currency: CurrencyCode | string): WireMoney {
  return { amount: formatAmount(amountMinor, currency), currency };
}

/** Parses a wire amount; MoneyErrors (unknown currency, too precise…) surface as problems. */
export function fromWireMoney(
  m: WireMoney,
  options: { allowNegative?: boolean } = {},
): { amountMinor: bigint; currency: CurrencyCode } {
  const amountMinor = parseAmount(m.amount, m.currency, options);
  return { amountMinor, currency: m.currency as CurrencyCode };
}

/** The currency of a ledger number; a ledger remitnet does not know is an invariant break. */
export function ledgerCurrency(ledger: number): CurrencyCode {
  const c = currencyByLedger(ledger);
  if (c === undefined) throw new Error(`invariant: ledger ${ledger} is not a known currency`);
  return c.code;
}

export const ID_PATTERN = '^[0-9a-fA-F]{32}$';

export function toWireId(id: bigint): string {
  return idToHex(id);
}

/** Parses a 32-hex-digit id that the schema already checked; refuses anything else. */
export function fromWireId(text: string, field = 'id'): bigint {
  if (!/^[0-9a-fA-F]{32}$/.test(text)) {
    throw new ApiError('invalid_request', `${field} must be 32 hexadecimal digits`);
  }
  return BigInt('0x' + text);
}

const NS_PER_MS = 1_000_000n;

/** Nanoseconds since the epoch as ISO 8601 UTC with nine fraction digits. */
export function nsToIso(ns: bigint): string {
  const ms = ns / NS_PER_MS;
  const base = new Date(Number(ms)).toISOString(); // 2026-11-28T05:40:06.123Z
  const subMs = (ns % NS_PER_MS).toString().padStart(6, '0');
  return `${base.slice(0, -1)}${subMs}Z`;
}

const ISO = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;

/**
 * Parses an ISO 8601 date-time with a zone into nanoseconds. `roundUp` reads a time given
 * to less than nanosecond precision as the end of that interval (so "as of 12:00:00.123Z"
 * includes everything booked within that millisecond).
 */
export function isoToNs(text: string, field: string, roundUp = false): bigint {
  const m = ISO.exec(text);
  const wholeMs = m === null ? NaN : Date.parse(`${text.slice(0, 19)}${m[8]}`);
  if (m === null || Number.isNaN(wholeMs)) {
    throw new ApiError(
      'invalid_request',
      `${field} must be an ISO 8601 time with a zone, such as 2026-01-31T12:00:00Z`,
    );
  }
  // Date.parse rolls a day that does not exist over (2026-02-30 reads as 2026-03-02):
  // the calendar date and time written must read back as written.
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const probe = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  if (
    probe.getUTCFullYear() !== year ||
    probe.getUTCMonth() !== month - 1 ||
    probe.getUTCDate() !== day ||
    probe.getUTCHours() !== hour ||
    probe.getUTCMinutes() !== minute ||
    probe.getUTCSeconds() !== second
  ) {
    throw new ApiError(
      'invalid_request',
      `${field}: ${text.slice(0, 19)} is not a date and time that exists`,
    );
  }
  const fraction = m[7] ?? '';
  let ns = BigInt(wholeMs) * NS_PER_MS + BigInt(fraction.padEnd(9, '0') || '0');
  if (roundUp && fraction.length < 9) ns += 10n ** BigInt(9 - fraction.length) - 1n;
  return ns;
}
