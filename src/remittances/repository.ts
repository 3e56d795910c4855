/**
 * Remittance rows over SqlClient, with optimistic concurrency.
 *
 * Owns: SQL for remittances, their agents and their events; every write is conditional on
 * the row's version (`WHERE id = $1 AND version = $2`), so of two actors racing, one wins
 * and the other is told plainly. Never: a rule or a ledger call.
 */
import type { CurrencyCode } from '../money/index.ts';
import { big, fromJson, num, toJson } from '../network/json.ts';
import type { Actor } from '../network/types.ts';
import type { SqlClient, SqlRow, SqlValue } from '../stores/sql.ts';
import type { HistoryEntry, RemittanceEvent, RemittanceState } from './types.ts';
import type { RemittanceRow } from './row.ts';

export interface EventDraft {
  readonly from: RemittanceState | null;
  readonly to: RemittanceState;
  readonly event: RemittanceEvent;
  readonly actor: Actor;
  readonly reason: string;
  readonly detail?: Readonly<Record<string, string>>;
}

/** Events per version: seq = version * EVENT_SLOTS + k keeps seq unique without a read. */
const EVENT_SLOTS = 8;

/** Thrown inside an ordered update whose row had moved on (see update). */
const STALE = new Error('remittance row changed first');

/** The indexed columns of a row, as the database holds them at one version of it. */
interface IndexedColumns {
  readonly version: number;
  readonly state: string;
  readonly pendingStep: string | null;
  readonly payoutAgentId: string;
  readonly deadline_ms: number | null;
}

const ROW_COLUMNS =
  'body, version, code_attempts, pending_step, state, payout_agent_id, deadline_ms';

export class RemittanceRepository {
  /**
   * For a row object this repository read or wrote (rows are never changed in place), its
   * indexed columns as stored at its version. A row's columns at a given version never
   * change (every write moves the version, and is conditional on it), so this is a record
   * of facts, never stale: update() uses it to leave out of its SET the indexed columns a
   * step does not change, because SQLite rewrites the index entries of every column it
   * sets, changed or not (PostgreSQL, for its part, can then update in place: HOT).
   */
  readonly #indexed = new WeakMap<RemittanceRow, IndexedColumns>();
  /** The UPDATE statements, by which indexed columns they set (bit mask). */
  readonly #updates = new Map<number, string>();

  constructor(readonly sql: SqlClient) {}

  async insert(
    row: RemittanceRow,
    agentIds: readonly string[],
    event: EventDraft,
    also?: (tx: SqlClient) => Promise<void>,
  ): Promise<void> {
    await this.sql.transaction(async (tx) => {
      await tx.execute(
        `INSERT INTO remittances (id, idempotency_key, state, version, pending_step, origin_agent_id, payout_agent_id, awaiting_agent_id, deadline_ms, deliver_currency, deliver_minor, code_hash, code_attempts, body, created_at_ms, updated_at_ms)
         VALUES ($1, $2, $3, $4, NULL, $5, $6, NULL, $7, $8, $9, $10, 0, $11, $12, $13)`,
        [
          row.id,
          row.idempotencyKey,
          row.state,
          row.version,
          row.originAgentId,
          row.payoutAgentId,
          row.quoteExpiresAt_ms,
          row.deliverCurrency,
          row.deliverAmountMinor,
          row.codeHash,
          toJson(row),
          row.createdAt_ms,
          row.updatedAt_ms,
        ],
      );
      await addAgents(tx, row.id, agentIds);
      await insertEvents(tx, row.id, row.version, row.updatedAt_ms, [event]);
      if (also !== undefined) await also(tx);
    });
  }

  async get(id: string): Promise<RemittanceRow | undefined> {
    const rows = await this.sql.query(`SELECT ${ROW_COLUMNS} FROM remittances WHERE id = $1`, [id]);
    return rows.length === 0 ? undefined : this.#read(rows[0]!);
  }

  async getByKey(key: string): Promise<RemittanceRow | undefined> {
    const rows = await this.sql.query(
      `SELECT ${ROW_COLUMNS} FROM remittances WHERE idempotency_key = $1`,
      [key],
    );
    return rows.length === 0 ? undefined : this.#read(rows[0]!);
  }

  /** A row read with ROW_COLUMNS, its indexed columns noted (see #indexed). */
  #read(r: SqlRow): RemittanceRow {
    const row = fromRow(r);
    this.#indexed.set(row, {
      version: row.version,
      state: String(r.state),
      pendingStep: r.pending_step === null ? null : String(r.pending_step),
      payoutAgentId: String(r.payout_agent_id),
      deadline_ms: r.deadline_ms === null ? null : num(r.deadline_ms),
    });
    return row;
  }

  /**
   * Writes `next` over `prev` (next's version must be prev's + 1) with its events, plus any
   * writes of the same transaction. False when another actor changed the row first. When
   * this repository read or wrote `prev`, the UPDATE leaves out the indexed columns that
   * keep their value (see #indexed); else it sets every column. `ordered`: answers once
   * committed, before the commit is durable (a step's intent; see TransactionOptions).
   */
  async update(
    prev: RemittanceRow,
    next: RemittanceRow,
    events: readonly EventDraft[],
    also?: (tx: SqlClient) => Promise<void>,
    newAgents?: readonly string[],
    ordered = false,
  ): Promise<boolean> {
    const expected = prev.version;
    if (next.version !== expected + 1) throw new Error('invariant: version must grow by one');
    const columns: IndexedColumns = {
      version: next.version,
      state: next.state,
      pendingStep: next.pendingStep ?? null,
      payoutAgentId: next.payoutAgentId,
      deadline_ms: deadlineOf(next) ?? null,
    };
    const was = this.#indexed.get(prev);
    const stored = was?.version === expected ? was : undefined;
    const sets =
      (stored?.state === columns.state ? 0 : SET_STATE) |
      (stored?.pendingStep === columns.pendingStep ? 0 : SET_STEP) |
      (stored?.payoutAgentId === columns.payoutAgentId ? 0 : SET_PAYOUT_AGENT) |
      (stored?.deadline_ms === columns.deadline_ms ? 0 : SET_DEADLINE);
    // Values in the order of #updateSql's placeholders: the indexed columns set, then the
    // others, then the row's id and version (PostgreSQL refuses a value no placeholder takes).
    const params: SqlValue[] = [];
    if ((sets & SET_STATE) !== 0) params.push(columns.state);
    if ((sets & SET_STEP) !== 0) params.push(columns.pendingStep);
    if ((sets & SET_PAYOUT_AGENT) !== 0) params.push(columns.payoutAgentId);
    if ((sets & SET_DEADLINE) !== 0) params.push(columns.deadline_ms);
    params.push(
      next.version,
      next.awaitingAgentId ?? null,
      next.codeHash,
      next.payoutCodeAttempts,
      toJson(next),
      next.updatedAt_ms,
      next.deliverAmountMinor,
      next.id,
      expected,
    );
    const ok = await this.sql
      .transaction(
        async (tx) => {
          const n = await tx.execute(this.#updateSql(sets), params);
          // An ordered write that lost the race throws, so that its answer waits until the
          // winner's (maybe ordered, not yet durable) write is durable, as a refusal does.
          if (n !== 1 && ordered) throw STALE;
          if (n !== 1) return false;
          if (newAgents !== undefined && newAgents.length > 0)
            await addAgents(tx, next.id, newAgents);
          if (events.length > 0)
            await insertEvents(tx, next.id, next.version, next.updatedAt_ms, events);
          if (also !== undefined) await also(tx);
          return true;
        },
        { ordered },
      )
      .catch((error: unknown) => {
        if (error === STALE) return false;
        throw error;
      });
    // Committed: the columns are now what `next` says (those left out already were).
    if (ok) this.#indexed.set(next, columns);
    return ok;
  }

  /** The UPDATE that sets every column but the indexed ones `sets` leaves out. */
  #updateSql(sets: number): string {
    let sql = this.#updates.get(sets);
    if (sql === undefined) {
      const set = [
        ...((sets & SET_STATE) !== 0 ? ['state'] : []),
        ...((sets & SET_STEP) !== 0 ? ['pending_step'] : []),
        ...((sets & SET_PAYOUT_AGENT) !== 0 ? ['payout_agent_id'] : []),
        ...((sets & SET_DEADLINE) !== 0 ? ['deadline_ms'] : []),
        'version',
        'awaiting_agent_id',
        'code_hash',
        'code_attempts',
        'body',
        'updated_at_ms',
        'deliver_minor',
      ].map((column, i) => `${column} = $${i + 1}`);
      sql = `UPDATE remittances SET ${set.join(', ')} WHERE id = $${set.length + 1} AND version = $${set.length + 2}`;
      this.#updates.set(sets, sql);
    }
    return sql;
  }

  /** Ids of remittances in `states` whose deadline is at or before `now_ms` (bounded). */
  async due(states: readonly RemittanceState[], now_ms: number, limit: number): Promise<string[]> {
    const params: SqlValue[] = [...states, now_ms, limit];
    const rows = await this.sql.query(
      `SELECT id FROM remittances WHERE state IN (${states.map((_, i) => `$${i + 1}`).join(', ')})
       AND deadline_ms IS NOT NULL AND deadline_ms <= $${states.length + 1} AND pending_step IS NULL
       ORDER BY deadline_ms LIMIT $${states.length + 2}`,
      params,
    );
    return rows.map((r) => String(r.id));
  }

  /**
   * Remittances with a step in progress last written at or before `cutoff_ms`, the longest
   * waiting first: filtering after a LIMIT would let young steps of older remittances fill
   * every page and keep an old stuck one from ever being reached.
   */
  async withPendingStep(
    limit: number,
    cutoff_ms: number = Number.MAX_SAFE_INTEGER,
  ): Promise<string[]> {
    const rows = await this.sql.query(
      'SELECT id FROM remittances WHERE pending_step IS NOT NULL AND updated_at_ms <= $2 ORDER BY updated_at_ms, id LIMIT $1',
      [limit, cutoff_ms],
    );
    return rows.map((r) => String(r.id));
  }

  /** Remittances whose route ever included the agent, in given states. */
  async byAgent(agentId: string, states: readonly RemittanceState[]): Promise<RemittanceRow[]> {
    const rows = await this.sql.query(
      `SELECT r.body, r.version, r.code_attempts, r.pending_step FROM remittance_agents a JOIN remittances r ON r.id = a.remittance_id
       WHERE a.agent_id = $1 AND r.state IN (${states.map((_, i) => `$${i + 2}`).join(', ')}) ORDER BY r.id`,
      [agentId, ...states],
    );
    return rows.map(fromRow);
  }

  async list(filter: {
    agentId?: string;
    state?: RemittanceState;
    after?: string;
    limit: number;
  }): Promise<RemittanceRow[]> {
    const where: string[] = [];
    const params: SqlValue[] = [];
    let from = 'remittances r';
    if (filter.agentId !== undefined) {
      from = 'remittance_agents a JOIN remittances r ON r.id = a.remittance_id';
      params.push(filter.agentId);
      where.push(`a.agent_id = $${params.length}`);
    }
    if (filter.state !== undefined) {
      params.push(filter.state);
      where.push(`r.state = $${params.length}`);
    }
    if (filter.after !== undefined) {
      params.push(filter.after);
      where.push(`r.id > $${params.length}`);
    }
    params.push(filter.limit);
    const rows = await this.sql.query(
      `SELECT r.body, r.version, r.code_attempts, r.pending_step FROM ${from} ${where.length > 0 ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY r.id LIMIT $${params.length}`,
      params,
    );
    return rows.map(fromRow);
  }

  /**
   * Payouts an agent has claimed cash for and not yet paid, in a currency (minor units):
   * accepted ('ready'), being paid ('paid': the cash is subtracted with the outcome), and
   * acceptances in progress (the intent of the last hop's accept is written, the ledger
   * not yet answered: the awaited agent is the payout agent). Pass the transaction that
   * records the claim, so the check and the claim are one (see NetworkRepository.lockCash).
   */
  async reservedPayouts(
    agentId: string,
    cur: CurrencyCode,
    exceptId: string,
    tx: SqlClient = this.sql,
  ): Promise<bigint> {
    const rows = await tx.query(
      // state IN (…) first: the (payout_agent_id, state) index then reads only the agent's
      // open rows, not its whole history (an OR across states made it scan every row).
      `SELECT COALESCE(SUM(deliver_minor), 0) AS total FROM remittances
       WHERE payout_agent_id = $1 AND state IN ('ready', 'paid', 'funded')
       AND deliver_currency = $2 AND id <> $3
       AND (state <> 'funded'
         OR (pending_step LIKE 'accept:%' AND awaiting_agent_id = payout_agent_id))`,
      [agentId, cur, exceptId],
    );
    return big(rows[0]?.total ?? 0n);
  }

  async history(id: string): Promise<HistoryEntry[]> {
    const rows = await this.sql.query(
      'SELECT * FROM remittance_events WHERE remittance_id = $1 ORDER BY seq',
      [id],
    );
    return rows.map((r) => ({
      seq: num(r.seq),
      at_ms: num(r.at_ms),
      from: r.from_state === null ? null : (String(r.from_state) as RemittanceState),
      to: String(r.to_state) as RemittanceState,
      event: String(r.event) as RemittanceEvent,
      actor: { kind: String(r.actor_kind) as Actor['kind'], id: String(r.actor_id) },
      reason: String(r.reason),
      ...(r.detail !== null && r.detail !== undefined
        ? { detail: fromJson<Record<string, string>>(r.detail) }
        : {}),
    }));
  }
}

/** Indexed columns an UPDATE sets (see RemittanceRepository.#updateSql). */
const SET_STATE = 1;
const SET_STEP = 2;
const SET_PAYOUT_AGENT = 4;
const SET_DEADLINE = 8;

/** The deadline the sweeper watches in each state. */
function deadlineOf(r: RemittanceRow): number | undefined {
  switch (r.state) {
    case 'created':
      return r.quoteExpiresAt_ms;
    case 'funded':
      // The earlier of the awaited hop's deadline and the payout deadline: a hop that
      // accepted late can leave the next hop's deadline past the payout window.
      return r.hopDeadline_ms === undefined || r.payoutDeadline_ms === undefined
        ? (r.hopDeadline_ms ?? r.payoutDeadline_ms)
        : Math.min(r.hopDeadline_ms, r.payoutDeadline_ms);
    case 'ready':
      return r.payoutDeadline_ms;
    default:
      return undefined;
  }
}

async function addAgents(tx: SqlClient, id: string, agentIds: readonly string[]): Promise<void> {
  const unique = [...new Set(agentIds)];
  if (unique.length === 0) return;
  const params: string[] = [];
  const values: string[] = [];
  for (const a of unique) {
    params.push(a, id);
    values.push(`($${params.length - 1}, $${params.length})`);
  }
  await tx.execute(
    `INSERT INTO remittance_agents (agent_id, remittance_id) VALUES ${values.join(', ')} ON CONFLICT DO NOTHING`,
    params,
  );
}

async function insertEvents(
  tx: SqlClient,
  id: string,
  version: number,
  at_ms: number,
  events: readonly EventDraft[],
): Promise<void> {
  if (events.length > EVENT_SLOTS) throw new Error('invariant: too many events in one write');
  const params: SqlValue[] = [];
  events.forEach((e, k) => {
    params.push(
      id,
      version * EVENT_SLOTS + k,
      at_ms,
      e.from,
      e.to,
      e.event,
      e.actor.kind,
      e.actor.id,
      e.reason,
      e.detail === undefined ? null : toJson(e.detail),
    );
  });
  await tx.execute(insertEventsSql(events.length), params);
}

/** The INSERT of n events (1 to EVENT_SLOTS), written once per n. */
const INSERT_EVENTS: string[] = [];
function insertEventsSql(n: number): string {
  let sql = INSERT_EVENTS[n];
  if (sql === undefined) {
    const values = Array.from(
      { length: n },
      (_, k) => `(${Array.from({ length: 10 }, (_, i) => `$${k * 10 + i + 1}`).join(', ')})`,
    );
    sql = `INSERT INTO remittance_events (remittance_id, seq, at_ms, from_state, to_state, event, actor_kind, actor_id, reason, detail) VALUES ${values.join(', ')}`;
    INSERT_EVENTS[n] = sql;
  }
  return sql;
}

function fromRow(r: SqlRow): RemittanceRow {
  const body = fromJson<RemittanceRow>(r.body);
  const step = r.pending_step;
  const { pendingStep: _ignored, ...rest } = body;
  return {
    ...rest,
    version: num(r.version),
    payoutCodeAttempts: num(r.code_attempts),
    ...(step !== null && step !== undefined ? { pendingStep: String(step) } : {}),
  };
}
