/**
 * Currencies: ISO 4217 alphabetic code, numeric code and minor-unit exponent.
 *
 * Owns: the table of currencies remitnet knows. Never: arithmetic on amounts (see money.ts).
 * The numeric code doubles as the ledger number: one ledger per currency, as TigerBeetle
 * models it, so an account or transfer stores the small integer, and edges show the code.
 */

export const CURRENCIES = {
  AED: { numeric: 784, exponent: 2, name: 'UAE dirham' },
  AFN: { numeric: 971, exponent: 2, name: 'Afghan afghani' },
  CNY: { numeric: 156, exponent: 2, name: 'Chinese yuan' },
  EUR: { numeric: 978, exponent: 2, name: 'Euro' },
  GBP: { numeric: 826, exponent: 2, name: 'Pound sterling' },
  HKD: { numeric: 344, exponent: 2, name: 'Hong Kong dollar' },
  JPY: { numeric: 392, exponent: 0, name: 'Japanese yen' },
  KPW: { numeric: 408, exponent: 2, name: 'North Korean won' },
  KRW: { numeric: 410, exponent: 0, name: 'South Korean won' },
  KWD: { numeric: 414, exponent: 3, name: 'Kuwaiti dinar' },
  PKR: { numeric: 586, exponent: 2, name: 'Pakistani rupee' },
  SAR: { numeric: 682, exponent: 2, name: 'Saudi riyal' },
  SOS: { numeric: 706, exponent: 2, name: 'Somali shilling' },
  SYP: { numeric: 760, exponent: 2, name: 'Syrian pound' },
  USD: { numeric: 840, exponent: 2, name: 'US dollar' },
  YER: { numeric: 886, exponent: 2, name: 'Yemeni rial' },
} as const satisfies Record<string, { numeric: number; exponent: number; name: string }>;

export type CurrencyCode = keyof typeof CURRENCIES;

export interface Currency {
  readonly code: CurrencyCode;
  readonly numeric: number;
  readonly exponent: number;
  readonly name: string;
}

const byCode = new Map<string, Currency>();
const byNumeric = new Map<number, Currency>();
for (const [code, c] of Object.entries(CURRENCIES)) {
  const currency: Currency = Object.freeze({ code: code as CurrencyCode, ...c });
  byCode.set(code, currency);
  byNumeric.set(c.numeric, currency);
}

export function isCurrencyCode(value: unknown): value is CurrencyCode {
  return typeof value === 'string' && byCode.has(value);
}

/** The currency for an ISO 4217 alphabetic code; throws a MoneyError for an unknown one. */
export function currency(code: string): Currency {
  const c = byCode.get(code);
  if (c === undefined) {
    throw new MoneyError(
      'currency_unknown',
      `${JSON.stringify(code)} is not a currency remitnet knows; use an ISO 4217 code such as ${[...byCode.keys()].slice(0, 4).join(', ')}`,
    );
  }
  return c;
}

/** The currency whose ISO 4217 numeric code (the ledger number) is `numeric`, or undefined. */
export function currencyByLedger(numeric: number): Currency | undefined {
  return byNumeric.get(numeric);
}

export function allCurrencies(): readonly Currency[] {
  return [...byCode.values()];
}

export type MoneyErrorCode =
  | 'currency_unknown'
  | 'amount_malformed'
  | 'amount_too_precise'
  | 'amount_negative'
  | 'amount_too_large'
  | 'currency_mismatch';

/** A rejected amount or currency, with a stable code and a sentence that says what to change. */
export class MoneyError extends Error {
  override readonly name = 'MoneyError';
  constructor(
    readonly code: MoneyErrorCode,
    message: string,
  ) {
    super(message);
  }
}
