/**
 * The network's rows over SqlClient: agents (with reported cash), links, customers, quotes.
 *
 * Owns: SQL for the network tables, portable between SQLite and PostgreSQL, and the row <->
 * object mapping. Never: a rule (the service checks), or a ledger call.
 */
import type { CurrencyCode } from '../money/index.ts';
import type { SqlClient, SqlRow } from '../stores/sql.ts';
import { big, fromJson, num, toJson } from './json.ts';
import type { Agent, AgentStatus, Customer, Link, Quote } from './types.ts';

type AgentBody = Pick<
  Agent,
  'location' | 'currencies' | 'roles' | 'contact' | 'commissions' | 'exposureLimits'
>;
type LinkBody = Pick<Link, 'rates' | 'expectedMinutes'>;

export class NetworkRepository {
  constructor(readonly sql: SqlClient) {}

  async insertAgent(a: Agent): Promise<void> {
    await this.sql.transaction(async (tx) => {
      await tx.execute(
        `INSERT INTO network_agents (id, name, country, region, city, status, body, delivered_count, failed_count, version, created_at_ms, updated_at_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 0, 0, $8, $9, $10)`,
        [
          a.id,
          a.name,
          a.location.country,
          a.location.region,
          a.location.city,
          a.status,
          toJson(agentBody(a)),
          a.version,
          a.createdAt_ms,
          a.updatedAt_ms,
        ],
      );
      for (const [cur, amount] of Object.entries(a.cashOnHand)) {
        await tx.execute(
          'INSERT INTO network_agent_cash (agent_id, currency, amount_minor, reported_at_ms) VALUES ($1, $2, $3, $4)',
          [a.id, cur, amount, a.createdAt_ms],
        );
      }
      await bumpVersion(tx);
    });
  }

  /** Writes an agent's fields if its version is still `expectedVersion`; false if not. */
  async updateAgent(a: Agent, expectedVersion: number): Promise<boolean> {
    return this.sql.transaction(async (tx) => {
      const n = await tx.execute(
        `UPDATE network_agents SET name = $1, country = $2, region = $3, city = $4, status = $5, body = $6, version = $7, updated_at_ms = $8
         WHERE id = $9 AND version = $10`,
        [
          a.name,
          a.location.country,
          a.location.region,
          a.location.city,
          a.status,
          toJson(agentBody(a)),
          a.version,
          a.updatedAt_ms,
          a.id,
          expectedVersion,
        ],
      );
      if (n !== 1) return false;
      await bumpVersion(tx);
      return true;
    });
  }

  async getAgent(id: string): Promise<Agent | undefined> {
    const rows = await this.sql.query('SELECT * FROM network_agents WHERE id = $1', [id]);
    if (rows.length === 0) return undefined;
    const cash = await this.sql.query(
      'SELECT currency, amount_minor FROM network_agent_cash WHERE agent_id = $1',
      [id],
    );
    return agentFromRow(rows[0]!, cash);
  }

  /** Every agent (for the graph snapshot and lists); cash joined in one more query. */
  async allAgents(): Promise<Agent[]> {
    const rows = await this.sql.query('SELECT * FROM network_agents ORDER BY id');
    const cash = await this.sql.query(
      'SELECT agent_id, currency, amount_minor FROM network_agent_cash',
    );
    const byAgent = new Map<string, SqlRow[]>();
    for (const c of cash) {
      const id = String(c.agent_id);
      const list = byAgent.get(id);
      if (list === undefined) byAgent.set(id, [c]);
      else list.push(c);
    }
    return rows.map((r) => agentFromRow(r, byAgent.get(String(r.id)) ?? []));
  }

  async listAgents(filter: {
    status?: AgentStatus;
    country?: string;
    after?: string;
    limit: number;
  }): Promise<Agent[]> {
    const where: string[] = [];
    const params: (string | number)[] = [];
    if (filter.status !== undefined) {
      params.push(filter.status);
      where.push(`status = $${params.length}`);
    }
    if (filter.country !== undefined) {
      params.push(filter.country);
      where.push(`country = $${params.length}`);
    }
    if (filter.after !== undefined) {
      params.push(filter.after);
      where.push(`id > $${params.length}`);
    }
    params.push(filter.limit);
    const rows = await this.sql.query(
      `SELECT * FROM network_agents ${where.length > 0 ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id LIMIT $${params.length}`,
      params,
    );
    if (rows.length === 0) return [];
    const ids = rows.map((r) => String(r.id));
    const cash = await this.sql.query(
      `SELECT agent_id, currency, amount_minor FROM network_agent_cash WHERE agent_id IN (${ids.map((_, i) => `$${i + 1}`).join(', ')})`,
      ids,
    );
    return rows.map((r) =>
      agentFromRow(
        r,
        cash.filter((c) => c.agent_id === r.id),
      ),
    );
  }

  async setCash(
    agentId: string,
    cur: CurrencyCode,
    amountMinor: bigint,
    at_ms: number,
  ): Promise<void> {
    await this.sql.transaction(async (tx) => {
      await tx.execute(
        `INSERT INTO network_agent_cash (agent_id, currency, amount_minor, reported_at_ms) VALUES ($1, $2, $3, $4)
         ON CONFLICT (agent_id, currency) DO UPDATE SET amount_minor = $3, reported_at_ms = $4`,
        [agentId, cur, amountMinor, at_ms],
      );
    });
  }

  /**
   * Inside a transaction: the agent's cash on hand in a currency (0 if never reported),
   * with its row written (to itself), not just read, on PostgreSQL. A claim on that cash checks and
   * records in the same transaction, and every change of the cash writes this row too,
   * so on PostgreSQL (REPEATABLE READ) two such transactions cannot both pass on the same
   * snapshot: the later writer fails with a serialization error and transaction() reruns
   * it on a snapshot that sees the earlier one. A SELECT … FOR UPDATE would not do: it
   * waits for the other to commit but then reads the same old snapshot. On SQLite
   * transactions run one at a time anyway (each holds the write lock), so the read alone
   * is enough there, and the write is left out.
   */
  async lockCash(tx: SqlClient, agentId: string, cur: CurrencyCode): Promise<bigint> {
    if (tx.dialect !== 'sqlite') {
      const n = await tx.execute(
        'UPDATE network_agent_cash SET amount_minor = amount_minor WHERE agent_id = $1 AND currency = $2',
        [agentId, cur],
      );
      if (n === 0) return 0n;
    }
    const rows = await tx.query(
      'SELECT amount_minor FROM network_agent_cash WHERE agent_id = $1 AND currency = $2',
      [agentId, cur],
    );
    return rows.length === 0 ? 0n : big(rows[0]!.amount_minor);
  }

  /**
   * Inside a remittance's transaction: what moved through the agent's till as remitnet
   * knows it (funding adds, payout subtracts) until the agent reports again.
   */
  async adjustCash(
    tx: SqlClient,
    agentId: string,
    cur: CurrencyCode,
    deltaMinor: bigint,
  ): Promise<void> {
    await tx.execute(
      'UPDATE network_agent_cash SET amount_minor = amount_minor + $1 WHERE agent_id = $2 AND currency = $3',
      [deltaMinor, agentId, cur],
    );
  }

  /** Inside a remittance's transaction: counts toward the agents' delivery record. */
  async recordDeliveries(
    tx: SqlClient,
    agentIds: readonly string[],
    delivered: boolean,
  ): Promise<void> {
    if (agentIds.length === 0) return;
    const column = delivered ? 'delivered_count' : 'failed_count';
    await tx.execute(
      `UPDATE network_agents SET ${column} = ${column} + 1 WHERE id IN (${agentIds.map((_, i) => `$${i + 1}`).join(', ')})`,
      agentIds,
    );
  }

  async insertLink(l: Link): Promise<void> {
    await this.sql.transaction(async (tx) => {
      await tx.execute(
        `INSERT INTO network_links (id, from_agent_id, to_agent_id, currency, body, active, version, created_at_ms, updated_at_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
        [
          l.id,
          l.fromAgentId,
          l.toAgentId,
          l.currency,
          toJson(linkBody(l)),
          l.active,
          l.version,
          l.createdAt_ms,
          l.updatedAt_ms,
        ],
      );
      await bumpVersion(tx);
    });
  }

  async updateLink(l: Link, expectedVersion: number): Promise<boolean> {
    return this.sql.transaction(async (tx) => {
      const n = await tx.execute(
        'UPDATE network_links SET body = $1, active = $2, version = $3, updated_at_ms = $4 WHERE id = $5 AND version = $6',
        [toJson(linkBody(l)), l.active, l.version, l.updatedAt_ms, l.id, expectedVersion],
      );
      if (n !== 1) return false;
      await bumpVersion(tx);
      return true;
    });
  }

  /** Grows with every change to agents or links, whichever process made it. */
  async graphVersion(): Promise<bigint> {
    const rows = await this.sql.query('SELECT version FROM network_version WHERE id = 1');
    return big(rows[0]?.version ?? 0n);
  }

  async findLink(from: string, to: string, cur: CurrencyCode): Promise<Link | undefined> {
    const rows = await this.sql.query(
      'SELECT * FROM network_links WHERE from_agent_id = $1 AND to_agent_id = $2 AND currency = $3',
      [from, to, cur],
    );
    return rows.length === 0 ? undefined : linkFromRow(rows[0]!);
  }

  async getLink(id: string): Promise<Link | undefined> {
    const rows = await this.sql.query('SELECT * FROM network_links WHERE id = $1', [id]);
    return rows.length === 0 ? undefined : linkFromRow(rows[0]!);
  }

  async allLinks(agentId?: string): Promise<Link[]> {
    const rows =
      agentId === undefined
        ? await this.sql.query('SELECT * FROM network_links ORDER BY id')
        : await this.sql.query(
            'SELECT * FROM network_links WHERE from_agent_id = $1 OR to_agent_id = $1 ORDER BY id',
            [agentId],
          );
    return rows.map(linkFromRow);
  }

  async insertCustomer(c: Customer): Promise<void> {
    await this.sql.transaction(async (tx) => {
      await tx.execute(
        'INSERT INTO network_customers (id, role, body, created_at_ms) VALUES ($1, $2, $3, $4)',
        [c.id, c.role, toJson(c), c.createdAt_ms],
      );
    });
  }

  async getCustomers(ids: readonly string[]): Promise<Map<string, Customer>> {
    if (ids.length === 0) return new Map();
    const rows = await this.sql.query(
      `SELECT body FROM network_customers WHERE id IN (${ids.map((_, i) => `$${i + 1}`).join(', ')})`,
      ids,
    );
    const out = new Map<string, Customer>();
    for (const r of rows) {
      const c = fromJson<Customer>(r.body);
      out.set(c.id, c);
    }
    return out;
  }

  async insertQuotes(
    quotes: readonly Quote[],
    also?: (tx: SqlClient) => Promise<void>,
  ): Promise<void> {
    if (quotes.length === 0) return;
    const values: string[] = [];
    const params: (string | number)[] = [];
    for (const q of quotes) {
      params.push(q.id, toJson(q), q.expiresAt_ms);
      values.push(`($${params.length - 2}, $${params.length - 1}, $${params.length})`);
    }
    await this.sql.transaction(async (tx) => {
      await tx.execute(
        `INSERT INTO network_quotes (id, body, expires_at_ms) VALUES ${values.join(', ')}`,
        params,
      );
      if (also !== undefined) await also(tx);
    });
  }

  async getQuote(id: string): Promise<Quote | undefined> {
    const rows = await this.sql.query('SELECT body FROM network_quotes WHERE id = $1', [id]);
    return rows.length === 0 ? undefined : fromJson<Quote>(rows[0]!.body);
  }

  /** Drops quotes that expired before `before_ms`; answers how many. */
  async purgeQuotes(before_ms: number): Promise<number> {
    return this.sql.transaction((tx) =>
      tx.execute('DELETE FROM network_quotes WHERE expires_at_ms < $1', [before_ms]),
    );
  }
}

function agentBody(a: Agent): AgentBody {
  return {
    location: a.location,
    currencies: a.currencies,
    roles: a.roles,
    contact: a.contact,
    commissions: a.commissions,
    exposureLimits: a.exposureLimits,
  };
}

function agentFromRow(r: SqlRow, cash: readonly SqlRow[]): Agent {
  const body = fromJson<AgentBody>(r.body);
  const cashOnHand: Partial<Record<CurrencyCode, bigint>> = {};
  for (const c of cash) cashOnHand[String(c.currency) as CurrencyCode] = big(c.amount_minor);
  return {
    id: String(r.id),
    name: String(r.name),
    status: String(r.status) as AgentStatus,
    ...body,
    cashOnHand,
    deliveredCount: num(r.delivered_count),
    failedCount: num(r.failed_count),
    version: num(r.version),
    createdAt_ms: num(r.created_at_ms),
    updatedAt_ms: num(r.updated_at_ms),
  };
}

function linkBody(l: Link): LinkBody {
  return { rates: l.rates, expectedMinutes: l.expectedMinutes };
}

function linkFromRow(r: SqlRow): Link {
  const body = fromJson<LinkBody>(r.body);
  return {
    id: String(r.id),
    fromAgentId: String(r.from_agent_id),
    toAgentId: String(r.to_agent_id),
    currency: String(r.currency) as CurrencyCode,
    ...body,
    active: num(r.active) === 1,
    version: num(r.version),
    createdAt_ms: num(r.created_at_ms),
    updatedAt_ms: num(r.updated_at_ms),
  };
}

/** Inside the transaction of a change to agents or links (see schema.ts, migration 2). */
async function bumpVersion(tx: SqlClient): Promise<void> {
  await tx.execute('UPDATE network_version SET version = version + 1 WHERE id = 1');
}
