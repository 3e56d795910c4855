/**
 * A world for remittance tests: a ledger and a SQL client (SQLite in memory by default, or
 * PostgreSQL for the domain and the ledger when asked), a clock the test moves, and
 * builders for the corridors the tests use.
 */
import pg from 'pg';
import { Ledger, type LedgerStore } from '../../src/ledger/index.ts';
import type { CurrencyCode } from '../../src/money/index.ts';
import type { Actor, Agent, AgentInput, CommissionRule, Link } from '../../src/network/index.ts';
import { createRemitnet, type Remitnet, type RemitnetConfig } from '../../src/remittances/index.ts';
import { PostgresClient, SqliteClient, type SqlClient } from '../../src/stores/sql.ts';
import { SqliteStore } from '../../src/stores/sqlite/sqlite-store.ts';
import { dropTestDatabase, storesWanted } from '../support/stores.ts';

export const OPERATOR: Actor = { kind: 'operator', id: 'op-1' };
export const T0 = Date.parse('2026-03-01T00:00:00Z');

export interface World {
  readonly rn: Remitnet;
  readonly ledger: Ledger;
  readonly sql: SqlClient;
  now(): number;
  advance(ms: number): void;
  close(): Promise<void>;
}

export const PG_ADMIN = process.env.TEST_DATABASE_URL ?? 'postgres://root@127.0.0.1:5432/postgres';

export async function postgresReachable(): Promise<boolean> {
  if (!storesWanted().includes('postgres')) return false;
  const c = new pg.Client({ connectionString: PG_ADMIN, connectionTimeoutMillis: 1500 });
  try {
    await c.connect();
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => undefined);
  }
}

export async function makeWorld(
  config: Partial<RemitnetConfig> = {},
  kind: 'sqlite' | 'postgres' = 'sqlite',
): Promise<World> {
  let now = T0;
  const clock = () => now;
  let sql: SqlClient;
  let store: LedgerStore;
  let drop: (() => Promise<void>) | undefined;
  if (kind === 'postgres') {
    const name = `remitnet_rt_${Math.random().toString(36).slice(2, 10)}`;
    const admin = new pg.Client({ connectionString: PG_ADMIN });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    const url = new URL(PG_ADMIN);
    url.pathname = `/${name}`;
    sql = PostgresClient.open(url.toString());
    store = await openPgLedger(url.toString());
    drop = () => dropTestDatabase(name);
  } else {
    sql = SqliteClient.open(':memory:');
    store = await SqliteStore.open({ path: ':memory:' });
  }
  const ledger = new Ledger(store, { clock: () => BigInt(now) * 1_000_000n });
  const rn = await createRemitnet({
    ledger,
    sql,
    clock,
    config: { payoutCodeSecret: 'test-secret-0123456789abcdef', ...config },
  });
  return {
    rn,
    ledger,
    sql,
    now: () => now,
    advance(ms) {
      now += ms;
    },
    async close() {
      await ledger.close();
      await sql.close();
      if (drop !== undefined) await drop();
    },
  };
}

/** The PostgreSQL ledger store when it is built; else the SQLite one (documented fallback). */
async function openPgLedger(url: string): Promise<LedgerStore> {
  try {
    const mod = (await import('../../src/stores/postgres/postgres-store.ts')) as {
      PostgresStore?: { open(o: { connectionString: string }): Promise<LedgerStore> };
    };
    if (mod.PostgresStore !== undefined)
      return await mod.PostgresStore.open({ connectionString: url });
  } catch {
    // fall through
  }
  return SqliteStore.open({ path: ':memory:' });
}

export function rule(
  currency: CurrencyCode,
  percent: string,
  corridor = '*',
  fixedMinor = 0n,
  minimumMinor = 0n,
): CommissionRule {
  return { corridor, currency, percent, fixedMinor, minimumMinor };
}

export async function agent(
  rn: Remitnet,
  name: string,
  where: [string, string, string],
  currencies: CurrencyCode[],
  roles: AgentInput['roles'],
  commissions: CommissionRule[],
  extra: Partial<AgentInput> = {},
): Promise<Agent> {
  const limits: Partial<Record<CurrencyCode, bigint>> = {};
  const cash: Partial<Record<CurrencyCode, bigint>> = {};
  for (const c of currencies) {
    limits[c] = 1_000_000_000_000n;
    cash[c] = 1_000_000_000_000n;
  }
  return rn.network.createAgent(
    {
      name,
      location: { country: where[0], region: where[1], city: where[2] },
      currencies,
      roles,
      contact: { kind: 'phone', address: `+000-${name}` },
      commissions,
      exposureLimits: limits,
      cashOnHand: cash,
      ...extra,
    },
    OPERATOR,
  );
}

export async function link(
  rn: Remitnet,
  from: Agent,
  to: Agent,
  currency: CurrencyCode,
  rates: { from: CurrencyCode; agentRate: string; referenceRate: string }[] = [],
  expectedMinutes = 60,
): Promise<Link> {
  return rn.network.createLink(
    {
      fromAgentId: from.id,
      toAgentId: to.id,
      currency,
      rates: rates.map((r) => ({ ...r, to: currency })),
      expectedMinutes,
    },
    OPERATOR,
  );
}

export interface KoreanCorridor {
  seoul: Agent;
  yanji: Agent;
  changbai: Agent;
  hyesan: Agent;
  /** With `alternate`: a second Yanji broker on a parallel 2-hop route, priced the same. */
  yanji2?: Agent;
  sender: string;
  recipient: string;
}

/**
 * Seoul (origin, KRW) -> Yanji (converts KRW to CNY) -> Changbai (CNY) -> Hyesan, Ryanggang
 * (payout, CNY): the 3-hop route of docs/accounting.md, 10% per agent, Seoul 0%.
 */
export async function koreanCorridor(
  rn: Remitnet,
  opts: {
    seoulPercent?: string;
    hops?: 1 | 2 | 3;
    alternate?: boolean;
    alternatePercent?: string;
  } = {},
): Promise<KoreanCorridor> {
  const hops = opts.hops ?? 3;
  const seoul = await agent(
    rn,
    'Seoul agent',
    ['KR', 'Seoul', 'Seoul'],
    ['KRW', 'CNY'],
    ['origin'],
    [rule('KRW', opts.seoulPercent ?? '0')],
  );
  const yanji = await agent(
    rn,
    'Yanji broker',
    ['CN', 'Jilin', 'Yanji'],
    ['KRW', 'CNY'],
    ['intermediary'],
    [rule('KRW', '10'), rule('CNY', '10')],
  );
  const changbai = await agent(
    rn,
    'Changbai courier',
    ['CN', 'Jilin', 'Changbai'],
    ['CNY'],
    ['intermediary'],
    [rule('CNY', '10')],
  );
  const hyesan = await agent(
    rn,
    'Hyesan phone broker',
    ['KP', 'Ryanggang', 'Hyesan'],
    ['CNY'],
    ['payout'],
    [rule('CNY', '10')],
  );
  const fx = [{ from: 'KRW' as const, agentRate: '0.0050', referenceRate: '0.0053' }];
  if (hops === 1) {
    await link(rn, seoul, hyesan, 'CNY', fx);
  } else if (hops === 2) {
    await link(rn, seoul, yanji, 'KRW');
    await link(rn, yanji, hyesan, 'CNY', fx);
  } else {
    await link(rn, seoul, yanji, 'KRW');
    await link(rn, yanji, changbai, 'CNY', fx);
    await link(rn, changbai, hyesan, 'CNY');
  }
  let yanji2: Agent | undefined;
  if (opts.alternate === true) {
    yanji2 = await agent(
      rn,
      'Yanji broker 2',
      ['CN', 'Jilin', 'Yanji'],
      ['KRW', 'CNY'],
      ['intermediary'],
      [rule('KRW', opts.alternatePercent ?? '10'), rule('CNY', '10')],
    );
    await link(rn, seoul, yanji2, 'KRW', [], 90);
    await link(rn, yanji2, hyesan, 'CNY', fx, 90);
  }
  const sender = await rn.network.createCustomer(
    { role: 'sender', name: 'Kim Sender', reference: 'S-001', data: { customerId: 'C-77' } },
    OPERATOR,
  );
  const recipient = await rn.network.createCustomer(
    {
      role: 'recipient',
      name: 'Pak Family',
      reference: 'R-001',
      country: 'KP',
      region: 'Ryanggang',
    },
    OPERATOR,
  );
  return {
    seoul,
    yanji,
    changbai,
    hyesan,
    ...(yanji2 !== undefined ? { yanji2 } : {}),
    sender: sender.id,
    recipient: recipient.id,
  };
}

export const asAgent = (a: { id: string }): Actor => ({ kind: 'agent', id: a.id });

let keySeq = 0;
export function key(): string {
  keySeq += 1;
  return `key-${keySeq}-${Math.random().toString(36).slice(2)}`;
}

/** Quotes 1,000,000 KRW (or `amount`) to Ryanggang and creates a remittance from the best quote. */
export async function createFrom(
  rn: Remitnet,
  c: KoreanCorridor,
  amount = 1_000_000n,
): Promise<{ id: string; code: string; quoteId: string }> {
  const { quotes } = await rn.network.quote({
    originAgentId: c.seoul.id,
    payoutCountry: 'KP',
    payoutRegion: 'Ryanggang',
    payoutCurrency: 'CNY',
    sendCurrency: 'KRW',
    sendAmountMinor: amount,
  });
  const q = quotes[0]!;
  const created = await rn.remittances.create(
    { quoteId: q.id, idempotencyKey: key(), senderId: c.sender, recipientId: c.recipient },
    asAgent(c.seoul),
  );
  return { id: created.remittance.id, code: created.payoutCode!, quoteId: q.id };
}

/** Every pending reservation and every in-flight balance, summed: zero when nothing is open. */
export async function openValue(w: World, agents: readonly Agent[]): Promise<bigint> {
  const { inFlightId, positionId, commissionId } = await import('../../src/network/index.ts');
  const ids = [inFlightId('KRW'), inFlightId('CNY')];
  for (const a of agents) {
    for (const cur of a.currencies) ids.push(positionId(a.id, cur), commissionId(a.id, cur));
  }
  const accounts = await w.ledger.lookupAccounts(ids);
  let total = 0n;
  for (const a of accounts) total += a.debitsPending + a.creditsPending;
  const inflight = accounts.filter((a) => a.id === ids[0] || a.id === ids[1]);
  for (const a of inflight) total += a.creditsPosted - a.debitsPosted;
  return total;
}

/**
 * The stores this run covers: SQLite always; PostgreSQL (domain tables and, when built, the
 * ledger) when REMITNET_TEST_STORES includes postgres or a server answers; mandatory in CI.
 */
export async function storeKinds(): Promise<('sqlite' | 'postgres')[]> {
  const wanted = storesWanted();
  const out: ('sqlite' | 'postgres')[] = [];
  if (wanted.includes('sqlite')) out.push('sqlite');
  if (wanted.includes('postgres')) {
    if (await postgresReachable()) out.push('postgres');
    else if (process.env.CI === 'true')
      throw new Error(`PostgreSQL is required under CI (${PG_ADMIN})`);
    else console.warn(`remittance tests: PostgreSQL did not answer at ${PG_ADMIN}; skipped`);
  }
  return out;
}
