/**
 * A remitnet on one SQLite file whose WAL syncs the test completes by hand (as in
 * test/stores/wal-sync.test.ts), for the tests of the `ordered` intent write's answers.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { Ledger } from '../../../src/ledger/ledger.ts';
import { SqliteClient } from '../../../src/stores/sql.ts';
import { SqliteStore } from '../../../src/stores/sqlite/sqlite-store.ts';
import { durableStore, WalSync } from '../../../src/stores/wal-sync.ts';
import { createRemitnet } from '../../../src/remittances/remitnet.ts';

const dir = mkdtempSync(join(tmpdir(), 'remitnet-ordered-intent-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

export function manualSync() {
  const calls: Array<(error: Error | null) => void> = [];
  const sync = new WalSync((done) => calls.push(done));
  return { sync, calls };
}

export const turns = async (n = 5) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

export function tracked<T>(p: Promise<T>) {
  const state: { settled: boolean; error?: unknown } = { settled: false };
  p.then(
    () => (state.settled = true),
    (error: unknown) => Object.assign(state, { settled: true, error }),
  );
  return state;
}

export async function world(name: string) {
  const store = await SqliteStore.open({
    path: join(dir, name),
    synchronous: 'NORMAL',
    checkpoint: 'inline',
  });
  const m = manualSync();
  const sql = new SqliteClient(store.db, false, m.sync);
  const ledger = new Ledger(durableStore(store, m.sync));
  let finished = 0;
  /** Completes every sync as it starts, until `p` settles. */
  const drive = async <T>(p: Promise<T>): Promise<T> => {
    let value: T | undefined;
    const state = tracked(p.then((v) => (value = v)));
    while (!state.settled) {
      await turns();
      while (finished < m.calls.length) m.calls[finished++]!(null);
    }
    if (state.error !== undefined) throw state.error;
    return value as T;
  };
  /** Runs the event loop for a while, starting syncs but completing none. */
  const idle = () => turns(30);
  const syncsDone = () => finished;
  const rn = await drive(
    createRemitnet({ ledger, sql, config: { payoutCodeSecret: 'test-secret-0123456789abcdef' } }),
  );
  const close = async () => {
    await drive(ledger.close());
    store.db.close();
  };
  return { rn, m, ledger, drive, idle, syncsDone, close };
}
