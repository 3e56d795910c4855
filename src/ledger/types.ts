/**
 * The ledger's vocabulary: accounts, transfers, flags, and the limits on them.
 *
 * Modelled on TigerBeetle's data model (docs/reference/account.md, transfer.md): 128-bit
 * client-chosen ids that are idempotency keys, one ledger per currency (the ISO 4217
 * numeric code), a `code` that says why, pending transfers that reserve and are later
 * posted, voided or expired. Amounts and balances are bigint minor units, at most a signed
 * 64-bit integer (MAX_AMOUNT), so every store can hold them in a native integer column.
 */
import { MAX_MINOR } from '../money/money.ts';

export const U128_MAX = (1n << 128n) - 1n;
export const U64_MAX = (1n << 64n) - 1n;
export const U32_MAX = 0xffff_ffff;
export const U16_MAX = 0xffff;
/** The largest amount, and the largest value of any balance. */
export const MAX_AMOUNT = MAX_MINOR;
/** The most events a createAccounts or createTransfers batch may hold (TigerBeetle's limit). */
export const BATCH_MAX = 8189;
/** Timestamps are nanoseconds since the Unix epoch, unique and strictly increasing per ledger. */
export const NS_PER_S = 1_000_000_000n;

export const AccountFlags = {
  none: 0,
  /** This event succeeds or fails together with the next one in the batch. */
  linked: 1 << 0,
  /** debits_pending + debits_posted may never exceed credits_posted (an asset the holder owns). */
  debitsMustNotExceedCredits: 1 << 1,
  /** credits_pending + credits_posted may never exceed debits_posted. */
  creditsMustNotExceedDebits: 1 << 2,
} as const;
export const ACCOUNT_FLAGS_KNOWN = 0b111;

export const TransferFlags = {
  none: 0,
  linked: 1 << 0,
  /** Reserve the amount: it moves to the pending balances until posted, voided or expired. */
  pending: 1 << 1,
  /** Post (part of) the pending transfer named by pendingId. */
  postPending: 1 << 2,
  /** Release the pending transfer named by pendingId. */
  voidPending: 1 << 3,
  /** A pending transfer that closes its debit account while it stands (void reopens it). */
  closingDebit: 1 << 4,
  /** A pending transfer that closes its credit account while it stands (void reopens it). */
  closingCredit: 1 << 5,
} as const;
export const TRANSFER_FLAGS_KNOWN = 0b11_1111;

export interface Account {
  readonly id: bigint;
  /** The ledger: the currency's ISO 4217 numeric code. */
  readonly ledger: number;
  /** What kind of account (chart of accounts code), > 0. */
  readonly code: number;
  readonly flags: number;
  readonly userData128: bigint;
  readonly userData64: bigint;
  readonly userData32: number;
  readonly debitsPending: bigint;
  readonly debitsPosted: bigint;
  readonly creditsPending: bigint;
  readonly creditsPosted: bigint;
  /** Closed by a standing closing transfer: no transfer may touch it until that is voided. */
  readonly closed: boolean;
  readonly timestamp: bigint;
}

export interface AccountInput {
  readonly id: bigint;
  readonly ledger: number;
  readonly code: number;
  readonly flags?: number;
  readonly userData128?: bigint;
  readonly userData64?: bigint;
  readonly userData32?: number;
}

export interface Transfer {
  readonly id: bigint;
  readonly debitAccountId: bigint;
  readonly creditAccountId: bigint;
  /** The amount moved (for a post: the amount posted; for a void: the amount released). */
  readonly amount: bigint;
  /** For a post or void: the pending transfer it resolves; else 0. */
  readonly pendingId: bigint;
  readonly userData128: bigint;
  readonly userData64: bigint;
  readonly userData32: number;
  /** For a pending transfer: seconds after its timestamp when it expires; 0 = never. */
  readonly timeout: number;
  readonly ledger: number;
  readonly code: number;
  readonly flags: number;
  readonly timestamp: bigint;
}

export interface TransferInput {
  readonly id: bigint;
  /** Required unless post/void (where 0 means "as the pending transfer"). */
  readonly debitAccountId?: bigint;
  readonly creditAccountId?: bigint;
  /** > 0. For a post, omitted (or 0) means the whole pending amount. */
  readonly amount?: bigint;
  readonly pendingId?: bigint;
  readonly userData128?: bigint;
  readonly userData64?: bigint;
  readonly userData32?: number;
  readonly timeout?: number;
  readonly ledger?: number;
  readonly code?: number;
  readonly flags?: number;
}

export type PendingStatus = 'pending' | 'posted' | 'voided' | 'expired';

/** The state of a pending transfer, kept beside the immutable transfer row. */
export interface PendingState {
  readonly status: PendingStatus;
  /** Nanosecond timestamp at which it expires; null when it has no timeout. */
  readonly expiresAt: bigint | null;
  /** Timestamp of the post, void or expiry that resolved it; null while pending. */
  readonly resolvedAt: bigint | null;
}

/** A stored transfer as the engine sees it: with its pending state when it is pending. */
export interface StoredTransfer extends Transfer {
  readonly pending?: PendingState;
}

export interface AccountBalance {
  readonly accountId: bigint;
  readonly debitsPending: bigint;
  readonly debitsPosted: bigint;
  readonly creditsPending: bigint;
  readonly creditsPosted: bigint;
  /** The time the balance is as of (nanoseconds). */
  readonly timestamp: bigint;
}

export interface AccountTransfersFilter {
  readonly accountId: bigint;
  /** Only transfers with timestamp >= this (ns). */
  readonly timestampMin?: bigint;
  /** Only transfers with timestamp <= this (ns). */
  readonly timestampMax?: bigint;
  /** Which side of the account: both by default. */
  readonly side?: 'debits' | 'credits' | 'both';
  /** Page size, 1..BATCH_MAX. */
  readonly limit: number;
  /** Newest first when true. */
  readonly reversed?: boolean;
  /** Opaque cursor from the previous page. */
  readonly cursor?: string;
}

export interface TransferPage {
  readonly transfers: readonly Transfer[];
  /** Present when more transfers match: pass it back to read the next page. */
  readonly nextCursor?: string;
}

export function hasFlag(flags: number, flag: number): boolean {
  return (flags & flag) !== 0;
}
