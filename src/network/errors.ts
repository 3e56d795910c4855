/**
 * The one catalogue of errors the network and remittance modules raise.
 *
 * Owns: every refusal's stable `code`, its HTTP-agnostic `kind`, and a sentence that says
 * what to change. Never: an HTTP status (the API maps `kind` to one), or a message that
 * carries personal data or a payout code. Codes are declared once in an `as const` table and
 * the types are derived from it (as tRPC's rpc/codes.ts does), so a client can switch on
 * `code` and a person can read `message`.
 */

export type ErrorKind =
  | 'invalid' // the request is malformed or breaks a rule; change the request
  | 'not_found' // what it names does not exist
  | 'conflict' // the state does not allow it now (another actor won, wrong step, limits)
  | 'forbidden' // this actor may not do it (or a proof did not match)
  | 'expired' // a deadline passed
  | 'unavailable'; // the ledger or database failed; retry the same request

export const REMITNET_ERRORS = {
  // ---- network ------------------------------------------------------------------------
  agent_not_found: ['not_found', 'no agent has this id; list agents to find the right one'],
  agent_invalid: ['invalid', 'the agent is not valid as given'],
  agent_suspended: [
    'conflict',
    'the agent is suspended or unreachable; choose another agent or reinstate this one',
  ],
  link_not_found: ['not_found', 'no link has this id; list the links of an agent to find it'],
  link_invalid: ['invalid', 'the link is not valid as given'],
  rate_invalid: [
    'invalid',
    'a rate must be a positive decimal string such as "0.0052" with at most 18 decimals',
  ],
  currency_unknown: ['invalid', 'the currency is not one remitnet knows; use an ISO 4217 code'],
  currency_not_handled: [
    'invalid',
    'the agent does not handle this currency; add it to the agent first',
  ],
  amount_invalid: ['invalid', 'the amount must be a whole number of minor units above zero'],
  amount_below_minimum: ['invalid', 'the amount is below the minimum; send more'],
  amount_above_limit: ['invalid', 'the amount is above the limit; send less or split it'],
  limit_below_usage: [
    'conflict',
    'the exposure limit cannot go below what the agent already owes or has reserved; settle first',
  ],
  customer_not_found: ['not_found', 'no customer has this id; register the customer first'],
  customer_invalid: ['invalid', 'the customer data is not valid as given'],
  customer_field_not_allowed: [
    'invalid',
    'this personal data field is not configured to be stored; leave it out',
  ],
  customer_data_missing: [
    'invalid',
    'above the configured threshold the sender needs one of address, national ID, customer ID, or date and place of birth; add one',
  ],
  no_route: [
    'not_found',
    'no route of active agents reaches a payout agent in that region and currency within the hop limit',
  ],
  quote_not_found: ['not_found', 'no quote has this id; ask for a new quote'],
  quote_expired: ['expired', 'the quote has expired; ask for a new quote'],
  // ---- remittances --------------------------------------------------------------------
  remittance_not_found: ['not_found', 'no remittance has this id'],
  idempotency_key_invalid: ['invalid', 'give an idempotency key of 1 to 200 characters'],
  reason_missing: [
    'invalid',
    'give a reason of 1 to 500 characters; it is recorded with the change',
  ],
  idempotency_key_reused: [
    'conflict',
    'this idempotency key was used for a different request; use a new key for a new remittance',
  ],
  transition_not_allowed: [
    'conflict',
    'the remittance is not in a state that allows this; read its state and timeline first',
  ],
  version_conflict: [
    'conflict',
    'another actor changed this remittance at the same moment; read it again and retry if still relevant',
  ],
  remittance_busy: [
    'conflict',
    'a ledger step of this remittance is in progress; retry in a moment',
  ],
  actor_not_allowed: ['forbidden', 'this actor may not do this to this remittance'],
  deadline_passed: ['expired', 'the deadline for this step has passed'],
  cash_insufficient: [
    'conflict',
    'the payout agent reports too little cash on hand in that currency to cover the payout; report more cash or decline',
  ],
  exposure_limit_exceeded: [
    'conflict',
    "the agent's exposure limit in that currency would be exceeded; raise the limit or settle first",
  ],
  payout_code_malformed: [
    'invalid',
    'the payout code is not well formed (11 characters of Crockford base32 with a valid check character); read it again',
  ],
  payout_code_wrong: ['forbidden', 'the payout code does not match'],
  payout_code_locked: [
    'forbidden',
    'too many wrong payout codes; an operator must issue a new code',
  ],
  proof_missing: [
    'invalid',
    'this corridor requires another proof of identity for payout; supply it',
  ],
  proof_wrong: ['forbidden', 'a proof of identity did not match'],
  write_off_not_allowed: [
    'conflict',
    'only a held remittance (its origin agent suspended with the value) can be written off',
  ],
  write_off_via_origin: [
    'invalid',
    'the agent that refunds the sender must not be the origin agent, which is the one that lost the cash; name another active agent that handles the currency',
  ],
  write_off_origin_active: [
    'conflict',
    "the origin agent is active again, so it can return the sender's cash: resolve the held remittance with 'refund' (or 'resume'); if the cash is lost all the same, suspend the agent first",
  ],
  write_off_above_position: [
    'conflict',
    'the amount is more than the agent owes on settled business (its posted position); read its exposure and write off at most what it owes',
  ],
  cursor_invalid: ['invalid', 'the cursor is not one remitnet handed out; start again without it'],
  ledger_refused: ['unavailable', 'the ledger refused the step; the remittance did not change'],
  ledger_unavailable: [
    'unavailable',
    'the ledger could not be reached; the step is recorded and will be re-driven by recover()',
  ],
} as const satisfies Record<string, readonly [ErrorKind, string]>;

export type RemitnetErrorCode = keyof typeof REMITNET_ERRORS;

/** A refusal: nothing changed. `detail` says which field or value, without personal data. */
export class RemitnetError extends Error {
  override readonly name = 'RemitnetError';
  readonly kind: ErrorKind;
  constructor(
    readonly code: RemitnetErrorCode,
    readonly detail?: string,
    options?: { cause?: unknown },
  ) {
    const [kind, sentence] = REMITNET_ERRORS[code];
    super(detail === undefined ? sentence : `${sentence} (${detail})`, options);
    this.kind = kind;
  }
}

export function isRemitnetError(e: unknown): e is RemitnetError {
  return e instanceof RemitnetError;
}
