/**
 * The chart of accounts (docs/accounting.md explains it with a worked example).
 *
 * Owns: which ledger accounts exist, their codes and flags, and their ids. Ids are derived
 * (SHA-256 truncated to 128 bits) from what the account is, so every process computes the
 * same id without a lookup, and creating an account twice is `exists`, not a duplicate.
 * Never: a balance decision; the ledger decides (the exposure cap is its
 * debitsMustNotExceedCredits flag on each agent position).
 */
import { AccountFlags, U128_MAX, type AccountInput } from '../ledger/index.ts';
import { currency, type CurrencyCode } from '../money/index.ts';
import { sha256Hex } from './sha256.ts';

export const AccountCode = {
  /**
   * Per agent per currency: the agent's credit line, debited by the limit granted to its
   * position. Its balance is the agent's exposure limit, read from the ledger itself.
   */
  creditLine: 1,
  /** Per agent per currency: debit = the agent owes the network; credit = it is owed. */
  position: 2,
  /** Per agent per currency: commissions earned, owed to the agent. */
  commission: 3,
  /** Per currency: value between the sender's agent and the payout, remittance by remittance. */
  inFlight: 4,
  /** Per currency: losses an operator booked explicitly. */
  writeOff: 5,
} as const;
export type AccountKind = keyof typeof AccountCode;

/** Why money moved: the `code` of each transfer. */
export const TransferCode = {
  creditLimit: 1,
  funding: 10,
  commission: 11,
  exchangeIn: 12,
  exchangeOut: 13,
  payout: 14,
  cancellationFee: 15,
  heldFunding: 16,
  heldRefund: 17,
  writeOff: 18,
  refundByAgent: 19,
  positionWriteOff: 20,
} as const;

/** A 128-bit id from a name: SHA-256, top 128 bits, never 0 nor 2^128-1. */
export function derivedId(...parts: readonly string[]): bigint {
  return idOf(parts.join('\u0000'));
}

function idOf(name: string): bigint {
  const id = BigInt('0x' + sha256Hex(name).slice(0, 32));
  return id === 0n || id === U128_MAX ? 1n : id;
}

/**
 * Account ids, remembered: a step derives the same few (each agent's position and
 * commission, each currency's in-flight account) over and over, and an id is a pure
 * function of its name, so a remembered one can never be stale. Bounded: emptied when full.
 */
const accountIds = new Map<string, bigint>();
const ACCOUNT_IDS_MAX = 10_000;

function accountId(...parts: readonly string[]): bigint {
  const name = parts.join('\u0000');
  let id = accountIds.get(name);
  if (id === undefined) {
    id = idOf(name);
    if (accountIds.size >= ACCOUNT_IDS_MAX) accountIds.clear();
    accountIds.set(name, id);
  }
  return id;
}

export function ledgerOf(code: CurrencyCode): number {
  return currency(code).numeric;
}

export function positionId(agentId: string, code: CurrencyCode): bigint {
  return accountId('acct', 'position', agentId, code);
}
export function commissionId(agentId: string, code: CurrencyCode): bigint {
  return accountId('acct', 'commission', agentId, code);
}
export function inFlightId(code: CurrencyCode): bigint {
  return accountId('acct', 'in_flight', code);
}
export function creditLineId(agentId: string, code: CurrencyCode): bigint {
  return accountId('acct', 'credit_line', agentId, code);
}
export function writeOffId(code: CurrencyCode): bigint {
  return accountId('acct', 'write_off', code);
}

/** The network-wide accounts of one currency. */
export function currencyAccounts(code: CurrencyCode): AccountInput[] {
  const ledger = ledgerOf(code);
  return [
    { id: inFlightId(code), ledger, code: AccountCode.inFlight },
    { id: writeOffId(code), ledger, code: AccountCode.writeOff },
  ];
}

/** An agent's accounts in one currency; the position carries the exposure cap. */
export function agentAccounts(agentId: string, code: CurrencyCode): AccountInput[] {
  const ledger = ledgerOf(code);
  return [
    {
      id: positionId(agentId, code),
      ledger,
      code: AccountCode.position,
      flags: AccountFlags.debitsMustNotExceedCredits,
    },
    { id: commissionId(agentId, code), ledger, code: AccountCode.commission },
    { id: creditLineId(agentId, code), ledger, code: AccountCode.creditLine },
  ];
}
