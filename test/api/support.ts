/**
 * A test API: an in-memory SQLite ledger and SQL client behind buildApp(), keys for every
 * role, and the log lines it wrote.
 */
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { buildApp, type AppServices } from '../../src/api/app.ts';
import { migrateApi, type Role } from '../../src/api/keys.ts';
import { createLogger } from '../../src/api/logger.ts';
import { Ledger } from '../../src/ledger/index.ts';
import { SqliteClient } from '../../src/stores/sql.ts';
import { SqliteStore } from '../../src/stores/sqlite/sqlite-store.ts';
import { createRemitnet, type Remitnet, type RemitnetConfig } from '../../src/remittances/index.ts';
import { accountOwnerOf, agentExistsOf, domainPlugin } from '../../src/api/domain.ts';
import { buildCorridor, type Caller, type Corridor } from '../../bench/api-network.ts';

export interface TestApi {
  readonly app: FastifyInstance;
  readonly ledger: Ledger;
  readonly sql: SqliteClient;
  readonly remitnet: Remitnet;
  readonly logs: string[];
  readonly keys: Record<'operator' | 'auditor' | 'agentA' | 'agentB', string>;
  readonly agentA: string;
  readonly agentB: string;
  call(
    who: keyof TestApi['keys'] | null,
    method: InjectOptions['method'],
    url: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<LightMyRequestResponse>;
  /** A caller with one role's key, in the shape the corridor builder wants. */
  caller(who: keyof TestApi['keys']): Caller;
  close(): Promise<void>;
}

export const AGENT_A = 'aa'.repeat(16);
export const AGENT_B = 'bb'.repeat(16);

export async function testApi(
  extra: Partial<Omit<AppServices, 'ledger' | 'sql'>> = {},
  setup?: (
    ledger: Ledger & { store: SqliteStore },
    sql: SqliteClient,
  ) => Promise<Partial<AppServices>>,
  domainConfig: Omit<RemitnetConfig, 'payoutCodeSecret'> = {},
): Promise<TestApi> {
  const store = await SqliteStore.open({ path: ':memory:' });
  const ledger = new Ledger(store);
  const sql = new SqliteClient(store.db);
  await migrateApi(sql);
  const remitnet = await createRemitnet({
    ledger,
    sql,
    config: { ...domainConfig, payoutCodeSecret: 'test-secret-0123456789abcdef' },
  });
  const more =
    setup === undefined ? {} : await setup(ledger as Ledger & { store: SqliteStore }, sql);
  const logs: string[] = [];
  const logger = createLogger({
    level: 'debug',
    destination: { write: (line: string) => void logs.push(line) },
  });
  const app = await buildApp(
    {
      ledger,
      sql,
      plugins: [domainPlugin(remitnet)],
      accountOwner: accountOwnerOf(remitnet),
      agentExists: agentExistsOf(remitnet),
      ...extra,
      ...more,
    },
    { logger },
  );
  const make = async (role: Role, agentId?: string) =>
    (await app.remitnet.keys.create({ role, agentId: agentId ?? null, label: role })).key;
  const keys = {
    operator: await make('operator'),
    auditor: await make('auditor'),
    agentA: await make('agent', AGENT_A),
    agentB: await make('agent', AGENT_B),
  };
  let n = 0;
  const api: TestApi = {
    app,
    ledger,
    sql,
    remitnet,
    logs,
    keys,
    agentA: AGENT_A,
    agentB: AGENT_B,
    call(who, method, url, body, headers = {}) {
      const h: Record<string, string> = { ...headers };
      if (who !== null) h.authorization = `Bearer ${keys[who]}`;
      if (method === 'POST' && h['idempotency-key'] === undefined) {
        h['idempotency-key'] = `test-${process.pid}-${++n}`;
      }
      return app.inject({
        method,
        url,
        headers: h,
        ...(body === undefined ? {} : { payload: body as object }),
      });
    },
    caller(who) {
      return async (method, url, body) => {
        const r = await api.call(who, method, url, body);
        return { status: r.statusCode, json: r.body === '' ? null : r.json() };
      };
    },
    async close() {
      await app.close();
      await ledger.close();
    },
  };
  return api;
}

/** A test API with the two-hop corridor, its agents' keys, and customers. */
export interface CorridorApi extends TestApi {
  readonly corridor: Corridor;
  /** Keys acting as each corridor agent. */
  readonly agentKeys: Record<'origin' | 'intermediary' | 'payout', string>;
  as(
    key: string,
    method: InjectOptions['method'],
    url: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<LightMyRequestResponse>;
}

export async function corridorApi(
  domainConfig: Omit<RemitnetConfig, 'payoutCodeSecret'> = {},
): Promise<CorridorApi> {
  const t = await testApi({}, undefined, domainConfig);
  const corridor = await buildCorridor(t.caller('operator'));
  const make = async (agentId: string) =>
    (await t.app.remitnet.keys.create({ role: 'agent', agentId, label: 'corridor' })).key;
  const agentKeys = {
    origin: await make(corridor.origin),
    intermediary: await make(corridor.intermediary),
    payout: await make(corridor.payout),
  };
  let n = 0;
  return Object.assign(t, {
    corridor,
    agentKeys,
    as(
      key: string,
      method: InjectOptions['method'],
      url: string,
      body?: unknown,
      headers: Record<string, string> = {},
    ) {
      const h: Record<string, string> = { authorization: `Bearer ${key}`, ...headers };
      if (method === 'POST' && h['idempotency-key'] === undefined)
        h['idempotency-key'] = `as-${++n}`;
      return t.app.inject({
        method,
        url,
        headers: h,
        ...(body === undefined ? {} : { payload: body as object }),
      });
    },
  });
}
