/**
 * The SQLite adapter of the ledger benchmark: a fresh database file in a temp directory
 * for every store (WAL, synchronous=FULL: an acknowledged commit survives power loss),
 * and the limit measured on a separate file opened through the same SqliteStore.open, so
 * the pragmas and the schema are exactly the store's.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { IdGenerator } from '../../src/ledger/ids.ts';
import { u128ToBytes } from '../../src/stores/codec.ts';
import { SqliteStore } from '../../src/stores/sqlite/sqlite-store.ts';
import type { BenchStore, BenchStoreHandle, LimitOptions } from './types.ts';

const COLUMNS =
  'ts, id, debit_account_id, credit_account_id, amount, pending_id, user_data_128, user_data_64, user_data_32, timeout, ledger, code, flags';
const PARAMS = 13;
/** Rows per INSERT statement in the limit run. */
const ROWS_PER_STATEMENT = 256;
/** REMITNET_BENCH_SQLITE_PAGE_SIZE=n opens new files with that page size. */
const PAGE_SIZE =
  process.env.REMITNET_BENCH_SQLITE_PAGE_SIZE === undefined
    ? undefined
    : Number(process.env.REMITNET_BENCH_SQLITE_PAGE_SIZE);
/** REMITNET_BENCH_SQLITE_CHECKPOINT=inline measures SQLite's own autocheckpoint instead. */
const CHECKPOINT =
  process.env.REMITNET_BENCH_SQLITE_CHECKPOINT === 'inline' ? 'inline' : 'background';

export function sqliteBenchStore(): BenchStore {
  const dir = mkdtempSync(join(tmpdir(), 'remitnet-bench-'));
  let files = 0;
  const sizes: Record<string, number> = {};
  const newPath = (label: string): string => join(dir, `${label}-${++files}.sqlite`);
  const fileMb = (path: string): number => {
    try {
      return Math.round(statSync(path).size / 1e5) / 10;
    } catch {
      return 0;
    }
  };

  return {
    name: 'sqlite',
    durability: { synchronous: 'FULL' },
    // (checkpoint mode is reported in extra())

    async open(): Promise<BenchStoreHandle> {
      const path = newPath('ledger');
      const store = await SqliteStore.open({
        path,
        synchronous: 'FULL',
        checkpoint: CHECKPOINT,
        pageSize: PAGE_SIZE,
      });
      return {
        store,
        async countTransfers() {
          return Number(store.db.prepare('SELECT count(*) FROM transfers').pluck().get());
        },
        async close() {
          await store.close();
          sizes[`${path.slice(dir.length + 1)}_mb`] = fileMb(path);
          rmSync(path, { force: true });
          rmSync(`${path}-wal`, { force: true });
          rmSync(`${path}-shm`, { force: true });
        },
      };
    },

    async measureLimit(o: LimitOptions): Promise<number> {
      const path = newPath('limit');
      const store = await SqliteStore.open({
        path,
        synchronous: 'FULL',
        checkpoint: CHECKPOINT,
        pageSize: PAGE_SIZE,
      });
      try {
        const db = store.db;
        const statements = new Map<number, ReturnType<typeof db.prepare>>();
        const statement = (rows: number) => {
          let s = statements.get(rows);
          if (s === undefined) {
            const one = `(${new Array<string>(PARAMS).fill('?').join(', ')})`;
            s = db.prepare(
              `INSERT OR ROLLBACK INTO transfers (${COLUMNS}) VALUES ${new Array<string>(rows).fill(one).join(',')}`,
            );
            statements.set(rows, s);
          }
          return s;
        };
        const accounts = o.accountIds.map(u128ToBytes);
        const ids = new IdGenerator();
        let ts = BigInt(Date.now()) * 1_000_000n;
        let elapsed = 0;
        let done = 0;
        while (done < o.rows) {
          const n = Math.min(o.batch, o.rows - done);
          // Parameters are built outside the timed part: this is the database's own cost.
          const chunks: unknown[][] = [];
          for (let i = 0; i < n; i += ROWS_PER_STATEMENT) {
            const rows = Math.min(ROWS_PER_STATEMENT, n - i);
            const params = new Array<unknown>(rows * PARAMS);
            for (let r = 0; r < rows; r++) {
              const dr = Math.floor(Math.random() * accounts.length);
              let cr = Math.floor(Math.random() * (accounts.length - 1));
              if (cr >= dr) cr++;
              const p = r * PARAMS;
              params[p] = ts++;
              params[p + 1] = u128ToBytes(ids.next());
              params[p + 2] = accounts[dr];
              params[p + 3] = accounts[cr];
              params[p + 4] = BigInt(1 + Math.floor(Math.random() * 1_000_000));
              params[p + 5] = null;
              params[p + 6] = null;
              params[p + 7] = 0n;
              params[p + 8] = 0;
              params[p + 9] = 0;
              params[p + 10] = o.ledger;
              params[p + 11] = 1;
              params[p + 12] = 0;
            }
            chunks.push(params);
          }
          const start = performance.now();
          db.exec('BEGIN IMMEDIATE');
          for (const params of chunks) statement(params.length / PARAMS).run(params);
          db.exec('COMMIT');
          elapsed += performance.now() - start;
          done += n;
        }
        return done / (elapsed / 1000);
      } finally {
        await store.close();
        sizes[`${path.slice(dir.length + 1)}_mb`] = fileMb(path);
        rmSync(path, { force: true });
        rmSync(`${path}-wal`, { force: true });
        rmSync(`${path}-shm`, { force: true });
      }
    },

    async extra() {
      return {
        journal_mode: 'wal',
        checkpoint: CHECKPOINT,
        page_size: PAGE_SIZE ?? 4096,
        largest_db_mb: Math.max(0, ...Object.values(sizes)),
      };
    },

    async cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
