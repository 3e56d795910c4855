/**
 * The ledger's result codes: one table, each code with a sentence that says what to change.
 *
 * Every event in a batch gets exactly one result. `ok` and `exists` mean the event's
 * effect is in the ledger; every other code means the event changed nothing. Codes are
 * stable strings (clients switch on them); messages are for people.
 */

export const CREATE_ACCOUNT_RESULTS = {
  ok: 'created',
  exists: 'an account with this id and the same fields already exists; nothing was changed',
  linked_event_failed: 'another event in its linked chain failed, so this one was not applied',
  linked_event_chain_open:
    'the last event of the batch is flagged linked; clear the linked flag on the last event of a chain',
  reserved_flag: 'flags holds bits remitnet does not define; use only AccountFlags',
  id_must_not_be_zero: 'id must not be zero; choose a unique 128-bit id',
  id_must_not_be_int_max: 'id must not be 2^128-1; choose a unique 128-bit id',
  flags_are_mutually_exclusive:
    'debitsMustNotExceedCredits and creditsMustNotExceedDebits cannot both be set',
  ledger_must_not_be_zero: 'ledger must name a currency (its ISO 4217 numeric code)',
  code_must_not_be_zero: 'code must say what kind of account this is (a number above zero)',
  exists_with_different_flags: 'an account with this id exists with other flags; use a new id',
  exists_with_different_user_data_128:
    'an account with this id exists with other userData128; use a new id',
  exists_with_different_user_data_64:
    'an account with this id exists with other userData64; use a new id',
  exists_with_different_user_data_32:
    'an account with this id exists with other userData32; use a new id',
  exists_with_different_ledger: 'an account with this id exists in another ledger; use a new id',
  exists_with_different_code: 'an account with this id exists with another code; use a new id',
} as const;

export type CreateAccountResult = keyof typeof CREATE_ACCOUNT_RESULTS;

export const CREATE_TRANSFER_RESULTS = {
  ok: 'created',
  exists: 'a transfer with this id and the same fields already exists; nothing was changed',
  linked_event_failed: 'another event in its linked chain failed, so this one was not applied',
  linked_event_chain_open:
    'the last event of the batch is flagged linked; clear the linked flag on the last event of a chain',
  reserved_flag: 'flags holds bits remitnet does not define; use only TransferFlags',
  id_must_not_be_zero: 'id must not be zero; choose a unique 128-bit id',
  id_must_not_be_int_max: 'id must not be 2^128-1; choose a unique 128-bit id',
  flags_are_mutually_exclusive:
    'at most one of pending, postPending and voidPending may be set, and closing flags need pending',
  debit_account_id_must_not_be_zero: 'name the account to debit',
  credit_account_id_must_not_be_zero: 'name the account to credit',
  accounts_must_be_different: 'debit and credit accounts must be two different accounts',
  pending_id_must_be_zero:
    'pendingId is only for postPending or voidPending transfers; set it to 0',
  pending_id_must_not_be_zero: 'a post or void must name the pending transfer in pendingId',
  pending_id_must_not_be_int_max: 'pendingId must not be 2^128-1',
  pending_id_must_be_different: 'pendingId must name another transfer, not this one',
  timeout_reserved_for_pending_transfer: 'only a pending transfer may have a timeout; set it to 0',
  closing_transfer_must_be_pending: 'closingDebit and closingCredit need the pending flag',
  amount_must_be_positive: 'amount must be greater than zero',
  ledger_must_not_be_zero: 'ledger must name a currency (its ISO 4217 numeric code)',
  code_must_not_be_zero: 'code must say why the money moves (a number above zero)',
  debit_account_not_found: 'no account has the debit account id; create the account first',
  credit_account_not_found: 'no account has the credit account id; create the account first',
  accounts_must_have_the_same_ledger:
    'debit and credit accounts are in different currencies; exchange through two linked transfers',
  transfer_must_have_the_same_ledger_as_accounts:
    "the transfer's ledger differs from its accounts' ledger; use the accounts' currency",
  pending_transfer_not_found: 'no transfer has the id given in pendingId',
  pending_transfer_not_pending: 'the transfer named in pendingId was not a pending transfer',
  pending_transfer_has_different_debit_account_id:
    'debitAccountId differs from the pending transfer; leave it 0 or use the same',
  pending_transfer_has_different_credit_account_id:
    'creditAccountId differs from the pending transfer; leave it 0 or use the same',
  pending_transfer_has_different_ledger:
    'ledger differs from the pending transfer; leave it 0 or use the same',
  pending_transfer_has_different_code:
    'code differs from the pending transfer; leave it 0 or use the same',
  exceeds_pending_transfer_amount: 'the amount to post is more than the pending transfer reserved',
  pending_transfer_has_different_amount:
    'a void releases the whole pending amount; leave amount 0 or give exactly that amount',
  pending_transfer_already_posted: 'the pending transfer was already posted',
  pending_transfer_already_voided: 'the pending transfer was already voided',
  pending_transfer_expired: 'the pending transfer expired; its reservation was released',
  exists_with_different_flags: 'a transfer with this id exists with other flags; use a new id',
  exists_with_different_debit_account_id:
    'a transfer with this id exists with another debit account; use a new id',
  exists_with_different_credit_account_id:
    'a transfer with this id exists with another credit account; use a new id',
  exists_with_different_amount: 'a transfer with this id exists with another amount; use a new id',
  exists_with_different_pending_id:
    'a transfer with this id exists with another pendingId; use a new id',
  exists_with_different_user_data_128:
    'a transfer with this id exists with other userData128; use a new id',
  exists_with_different_user_data_64:
    'a transfer with this id exists with other userData64; use a new id',
  exists_with_different_user_data_32:
    'a transfer with this id exists with other userData32; use a new id',
  exists_with_different_timeout:
    'a transfer with this id exists with another timeout; use a new id',
  exists_with_different_ledger: 'a transfer with this id exists in another ledger; use a new id',
  exists_with_different_code: 'a transfer with this id exists with another code; use a new id',
  overflows_debits_pending: "the debit account's pending debits would exceed the largest balance",
  overflows_credits_pending:
    "the credit account's pending credits would exceed the largest balance",
  overflows_debits_posted: "the debit account's posted debits would exceed the largest balance",
  overflows_credits_posted: "the credit account's posted credits would exceed the largest balance",
  overflows_debits: "the debit account's debits would exceed the largest balance",
  overflows_credits: "the credit account's credits would exceed the largest balance",
  overflows_timeout: 'the timeout reaches past the largest timestamp; use a shorter timeout',
  exceeds_credits:
    'the debit account may not owe more than it holds: its debits would exceed its credits',
  exceeds_debits:
    'the credit account may not hold more than it owes: its credits would exceed its debits',
  debit_account_already_closed: 'the debit account is closed',
  credit_account_already_closed: 'the credit account is closed',
} as const;

export type CreateTransferResult = keyof typeof CREATE_TRANSFER_RESULTS;

/** True when the event's effect is in the ledger (created now, or by an earlier identical event). */
export function isApplied(result: CreateAccountResult | CreateTransferResult): boolean {
  return result === 'ok' || result === 'exists';
}

/**
 * Errors that refuse a whole request (as opposed to one event's result). Nothing is applied,
 * except after commit_unconfirmed: the change was written but its durability could not be
 * confirmed, so whether it survived is unknown until the store is opened again.
 */
export const LEDGER_ERRORS = {
  batch_too_large: 'a batch holds at most 8189 events; split it',
  event_malformed: 'an event has a field of the wrong type or out of range',
  store_unavailable: 'the ledger store cannot be reached',
  commit_unconfirmed:
    'the store could not confirm that changes are durable (its disk failed or stopped answering), so whether this one took effect is unknown; retry it with the same Idempotency-Key once the service is back',
  store_schema_newer: 'the database was written by a newer remitnet; upgrade remitnet',
  cursor_invalid: 'the cursor is not one this ledger handed out; start again without it',
  limit_invalid: 'limit must be a whole number from 1 to 8189',
  account_not_found: 'no account has this id',
} as const;

export type LedgerErrorCode = keyof typeof LEDGER_ERRORS;

export class LedgerError extends Error {
  override readonly name = 'LedgerError';
  constructor(
    readonly code: LedgerErrorCode,
    detail?: string,
    options?: { cause?: unknown },
  ) {
    super(
      detail === undefined ? LEDGER_ERRORS[code] : `${LEDGER_ERRORS[code]}: ${detail}`,
      options,
    );
  }
}
