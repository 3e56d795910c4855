/**
 * The network component's tables (portable SQL: TEXT, BIGINT, INTEGER; JSON as TEXT;
 * money as BIGINT minor units). Applied by migrateComponent(client, 'network', …).
 */
import type { Migration } from '../stores/migrate.ts';

export const NETWORK_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'agents, links, customers, quotes',
    statements: [
      `CREATE TABLE network_agents (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        country TEXT NOT NULL,
        region TEXT NOT NULL,
        city TEXT NOT NULL,
        status TEXT NOT NULL,
        body TEXT NOT NULL,
        delivered_count BIGINT NOT NULL DEFAULT 0,
        failed_count BIGINT NOT NULL DEFAULT 0,
        version BIGINT NOT NULL,
        created_at_ms BIGINT NOT NULL,
        updated_at_ms BIGINT NOT NULL
      )`,
      `CREATE TABLE network_agent_cash (
        agent_id TEXT NOT NULL,
        currency TEXT NOT NULL,
        amount_minor BIGINT NOT NULL,
        reported_at_ms BIGINT NOT NULL,
        PRIMARY KEY (agent_id, currency)
      )`,
      `CREATE TABLE network_links (
        id TEXT PRIMARY KEY,
        from_agent_id TEXT NOT NULL,
        to_agent_id TEXT NOT NULL,
        currency TEXT NOT NULL,
        body TEXT NOT NULL,
        active INTEGER NOT NULL,
        version BIGINT NOT NULL,
        created_at_ms BIGINT NOT NULL,
        updated_at_ms BIGINT NOT NULL,
        UNIQUE (from_agent_id, to_agent_id, currency)
      )`,
      `CREATE TABLE network_customers (
        id TEXT PRIMARY KEY,
        role TEXT NOT NULL,
        body TEXT NOT NULL,
        created_at_ms BIGINT NOT NULL
      )`,
      `CREATE TABLE network_quotes (
        id TEXT PRIMARY KEY,
        body TEXT NOT NULL,
        expires_at_ms BIGINT NOT NULL
      )`,
      `CREATE INDEX network_quotes_expiry ON network_quotes (expires_at_ms)`,
    ],
  },
  {
    version: 2,
    name: 'network version',
    statements: [
      // Bumped in the same transaction as every change to agents or links, so a process
      // holding a snapshot of the graph (quotes, agent status) sees another process's
      // change (several API processes on one PostgreSQL database) on its next use.
      `CREATE TABLE network_version (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        version BIGINT NOT NULL
      )`,
      `INSERT INTO network_version (id, version) VALUES (1, 0)`,
    ],
  },
];
