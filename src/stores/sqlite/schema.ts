/**
 * The SQLite schema, as numbered migrations (see ../migrate.ts).
 *
 * Keys: every table's primary key is the ledger timestamp (the rowid), which only grows,
 * so inserts append to the table B-tree; 128-bit ids are 16 big-endian bytes in a unique
 * index, which time-ordered ids also fill in order. Transfers are never updated or
 * deleted: the state of a pending transfer lives in pending_transfers beside it.
 */
import type { Migration } from '../migrate.ts';

export const SQLITE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'ledger',
    statements: [
      `CREATE TABLE accounts (
        ts INTEGER PRIMARY KEY,
        id BLOB NOT NULL UNIQUE,
        ledger INTEGER NOT NULL,
        code INTEGER NOT NULL,
        flags INTEGER NOT NULL,
        user_data_128 BLOB,
        user_data_64 INTEGER NOT NULL,
        user_data_32 INTEGER NOT NULL,
        debits_pending INTEGER NOT NULL,
        debits_posted INTEGER NOT NULL,
        credits_pending INTEGER NOT NULL,
        credits_posted INTEGER NOT NULL,
        closed INTEGER NOT NULL
      )`,
      `CREATE TABLE transfers (
        ts INTEGER PRIMARY KEY,
        id BLOB NOT NULL UNIQUE,
        debit_account_id BLOB NOT NULL,
        credit_account_id BLOB NOT NULL,
        amount INTEGER NOT NULL,
        pending_id BLOB,
        user_data_128 BLOB,
        user_data_64 INTEGER NOT NULL,
        user_data_32 INTEGER NOT NULL,
        timeout INTEGER NOT NULL,
        ledger INTEGER NOT NULL,
        code INTEGER NOT NULL,
        flags INTEGER NOT NULL
      )`,
      `CREATE INDEX transfers_debit ON transfers (debit_account_id, ts)`,
      `CREATE INDEX transfers_credit ON transfers (credit_account_id, ts)`,
      `CREATE TABLE pending_transfers (
        ts INTEGER PRIMARY KEY,
        status INTEGER NOT NULL,
        expires_at INTEGER,
        resolved_at INTEGER
      )`,
      `CREATE INDEX pending_transfers_due ON pending_transfers (expires_at)
        WHERE status = 0 AND expires_at IS NOT NULL`,
    ],
  },
  {
    version: 2,
    name: 'clock floor',
    statements: [
      // An expiry takes effect at its deadline without adding a row, so the highest row
      // timestamp alone cannot tell a later writer (another process, whose clock may lag)
      // that time has passed it. floor_ts is the latest time an expiry sweep ran at, or the
      // last timestamp of a batch whose last event stored no row (a failed event's time is
      // handed out too): no batch is timestamped at or below it.
      `CREATE TABLE ledger_clock (id INTEGER PRIMARY KEY CHECK (id = 1), floor_ts INTEGER NOT NULL)`,
      `INSERT INTO ledger_clock (id, floor_ts) VALUES (1, 0)`,
    ],
  },
  {
    version: 3,
    name: 'deferred account history index',
    statements: [
      // Indexing every transfer by account as it is written put each batch's entries on
      // thousands of random index pages, so every commit rewrote most of two indexes. The
      // history index is now filled in bulk, sorted, every few tens of thousands of
      // transfers; reads merge it with a scan of the newer rows (ts > indexed_upto).
      `CREATE TABLE account_transfers (
        account_id BLOB NOT NULL,
        ts INTEGER NOT NULL,
        PRIMARY KEY (account_id, ts)
      ) WITHOUT ROWID`,
      `ALTER TABLE ledger_clock ADD COLUMN indexed_upto INTEGER NOT NULL DEFAULT 0`,
      `INSERT INTO account_transfers (account_id, ts)
        SELECT debit_account_id, ts FROM transfers UNION ALL SELECT credit_account_id, ts FROM transfers
        ORDER BY 1, 2`,
      `UPDATE ledger_clock SET indexed_upto = coalesce((SELECT max(ts) FROM transfers), 0) WHERE id = 1`,
      `DROP INDEX transfers_debit`,
      `DROP INDEX transfers_credit`,
    ],
  },
  {
    version: 4,
    name: 'account history as posting lists',
    statements: [
      // account_transfers held one row per transfer and side: two 24-byte keys a transfer,
      // and each bulk insert landed on pages all over the index, rewriting most of it every
      // run. Now each indexing run (a stretch of history, after < ts <= upto) adds one row
      // per account that took part: the account's transfer timestamps in that stretch,
      // ascending, 8 big-endian bytes each (stores/deferred.ts, packTimestamps). The key
      // leads with the stretch, so every run appends at the end of the table. A read walks
      // the stretches that overlap its time range and looks up one row in each.
      `CREATE TABLE history_stretches (
        upto INTEGER PRIMARY KEY,
        after INTEGER NOT NULL
      )`,
      `CREATE TABLE account_postings (
        upto INTEGER NOT NULL,
        account_ts INTEGER NOT NULL,
        list BLOB NOT NULL,
        PRIMARY KEY (upto, account_ts)
      ) WITHOUT ROWID`,
      // Existing history: stretches of 65,536 transfers up to indexed_upto.
      `INSERT INTO history_stretches (upto, after)
        SELECT upto, coalesce(lag(upto) OVER (ORDER BY upto), 0) FROM (
          SELECT max(ts) AS upto FROM (
            SELECT ts, (row_number() OVER (ORDER BY ts) - 1) / 65536 AS k FROM transfers
            WHERE ts <= (SELECT indexed_upto FROM ledger_clock WHERE id = 1))
          GROUP BY k)`,
      `INSERT INTO account_postings (upto, account_ts, list)
        SELECT upto, account_ts, unhex(group_concat(printf('%016x', ts), '' ORDER BY ts)) FROM (
          SELECT (SELECT min(s.upto) FROM history_stretches s WHERE s.upto >= x.ts) AS upto,
            a.ts AS account_ts, x.ts AS ts
          FROM account_transfers x JOIN accounts a ON a.id = x.account_id)
        GROUP BY upto, account_ts ORDER BY upto, account_ts`,
      `DROP TABLE account_transfers`,
    ],
  },
  {
    version: 5,
    name: 'balance journal',
    statements: [
      // Updating each changed account row in place rewrote most pages of the accounts table
      // every big batch. Now a batch writes one row here instead: the balances (and closed
      // state) of every account it changed, packed (stores/deferred.ts, packBalances). An
      // account's balances are those of the newest row holding it, else its accounts row.
      // Every so often a batch folds the journal into the accounts table and empties it,
      // in its own transaction.
      `CREATE TABLE balance_journal (
        seq INTEGER PRIMARY KEY,
        entries BLOB NOT NULL
      )`,
    ],
  },
];
