/**
 * The SQLite store keeps the pending transfers it created in memory, so the post or void
 * that resolves one reads no row (SqliteStore, #pending). It must answer exactly as the
 * database would: after every kind of resolution (post, partial post, void, expiry, in the
 * same batch or a later one, in a linked chain that fails), with any cache size, and after
 * another connection resolved a reservation behind its back.
 */
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Ledger } from '../../src/ledger/ledger.ts';
import { TransferFlags, type TransferInput } from '../../src/ledger/types.ts';
import { SqliteStore } from '../../src/stores/sqlite/sqlite-store.ts';

const dir = mkdtempSync(join(tmpdir(), 'remitnet-pending-cache-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const newPath = () => join(dir, `p-${++files}.sqlite`);

const SECOND = 1_000_000_000n;
const ACCOUNTS = [1n, 2n, 3n];

async function open(path: string, pendingCacheMax?: number) {
  let now = 1_000n * SECOND;
  const store = await SqliteStore.open({
    path,
    checkpoint: 'inline',
    ...(pendingCacheMax === undefined ? {} : { pendingCacheMax }),
  });
  const ledger = new Ledger(store, { clock: () => now });
  return {
    ledger,
    advance: (s: number) => (now += BigInt(s) * SECOND),
    close: () => ledger.close(),
  };
}

const reserve = (id: bigint, amount: bigint, timeout = 0, flags = 0): TransferInput => ({
  id,
  debitAccountId: 1n,
  creditAccountId: 2n,
  amount,
  ledger: 840,
  code: 1,
  flags: TransferFlags.pending | flags,
  timeout,
});
const resolve = (id: bigint, pendingId: bigint, post: boolean, amount = 0n, flags = 0) => ({
  id,
  pendingId,
  amount,
  flags: (post ? TransferFlags.postPending : TransferFlags.voidPending) | flags,
});

describe('SQLite pending transfer cache', () => {
  it('a post after another connection voided the reservation is refused as voided', async () => {
    const path = newPath();
    const a = await open(path);
    const b = await open(path);
    try {
      await a.ledger.createAccounts(ACCOUNTS.map((id) => ({ id, ledger: 840, code: 1 })));
      expect(await a.ledger.createTransfers([reserve(10n, 100n)])).toEqual(['ok']);
      expect(await b.ledger.createTransfers([resolve(11n, 10n, false)])).toEqual(['ok']);
      expect(await a.ledger.createTransfers([resolve(12n, 10n, true)])).toEqual([
        'pending_transfer_already_voided',
      ]);
      const [debit] = await a.ledger.lookupAccounts([1n]);
      expect(debit!.debitsPending).toBe(0n);
      expect(debit!.debitsPosted).toBe(0n);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('a resolution that finds its reservation no longer pending fails the batch, which changes nothing', async () => {
    const w = await open(newPath());
    try {
      await w.ledger.createAccounts(ACCOUNTS.map((id) => ({ id, ledger: 840, code: 1 })));
      expect(await w.ledger.createTransfers([reserve(10n, 100n), reserve(20n, 5n)])).toEqual([
        'ok',
        'ok',
      ]);
      // Behind the store's back, on its own connection (so no data_version change): the
      // cache still says pending, the row does not. The multi-row UPDATE must notice.
      const db = (w.ledger.store as SqliteStore).db;
      db.prepare(
        'UPDATE pending_transfers SET status = 1 WHERE ts = (SELECT ts FROM transfers WHERE id = ?)',
      ).run(Buffer.from('0000000000000000000000000000000a', 'hex'));
      await expect(
        w.ledger.createTransfers([resolve(11n, 10n, true), resolve(21n, 20n, false)]),
      ).rejects.toThrow(/invariant: 1 of the pending transfers 10, 20 were not pending/);
      const [debit] = await w.ledger.lookupAccounts([1n]);
      expect(debit!.debitsPending).toBe(105n);
      expect(debit!.debitsPosted).toBe(0n);
      expect(await w.ledger.lookupTransfers([11n, 21n])).toEqual([]);
    } finally {
      await w.close();
    }
  });

  type Op =
    | { kind: 'reserve'; slot: number; amount: number; timeout: number }
    | { kind: 'post'; slot: number; part: boolean }
    | { kind: 'void'; slot: number }
    | { kind: 'again'; slot: number; amount: number }
    | { kind: 'advance'; s: number }
    | { kind: 'expire' };

  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({
      kind: fc.constant('reserve' as const),
      slot: fc.nat(7),
      amount: fc.integer({ min: 1, max: 50 }),
      timeout: fc.constantFrom(0, 1, 3),
    }),
    fc.record({ kind: fc.constant('post' as const), slot: fc.nat(7), part: fc.boolean() }),
    fc.record({ kind: fc.constant('void' as const), slot: fc.nat(7) }),
    fc.record({
      kind: fc.constant('again' as const),
      slot: fc.nat(7),
      amount: fc.integer({ min: 1, max: 50 }),
    }),
    fc.record({ kind: fc.constant('advance' as const), s: fc.integer({ min: 1, max: 4 }) }),
    fc.record({ kind: fc.constant('expire' as const) }),
  );

  type Script = { ops: Op[]; linked: boolean }[];
  /** Batches of ops; a batch may be one linked chain (all of it or none). */
  const script: fc.Arbitrary<Script> = fc.array(
    fc.record({ ops: fc.array(op, { maxLength: 6 }), linked: fc.boolean() }),
    { minLength: 1, maxLength: 25 },
  );

  /** Runs a script; returns every answer and the final balances. */
  async function run(path: string, pendingCacheMax: number | undefined, batches: Script) {
    const w = await open(path, pendingCacheMax);
    const out: unknown[] = [];
    let next = 1_000n;
    try {
      await w.ledger.createAccounts(ACCOUNTS.map((id) => ({ id, ledger: 840, code: 1 })));
      for (const batch of batches) {
        const events: TransferInput[] = [];
        for (const o of batch.ops) {
          const pendingId = o.kind === 'advance' || o.kind === 'expire' ? 0n : BigInt(100 + o.slot);
          if (o.kind === 'reserve') events.push(reserve(pendingId, BigInt(o.amount), o.timeout));
          else if (o.kind === 'again') events.push(reserve(pendingId, BigInt(o.amount)));
          else if (o.kind === 'post')
            events.push(resolve(next++, pendingId, true, o.part ? 1n : 0n));
          else if (o.kind === 'void') events.push(resolve(next++, pendingId, false));
          else if (o.kind === 'advance') w.advance(o.s);
          else out.push(await w.ledger.expire());
        }
        if (batch.linked)
          events.forEach((e, i) => {
            if (i < events.length - 1) (e as { flags: number }).flags |= TransferFlags.linked;
          });
        if (events.length > 0) out.push(await w.ledger.createTransfers(events));
      }
      out.push(await w.ledger.lookupAccounts(ACCOUNTS));
      return out;
    } finally {
      await w.close();
    }
  }

  it('answers every batch as the database does, whatever the cache holds', async () => {
    await fc.assert(
      fc.asyncProperty(script, async (batches) => {
        const plain = await run(newPath(), 0, batches);
        expect(await run(newPath(), 2, batches)).toEqual(plain);
        expect(await run(newPath(), undefined, batches)).toEqual(plain);
      }),
      { numRuns: 60 },
    );
  });
});
