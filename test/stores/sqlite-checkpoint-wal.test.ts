/**
 * SqliteClient's onCommit hook: told after each COMMIT the client makes, so whoever shares
 * its connection (the ledger store's WAL checkpointer) can count the client's commits.
 */
import { describe, expect, it } from 'vitest';
import { SqliteClient } from '../../src/stores/sql.ts';
import { SqliteStore } from '../../src/stores/sqlite/sqlite-store.ts';

describe('the WAL under domain commits on the shared connection', () => {
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
