/**
 * The PostgreSQL schema, as numbered migrations (see ../migrate.ts), recorded in the same
 * `remitnet_migrations` table as the SQLite store.
 *
 * Types: 128-bit ids are `uuid` (16 bytes compared as unsigned big-endian bytes, so
 * time-ordered ids index in time order, like SQLite's BLOBs); every integer is `bigint`
 * (u32 fields do not fit `integer`), u64 user data is stored as its two's complement.
 * Keys: transfers and pending states are keyed by the ledger timestamp, which only grows;
 * accounts by id (their balances are updated in place, never their keys, so updates stay
 * HOT: fillfactor leaves room on each page for the new row version).
 *
 * `ledger_clock` holds the last timestamp handed out and a write counter. Every writer
 * updates its one row first, which (a) makes timestamps strictly increasing in commit
 * order, (b) serializes writers, like TigerBeetle's single core, so batch writers never
 * deadlock on accounts, and (c) tells a store whether anyone else wrote since its own last
 * commit (`version`), so it may trust its account cache (as SQLite's data_version does).
 *
 * The CHECK constraints repeat the engine's account rules as a last line of defence: a bug
 * in a store could then fail a batch, never corrupt a balance.
 */
import type { Migration } from '../migrate.ts';

export const POSTGRES_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'ledger',
    statements: [
      `CREATE TABLE ledger_clock (
        id integer PRIMARY KEY CHECK (id = 1),
        last_ts bigint NOT NULL,
        version bigint NOT NULL
      )`,
      `INSERT INTO ledger_clock (id, last_ts, version) VALUES (1, 0, 0)`,
      `CREATE TABLE accounts (
        id uuid PRIMARY KEY,
        ts bigint NOT NULL UNIQUE,
        ledger bigint NOT NULL,
        code integer NOT NULL,
        flags integer NOT NULL,
        user_data_128 uuid,
        user_data_64 bigint NOT NULL,
        user_data_32 bigint NOT NULL,
        debits_pending bigint NOT NULL CHECK (debits_pending >= 0),
        debits_posted bigint NOT NULL CHECK (debits_posted >= 0),
        credits_pending bigint NOT NULL CHECK (credits_pending >= 0),
        credits_posted bigint NOT NULL CHECK (credits_posted >= 0),
        closed boolean NOT NULL,
        CONSTRAINT debits_must_not_exceed_credits
          CHECK ((flags & 2) = 0 OR debits_pending + debits_posted <= credits_posted),
        CONSTRAINT credits_must_not_exceed_debits
          CHECK ((flags & 4) = 0 OR credits_pending + credits_posted <= debits_posted)
      ) WITH (fillfactor = 70)`,
      `CREATE TABLE transfers (
        ts bigint PRIMARY KEY,
        id uuid NOT NULL UNIQUE,
        debit_account_id uuid NOT NULL,
        credit_account_id uuid NOT NULL,
        amount bigint NOT NULL CHECK (amount > 0),
        pending_id uuid,
        user_data_128 uuid,
        user_data_64 bigint NOT NULL,
        user_data_32 bigint NOT NULL,
        timeout bigint NOT NULL,
        ledger bigint NOT NULL,
        code integer NOT NULL,
        flags integer NOT NULL
      )`,
      `CREATE INDEX transfers_debit ON transfers (debit_account_id, ts)`,
      `CREATE INDEX transfers_credit ON transfers (credit_account_id, ts)`,
      `CREATE TABLE pending_transfers (
        ts bigint PRIMARY KEY,
        status smallint NOT NULL,
        expires_at bigint,
        resolved_at bigint
      ) WITH (fillfactor = 80)`,
      `CREATE INDEX pending_transfers_due ON pending_transfers (expires_at)
        WHERE status = 0 AND expires_at IS NOT NULL`,
    ],
  },
];
