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
  {
    version: 2,
    name: 'deferred account history, balance journal',
    statements: [
      // Account history as posting lists. Indexing every transfer by account as it was
      // written put a batch's ~16,000 index entries on random leaf pages of two indexes
      // (and a full-page image of each into the WAL after every checkpoint). Instead, every
      // `historyIndexEvery` transfers a batch adds one row per account for the stretch
      // (after, upto] of history: the timestamps at which it was debited and credited, as
      // 8-byte big-endian integers (deferred.ts packTimestamps; int8send in SQL). Reads
      // merge the lists with a scan of the newer rows (ts > ledger_clock.indexed_upto).
      `CREATE TABLE account_postings (
        account_id uuid NOT NULL,
        upto bigint NOT NULL,
        after bigint NOT NULL,
        debits bytea NOT NULL,
        credits bytea NOT NULL,
        PRIMARY KEY (account_id, upto),
        CHECK (after < upto)
      )`,
      // Balance journal: a batch writes one row (keyed by the clock version it took) with
      // the balances of every account it changed (deferred.ts packBalances) instead of one
      // UPDATE per account; every so often a batch folds the journal into accounts and
      // deletes the folded rows. An account's balances are those of the newest journal row
      // that holds it, else its row (the view current_accounts applies this in SQL).
      // Stored uncompressed: the entries are mostly random, and compressing costs CPU.
      `CREATE TABLE balance_journal (
        version bigint PRIMARY KEY,
        balances bytea NOT NULL
      )`,
      `ALTER TABLE balance_journal ALTER COLUMN balances SET STORAGE EXTERNAL`,
      `ALTER TABLE account_postings ALTER COLUMN debits SET STORAGE EXTERNAL`,
      `ALTER TABLE account_postings ALTER COLUMN credits SET STORAGE EXTERNAL`,
      // indexed_upto: the end of the last stretch; unindexed and unfolded: events since the
      // last stretch and the last fold; folded_version: the clock version the journal was
      // last folded at (so version - folded_version bounds the journal's row count).
      `ALTER TABLE ledger_clock ADD COLUMN indexed_upto bigint NOT NULL DEFAULT 0,
        ADD COLUMN unindexed bigint NOT NULL DEFAULT 0,
        ADD COLUMN unfolded bigint NOT NULL DEFAULT 0,
        ADD COLUMN folded_version bigint NOT NULL DEFAULT 0`,
      // Existing history becomes one stretch per account.
      `INSERT INTO account_postings (account_id, upto, after, debits, credits)
        SELECT h.account_id, m.upto, 0,
          coalesce(string_agg(int8send(h.ts), ''::bytea ORDER BY h.ts) FILTER (WHERE h.debit), ''::bytea),
          coalesce(string_agg(int8send(h.ts), ''::bytea ORDER BY h.ts) FILTER (WHERE NOT h.debit), ''::bytea)
        FROM (SELECT debit_account_id AS account_id, ts, true AS debit FROM transfers
              UNION ALL SELECT credit_account_id, ts, false FROM transfers) h,
          (SELECT max(ts) AS upto FROM transfers) m
        GROUP BY h.account_id, m.upto`,
      `UPDATE ledger_clock SET indexed_upto = coalesce((SELECT max(ts) FROM transfers), 0),
        folded_version = version WHERE id = 1`,
      `DROP INDEX transfers_debit`,
      `DROP INDEX transfers_credit`,
      // Accounts with the journal applied: for operators, exports and invariant checks
      // (the store itself applies the journal in the process, see postgres-store.ts).
      `CREATE VIEW current_accounts AS
        WITH entries AS (
          SELECT DISTINCT ON (e.account_ts) e.*
          FROM (
            SELECT j.version,
              ('x' || encode(substr(j.balances, i * 41 + 1, 8), 'hex'))::bit(64)::bigint AS account_ts,
              ('x' || encode(substr(j.balances, i * 41 + 9, 8), 'hex'))::bit(64)::bigint AS debits_pending,
              ('x' || encode(substr(j.balances, i * 41 + 17, 8), 'hex'))::bit(64)::bigint AS debits_posted,
              ('x' || encode(substr(j.balances, i * 41 + 25, 8), 'hex'))::bit(64)::bigint AS credits_pending,
              ('x' || encode(substr(j.balances, i * 41 + 33, 8), 'hex'))::bit(64)::bigint AS credits_posted,
              get_byte(j.balances, i * 41 + 40) = 1 AS closed
            FROM balance_journal j, generate_series(0, length(j.balances) / 41 - 1) AS i
          ) e
          ORDER BY e.account_ts, e.version DESC
        )
        SELECT a.id, a.ts, a.ledger, a.code, a.flags, a.user_data_128, a.user_data_64, a.user_data_32,
          coalesce(e.debits_pending, a.debits_pending) AS debits_pending,
          coalesce(e.debits_posted, a.debits_posted) AS debits_posted,
          coalesce(e.credits_pending, a.credits_pending) AS credits_pending,
          coalesce(e.credits_posted, a.credits_posted) AS credits_posted,
          coalesce(e.closed, a.closed) AS closed
        FROM accounts a LEFT JOIN entries e ON e.account_ts = a.ts`,
    ],
  },
];
