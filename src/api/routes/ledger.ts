/**
 * Ledger reads: accounts with their balances, balances as of a time, an account's
 * transfers (cursor-paginated), single transfers. Writes to the ledger happen only
 * through the domain's operations, never as raw transfers over HTTP.
 *
 * Agents see only accounts their agent owns (AccountOwner says who); anything else answers
 * 404, the same as an account that does not exist, so ids cannot be probed.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  AccountFlags,
  hasFlag,
  TransferFlags,
  type Account,
  type Transfer,
} from '../../ledger/index.ts';
import type { ApiContext } from '../app.ts';
import { ApiError } from '../problem.ts';
import { agentScope, defineRoute, OVERSIGHT, READERS } from '../route.ts';
import { Id, Money, Page, PageQuery, parseLimit, ProblemResponses, Timestamp } from '../schemas.ts';
import { fromWireId, isoToNs, ledgerCurrency, nsToIso, toWireId, toWireMoney } from '../wire.ts';

/** The agent (32 hex digits) that owns an account, or null when no agent does. */
export type AccountOwner = (account: Account) => Promise<string | null>;

export const LedgerAccount = Type.Object({
  id: Id,
  currency: Type.String(),
  code: Type.Integer({ description: 'Chart-of-accounts code: what kind of account' }),
  flags: Type.Array(Type.String()),
  debits_pending: Money,
  debits_posted: Money,
  credits_pending: Money,
  credits_posted: Money,
  net_posted: Money,
  closed: Type.Boolean(),
  user_data_128: Id,
  user_data_64: Type.String({ pattern: '^[0-9]+$' }),
  user_data_32: Type.Integer(),
  created_at: Timestamp,
});

export const LedgerTransfer = Type.Object({
  id: Id,
  debit_account_id: Id,
  credit_account_id: Id,
  amount: Money,
  pending_id: Type.Union([Id, Type.Null()]),
  code: Type.Integer({ description: 'Why the money moved' }),
  flags: Type.Array(Type.String()),
  timeout_s: Type.Integer(),
  user_data_128: Id,
  user_data_64: Type.String({ pattern: '^[0-9]+$' }),
  user_data_32: Type.Integer(),
  timestamp: Timestamp,
});

export const Balance = Type.Object({
  account_id: Id,
  as_of: Timestamp,
  debits_pending: Money,
  debits_posted: Money,
  credits_pending: Money,
  credits_posted: Money,
  net_posted: Money,
});

const ACCOUNT_FLAG_NAMES: Array<[number, string]> = [
  [AccountFlags.debitsMustNotExceedCredits, 'debits_must_not_exceed_credits'],
  [AccountFlags.creditsMustNotExceedDebits, 'credits_must_not_exceed_debits'],
];
const TRANSFER_FLAG_NAMES: Array<[number, string]> = [
  [TransferFlags.linked, 'linked'],
  [TransferFlags.pending, 'pending'],
  [TransferFlags.postPending, 'post_pending'],
  [TransferFlags.voidPending, 'void_pending'],
  [TransferFlags.closingDebit, 'closing_debit'],
  [TransferFlags.closingCredit, 'closing_credit'],
];

function flagNames(flags: number, names: Array<[number, string]>): string[] {
  return names.filter(([bit]) => hasFlag(flags, bit)).map(([, name]) => name);
}

export function accountToWire(a: Account): Static<typeof LedgerAccount> {
  const c = ledgerCurrency(a.ledger);
  return {
    id: toWireId(a.id),
    currency: c,
    code: a.code,
    flags: flagNames(a.flags, ACCOUNT_FLAG_NAMES),
    debits_pending: toWireMoney(a.debitsPending, c),
    debits_posted: toWireMoney(a.debitsPosted, c),
    credits_pending: toWireMoney(a.creditsPending, c),
    credits_posted: toWireMoney(a.creditsPosted, c),
    net_posted: toWireMoney(a.creditsPosted - a.debitsPosted, c),
    closed: a.closed,
    user_data_128: toWireId(a.userData128),
    user_data_64: a.userData64.toString(),
    user_data_32: a.userData32,
    created_at: nsToIso(a.timestamp),
  };
}

export function transferToWire(t: Transfer): Static<typeof LedgerTransfer> {
  const c = ledgerCurrency(t.ledger);
  return {
    id: toWireId(t.id),
    debit_account_id: toWireId(t.debitAccountId),
    credit_account_id: toWireId(t.creditAccountId),
    amount: toWireMoney(t.amount, c),
    pending_id: t.pendingId === 0n ? null : toWireId(t.pendingId),
    code: t.code,
    flags: flagNames(t.flags, TRANSFER_FLAG_NAMES),
    timeout_s: t.timeout,
    user_data_128: toWireId(t.userData128),
    user_data_64: t.userData64.toString(),
    user_data_32: t.userData32,
    timestamp: nsToIso(t.timestamp),
  };
}

const ACCOUNTS_CURSOR = /^a1:(\d{1,20})$/;

function encodeAccountsCursor(ts: bigint): string {
  return Buffer.from(`a1:${ts}`).toString('base64url');
}

function decodeAccountsCursor(cursor: string): bigint {
  const m = ACCOUNTS_CURSOR.exec(Buffer.from(cursor, 'base64url').toString());
  // Timestamps are signed 64-bit: a larger number was never handed out.
  if (m === null || BigInt(m[1]!) > (1n << 63n) - 1n) {
    throw new ApiError(
      'invalid_request',
      'the cursor is not one this server handed out; start again without it',
    );
  }
  return BigInt(m[1]!);
}

export function registerLedgerRoutes(app: FastifyInstance, ctx: ApiContext): void {
  /** The account, if the caller may see it; 404 otherwise (and for agents' foreign ones). */
  async function visibleAccount(request: FastifyRequest, idText: string): Promise<Account> {
    const id = fromWireId(idText, 'account id');
    const [account] = await ctx.ledger.lookupAccounts([id]);
    const scope = agentScope(request);
    if (account === undefined || (scope !== null && (await ctx.accountOwner(account)) !== scope)) {
      throw new ApiError('not_found', 'no ledger account with this id is visible to this key');
    }
    return account;
  }

  const Params = Type.Object({ id: Id });

  defineRoute<{ Querystring: { limit?: string; cursor?: string } }>(app, {
    method: 'GET',
    url: '/v1/ledger/accounts',
    access: OVERSIGHT,
    summary: 'Every ledger account, oldest first',
    tags: ['ledger'],
    schema: {
      querystring: Type.Object(PageQuery, { additionalProperties: false }),
      response: { 200: Page(LedgerAccount, 'ledger accounts'), ...ProblemResponses },
    },
    handler: async (request) => {
      const limit = parseLimit(request.query.limit);
      const after =
        request.query.cursor === undefined ? -1n : decodeAccountsCursor(request.query.cursor);
      const rows = await ctx.ledger.store.scanAccounts(after, limit + 1);
      const page = rows.slice(0, limit);
      return {
        items: page.map(accountToWire),
        next_cursor:
          rows.length > limit ? encodeAccountsCursor(page[page.length - 1]!.timestamp) : null,
      };
    },
  });

  defineRoute<{ Params: { id: string } }>(app, {
    method: 'GET',
    url: '/v1/ledger/accounts/:id',
    access: READERS,
    summary: 'A ledger account and its four balances',
    tags: ['ledger'],
    schema: { params: Params, response: { 200: LedgerAccount, ...ProblemResponses } },
    handler: async (request) => accountToWire(await visibleAccount(request, request.params.id)),
  });

  defineRoute<{ Params: { id: string }; Querystring: { at?: string } }>(app, {
    method: 'GET',
    url: '/v1/ledger/accounts/:id/balance',
    access: READERS,
    summary: 'Balances now, or as of a past time (rebuilt from immutable history)',
    tags: ['ledger'],
    schema: {
      params: Params,
      querystring: Type.Object(
        { at: Type.Optional(Type.String({ maxLength: 40, description: 'ISO 8601 time' })) },
        { additionalProperties: false },
      ),
      response: { 200: Balance, ...ProblemResponses },
    },
    handler: async (request) => {
      const account = await visibleAccount(request, request.params.id);
      const at =
        request.query.at === undefined ? ctx.ledger.now() : isoToNs(request.query.at, 'at', true);
      const b = await ctx.ledger.getAccountBalanceAt(account.id, at);
      const c = ledgerCurrency(account.ledger);
      return {
        account_id: toWireId(account.id),
        as_of: nsToIso(at),
        debits_pending: toWireMoney(b.debitsPending, c),
        debits_posted: toWireMoney(b.debitsPosted, c),
        credits_pending: toWireMoney(b.creditsPending, c),
        credits_posted: toWireMoney(b.creditsPosted, c),
        net_posted: toWireMoney(b.creditsPosted - b.debitsPosted, c),
      };
    },
  });

  defineRoute<{
    Params: { id: string };
    Querystring: { limit?: string; cursor?: string; side?: string; order?: string };
  }>(app, {
    method: 'GET',
    url: '/v1/ledger/accounts/:id/transfers',
    access: READERS,
    summary: "An account's transfers (its history), oldest first unless order=desc",
    tags: ['ledger'],
    schema: {
      params: Params,
      querystring: Type.Object(
        {
          ...PageQuery,
          side: Type.Optional(
            Type.Union([Type.Literal('debits'), Type.Literal('credits'), Type.Literal('both')]),
          ),
          order: Type.Optional(Type.Union([Type.Literal('asc'), Type.Literal('desc')])),
        },
        { additionalProperties: false },
      ),
      response: { 200: Page(LedgerTransfer, 'transfers'), ...ProblemResponses },
    },
    handler: async (request) => {
      const account = await visibleAccount(request, request.params.id);
      const q = request.query;
      const page = await ctx.ledger.getAccountTransfers({
        accountId: account.id,
        limit: parseLimit(q.limit),
        side: (q.side ?? 'both') as 'debits' | 'credits' | 'both',
        reversed: q.order === 'desc',
        ...(q.cursor === undefined ? {} : { cursor: q.cursor }),
      });
      return {
        items: page.transfers.map(transferToWire),
        next_cursor: page.nextCursor ?? null,
      };
    },
  });

  defineRoute<{ Params: { id: string } }>(app, {
    method: 'GET',
    url: '/v1/ledger/transfers/:id',
    access: READERS,
    summary: 'One ledger transfer (agents: only transfers touching their own accounts)',
    tags: ['ledger'],
    schema: { params: Params, response: { 200: LedgerTransfer, ...ProblemResponses } },
    handler: async (request) => {
      const [t] = await ctx.ledger.lookupTransfers([fromWireId(request.params.id)]);
      const scope = agentScope(request);
      let visible = t !== undefined;
      if (t !== undefined && scope !== null) {
        const accounts = await ctx.ledger.lookupAccounts([t.debitAccountId, t.creditAccountId]);
        visible = false;
        for (const a of accounts) if ((await ctx.accountOwner(a)) === scope) visible = true;
      }
      if (!visible)
        throw new ApiError('not_found', 'no transfer with this id is visible to this key');
      return transferToWire(t!);
    },
  });
}

export { OVERSIGHT };
