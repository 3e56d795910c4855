/**
 * Several writers on one PostgreSQL ledger: 4 processes send conflicting transfers
 * (plain, pending, post, void, linked chains) on the same few hot accounts at once, with
 * balance limits, shared ids every process submits, and pending transfers every process
 * races to post or void. Afterwards: every acknowledged result agrees with the final
 * state, no transfer is applied twice, nothing is lost, every invariant holds. A deadlock
 * or serialization failure surfacing as an error fails the worker, and so this test.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AccountFlags,
  Ledger,
  TransferFlags,
  type Transfer,
  type TransferInput,
} from '../../src/ledger/index.ts';
import { PostgresStore } from '../../src/stores/postgres/postgres-store.ts';
import { createTestDatabase, postgresWanted } from '../support/stores.ts';
import { ledgerViolations } from './postgres-checks.ts';
import { deserialize, serialize, type AckLine, type WritersConfig } from './postgres-worker.ts';

const WORKER = fileURLToPath(new URL('./postgres-worker.ts', import.meta.url));
const WORKERS = 4;
const ROUNDS = 40;
const IN_FLIGHT = 4;
const LEDGER = 410;

const enabled = await postgresWanted();

/** Runs a worker to completion; resolves with its stdout, rejects with its stderr. */
export function runWorker(mode: string, config: object): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', WORKER, mode, JSON.stringify(config)],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`worker exited ${code}: ${err}`)),
    );
  });
}

describe.skipIf(!enabled)('PostgreSQL: 4 processes writing conflicting transfers', () => {
  let db: { url: string; drop: () => Promise<void> };
  let store: PostgresStore;

  beforeAll(async () => {
    db = await createTestDatabase();
    store = await PostgresStore.open({ connectionString: db.url });
  });
  afterAll(async () => {
    await store?.close();
    await db?.drop();
  });

  it('loses no update, breaks no limit, applies no transfer twice', async () => {
    const ledger = new Ledger(store);
    const bank = 1n;
    const hot = [11n, 12n, 13n, 14n];
    expect(
      await ledger.createAccounts([
        { id: bank, ledger: LEDGER, code: 1 },
        ...hot.map((id) => ({
          id,
          ledger: LEDGER,
          code: 2,
          flags: AccountFlags.debitsMustNotExceedCredits,
        })),
      ]),
    ).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
    // Fund the hot accounts, then make the pendings every worker will race for.
    const funding = hot.map((id, i) => ({
      id: 100n + BigInt(i),
      debitAccountId: bank,
      creditAccountId: id,
      amount: 2_000n,
      ledger: LEDGER,
      code: 1,
    }));
    expect(await ledger.createTransfers(funding)).toEqual(funding.map(() => 'ok'));
    const contested = Array.from({ length: 16 }, (_, i) => 200n + BigInt(i));
    const contestedInputs = contested.map((id, i) => ({
      id,
      debitAccountId: hot[i % hot.length]!,
      creditAccountId: bank,
      amount: 10n,
      ledger: LEDGER,
      code: 1,
      flags: TransferFlags.pending,
    }));
    expect(await ledger.createTransfers(contestedInputs)).toEqual(contested.map(() => 'ok'));
    const shared: TransferInput[] = Array.from({ length: 40 }, (_, i) => ({
      id: 1000n + BigInt(i),
      debitAccountId: bank,
      creditAccountId: hot[i % hot.length]!,
      amount: 5n,
      ledger: LEDGER,
      code: 1,
    }));

    const started = Date.now();
    const outputs = await Promise.all(
      Array.from({ length: WORKERS }, (_, w) => {
        const config: WritersConfig = {
          url: db.url,
          worker: w,
          rounds: ROUNDS,
          inFlight: IN_FLIGHT,
          ledger: LEDGER,
          bank: bank.toString(),
          hot: hot.map(String),
          // Each worker sends the shared transfers in its own order.
          shared: rotate(shared, w * 10).map(serialize),
          contested: contested.map(String),
          seed: 1000 + w,
        };
        return runWorker('writers', config);
      }),
    );
    const acks: AckLine[] = outputs.flatMap((o) =>
      o
        .split('\n')
        .filter((l) => l.length > 0)
        .map((l) => JSON.parse(l) as AckLine),
    );
    console.log(
      `writers: ${acks.length} acknowledged calls, ` +
        `${acks.reduce((n, a) => n + a.events.length, 0)} events, ${Date.now() - started} ms`,
    );

    // Every acknowledged result agrees with the final state.
    const okIds = new Set<bigint>();
    let okCount = funding.length + contested.length;
    const resultsById = new Map<bigint, string[]>();
    const events: { input: TransferInput; result: string }[] = [];
    for (const a of acks) {
      a.events.forEach((e, i) => {
        const input = deserialize(e);
        const result = a.results[i]!;
        events.push({ input, result });
        const list = resultsById.get(input.id) ?? [];
        list.push(result);
        resultsById.set(input.id, list);
        if (result === 'ok') {
          expect(okIds.has(input.id), `transfer ${input.id} answered ok twice`).toBe(false);
          okIds.add(input.id);
          okCount++;
        }
      });
    }
    const ids = [...resultsById.keys()];
    const stored = new Map<bigint, Transfer>();
    for (let i = 0; i < ids.length; i += 8000) {
      for (const t of await store.lookupTransfers(ids.slice(i, i + 8000))) stored.set(t.id, t);
    }
    for (const { input, result } of events) {
      const t = stored.get(input.id);
      if (result === 'ok' || result === 'exists') {
        expect(t, `acknowledged ${result} for ${input.id} but it is not stored`).toBeDefined();
        expect(t!.flags).toBe(input.flags ?? 0);
        if (input.pendingId !== undefined && input.pendingId !== 0n) {
          expect(t!.pendingId).toBe(input.pendingId);
        } else {
          expect(t!.debitAccountId).toBe(input.debitAccountId);
          expect(t!.creditAccountId).toBe(input.creditAccountId);
          expect(t!.amount).toBe(input.amount);
        }
      } else if (!okIds.has(input.id)) {
        expect(t, `${input.id} failed with ${result} everywhere, yet it is stored`).toBeUndefined();
      }
    }
    // Shared ids: exactly one ok each, every other submission `exists`.
    for (const s of shared) {
      const results = resultsById.get(s.id)!;
      expect(results.filter((r) => r === 'ok')).toHaveLength(1);
      expect(results.filter((r) => r !== 'ok' && r !== 'exists')).toEqual([]);
      expect(results).toHaveLength(WORKERS);
    }
    // Contested pendings: at most one post or void succeeded, and the state says which.
    const states = await store.lookupPending(contested);
    for (const pid of contested) {
      const winners = events.filter((e) => e.input.pendingId === pid && e.result === 'ok');
      expect(winners.length, `pending ${pid} resolved ${winners.length} times`).toBeLessThanOrEqual(
        1,
      );
      const state = states.get(pid)!;
      if (winners.length === 1) {
        const post = ((winners[0]!.input.flags ?? 0) & TransferFlags.postPending) !== 0;
        expect(state.status).toBe(post ? 'posted' : 'voided');
      } else {
        expect(state.status).toBe('pending');
      }
    }
    // The workers really ran at once: in commit (timestamp) order, their transfers interleave.
    const order = await store.pool.query(
      'SELECT id FROM transfers WHERE ts > (SELECT max(ts) FROM transfers WHERE id = $1::uuid) ORDER BY ts',
      [contested[contested.length - 1]!.toString(16).padStart(32, '0')],
    );
    let switches = 0;
    let last = -1n;
    for (const row of order.rows as { id: bigint }[]) {
      const worker = row.id >> 100n;
      if (worker !== 0n && worker !== last) switches++;
      if (worker !== 0n) last = worker;
    }
    // One after another would make exactly 3 switches (workers start at different times
    // on a loaded machine, so the overlap varies; unloaded it is in the hundreds).
    expect(switches, 'transfers of different workers interleave').toBeGreaterThan(3);
    // Nothing lost, nothing extra: the stored transfers are exactly the ok ones.
    const count = await store.pool.query('SELECT count(*)::bigint AS n FROM transfers');
    expect(Number(count.rows[0].n)).toBe(okCount);
    // Conflicts really happened: some events were refused by a limit or a race.
    const refused = events.filter((e) => e.result !== 'ok' && e.result !== 'exists').length;
    expect(refused).toBeGreaterThan(0);
    expect(await ledgerViolations(store.pool)).toEqual([]);
  });
});

function rotate<T>(xs: readonly T[], by: number): T[] {
  const k = by % xs.length;
  return [...xs.slice(k), ...xs.slice(0, k)];
}
