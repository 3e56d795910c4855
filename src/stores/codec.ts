/**
 * Conversions shared by the stores: 128-bit ids to 16 big-endian bytes (so time-ordered
 * ids sort, and index, in time order), unsigned 64-bit to signed columns, pending status
 * numbers, and the opaque page cursor.
 */
import { LedgerError } from '../ledger/results.ts';
import type { Account, PendingStatus, StoredTransfer, Transfer } from '../ledger/types.ts';

const U64_MASK = (1n << 64n) - 1n;
const I64_SIGN = 1n << 63n;

export function u128ToBytes(v: bigint): Buffer {
  const b = Buffer.allocUnsafe(16);
  b.writeBigUInt64BE(v >> 64n, 0);
  b.writeBigUInt64BE(v & U64_MASK, 8);
  return b;
}

export function bytesToU128(b: Uint8Array): bigint {
  const buf = Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  if (buf.length !== 16) throw new Error(`invariant: a 128-bit id column held ${buf.length} bytes`);
  return (buf.readBigUInt64BE(0) << 64n) | buf.readBigUInt64BE(8);
}

/** Optional 128-bit user data: NULL for zero, to keep rows small. */
export function u128OrNull(v: bigint): Buffer | null {
  return v === 0n ? null : u128ToBytes(v);
}

export function nullableBytesToU128(b: Uint8Array | null): bigint {
  return b === null ? 0n : bytesToU128(b);
}

/** Unsigned 64-bit values live in signed 64-bit columns as their two's complement. */
export function u64ToI64(v: bigint): bigint {
  return v >= I64_SIGN ? v - (1n << 64n) : v;
}

export function i64ToU64(v: bigint): bigint {
  return v < 0n ? v + (1n << 64n) : v;
}

export const PENDING_STATUS_CODES: Record<PendingStatus, number> = {
  pending: 0,
  posted: 1,
  voided: 2,
  expired: 3,
};
const STATUS_BY_CODE: PendingStatus[] = ['pending', 'posted', 'voided', 'expired'];

export function pendingStatusFromCode(code: number): PendingStatus {
  const s = STATUS_BY_CODE[code];
  if (s === undefined) throw new Error(`invariant: unknown pending status code ${code}`);
  return s;
}

/** Cursors are opaque to clients: a versioned, base64url-encoded last-seen timestamp. */
export function encodeCursor(timestamp: bigint): string {
  return Buffer.from(`v1:${timestamp}`).toString('base64url');
}

export function decodeCursor(cursor: string): bigint {
  const text = Buffer.from(cursor, 'base64url').toString();
  const m = /^v1:(\d{1,20})$/.exec(text);
  if (m === null) throw new LedgerError('cursor_invalid');
  const timestamp = BigInt(m[1]!);
  // Timestamps are signed 64-bit: a larger one was never handed out (and no column holds it).
  if (timestamp >= I64_SIGN) throw new LedgerError('cursor_invalid');
  return timestamp;
}

/** The last check before a store writes an account: no balance may go below zero. */
export function assertBalances(a: Account): void {
  if (
    a.debitsPending < 0n ||
    a.debitsPosted < 0n ||
    a.creditsPending < 0n ||
    a.creditsPosted < 0n
  ) {
    throw new Error(`invariant: account ${a.id} would have a negative balance`);
  }
}

/** A stored transfer without its pending state: what reads hand out. */
export function stripPendingState(t: StoredTransfer): Transfer {
  if (t.pending === undefined) return t;
  const { pending: _omit, ...rest } = t;
  return rest;
}
