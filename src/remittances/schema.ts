/**
 * The remittances component's tables (portable SQL), applied by
 * migrateComponent(client, 'remittances', …). The row keeps what is searched as columns
 * and the rest (route legs, reservations, proof hashes) as JSON in `body`.
 */
import type { Migration } from '../stores/migrate.ts';

export const REMITTANCE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'remittances, their agents and events',
    statements: [
      `CREATE TABLE remittances (
        id TEXT PRIMARY KEY,
        idempotency_key TEXT NOT NULL UNIQUE,
        state TEXT NOT NULL,
        version BIGINT NOT NULL,
        pending_step TEXT,
        origin_agent_id TEXT NOT NULL,
        payout_agent_id TEXT NOT NULL,
        awaiting_agent_id TEXT,
        deadline_ms BIGINT,
        deliver_currency TEXT NOT NULL,
        deliver_minor BIGINT NOT NULL,
        code_hash TEXT NOT NULL,
        code_attempts BIGINT NOT NULL,
        body TEXT NOT NULL,
        created_at_ms BIGINT NOT NULL,
        updated_at_ms BIGINT NOT NULL
      )`,
      `CREATE INDEX remittances_due ON remittances (state, deadline_ms)`,
      `CREATE INDEX remittances_payout ON remittances (payout_agent_id, state)`,
      `CREATE INDEX remittances_step ON remittances (pending_step)`,
      `CREATE TABLE remittance_agents (
        agent_id TEXT NOT NULL,
        remittance_id TEXT NOT NULL,
        PRIMARY KEY (agent_id, remittance_id)
      )`,
      `CREATE TABLE remittance_events (
        remittance_id TEXT NOT NULL,
        seq BIGINT NOT NULL,
        at_ms BIGINT NOT NULL,
        from_state TEXT,
        to_state TEXT NOT NULL,
        event TEXT NOT NULL,
        actor_kind TEXT NOT NULL,
        actor_id TEXT NOT NULL,
        reason TEXT NOT NULL,
        detail TEXT,
        PRIMARY KEY (remittance_id, seq)
      )`,
    ],
  },
  {
    version: 2,
    name: 'time-ordered transfer ids (a previous build must not step these rows)',
    // No table changes. A row created from this version on says `transferIds: 'time'` and
    // its ledger transfers lead with its id's time (bookings.ts, transferId); a build
    // before it ignores the field and would derive the old hashed ids, so it would miss
    // what the row booked (void a funding it should post, say). The version makes such a
    // build refuse the database (store_schema_newer) instead of stepping these rows.
    statements: [],
  },
];
