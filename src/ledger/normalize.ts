/**
 * Shape checks for batches entering the ledger: every field of the right JS type and in
 * range, or the whole batch is refused with LedgerError('event_malformed') before any store
 * sees it. Business rules (zero ids, same ledger, balances) are results, not errors: see
 * engine.ts.
 */
import { LedgerError } from './results.ts';
import {
  BATCH_MAX,
  U128_MAX,
  U16_MAX,
  U32_MAX,
  U64_MAX,
  type AccountInput,
  type TransferInput,
} from './types.ts';

/** A transfer event with every field present (zeros where the input left them out). */
export interface TransferEvent {
  readonly id: bigint;
  readonly debitAccountId: bigint;
  readonly creditAccountId: bigint;
  readonly amount: bigint;
  readonly pendingId: bigint;
  readonly userData128: bigint;
  readonly userData64: bigint;
  readonly userData32: number;
  readonly timeout: number;
  readonly ledger: number;
  readonly code: number;
  readonly flags: number;
}

export interface AccountEvent {
  readonly id: bigint;
  readonly ledger: number;
  readonly code: number;
  readonly flags: number;
  readonly userData128: bigint;
  readonly userData64: bigint;
  readonly userData32: number;
}

function u128(v: unknown, field: string, index: number): bigint {
  if (v === undefined) return 0n;
  if (typeof v !== 'bigint' || v < 0n || v > U128_MAX)
    malformed(field, index, 'a bigint from 0 to 2^128-1');
  return v;
}

function u64(v: unknown, field: string, index: number): bigint {
  if (v === undefined) return 0n;
  if (typeof v !== 'bigint' || v < 0n || v > U64_MAX)
    malformed(field, index, 'a bigint from 0 to 2^64-1');
  return v;
}

/** Amounts may be negative here so that the engine answers amount_must_be_positive. */
function amount(v: unknown, index: number): bigint {
  if (v === undefined) return 0n;
  if (typeof v !== 'bigint' || v > U128_MAX || v < -U128_MAX)
    malformed('amount', index, 'a bigint');
  return v;
}

function uint(v: unknown, field: string, index: number, max: number): number {
  if (v === undefined) return 0;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) {
    malformed(field, index, `a whole number from 0 to ${max}`);
  }
  return v;
}

function malformed(field: string, index: number, expected: string): never {
  throw new LedgerError('event_malformed', `event ${index}: ${field} must be ${expected}`);
}

function checkBatch(batch: unknown): asserts batch is readonly unknown[] {
  if (!Array.isArray(batch)) throw new LedgerError('event_malformed', 'a batch must be an array');
  if (batch.length > BATCH_MAX) {
    throw new LedgerError('batch_too_large', `this one holds ${batch.length}`);
  }
}

function checkObject(e: unknown, index: number): asserts e is Record<string, unknown> {
  if (typeof e !== 'object' || e === null) {
    throw new LedgerError('event_malformed', `event ${index} must be an object`);
  }
}

export function normalizeTransfers(batch: readonly TransferInput[]): TransferEvent[] {
  checkBatch(batch);
  const out = new Array<TransferEvent>(batch.length);
  for (let i = 0; i < batch.length; i++) {
    const e: unknown = batch[i];
    checkObject(e, i);
    out[i] = {
      id: u128(e.id, 'id', i),
      debitAccountId: u128(e.debitAccountId, 'debitAccountId', i),
      creditAccountId: u128(e.creditAccountId, 'creditAccountId', i),
      amount: amount(e.amount, i),
      pendingId: u128(e.pendingId, 'pendingId', i),
      userData128: u128(e.userData128, 'userData128', i),
      userData64: u64(e.userData64, 'userData64', i),
      userData32: uint(e.userData32, 'userData32', i, U32_MAX),
      timeout: uint(e.timeout, 'timeout', i, U32_MAX),
      ledger: uint(e.ledger, 'ledger', i, U32_MAX),
      code: uint(e.code, 'code', i, U16_MAX),
      flags: uint(e.flags, 'flags', i, U16_MAX),
    };
  }
  return out;
}

export function normalizeAccounts(batch: readonly AccountInput[]): AccountEvent[] {
  checkBatch(batch);
  const out = new Array<AccountEvent>(batch.length);
  for (let i = 0; i < batch.length; i++) {
    const e: unknown = batch[i];
    checkObject(e, i);
    out[i] = {
      id: u128(e.id, 'id', i),
      ledger: uint(e.ledger, 'ledger', i, U32_MAX),
      code: uint(e.code, 'code', i, U16_MAX),
      flags: uint(e.flags, 'flags', i, U16_MAX),
      userData128: u128(e.userData128, 'userData128', i),
      userData64: u64(e.userData64, 'userData64', i),
      userData32: uint(e.userData32, 'userData32', i, U32_MAX),
    };
  }
  return out;
}
