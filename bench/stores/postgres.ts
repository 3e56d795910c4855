/**
 * The PostgreSQL adapter of the ledger benchmark: a fresh database for every store on the
 * server at BENCH_DATABASE_URL (default TEST_DATABASE_URL, else
 * postgres://root@127.0.0.1:5432/postgres; a role that may CREATE DATABASE), dropped after.
 * Commits are as durable as the server makes them (synchronous_commit and fsync are
 * printed in the JSON line).
 *
 * The limit, measured in the same run on a database migrated by the same store: per
 * batch, one transaction holding plain INSERTs of the transfer rows (one INSERT … SELECT
 * FROM unnest of column arrays: on this server about twice as fast as multi-row VALUES,
 * so the stronger baseline) plus one UPDATE of every touched account's balances (what any
 * double-entry writer must do), then COMMIT. Parameters are built outside the timed part.
 * The store's schema decides the indexes the limit pays for: since migration 2 the
 * transfers table has its primary key (ts) and the unique index on id, as the store's.
 * The store's own write path differs (binary COPY, a balance journal instead of the
 * UPDATE, deferred history); the limit stays the plain way, as the issue defines it.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { IdGenerator } from '../../src/ledger/ids.ts';
import { PostgresStore } from '../../src/stores/postgres/postgres-store.ts';
import type { BenchStore, BenchStoreHandle, LimitOptions } from './types.ts';

const INSERT = `INSERT INTO transfers (ts, id, debit_account_id, credit_account_id, amount,
    pending_id, user_data_128, user_data_64, user_data_32, timeout, ledger, code, flags)
  SELECT * FROM unnest($1::bigint[], $2::uuid[], $3::uuid[], $4::uuid[], $5::bigint[],
    $6::uuid[], $7::uuid[], $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[],
    $12::integer[], $13::integer[])`;
const UPDATE = `UPDATE accounts a SET debits_posted = a.debits_posted + u.dr,
    credits_posted = a.credits_posted + u.cr
  FROM unnest($1::uuid[], $2::bigint[], $3::bigint[]) AS u(id, dr, cr) WHERE a.id = u.id`;

function adminUrl(): string {
  return (
    process.env.BENCH_DATABASE_URL ??
    process.env.TEST_DATABASE_URL ??
    'postgres://root@127.0.0.1:5432/postgres'
  );
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: adminUrl(), connectionTimeoutMillis: 5000 });
  c.on('error', () => undefined);
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

const hex = (v: bigint) => v.toString(16).padStart(32, '0');
const list = (xs: readonly string[]) => `{${xs.join(',')}}`;

export async function postgresBenchStore(): Promise<BenchStore> {
  const settings = await admin(async (c) => {
    const show = async (name: string) =>
      String((await c.query(`SHOW ${name}`)).rows[0][name] as string);
    return {
      synchronous_commit: await show('synchronous_commit'),
      fsync: await show('fsync'),
      shared_buffers: await show('shared_buffers'),
      max_wal_size: await show('max_wal_size'),
      wal_compression: await show('wal_compression'),
      server_version: await show('server_version'),
    };
  });
  const made = new Set<string>();
  const newDatabase = async (label: string): Promise<{ name: string; url: string }> => {
    const name = `remitnet_bench_${label}_${randomBytes(4).toString('hex')}`;
    await admin((c) => c.query(`CREATE DATABASE ${name}`));
    made.add(name);
    const url = new URL(adminUrl());
    url.pathname = `/${name}`;
    return { name, url: url.toString() };
  };
  const drop = async (name: string) => {
    await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    made.delete(name);
  };

  return {
    name: 'postgres',
    durability: { synchronous_commit: settings.synchronous_commit, fsync: settings.fsync },

    async open(): Promise<BenchStoreHandle> {
      const db = await newDatabase('ledger');
      const store = await PostgresStore.open({ connectionString: db.url });
      return {
        store,
        async countTransfers() {
          const r = await store.pool.query('SELECT count(*) AS n FROM transfers');
          return Number(r.rows[0].n);
        },
        async close() {
          await store.close();
          await drop(db.name);
        },
      };
    },

    async measureLimit(o: LimitOptions): Promise<number> {
      const db = await newDatabase('limit');
      // Migrated by the store itself: the same tables, keys, indexes and settings.
      const store = await PostgresStore.open({ connectionString: db.url });
      await store.close();
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      try {
        const accounts = o.accountIds.map(hex);
        let ts = BigInt(Date.now()) * 1_000_000n;
        for (let i = 0; i < accounts.length; i += 8000) {
          const slice = accounts.slice(i, i + 8000);
          await c.query(
            `INSERT INTO accounts SELECT u.id, u.ts, $3, 1, 0, NULL, 0, 0, 0, 0, 0, 0, false
             FROM unnest($1::uuid[], $2::bigint[]) AS u(id, ts)`,
            [list(slice), list(slice.map(() => (ts++).toString())), o.ledger],
          );
        }
        const ids = new IdGenerator();
        let elapsed = 0;
        let done = 0;
        while (done < o.rows) {
          const n = Math.min(o.batch, o.rows - done);
          const cols: string[][] = Array.from({ length: 13 }, () => new Array<string>(n));
          const dr = new Map<number, bigint>();
          const cr = new Map<number, bigint>();
          for (let r = 0; r < n; r++) {
            const d = Math.floor(Math.random() * accounts.length);
            let k = Math.floor(Math.random() * (accounts.length - 1));
            if (k >= d) k++;
            const amount = BigInt(1 + Math.floor(Math.random() * 1_000_000));
            dr.set(d, (dr.get(d) ?? 0n) + amount);
            cr.set(k, (cr.get(k) ?? 0n) + amount);
            const row = [
              (ts++).toString(),
              hex(ids.next()),
              accounts[d]!,
              accounts[k]!,
              amount.toString(),
              'NULL',
              'NULL',
              '0',
              '0',
              '0',
              String(o.ledger),
              '1',
              '0',
            ];
            for (let j = 0; j < 13; j++) cols[j]![r] = row[j]!;
          }
          const touched = [...new Set([...dr.keys(), ...cr.keys()])];
          const insertParams = cols.map(list);
          const updateParams = [
            list(touched.map((i) => accounts[i]!)),
            list(touched.map((i) => (dr.get(i) ?? 0n).toString())),
            list(touched.map((i) => (cr.get(i) ?? 0n).toString())),
          ];
          const start = performance.now();
          await c.query('BEGIN');
          await c.query(INSERT, insertParams);
          await c.query(UPDATE, updateParams);
          await c.query('COMMIT');
          elapsed += performance.now() - start;
          done += n;
        }
        return done / (elapsed / 1000);
      } finally {
        await c.end();
        await drop(db.name);
      }
    },

    async extra() {
      return {
        limit_method:
          'INSERT..SELECT unnest of the rows + one UPDATE of touched accounts, per commit',
        shared_buffers: settings.shared_buffers,
        max_wal_size: settings.max_wal_size,
        wal_compression: settings.wal_compression,
        server_version: settings.server_version,
      };
    },

    async cleanup() {
      for (const name of [...made]) await drop(name).catch(() => undefined);
    },
  };
}
