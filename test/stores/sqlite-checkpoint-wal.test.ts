/**
 * The background checkpointer keeps the WAL bounded whoever writes to the store's
 * connection. In the server the domain's SQL client shares it (runtime.ts); its commits
 * used to wake the checkpointer not at all (only the ledger store's own batches counted,
 * in rows), so under API load the WAL grew to hundreds of MB between checkpoints.
 *
 * What the WAL holds is read with `PRAGMA wal_checkpoint(NOOP)` (no work: it answers the
 * frames in the WAL and how many are copied back). Nothing here times the checkpointer:
 * bounds are in frames written, and waits are for a condition with a long deadline.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { openRuntime } from '../../src/api/runtime.ts';
import { SqliteClient } from '../../src/stores/sql.ts';
import { SqliteStore } from '../../src/stores/sqlite/sqlite-store.ts';
import type Database from 'better-sqlite3';

const dir = mkdtempSync(join(tmpdir(), 'remitnet-sqlite-checkpoint-wal-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const newPath = () => join(dir, `w-${++files}.sqlite`);

/** Frames in the WAL, and how many of them are copied back into the database. */
function wal(db: Database.Database): { frames: number; copied: number } {
  const [row] = db.pragma('wal_checkpoint(NOOP)') as Array<Record<string, bigint>>;
  return { frames: Number(row!.log), copied: Number(row!.checkpointed) };
}

/** The checkpointer's trigger (FRAMES in the worker's source). */
const FRAMES = 1000;
/** SQLite's autocheckpoint on the store's connection, a backstop (WAL_BACKSTOP_PAGES). */
const BACKSTOP = 4000;
/** Rows of ~3 KB rewritten by each domain transaction: one page each, ~64 WAL frames. */
const ROWS = 64;

async function blobTable(sql: SqliteClient) {
  await sql.execute('CREATE TABLE blobs (k INTEGER PRIMARY KEY, v BLOB NOT NULL)');
  await sql.transaction(async (tx) => {
    for (let k = 0; k < ROWS; k++) {
      await tx.execute('INSERT INTO blobs (k, v) VALUES ($1, randomblob(3000))', [k]);
    }
  });
}

/** One domain transaction that rewrites every row (the database file does not grow). */
const rewrite = (sql: SqliteClient) =>
  sql.transaction(async (tx) => tx.execute('UPDATE blobs SET v = randomblob(3000)'));

describe('the WAL under domain commits on the shared connection', () => {
  it('the runtime SQL client commits wake the checkpointer: the WAL stays bounded and restarts', async () => {
    const runtime = await openRuntime(loadConfig({ REMITNET_DB: newPath() }), {
      expiryInterval_ms: 0,
    });
    try {
      const sql = runtime.sql as SqliteClient;
      await blobTable(sql);
      // 16,000 frames of domain commits only, back to back. Before, nothing checkpointed
      // while they went on and the WAL held all of it. Now the worker copies back as they
      // come, and the autocheckpoint backstop restarts the WAL when the worker cannot
      // catch up with commits this close together.
      let largest = 0;
      let written = 0;
      while (written < 16_000) {
        await rewrite(sql);
        written += ROWS;
        largest = Math.max(largest, wal(sql.db).frames);
      }
      expect(largest).toBeGreaterThan(FRAMES / 2); // it did grow, and was...
      expect(largest).toBeLessThan(2 * BACKSTOP); // ...copied back and restarted as it went
      // Once the writes stop, the worker copies everything back (IDLE_MS after the last
      // commit it was told of: only the client's onCommit tells it), and the next commit
      // starts the WAL again from its beginning.
      await vi.waitFor(
        () => {
          const w = wal(sql.db);
          expect(w.copied).toBe(w.frames);
        },
        { timeout: 10_000, interval: 20 },
      );
      await rewrite(sql);
      expect(wal(sql.db).frames).toBeLessThan(2 * ROWS);
    } finally {
      await runtime.close();
    }
  });

  it('SqliteClient calls onCommit once per committed group and per write outside one', async () => {
    const store = await SqliteStore.open({ path: ':memory:' });
    let commits = 0;
    const sql = new SqliteClient(store.db, false, undefined, { onCommit: () => commits++ });
    try {
      await sql.execute('CREATE TABLE t (k INTEGER PRIMARY KEY)');
      expect(commits).toBe(1);
      // Three transactions in one turn: one group, one COMMIT (one of them rolls back).
      const results = await Promise.allSettled([
        sql.transaction((tx) => tx.execute('INSERT INTO t (k) VALUES (1)')),
        sql.transaction((tx) => tx.execute('INSERT INTO t (k) VALUES (1)')),
        sql.transaction((tx) => tx.execute('INSERT INTO t (k) VALUES (2)')),
      ]);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      expect(commits).toBe(2);
      // A read outside a transaction commits nothing; a group of reads still COMMITs.
      await sql.query('SELECT k FROM t');
      expect(commits).toBe(2);
      await sql.transaction((tx) => tx.query('SELECT k FROM t'));
      expect(commits).toBe(3);
      await sql.query('INSERT INTO t (k) VALUES (3)');
      expect(commits).toBe(4);
    } finally {
      await sql.close();
      await store.close();
    }
  });
});
