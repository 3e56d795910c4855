/**
 * Opening the PostgreSQL store from configuration, and bad input: a wrong or unreachable
 * DATABASE_URL is one clear line (which server, what failed), a schema from a newer
 * remitnet is refused, connections that die between batches are replaced inside the
 * store, and `remitnet migrate` migrates and reports.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import net from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { Ledger, LedgerError } from '../../src/ledger/index.ts';
import { openLedgerStore } from '../../src/stores/open.ts';
import { PostgresStore } from '../../src/stores/postgres/postgres-store.ts';
import { createTestDatabase, postgresWanted, withAdmin } from '../support/stores.ts';

const enabled = await postgresWanted();
const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

async function openError(connectionString: string): Promise<LedgerError> {
  try {
    const s = await PostgresStore.open({ connectionString, connectTimeout_ms: 2000 });
    await s.close();
  } catch (error) {
    expect(error).toBeInstanceOf(LedgerError);
    expect((error as Error).message).not.toContain('\n');
    return error as LedgerError;
  }
  throw new Error(`opening ${connectionString} succeeded`);
}

function cli(env: Record<string, string>, ...args: string[]) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', MAIN, ...args],
      { env: { ...process.env, ...env }, timeout: 60_000 },
      (error, stdout, stderr) =>
        resolve({ code: error === null ? 0 : Number(error.code ?? 1), stdout, stderr }),
    );
  });
}

describe('PostgreSQL store: bad DATABASE_URL (no server needed)', () => {
  it('refuses what is not a postgres:// URL, in one line', async () => {
    expect((await openError('not a url')).message).toMatch(/DATABASE_URL is not a URL/);
    expect((await openError('mysql://root@127.0.0.1/x')).message).toMatch(
      /must start with postgres:\/\//,
    );
  });

  it('names the server and says the connection was refused', async () => {
    const e = await openError('postgres://root:secret@127.0.0.1:1/ledger');
    expect(e.code).toBe('store_unavailable');
    expect(e.message).toContain('127.0.0.1:1/ledger');
    expect(e.message).toContain('connection refused');
    expect(e.message).not.toContain('secret');
  });

  it('the CLI prints one line and exits 1', async () => {
    const r = await cli({ DATABASE_URL: 'postgres://root@127.0.0.1:1/ledger' }, 'migrate');
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^remitnet: .*127\.0\.0\.1:1\/ledger: connection refused/);
  });
});

describe.skipIf(!enabled)('PostgreSQL store: opening and migrating', () => {
  let db: { url: string; drop: () => Promise<void> };
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('says which database does not exist', async () => {
    const url = new URL(db.url);
    url.pathname = '/remitnet_no_such_database';
    const e = await openError(url.toString());
    expect(e.message).toMatch(/remitnet_no_such_database" does not exist/);
  });

  it('remitnet migrate applies the schema once, then reports it up to date', async () => {
    const first = await cli({ DATABASE_URL: db.url }, 'migrate');
    expect(first.stderr).toBe('');
    expect(first.stdout).toMatch(
      /from version 0 to 2, applied: 1 ledger, 2 deferred account history, balance journal/,
    );
    for (const component of ['network', 'remittances', 'api']) {
      expect(first.stdout).toMatch(
        new RegExp(`${component} schema from version 0 to \\d+, applied: 1 `),
      );
    }
    const again = await cli({ DATABASE_URL: db.url }, '--json', 'migrate');
    const report = JSON.parse(again.stdout);
    expect(report).toMatchObject({ from: 2, to: 2, applied: [] });
    for (const component of ['network', 'remittances', 'api']) {
      expect(report.components[component].applied).toEqual([]);
    }
  });

  it('DATABASE_URL selects the PostgreSQL store; it works and replaces dead connections', async () => {
    const store = await openLedgerStore(loadConfig({ DATABASE_URL: db.url }));
    try {
      expect(store.kind).toBe('postgres');
      const ledger = new Ledger(store);
      expect(
        await ledger.createAccounts([
          { id: 1n, ledger: 410, code: 1 },
          { id: 2n, ledger: 410, code: 1 },
        ]),
      ).toEqual(['ok', 'ok']);
      const t = { debitAccountId: 1n, creditAccountId: 2n, amount: 5n, ledger: 410, code: 1 };
      expect(await ledger.createTransfers([{ id: 10n, ...t }])).toEqual(['ok']);
      // Kill every connection the store holds (as a server restart or a proxy would).
      const name = new URL(db.url).pathname.slice(1);
      const killed = await withAdmin((c) =>
        c.query(
          `SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity
           WHERE datname = $1 AND application_name = 'remitnet'`,
          [name],
        ),
      );
      expect(Number(killed.rows[0].n)).toBeGreaterThan(0);
      // The store opens new connections; the caller sees only results.
      expect(
        await ledger.createTransfers([
          { id: 11n, ...t },
          { id: 10n, ...t },
        ]),
      ).toEqual(['ok', 'exists']);
      const [a] = await ledger.lookupAccounts([1n]);
      expect(a!.debitsPosted).toBe(10n);
    } finally {
      await store.close();
    }
  });

  it('retries a deadlock inside the store: the caller sees only results', async () => {
    const store = await PostgresStore.open({ connectionString: db.url, schema: 'deadlock' });
    const other = new pg.Client({ connectionString: db.url, options: '-c search_path=deadlock' });
    await other.connect();
    try {
      const ledger = new Ledger(store);
      await ledger.createAccounts([
        { id: 1n, ledger: 410, code: 1 },
        { id: 2n, ledger: 410, code: 1 },
      ]);
      // Another writer that ignores the clock row: it locks the transfers table against
      // inserts, then (while the batch holds the clock row and waits to insert) asks for
      // the clock row.
      await other.query("SET deadlock_timeout = '10s'"); // so the store's backend detects it
      await other.query('BEGIN');
      await other.query('LOCK TABLE transfers IN SHARE MODE');
      const batch = ledger.createTransfers([
        { id: 10n, debitAccountId: 1n, creditAccountId: 2n, amount: 5n, ledger: 410, code: 1 },
      ]);
      let settled = false;
      void batch.finally(() => (settled = true));
      await new Promise((r) => setTimeout(r, 300));
      // This waits for the clock row, held by the batch: it returns only once the batch's
      // transaction was aborted as the deadlock victim, while the batch is still unsettled.
      await other.query('UPDATE ledger_clock SET version = version WHERE id = 1');
      expect(settled).toBe(false);
      await other.query('COMMIT');
      expect(await batch).toEqual(['ok']);
      const [a] = await ledger.lookupAccounts([1n]);
      expect(a!.debitsPosted).toBe(5n);
    } finally {
      await other.end();
      await store.close();
    }
  });

  it('a connection lost during COMMIT: the batch is rerun, applied once, and answers exists', async () => {
    // A proxy that forwards everything, except that the first time it sees COMMIT it
    // passes it on and then cuts the client off before the answer comes back.
    const target = new URL(db.url);
    let armed = false;
    let cut = false;
    const proxy = net.createServer((client) => {
      const server = net.connect(Number(target.port || 5432), target.hostname);
      client.on('error', () => server.destroy());
      server.on('error', () => client.destroy());
      server.on('data', (d) => client.write(d));
      client.on('data', (d) => {
        server.write(d);
        if (armed && !cut && d.includes('COMMIT\0')) {
          cut = true;
          client.destroy();
          setTimeout(() => server.destroy(), 500); // let the server finish the COMMIT
        }
      });
      client.on('close', () => setTimeout(() => server.destroy(), 500));
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const via = new URL(db.url);
    via.port = String((proxy.address() as net.AddressInfo).port);
    await (await PostgresStore.open({ connectionString: db.url, schema: 'lost_commit' })).close();
    const store = await PostgresStore.open({
      connectionString: via.toString(),
      schema: 'lost_commit',
      migrate: false,
    });
    try {
      const ledger = new Ledger(store);
      await ledger.createAccounts([
        { id: 1n, ledger: 410, code: 1 },
        { id: 2n, ledger: 410, code: 1 },
      ]);
      armed = true;
      const t = { debitAccountId: 1n, creditAccountId: 2n, amount: 7n, ledger: 410, code: 1 };
      expect(
        await ledger.createTransfers([
          { id: 10n, ...t },
          { id: 11n, ...t },
        ]),
      ).toEqual(['exists', 'exists']);
      expect(cut).toBe(true);
      const [a] = await ledger.lookupAccounts([1n]);
      expect(a!.debitsPosted).toBe(14n); // applied once, not twice
    } finally {
      await store.close();
      proxy.close();
    }
  });

  it('refuses a schema written by a newer remitnet', async () => {
    const store = await PostgresStore.open({ connectionString: db.url });
    await store.pool.query(
      "INSERT INTO remitnet_migrations (version, name, applied_at) VALUES (99, 'future', 'then')",
    );
    await store.close();
    for (const migrate of [true, false]) {
      await expect(PostgresStore.open({ connectionString: db.url, migrate })).rejects.toMatchObject(
        { code: 'store_schema_newer' },
      );
    }
    const r = await cli({ DATABASE_URL: db.url }, 'migrate');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^remitnet: .*schema version 99, this remitnet knows up to 2\n$/);
  });
});
