/**
 * Encodings for state a store writes once per batch and folds into its tables later,
 * shared by the SQLite and PostgreSQL stores:
 *
 * - a balance journal entry: the balances (and closed state) of every account a batch
 *   changed, as one blob, so a batch writes one row for its accounts instead of one UPDATE
 *   per touched account. A store folds the entries into its accounts table every so often;
 *   until then an account's balances are those of the newest entry that holds it, else its
 *   row. Entries hold absolute values, not deltas, so replaying one twice is harmless.
 * - a posting list: the timestamps of one account's transfers within one stretch of
 *   history, as one blob, so the account history index costs one row per account per
 *   stretch rather than one per transfer and side.
 *
 * Both are fixed-width big-endian, so they decode without any parsing state and sort-free.
 */
import { MAX_AMOUNT, type Account } from '../ledger/types.ts';

/** An account's balances as a batch left them, keyed by the account's timestamp. */
export interface BalanceEntry {
  /** The account's creation timestamp: unique, and 8 bytes rather than a 16-byte id. */
  readonly accountTimestamp: bigint;
  readonly debitsPending: bigint;
  readonly debitsPosted: bigint;
  readonly creditsPending: bigint;
  readonly creditsPosted: bigint;
  readonly closed: boolean;
}

/** The balances of an account as a store holds it: keyed by its own timestamp. */
export type AccountBalances = Pick<
  Account,
  'timestamp' | 'debitsPending' | 'debitsPosted' | 'creditsPending' | 'creditsPosted' | 'closed'
>;

/** Bytes per balance journal entry. */
export const BALANCE_ENTRY_BYTES = 8 + 4 * 8 + 1;

export function packBalances(entries: readonly BalanceEntry[]): Buffer {
  const b = Buffer.allocUnsafe(entries.length * BALANCE_ENTRY_BYTES);
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let i = 0, o = 0; i < entries.length; i++, o += BALANCE_ENTRY_BYTES) {
    const e = entries[i]!;
    writeEntry(v, o, e.accountTimestamp, e);
  }
  return b;
}

/** As packBalances, from accounts (accountTimestamp = the account's timestamp), no copies. */
export function packAccountBalances(accounts: readonly AccountBalances[]): Buffer {
  const b = Buffer.allocUnsafe(accounts.length * BALANCE_ENTRY_BYTES);
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let i = 0, o = 0; i < accounts.length; i++, o += BALANCE_ENTRY_BYTES) {
    const a = accounts[i]!;
    writeEntry(v, o, a.timestamp, a);
  }
  return b;
}

function writeEntry(
  v: DataView,
  o: number,
  accountTimestamp: bigint,
  e: Omit<AccountBalances, 'timestamp'>,
): void {
  if (accountTimestamp < I64_MIN || accountTimestamp > MAX_AMOUNT) {
    throw new RangeError(`an account timestamp of ${accountTimestamp}`);
  }
  v.setBigInt64(o, accountTimestamp);
  v.setBigInt64(o + 8, balance(e.debitsPending));
  v.setBigInt64(o + 16, balance(e.debitsPosted));
  v.setBigInt64(o + 24, balance(e.creditsPending));
  v.setBigInt64(o + 32, balance(e.creditsPosted));
  v.setUint8(o + 40, e.closed ? 1 : 0);
}

export function unpackBalances(blob: Uint8Array): BalanceEntry[] {
  const b = asBuffer(blob);
  if (b.length % BALANCE_ENTRY_BYTES !== 0) {
    throw new Error(`invariant: a balance journal entry of ${b.length} bytes`);
  }
  const out = new Array<BalanceEntry>(b.length / BALANCE_ENTRY_BYTES);
  for (let i = 0, o = 0; o < b.length; i++, o += BALANCE_ENTRY_BYTES) {
    const closed = b.readUInt8(o + 40);
    if (closed > 1) throw new Error(`invariant: a balance journal entry with closed = ${closed}`);
    out[i] = {
      accountTimestamp: b.readBigInt64BE(o),
      debitsPending: b.readBigInt64BE(o + 8),
      debitsPosted: b.readBigInt64BE(o + 16),
      creditsPending: b.readBigInt64BE(o + 24),
      creditsPosted: b.readBigInt64BE(o + 32),
      closed: closed === 1,
    };
  }
  return out;
}

/** Timestamps (ascending, as the store wrote them) as 8 bytes each. */
export function packTimestamps(timestamps: readonly bigint[]): Buffer {
  const b = Buffer.allocUnsafe(timestamps.length * 8);
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let previous = -1n;
  for (let i = 0; i < timestamps.length; i++) {
    const ts = timestamps[i]!;
    if (ts <= previous) throw new Error('invariant: a posting list out of order');
    if (ts > MAX_AMOUNT) throw new RangeError(`a timestamp of ${ts}`);
    previous = ts;
    v.setBigInt64(i * 8, ts);
  }
  return b;
}

/** The index of the first entry of a posting list (packTimestamps) above `ts`, by bisection. */
export function firstAbove(list: Buffer, ts: bigint): number {
  let lo = 0;
  let hi = list.length >> 3;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list.readBigInt64BE(mid * 8) > ts) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

export function unpackTimestamps(blob: Uint8Array): bigint[] {
  const b = asBuffer(blob);
  if (b.length % 8 !== 0) throw new Error(`invariant: a posting list of ${b.length} bytes`);
  const out = new Array<bigint>(b.length / 8);
  for (let i = 0; i < out.length; i++) out[i] = b.readBigInt64BE(i * 8);
  return out;
}

const I64_MIN = -(1n << 63n);

function balance(v: bigint): bigint {
  if (v < 0n || v > MAX_AMOUNT) throw new Error(`invariant: a balance of ${v}`);
  return v;
}

function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}
