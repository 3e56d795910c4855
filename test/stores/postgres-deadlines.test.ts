/**
 * Every wait on PostgreSQL has a deadline: a batch stuck behind another session's writer
 * lock, or a statement that runs too long, is refused whole with store_unavailable (one
 * line that says which deadline), nothing of it is applied, and the next call works. A
 * session idle inside a transaction is ended by the server, freeing its locks.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ledger, LedgerError, newId } from '../../src/ledger/index.ts';
import {
  deadlineOptions,
  PostgresStore,
  type PostgresStoreOptions,
} from '../../src/stores/postgres/postgres-store.ts';
import { createTestDatabase, postgresWanted } from '../support/stores.ts';

const enabled = await postgresWanted();

describe.skipIf(!enabled)('PostgreSQL deadlines', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>> | undefined;
  const opened: PostgresStore[] = [];
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    for (const s of opened) await s.close().catch(() => undefined);
    await db?.drop();
  });

  async function world(options: Partial<PostgresStoreOptions>) {
    const store = await PostgresStore.open({ connectionString: db!.url, ...options });
    opened.push(store);
    const ledger = new Ledger(store);
    const [a, b] = [newId(), newId()];
    expect(
      await ledger.createAccounts([
        { id: a, ledger: 410, code: 1 },
        { id: b, ledger: 410, code: 1 },
      ]),
    ).toEqual(['ok', 'ok']);
    const transfer = () => ({
      id: newId(),
      debitAccountId: a,
      creditAccountId: b,
      amount: 5n,
      ledger: 410,
      code: 1,
    });
    return { store, ledger, transfer };
  }

  /** Another session holding the writer lock (the clock row) until released. */
  async function holdWriterLock() {
    const c = new pg.Client({ connectionString: db!.url });
    await c.connect();
    await c.query('BEGIN');
    await c.query('SELECT 1 FROM ledger_clock WHERE id = 1 FOR UPDATE');
    return {
      release: async () => {
        await c.query('ROLLBACK');
        await c.end();
      },
    };
  }

  it('a batch waiting too long for the writer lock is refused whole; the next one works', async () => {
    const { store, ledger, transfer } = await world({ lockTimeout_ms: 300 });
    const lock = await holdWriterLock();
    const t = transfer();
    const started = Date.now();
    let error: unknown;
    try {
      await ledger.createTransfers([t]);
    } catch (e) {
      error = e;
    } finally {
      await lock.release();
    }
    expect(error).toBeInstanceOf(LedgerError);
    expect((error as LedgerError).code).toBe('store_unavailable');
    expect(String(error)).toMatch(/waited too long for the writer lock \(lock_timeout\)/);
    expect(String(error)).toMatch(/nothing of the call was applied/);
    expect(Date.now() - started).toBeLessThan(10_000); // not the default, and no hang
    expect(await store.lookupTransfers([t.id])).toEqual([]);
    expect(await ledger.createTransfers([t])).toEqual(['ok']);
  });

  it('a statement past statement_timeout is refused whole; the next one works', async () => {
    const { store, ledger, transfer } = await world({
      lockTimeout_ms: 0,
      statementTimeout_ms: 300,
    });
    const lock = await holdWriterLock();
    const t = transfer();
    let error: unknown;
    try {
      await ledger.createTransfers([t]);
    } catch (e) {
      error = e;
    } finally {
      await lock.release();
    }
    expect((error as LedgerError).code).toBe('store_unavailable');
    expect(String(error)).toMatch(/ran past its deadline \(statement_timeout\)/);
    expect(await store.lookupTransfers([t.id])).toEqual([]);
    expect(await ledger.createTransfers([t])).toEqual(['ok']);
  });

  it('the server ends a session left idle inside a transaction, freeing its locks', async () => {
    const pool = new pg.Pool({
      connectionString: db!.url,
      options: deadlineOptions({ idleInTransactionTimeout_ms: 200 }).join(' '),
    });
    pool.on('error', () => undefined);
    try {
      const c = await pool.connect();
      c.on('error', () => undefined);
      await c.query('BEGIN');
      await c.query('SELECT 1 FROM ledger_clock WHERE id = 1 FOR UPDATE');
      await new Promise((r) => setTimeout(r, 600));
      await expect(c.query('SELECT 1')).rejects.toThrow();
      c.release(true);
      // The lock went with the session: a writer gets it at once.
      const { ledger, transfer } = await world({ lockTimeout_ms: 1000 });
      expect(await ledger.createTransfers([transfer()])).toEqual(['ok']);
    } finally {
      await pool.end();
    }
  });

  it('refuses a deadline that is not a whole number of milliseconds', () => {
    expect(() => deadlineOptions({ statementTimeout_ms: 1.5 })).toThrow(/whole number/);
    expect(() => deadlineOptions({ lockTimeout_ms: -1 })).toThrow(/whole number/);
    expect(deadlineOptions({ statementTimeout_ms: 0 })).toEqual(['-c statement_timeout=0']);
  });
});
