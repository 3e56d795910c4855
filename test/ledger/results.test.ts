/**
 * Every result code of createAccounts and createTransfers, and every LedgerError the ledger
 * raises, on every store of the matrix: each case asserts the exact code, and that a
 * rejected event or batch changed nothing (accounts, transfers and pending states read the
 * same before and after). A meta-test fails when a code of results.ts has no case here.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ledger } from '../../src/ledger/ledger.ts';
import {
  CREATE_ACCOUNT_RESULTS,
  CREATE_TRANSFER_RESULTS,
  LedgerError,
  type CreateAccountResult,
  type CreateTransferResult,
  type LedgerErrorCode,
} from '../../src/ledger/results.ts';
import type { LedgerStore } from '../../src/ledger/store.ts';
import {
  AccountFlags,
  BATCH_MAX,
  MAX_AMOUNT,
  NS_PER_S,
  TransferFlags,
  U128_MAX,
  U16_MAX,
  U32_MAX,
  U64_MAX,
  type Account,
  type AccountInput,
  type PendingState,
  type TransferInput,
} from '../../src/ledger/types.ts';
import { storeMatrix } from '../support/stores.ts';

const USD = 840;
const EUR = 978;
const P = TransferFlags.pending;
const POST = TransferFlags.postPending;
const VOID = TransferFlags.voidPending;
const LINKED = TransferFlags.linked;

/** Accounts and ids private to one case (each case has its own 2^64 id range). */
interface Fixture {
  readonly ledger: Ledger;
  /** USD accounts. */
  readonly a: bigint;
  readonly b: bigint;
  readonly x: bigint;
  readonly y: bigint;
  /** A EUR account. */
  readonly c: bigint;
  /** USD, debitsMustNotExceedCredits. */
  readonly drc: bigint;
  /** USD, creditsMustNotExceedDebits. */
  readonly crd: bigint;
  /** An id no account or transfer has. */
  readonly unknown: bigint;
  /** A fresh transfer id. */
  id(): bigint;
  /** Creates transfers that must all succeed. */
  must(batch: TransferInput[]): Promise<void>;
  /** Moves the ledger's clock forward. */
  advance(ns: bigint): void;
  /** Sets the clock (never backwards). */
  setClock(ns: bigint): void;
}

interface Snapshot {
  readonly accounts: Account[];
  readonly transfers: unknown;
  readonly pending: Map<bigint, PendingState>;
}

interface TransferCase {
  readonly code: CreateTransferResult;
  readonly title: string;
  readonly prepare?: (f: Fixture) => Promise<void>;
  readonly batch: (f: Fixture) => TransferInput[];
  /** The event under test (default: the last). */
  readonly at?: number;
  /** The batch's first event is valid and applies; only the rest must leave no trace. */
  readonly firstApplies?: boolean;
  /**
   * The batch reaches the deadline of `lastPending` (100, a -> b): its one trace is that
   * reservation's expiry, as of the deadline, as a later sweep would have made it.
   */
  readonly expiresInBatch?: boolean;
}

const one = (f: Fixture, over: Partial<TransferInput> = {}): TransferInput => ({
  id: f.id(),
  debitAccountId: f.a,
  creditAccountId: f.b,
  amount: 10n,
  ledger: USD,
  code: 1,
  ...over,
});

/** Makes a pending transfer a -> b of 100 (or as overridden) and returns its id. */
async function pending(f: Fixture, over: Partial<TransferInput> = {}): Promise<bigint> {
  const id = f.id();
  await f.must([one(f, { id, amount: 100n, flags: P, ...over })]);
  return id;
}

let lastPending = 0n;
let lastPlain: TransferInput | undefined;
let lastPlainOver: Partial<TransferInput> = {};

/** exists_with_different_*: an existing transfer, resubmitted with one field changed. */
function differs(
  code: CreateTransferResult,
  base: Partial<TransferInput>,
  change: (f: Fixture) => Partial<TransferInput>,
): TransferCase {
  return {
    code,
    title: `an id taken by a transfer with another ${code.slice('exists_with_different_'.length)}`,
    prepare: async (f) => {
      lastPlainOver = change(f);
      lastPlain = one(f, base);
      await f.must([lastPlain]);
    },
    batch: () => [{ ...lastPlain!, ...lastPlainOver }],
  };
}

const TRANSFER_CASES: TransferCase[] = [
  { code: 'ok', title: 'a plain transfer', batch: (f) => [one(f)] },
  {
    code: 'exists',
    title: 'the same transfer twice, across batches',
    prepare: async (f) => {
      lastPlain = one(f, { userData128: 3n, userData64: 4n, userData32: 5 });
      await f.must([lastPlain]);
    },
    batch: () => [{ ...lastPlain! }],
  },
  {
    code: 'exists',
    title: 'a post resubmitted with its zero fields left zero',
    prepare: async (f) => {
      lastPending = await pending(f);
      lastPlain = { id: f.id(), pendingId: lastPending, flags: POST };
      await f.must([lastPlain]);
    },
    batch: () => [{ ...lastPlain! }],
  },
  {
    code: 'linked_event_failed',
    title: 'a valid event linked to a failing one',
    batch: (f) => [one(f, { flags: LINKED }), one(f, { amount: 0n })],
    at: 0,
  },
  {
    code: 'linked_event_failed',
    title: 'an event after the failing member of a chain',
    batch: (f) => [one(f, { flags: LINKED, amount: 0n }), one(f, { flags: LINKED }), one(f)],
    at: 2,
  },
  {
    code: 'linked_event_chain_open',
    title: 'a batch whose last event is linked',
    batch: (f) => [one(f, { flags: LINKED }), one(f, { flags: LINKED })],
  },
  {
    code: 'linked_event_chain_open',
    title: 'the last event of a broken, open chain (as TigerBeetle: not linked_event_failed)',
    batch: (f) => [one(f, { flags: LINKED, amount: 0n }), one(f, { flags: LINKED })],
  },
  {
    code: 'amount_must_be_positive',
    title: 'the failing member of an open chain keeps its code',
    batch: (f) => [
      one(f, { flags: LINKED }),
      one(f, { flags: LINKED, amount: 0n }),
      one(f, { flags: LINKED }),
    ],
    at: 1,
  },
  { code: 'reserved_flag', title: 'an undefined flag bit', batch: (f) => [one(f, { flags: 64 })] },
  { code: 'id_must_not_be_zero', title: 'id 0', batch: (f) => [one(f, { id: 0n })] },
  {
    code: 'id_must_not_be_int_max',
    title: 'id 2^128-1',
    batch: (f) => [one(f, { id: U128_MAX })],
  },
  {
    code: 'flags_are_mutually_exclusive',
    title: 'pending and postPending together',
    batch: (f) => [one(f, { flags: P | POST })],
  },
  {
    code: 'flags_are_mutually_exclusive',
    title: 'a closing flag on a void',
    batch: (f) => [{ id: f.id(), pendingId: f.unknown, flags: VOID | TransferFlags.closingDebit }],
  },
  {
    code: 'debit_account_id_must_not_be_zero',
    title: 'no debit account',
    batch: (f) => [one(f, { debitAccountId: 0n })],
  },
  {
    code: 'credit_account_id_must_not_be_zero',
    title: 'no credit account',
    batch: (f) => [one(f, { creditAccountId: 0n })],
  },
  {
    code: 'accounts_must_be_different',
    title: 'debit and credit the same account',
    batch: (f) => [one(f, { creditAccountId: f.a })],
  },
  {
    code: 'pending_id_must_be_zero',
    title: 'a pendingId on a plain transfer',
    batch: (f) => [one(f, { pendingId: f.unknown })],
  },
  {
    code: 'pending_id_must_not_be_zero',
    title: 'a post without pendingId',
    batch: (f) => [{ id: f.id(), flags: POST }],
  },
  {
    code: 'pending_id_must_not_be_int_max',
    title: 'a void of pendingId 2^128-1',
    batch: (f) => [{ id: f.id(), pendingId: U128_MAX, flags: VOID }],
  },
  {
    code: 'pending_id_must_be_different',
    title: 'a post of itself',
    batch: (f) => {
      const id = f.id();
      return [{ id, pendingId: id, flags: POST }];
    },
  },
  {
    code: 'timeout_reserved_for_pending_transfer',
    title: 'a timeout on a plain transfer',
    batch: (f) => [one(f, { timeout: 1 })],
  },
  {
    code: 'timeout_reserved_for_pending_transfer',
    title: 'a timeout on a post',
    prepare: async (f) => {
      lastPending = await pending(f);
    },
    batch: (f) => [{ id: f.id(), pendingId: lastPending, flags: POST, timeout: 5 }],
  },
  {
    code: 'closing_transfer_must_be_pending',
    title: 'closingCredit on a plain transfer',
    batch: (f) => [one(f, { flags: TransferFlags.closingCredit })],
  },
  {
    code: 'amount_must_be_positive',
    title: 'a zero amount',
    batch: (f) => [one(f, { amount: 0n })],
  },
  {
    code: 'amount_must_be_positive',
    title: 'a negative amount',
    batch: (f) => [one(f, { amount: -5n })],
  },
  {
    code: 'amount_must_be_positive',
    title: 'a negative amount on a post',
    prepare: async (f) => {
      lastPending = await pending(f);
    },
    batch: (f) => [{ id: f.id(), pendingId: lastPending, flags: POST, amount: -1n }],
  },
  {
    code: 'ledger_must_not_be_zero',
    title: 'no ledger',
    batch: (f) => [one(f, { ledger: 0 })],
  },
  { code: 'code_must_not_be_zero', title: 'no code', batch: (f) => [one(f, { code: 0 })] },
  {
    code: 'debit_account_not_found',
    title: 'an unknown debit account',
    batch: (f) => [one(f, { debitAccountId: f.unknown })],
  },
  {
    code: 'credit_account_not_found',
    title: 'an unknown credit account',
    batch: (f) => [one(f, { creditAccountId: f.unknown })],
  },
  {
    code: 'accounts_must_have_the_same_ledger',
    title: 'a USD account paying a EUR account',
    batch: (f) => [one(f, { creditAccountId: f.c })],
  },
  {
    code: 'transfer_must_have_the_same_ledger_as_accounts',
    title: 'a EUR transfer between USD accounts',
    batch: (f) => [one(f, { ledger: EUR })],
  },
  {
    code: 'pending_transfer_not_found',
    title: 'a post of an unknown transfer',
    batch: (f) => [{ id: f.id(), pendingId: f.unknown, flags: POST }],
  },
  {
    code: 'pending_transfer_not_pending',
    title: 'a void of a plain transfer',
    prepare: async (f) => {
      lastPlain = one(f);
      await f.must([lastPlain]);
    },
    batch: (f) => [{ id: f.id(), pendingId: lastPlain!.id, flags: VOID }],
  },
  ...(
    [
      ['pending_transfer_has_different_debit_account_id', (f) => ({ debitAccountId: f.x })],
      ['pending_transfer_has_different_credit_account_id', (f) => ({ creditAccountId: f.x })],
      ['pending_transfer_has_different_ledger', () => ({ ledger: EUR })],
      ['pending_transfer_has_different_code', () => ({ code: 9 })],
      ['exceeds_pending_transfer_amount', () => ({ amount: 101n })],
    ] as [CreateTransferResult, (f: Fixture) => Partial<TransferInput>][]
  ).map(([code, over]): TransferCase => ({
    code,
    title: `a post that does not match its pending transfer (${code})`,
    prepare: async (f) => {
      lastPending = await pending(f);
    },
    batch: (f) => [{ id: f.id(), pendingId: lastPending, flags: POST, ...over(f) }],
  })),
  {
    code: 'pending_transfer_has_different_amount',
    title: 'a void of part of a reservation',
    prepare: async (f) => {
      lastPending = await pending(f);
    },
    batch: (f) => [{ id: f.id(), pendingId: lastPending, flags: VOID, amount: 50n }],
  },
  {
    code: 'pending_transfer_already_posted',
    title: 'a second post (the first partial)',
    prepare: async (f) => {
      lastPending = await pending(f);
      await f.must([{ id: f.id(), pendingId: lastPending, flags: POST, amount: 30n }]);
    },
    batch: (f) => [{ id: f.id(), pendingId: lastPending, flags: POST }],
  },
  {
    code: 'pending_transfer_already_posted',
    title: 'a void after a post, in the same batch',
    prepare: async (f) => {
      lastPending = await pending(f);
    },
    batch: (f) => [
      { id: f.id(), pendingId: lastPending, flags: POST | LINKED },
      { id: f.id(), pendingId: lastPending, flags: VOID },
    ],
  },
  {
    code: 'pending_transfer_already_voided',
    title: 'a post after a void',
    prepare: async (f) => {
      lastPending = await pending(f);
      await f.must([{ id: f.id(), pendingId: lastPending, flags: VOID }]);
    },
    batch: (f) => [{ id: f.id(), pendingId: lastPending, flags: POST }],
  },
  {
    code: 'pending_transfer_expired',
    title: 'a post after the timeout',
    prepare: async (f) => {
      lastPending = await pending(f, { timeout: 1 });
      f.advance(2n * NS_PER_S);
    },
    batch: (f) => [{ id: f.id(), pendingId: lastPending, flags: POST }],
  },
  {
    code: 'pending_transfer_expired',
    title: 'a void timestamped exactly at the deadline, in the batch that reaches it',
    prepare: async (f) => {
      lastPending = await pending(f, { timeout: 1 });
      const [p] = await f.ledger.lookupTransfers([lastPending]);
      // The batch starts 1 ns before the deadline (no sweep), so its second event is at it.
      f.setClock(p!.timestamp + NS_PER_S - 1n);
    },
    batch: (f) => [one(f, { amount: 0n }), { id: f.id(), pendingId: lastPending, flags: VOID }],
    expiresInBatch: true,
  },
  {
    code: 'exists_with_different_flags',
    title: 'an id taken by a plain transfer, resubmitted as pending',
    prepare: async (f) => {
      lastPlain = one(f);
      await f.must([lastPlain]);
    },
    batch: () => [{ ...lastPlain!, flags: P }],
  },
  differs('exists_with_different_debit_account_id', {}, (f) => ({ debitAccountId: f.x })),
  differs('exists_with_different_credit_account_id', {}, (f) => ({ creditAccountId: f.x })),
  differs('exists_with_different_amount', {}, () => ({ amount: 11n })),
  differs('exists_with_different_pending_id', {}, (f) => ({ pendingId: f.unknown })),
  differs('exists_with_different_user_data_128', { userData128: 1n }, () => ({ userData128: 2n })),
  differs('exists_with_different_user_data_64', {}, () => ({ userData64: 2n })),
  differs('exists_with_different_user_data_32', { userData32: 1 }, () => ({ userData32: 0 })),
  differs('exists_with_different_timeout', { flags: P, timeout: 60 }, () => ({ timeout: 61 })),
  differs('exists_with_different_ledger', {}, () => ({ ledger: EUR })),
  differs('exists_with_different_code', {}, () => ({ code: 2 })),
  {
    code: 'exists_with_different_amount',
    title: 'an id taken earlier in the same batch',
    batch: (f) => {
      const first = one(f);
      return [first, { ...first, amount: 12n }];
    },
    firstApplies: true,
  },
  {
    code: 'overflows_debits_pending',
    title: 'a reservation past the largest pending debits',
    prepare: async (f) => {
      await pending(f, { amount: MAX_AMOUNT });
    },
    batch: (f) => [one(f, { flags: P, creditAccountId: f.y, amount: 1n })],
  },
  {
    code: 'overflows_credits_pending',
    title: 'a reservation past the largest pending credits',
    prepare: async (f) => {
      await pending(f, { amount: MAX_AMOUNT });
    },
    batch: (f) => [one(f, { flags: P, debitAccountId: f.x, amount: 1n })],
  },
  {
    code: 'overflows_debits_posted',
    title: 'a transfer past the largest posted debits',
    prepare: async (f) => f.must([one(f, { amount: MAX_AMOUNT })]),
    batch: (f) => [one(f, { creditAccountId: f.y, amount: 1n })],
  },
  {
    code: 'overflows_credits_posted',
    title: 'a transfer past the largest posted credits',
    prepare: async (f) => f.must([one(f, { amount: MAX_AMOUNT })]),
    batch: (f) => [one(f, { debitAccountId: f.x, amount: 1n })],
  },
  {
    code: 'overflows_debits',
    title: 'a reservation past the largest total debits',
    prepare: async (f) => f.must([one(f, { amount: MAX_AMOUNT - 5n })]),
    batch: (f) => [one(f, { flags: P, creditAccountId: f.y, amount: 10n })],
  },
  {
    code: 'overflows_credits',
    title: 'a reservation past the largest total credits',
    prepare: async (f) => f.must([one(f, { amount: MAX_AMOUNT - 5n })]),
    batch: (f) => [one(f, { flags: P, debitAccountId: f.x, amount: 10n })],
  },
  {
    code: 'overflows_timeout',
    title: 'a timeout that reaches past the largest timestamp',
    prepare: async (f) => {
      f.setClock(MAX_AMOUNT - BigInt(U32_MAX) * NS_PER_S + 1n);
    },
    batch: (f) => [one(f, { flags: P, timeout: U32_MAX })],
  },
  {
    code: 'exceeds_credits',
    title: 'an account that may not owe more than it holds',
    batch: (f) => [one(f, { debitAccountId: f.drc })],
  },
  {
    code: 'exceeds_credits',
    title: 'a reservation counts against what it holds',
    prepare: async (f) => {
      await f.must([one(f, { creditAccountId: f.drc, amount: 10n })]);
      await f.must([one(f, { debitAccountId: f.drc, amount: 6n, flags: P })]);
    },
    batch: (f) => [one(f, { debitAccountId: f.drc, amount: 5n })],
  },
  {
    code: 'exceeds_debits',
    title: 'an account that may not hold more than it owes',
    batch: (f) => [one(f, { creditAccountId: f.crd })],
  },
  {
    code: 'debit_account_already_closed',
    title: 'a debit from an account a closing reservation closed',
    prepare: async (f) => {
      await pending(f, { flags: P | TransferFlags.closingDebit });
    },
    batch: (f) => [one(f, { creditAccountId: f.y })],
  },
  {
    code: 'credit_account_already_closed',
    title: 'a credit to an account a closing reservation closed',
    prepare: async (f) => {
      await pending(f, { flags: P | TransferFlags.closingCredit });
    },
    batch: (f) => [one(f, { debitAccountId: f.x })],
  },
  {
    code: 'debit_account_already_closed',
    title: 'a void of another reservation on a closed account',
    prepare: async (f) => {
      lastPending = await pending(f);
      await pending(f, { flags: P | TransferFlags.closingDebit, creditAccountId: f.y });
    },
    batch: (f) => [{ id: f.id(), pendingId: lastPending, flags: VOID }],
  },
];

interface AccountCase {
  readonly code: CreateAccountResult;
  readonly title: string;
  readonly prepare?: (f: Fixture, id: bigint) => Promise<void>;
  readonly batch: (id: bigint, f: Fixture) => AccountInput[];
  readonly at?: number;
  readonly firstApplies?: boolean;
}

const acct = (id: bigint, over: Partial<AccountInput> = {}): AccountInput => ({
  id,
  ledger: USD,
  code: 1,
  userData128: 1n,
  userData64: 2n,
  userData32: 3,
  ...over,
});

function accountDiffers(code: CreateAccountResult, over: Partial<AccountInput>): AccountCase {
  return {
    code,
    title: `an account id taken, with another ${code.slice('exists_with_different_'.length)}`,
    prepare: async (f, id) => {
      expect(await f.ledger.createAccounts([acct(id)])).toEqual(['ok']);
    },
    batch: (id) => [acct(id, over)],
  };
}

const ACCOUNT_CASES: AccountCase[] = [
  { code: 'ok', title: 'a new account', batch: (id) => [acct(id)] },
  {
    code: 'exists',
    title: 'the same account twice, across batches',
    prepare: async (f, id) => {
      expect(await f.ledger.createAccounts([acct(id)])).toEqual(['ok']);
    },
    batch: (id) => [acct(id)],
  },
  {
    code: 'linked_event_failed',
    title: 'a valid account linked to a failing one',
    batch: (id) => [acct(id, { flags: AccountFlags.linked }), acct(id + 1n, { code: 0 })],
    at: 0,
  },
  {
    code: 'linked_event_chain_open',
    title: 'a batch whose last account is linked',
    batch: (id) => [acct(id, { flags: AccountFlags.linked })],
  },
  {
    code: 'linked_event_chain_open',
    title: 'the last account of a broken, open chain (as TigerBeetle)',
    batch: (id) => [
      acct(id, { flags: AccountFlags.linked, code: 0 }),
      acct(id + 1n, { flags: AccountFlags.linked }),
    ],
  },
  { code: 'reserved_flag', title: 'an undefined flag', batch: (id) => [acct(id, { flags: 8 })] },
  { code: 'id_must_not_be_zero', title: 'id 0', batch: () => [acct(0n)] },
  { code: 'id_must_not_be_int_max', title: 'id 2^128-1', batch: () => [acct(U128_MAX)] },
  {
    code: 'flags_are_mutually_exclusive',
    title: 'both balance constraints',
    batch: (id) => [
      acct(id, {
        flags: AccountFlags.debitsMustNotExceedCredits | AccountFlags.creditsMustNotExceedDebits,
      }),
    ],
  },
  { code: 'ledger_must_not_be_zero', title: 'no ledger', batch: (id) => [acct(id, { ledger: 0 })] },
  { code: 'code_must_not_be_zero', title: 'no code', batch: (id) => [acct(id, { code: 0 })] },
  accountDiffers('exists_with_different_flags', { flags: AccountFlags.debitsMustNotExceedCredits }),
  accountDiffers('exists_with_different_user_data_128', { userData128: 9n }),
  accountDiffers('exists_with_different_user_data_64', { userData64: 9n }),
  accountDiffers('exists_with_different_user_data_32', { userData32: 9 }),
  accountDiffers('exists_with_different_ledger', { ledger: EUR }),
  accountDiffers('exists_with_different_code', { code: 9 }),
  {
    code: 'exists_with_different_code',
    title: 'an account id taken earlier in the same batch',
    batch: (id) => [acct(id), acct(id, { code: 2 })],
    firstApplies: true,
  },
];

async function expectLedgerError(
  promise: Promise<unknown> | (() => unknown),
  code: LedgerErrorCode,
): Promise<void> {
  let error: unknown;
  try {
    await (typeof promise === 'function' ? promise() : promise);
  } catch (e) {
    error = e;
  }
  expect(error, `expected LedgerError ${code}`).toBeInstanceOf(LedgerError);
  expect((error as LedgerError).code).toBe(code);
}

const factories = await storeMatrix();

describe.each(factories.map((f) => [f.name, f] as const))('result codes on %s', (_n, factory) => {
  let store: LedgerStore;
  let ledger: Ledger;
  let now = 1_800_000_000n * NS_PER_S;
  let space = 0n;
  const seenTransfer = new Set<string>();
  const seenAccount = new Set<string>();
  const seenErrors = new Set<string>();

  beforeAll(async () => {
    store = await factory.create();
    ledger = new Ledger(store, { clock: () => now });
  });
  afterAll(async () => {
    await factory.cleanup();
  });

  async function fixture(): Promise<Fixture & { ids: bigint[]; transferIds: bigint[] }> {
    space += 1n;
    const base = space << 64n;
    let next = base + 100n;
    const ids = [1n, 2n, 3n, 4n, 5n, 6n, 7n].map((k) => base + k);
    const [a, b, x, y, c, drc, crd] = ids as [
      bigint,
      bigint,
      bigint,
      bigint,
      bigint,
      bigint,
      bigint,
    ];
    now += 10n * NS_PER_S;
    const made = await ledger.createAccounts([
      { id: a, ledger: USD, code: 1 },
      { id: b, ledger: USD, code: 1 },
      { id: x, ledger: USD, code: 1 },
      { id: y, ledger: USD, code: 1 },
      { id: c, ledger: EUR, code: 1 },
      { id: drc, ledger: USD, code: 1, flags: AccountFlags.debitsMustNotExceedCredits },
      { id: crd, ledger: USD, code: 1, flags: AccountFlags.creditsMustNotExceedDebits },
    ]);
    expect(made.every((r) => r === 'ok')).toBe(true);
    const transferIds: bigint[] = [];
    return {
      ledger,
      a,
      b,
      x,
      y,
      c,
      drc,
      crd,
      unknown: base + 99n,
      ids,
      transferIds,
      id: () => {
        const id = next++;
        transferIds.push(id);
        return id;
      },
      must: async (batch) => {
        expect(await ledger.createTransfers(batch)).toEqual(batch.map(() => 'ok'));
      },
      advance: (ns) => {
        now += ns;
      },
      setClock: (ns) => {
        if (ns > now) now = ns;
      },
    };
  }

  async function snapshot(accounts: bigint[], transfers: bigint[]): Promise<Snapshot> {
    return {
      accounts: await ledger.lookupAccounts(accounts),
      transfers: await ledger.lookupTransfers(transfers),
      pending: await ledger.lookupPending(transfers),
    };
  }

  describe('createTransfers', () => {
    it.each(TRANSFER_CASES.map((c) => [c.code, c.title, c] as const))(
      '%s: %s',
      async (code, _title, c) => {
        const f = await fixture();
        await c.prepare?.(f);
        const batch = c.batch(f);
        const ids = [...new Set([...f.transferIds, ...batch.map((t) => t.id)])];
        const before = await snapshot(f.ids, ids);
        const results = await ledger.createTransfers(batch);
        const at = c.at ?? batch.length - 1;
        expect(results[at]).toBe(code);
        seenTransfer.add(results[at]!);
        const after = await snapshot(f.ids, ids);
        if (c.firstApplies === true) {
          // The ledger holds the first event exactly; the duplicate changed nothing.
          const first = batch[0]!;
          expect(results[0]).toBe('ok');
          expect(await ledger.lookupTransfers([first.id])).toEqual([
            expect.objectContaining({ amount: first.amount, debitAccountId: first.debitAccountId }),
          ]);
          const [a] = await ledger.lookupAccounts([f.a]);
          expect(a!.debitsPosted).toBe(first.amount);
        } else if (code === 'ok') {
          const t = batch[at]!;
          const [stored] = await ledger.lookupTransfers([t.id]);
          expect(stored).toMatchObject({ id: t.id, amount: t.amount, debitAccountId: f.a });
          const [a, b] = await ledger.lookupAccounts([f.a, f.b]);
          expect(a!.debitsPosted).toBe(t.amount);
          expect(b!.creditsPosted).toBe(t.amount);
        } else if (c.expiresInBatch === true) {
          // The batch stamped an event at the deadline and refused the void there as
          // expired: the reservation ended then, and nothing else changed.
          const release = (a: Account): Account =>
            a.id === f.a
              ? { ...a, debitsPending: a.debitsPending - 100n }
              : a.id === f.b
                ? { ...a, creditsPending: a.creditsPending - 100n }
                : a;
          const pending = new Map(before.pending);
          const state = pending.get(lastPending)!;
          pending.set(lastPending, { ...state, status: 'expired', resolvedAt: state.expiresAt });
          expect(after).toEqual({
            accounts: before.accounts.map(release),
            transfers: before.transfers,
            pending,
          });
        } else {
          // Nothing the batch touched changed: a rejected event leaves no trace.
          expect(after).toEqual(before);
        }
      },
    );
  });

  describe('createAccounts', () => {
    it.each(ACCOUNT_CASES.map((c) => [c.code, c.title, c] as const))(
      '%s: %s',
      async (code, _title, c) => {
        const f = await fixture();
        const id = f.unknown + 1000n;
        await c.prepare?.(f, id);
        const batch = c.batch(id, f);
        const ids = [...new Set([id, id + 1n, ...batch.map((a) => a.id)])];
        const before = await ledger.lookupAccounts(ids);
        const results = await ledger.createAccounts(batch);
        const at = c.at ?? batch.length - 1;
        expect(results[at]).toBe(code);
        seenAccount.add(results[at]!);
        const after = await ledger.lookupAccounts(ids);
        if (c.firstApplies === true) {
          expect(after).toEqual([expect.objectContaining({ ...batch[0] })]);
        } else if (code === 'ok') {
          expect(after).toEqual([
            expect.objectContaining({ ...batch[0], debitsPosted: 0n, closed: false }),
          ]);
        } else {
          expect(after).toEqual(before);
        }
      },
    );
  });

  describe('LedgerError', () => {
    it('batch_too_large: 8190 transfers, and 8190 accounts, are refused whole', async () => {
      const f = await fixture();
      const transfers = Array.from({ length: BATCH_MAX + 1 }, () => one(f, { amount: 1n }));
      const accounts = Array.from({ length: BATCH_MAX + 1 }, (_v, i) =>
        acct(f.unknown + 1000n + BigInt(i)),
      );
      const before = await snapshot(f.ids, [transfers[0]!.id, transfers[BATCH_MAX]!.id]);
      await expectLedgerError(ledger.createTransfers(transfers), 'batch_too_large');
      await expectLedgerError(ledger.createAccounts(accounts), 'batch_too_large');
      expect(await snapshot(f.ids, [transfers[0]!.id, transfers[BATCH_MAX]!.id])).toEqual(before);
      expect(await ledger.lookupAccounts([accounts[0]!.id, accounts[BATCH_MAX]!.id])).toEqual([]);
      const tooMany = Array.from({ length: BATCH_MAX + 1 }, (_v, i) => BigInt(i + 1));
      await expectLedgerError(() => ledger.lookupAccounts(tooMany), 'batch_too_large');
      // Exactly BATCH_MAX is allowed.
      const results = await ledger.createTransfers(transfers.slice(0, BATCH_MAX));
      expect(results.every((r) => r === 'ok')).toBe(true);
      seenErrors.add('batch_too_large');
    });

    it('event_malformed: wrong types and out-of-range fields refuse the whole batch', async () => {
      const f = await fixture();
      const good = one(f);
      const bad: unknown[] = [
        { amount: 10 },
        { amount: '10' },
        { id: -1n },
        { id: U128_MAX + 1n },
        { id: 5 },
        { debitAccountId: 1.5 },
        { userData64: U64_MAX + 1n },
        { userData32: U32_MAX + 1 },
        { ledger: -1 },
        { code: U16_MAX + 1 },
        { flags: 1.5 },
        { timeout: Number.NaN },
        { amount: U128_MAX + 1n },
      ];
      for (const over of bad) {
        const batch = [good, { ...one(f), ...(over as object) }] as TransferInput[];
        const ids = [good.id, batch[1]!.id].filter(
          (id) => typeof id === 'bigint' && id >= 0n && id <= U128_MAX,
        );
        const before = await snapshot(f.ids, ids);
        await expectLedgerError(ledger.createTransfers(batch), 'event_malformed');
        expect(await snapshot(f.ids, ids)).toEqual(before);
      }
      await expectLedgerError(
        ledger.createTransfers([null] as unknown as TransferInput[]),
        'event_malformed',
      );
      await expectLedgerError(
        ledger.createTransfers('nope' as unknown as TransferInput[]),
        'event_malformed',
      );
      const id = f.unknown + 1n;
      for (const over of [{ ledger: 1.5 }, { id: -2n }, { userData128: 'x' }, { code: -1 }]) {
        const batch = [acct(id), { ...acct(id + 1n), ...over }] as AccountInput[];
        await expectLedgerError(ledger.createAccounts(batch), 'event_malformed');
        expect(await ledger.lookupAccounts([id])).toEqual([]);
      }
      await expectLedgerError(
        () => ledger.lookupAccounts([1] as unknown as bigint[]),
        'event_malformed',
      );
      seenErrors.add('event_malformed');
    });

    it('event_malformed: ids out of range in look-ups', async () => {
      await expectLedgerError(() => ledger.lookupAccounts([-1n]), 'event_malformed');
      await expectLedgerError(() => ledger.lookupTransfers([U128_MAX + 1n]), 'event_malformed');
      await expectLedgerError(() => ledger.lookupPending([-5n]), 'event_malformed');
      await expectLedgerError(
        () => ledger.lookupAccounts([1n, 'x'] as unknown as bigint[]),
        'event_malformed',
      );
      await expectLedgerError(ledger.getAccountBalanceAt(-1n, now), 'event_malformed');
      await expectLedgerError(
        ledger.getAccountTransfers({ accountId: U128_MAX + 1n, limit: 1 }),
        'event_malformed',
      );
    });

    it('event_malformed: a transfer filter or a balance time of the wrong type or range', async () => {
      const f = await fixture();
      await f.must([one(f)]);
      const bad: unknown[] = [
        { timestampMin: 5 },
        { timestampMax: -1n },
        { timestampMin: 1n << 63n },
        { side: 'left' },
        { reversed: 'yes' },
        { accountId: 7 },
      ];
      for (const over of bad) {
        await expectLedgerError(
          ledger.getAccountTransfers({ accountId: f.a, limit: 5, ...(over as object) }),
          'event_malformed',
        );
      }
      await expectLedgerError(
        ledger.getAccountTransfers({ accountId: f.a, limit: 5, cursor: 5 as unknown as string }),
        'cursor_invalid',
      );
      for (const at of [-1n, 1n << 63n, 5 as unknown as bigint]) {
        await expectLedgerError(ledger.getAccountBalanceAt(f.a, at), 'event_malformed');
      }
      // The valid extremes are fine.
      const page = await ledger.getAccountTransfers({
        accountId: f.a,
        limit: 5,
        timestampMin: 0n,
        timestampMax: (1n << 63n) - 1n,
        side: 'debits',
        reversed: false,
      });
      expect(page.transfers).toHaveLength(1);
      expect((await ledger.getAccountBalanceAt(f.a, (1n << 63n) - 1n)).debitsPosted).toBe(10n);
      expect((await ledger.getAccountBalanceAt(f.a, 0n)).debitsPosted).toBe(0n);
    });

    it('cursor_invalid: a cursor the ledger did not hand out', async () => {
      const f = await fixture();
      await f.must([one(f), one(f), one(f)]);
      const first = await ledger.getAccountTransfers({ accountId: f.a, limit: 1 });
      expect(first.nextCursor).toBeDefined();
      const forged = [
        'garbage',
        '',
        Buffer.from('v2:5').toString('base64url'),
        Buffer.from('v1:-5').toString('base64url'),
        Buffer.from('v1:99999999999999999999').toString('base64url'),
      ];
      for (const cursor of forged) {
        await expectLedgerError(
          ledger.getAccountTransfers({ accountId: f.a, limit: 1, cursor }),
          'cursor_invalid',
        );
      }
      seenErrors.add('cursor_invalid');
    });

    it('limit_invalid: limits outside 1..8189', async () => {
      const f = await fixture();
      for (const limit of [0, -1, BATCH_MAX + 1, 1.5, Number.NaN]) {
        await expectLedgerError(
          ledger.getAccountTransfers({ accountId: f.a, limit }),
          'limit_invalid',
        );
      }
      expect(
        (await ledger.getAccountTransfers({ accountId: f.a, limit: BATCH_MAX })).transfers,
      ).toEqual([]);
      seenErrors.add('limit_invalid');
    });

    it('account_not_found: the balance of an unknown account', async () => {
      const f = await fixture();
      await expectLedgerError(ledger.getAccountBalanceAt(f.unknown, now), 'account_not_found');
      seenErrors.add('account_not_found');
    });
  });

  it('every result code and ledger error has a case above', () => {
    const missing = [
      ...Object.keys(CREATE_TRANSFER_RESULTS)
        .filter((k) => !seenTransfer.has(k))
        .map((k) => `createTransfers:${k}`),
      ...Object.keys(CREATE_ACCOUNT_RESULTS)
        .filter((k) => !seenAccount.has(k))
        .map((k) => `createAccounts:${k}`),
      ...[
        'batch_too_large',
        'event_malformed',
        'cursor_invalid',
        'limit_invalid',
        'account_not_found',
      ]
        .filter((k) => !seenErrors.has(k))
        .map((k) => `LedgerError:${k}`),
    ];
    expect(missing).toEqual([]);
  });
});
