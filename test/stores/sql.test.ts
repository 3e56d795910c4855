import { afterAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { dropTestDatabase } from '../support/stores.ts';
import {
  migrateComponent,
  PostgresClient,
  SqliteClient,
  type SqlClient,
} from '../../src/stores/sql.ts';

const PG_ADMIN = process.env.TEST_DATABASE_URL ?? 'postgres://root@127.0.0.1:5432/postgres';

async function postgresReachable(): Promise<boolean> {
  const c = new pg.Client({ connectionString: PG_ADMIN, connectionTimeoutMillis: 1500 });
  try {
    await c.connect();
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => undefined);
  }
}

const clients: Array<[string, () => Promise<SqlClient>]> = [
  ['sqlite', async () => SqliteClient.open(':memory:')],
];
const dropDatabases: string[] = [];
if (await postgresReachable()) {
  clients.push([
    'postgres',
    async () => {
      const name = `remitnet_sql_${Math.random().toString(36).slice(2, 10)}`;
      const admin = new pg.Client({ connectionString: PG_ADMIN });
      await admin.connect();
      await admin.query(`CREATE DATABASE ${name}`);
      await admin.end();
      dropDatabases.push(name);
      const url = new URL(PG_ADMIN);
      url.pathname = `/${name}`;
      return PostgresClient.open(url.toString());
    },
  ]);
} else if (process.env.CI === 'true') {
  throw new Error(`PostgreSQL is required under CI but did not answer at ${PG_ADMIN}`);
} else {
  console.warn(
    `sql.test: PostgreSQL did not answer at ${PG_ADMIN}; skipped its half of this suite`,
  );
}

const opened: SqlClient[] = [];
afterAll(async () => {
  await Promise.all(opened.map((c) => c.close()));
  for (const d of dropDatabases) await dropTestDatabase(d);
});

describe.each(clients)('SqlClient on %s', (_name, open) => {
  async function fresh(): Promise<SqlClient> {
    const c = await open();
    opened.push(c);
    await migrateComponent(c, 'sqltest', [
      {
        version: 1,
        name: 'items',
        statements: ['CREATE TABLE items (id TEXT PRIMARY KEY, n BIGINT NOT NULL)'],
      },
    ]);
    return c;
  }

  it('migrates once and refuses a schema newer than it knows', async () => {
    const c = await fresh();
    const again = await migrateComponent(c, 'sqltest', [
      {
        version: 1,
        name: 'items',
        statements: ['CREATE TABLE items (id TEXT PRIMARY KEY, n BIGINT NOT NULL)'],
      },
    ]);
    expect(again.applied).toEqual([]);
    await expect(migrateComponent(c, 'sqltest', [])).rejects.toMatchObject({
      code: 'store_schema_newer',
    });
  });

  it('keeps big integers exact and binds booleans as 0/1', async () => {
    const c = await fresh();
    await c.transaction((tx) =>
      tx.execute('INSERT INTO items VALUES ($1, $2)', ['a', 2n ** 62n + 1n]),
    );
    await c.transaction((tx) => tx.execute('INSERT INTO items VALUES ($1, $2)', ['b', true]));
    const rows = await c.query<{ id: string; n: bigint }>('SELECT id, n FROM items ORDER BY id');
    expect(rows).toEqual([
      { id: 'a', n: 2n ** 62n + 1n },
      { id: 'b', n: 1n },
    ]);
  });

  it('concurrent transactions each commit or roll back alone', async () => {
    const c = await fresh();
    const results = await Promise.allSettled(
      Array.from({ length: 50 }, (_, i) =>
        c.transaction(async (tx) => {
          await tx.execute('INSERT INTO items VALUES ($1, $2)', [`k${i}`, BigInt(i)]);
          if (i % 7 === 0) throw new Error(`refused ${i}`);
          return i;
        }),
      ),
    );
    const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [i] : []));
    expect(failed).toEqual([0, 7, 14, 21, 28, 35, 42, 49]);
    const rows = await c.query<{ id: string }>('SELECT id FROM items');
    expect(rows.length).toBe(50 - failed.length);
    expect(rows.some((r) => r.id === 'k7')).toBe(false);
  });

  it('a nested transaction that fails rolls back only itself', async () => {
    const c = await fresh();
    await c.transaction(async (tx) => {
      await tx.execute('INSERT INTO items VALUES ($1, $2)', ['outer', 1n]);
      await expect(
        tx.transaction(async (inner) => {
          await inner.execute('INSERT INTO items VALUES ($1, $2)', ['inner', 2n]);
          throw new Error('no');
        }),
      ).rejects.toThrow('no');
    });
    const rows = await c.query<{ id: string }>('SELECT id FROM items');
    expect(rows.map((r) => r.id)).toEqual(['outer']);
  });
});

describe.skipIf(!clients.some(([name]) => name === 'postgres'))(
  'component migrations on PostgreSQL',
  () => {
    it('two processes migrating a fresh database at once: one applies, the other waits', async () => {
      const name = `remitnet_sql_${Math.random().toString(36).slice(2, 10)}`;
      const admin = new pg.Client({ connectionString: PG_ADMIN });
      await admin.connect();
      await admin.query(`CREATE DATABASE ${name}`);
      await admin.end();
      dropDatabases.push(name);
      const url = new URL(PG_ADMIN);
      url.pathname = `/${name}`;
      const [a, b] = [PostgresClient.open(url.toString()), PostgresClient.open(url.toString())];
      opened.push(a, b);
      const migrations = [
        {
          version: 1,
          name: 'two tables',
          statements: [
            'CREATE TABLE one (id TEXT PRIMARY KEY)',
            'CREATE TABLE two (id TEXT PRIMARY KEY)',
          ],
        },
      ];
      const reports = await Promise.all([
        migrateComponent(a, 'race', migrations),
        migrateComponent(b, 'race', migrations),
      ]);
      // Both finish without error; the version is recorded once.
      expect(reports.length).toBe(2);
      const rows = await a.query(
        "SELECT version FROM remitnet_component_migrations WHERE component = 'race'",
      );
      expect(rows).toHaveLength(1);
    });
  },
);

// SQLite binds `$n` by position (SqliteClient.#prepared); PostgreSQL does it itself, and
// refuses values a statement does not use, so this is SQLite's alone.
describe('SqliteClient placeholders', () => {
  it('binds each $n to its value: repeated, out of order, past $9, only those used', async () => {
    const c = SqliteClient.open(':memory:');
    opened.push(c);
    await c.execute('CREATE TABLE items (id TEXT PRIMARY KEY, n BIGINT NOT NULL)');
    const params = ['x', 2n, 'y', 4n, 5n, 6n, 7n, 8n, 9n, 10n, 11n, 2n ** 62n + 12n];
    await c.transaction(
      (tx) => tx.execute('INSERT INTO items VALUES ($3, $12)', params), // $1, $2 and the rest unused
    );
    const rows = await c.query<{ a: string; b: bigint; c: string; d: bigint; e: bigint }>(
      'SELECT $1 AS a, n + $10 AS b, $1 || id || $3 AS c, $2 AS d, n - $12 AS e FROM items WHERE id = $3',
      params,
    );
    expect(rows).toEqual([{ a: 'x', b: 2n ** 62n + 22n, c: 'xyy', d: 2n, e: 0n }]);
    // A placeholder without its value is an error, not a NULL.
    await expect(c.query('SELECT $2 AS a', ['only one'])).rejects.toThrow();
  });
});

describe('SqliteClient group commit', () => {
  it("answers a caller only once no group's transaction is open", async () => {
    const c = SqliteClient.open(':memory:');
    opened.push(c);
    await c.execute('CREATE TABLE items (id TEXT PRIMARY KEY)');
    let later: Promise<unknown> | undefined;
    const seen: boolean[] = [];
    await Promise.all([
      c
        .transaction(async (tx) => {
          await tx.execute("INSERT INTO items VALUES ('a')");
          // Queued while this group runs: it commits in a second group of the same flush.
          later = c.transaction((t2) => t2.execute("INSERT INTO items VALUES ('b')"));
        })
        // The caller resumes here: had it been answered between the two groups, it would
        // run inside the second one's transaction (its reads and writes joining it).
        .then(() => seen.push(c.db.inTransaction)),
      c
        .transaction((tx) => tx.execute("INSERT INTO items VALUES ('c')"), { ordered: true })
        .then(() => seen.push(c.db.inTransaction)),
    ]);
    await later;
    expect(seen).toEqual([false, false]);
    expect((await c.query('SELECT id FROM items ORDER BY id')).map((r) => r.id)).toEqual([
      'a',
      'b',
      'c',
    ]);
  });
});
