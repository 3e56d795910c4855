/**
 * The SQLite store's pending transfer cache with two connections on one file (a review's
 * probe, kept): they take turns reserving, posting and voiding, with closing flags, expiry
 * by either connection, linked chains and tiny caches; every answer and every look-up must
 * be what two stores without the cache give. See also sqlite-pending-cache.test.ts.
 */
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Ledger } from '../../src/ledger/ledger.ts';
import { AccountFlags, TransferFlags, type TransferInput } from '../../src/ledger/types.ts';
import { SqliteStore } from '../../src/stores/sqlite/sqlite-store.ts';

const dir = mkdtempSync(join(tmpdir(), 'remitnet-pending-two-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const SECOND = 1_000_000_000n;

async function pair(max: number | undefined) {
  const path = join(dir, `p-${++files}.sqlite`);
  let now = 1_000n * SECOND;
  const open = async () => {
    const store = await SqliteStore.open({
      path,
      checkpoint: 'inline',
      ...(max === undefined ? {} : { pendingCacheMax: max }),
    });
    return new Ledger(store, { clock: () => now });
  };
  const a = await open();
  const b = await open();
  return { ls: [a, b], advance: (s: number) => (now += BigInt(s) * SECOND) };
}

type Op =
  | { k: 'reserve'; who: number; slot: number; amount: number; timeout: number; close: boolean }
  | { k: 'post'; who: number; slot: number; part: boolean }
  | { k: 'void'; who: number; slot: number }
  | { k: 'again'; who: number; slot: number }
  | { k: 'advance'; s: number }
  | { k: 'expire'; who: number };

const who = fc.nat(1);
const slot = fc.nat(5);
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    k: fc.constant('reserve' as const),
    who,
    slot,
    amount: fc.integer({ min: 1, max: 60 }),
    timeout: fc.constantFrom(0, 1, 2),
    close: fc.boolean(),
  }),
  fc.record({ k: fc.constant('post' as const), who, slot, part: fc.boolean() }),
  fc.record({ k: fc.constant('void' as const), who, slot }),
  fc.record({ k: fc.constant('again' as const), who, slot }),
  fc.record({ k: fc.constant('advance' as const), s: fc.integer({ min: 1, max: 3 }) }),
  fc.record({ k: fc.constant('expire' as const), who }),
);

async function run(max: number | undefined, ops: Op[][]) {
  const w = await pair(max);
  const out: unknown[] = [];
  let next = 1_000n;
  try {
    await w.ls[0]!.createAccounts([
      { id: 1n, ledger: 840, code: 1, flags: AccountFlags.debitsMustNotExceedCredits },
      { id: 2n, ledger: 840, code: 1 },
      { id: 3n, ledger: 840, code: 1 },
    ]);
    await w.ls[0]!.createTransfers([
      { id: 9n, debitAccountId: 3n, creditAccountId: 1n, amount: 200n, ledger: 840, code: 1 },
    ]);
    for (const batch of ops) {
      // one batch per connection in turn: events of the same `who` together
      for (const side of [0, 1]) {
        const events: TransferInput[] = [];
        for (const o of batch) {
          if (o.k === 'advance') {
            if (side === 0) w.advance(o.s);
            continue;
          }
          if (o.who !== side) continue;
          if (o.k === 'expire') {
            out.push(['expire', side, await w.ls[side]!.expire()]);
            continue;
          }
          const pid = BigInt(100 + o.slot);
          if (o.k === 'reserve' || o.k === 'again')
            events.push({
              id: pid,
              debitAccountId: 1n,
              creditAccountId: 2n,
              amount: o.k === 'reserve' ? BigInt(o.amount) : 7n,
              ledger: 840,
              code: 1,
              timeout: o.k === 'reserve' ? o.timeout : 0,
              flags:
                TransferFlags.pending |
                (o.k === 'reserve' && o.close ? TransferFlags.closingCredit : 0),
            });
          else
            events.push({
              id: next++,
              pendingId: pid,
              amount: o.k === 'post' && o.part ? 1n : 0n,
              flags: o.k === 'post' ? TransferFlags.postPending : TransferFlags.voidPending,
            });
        }
        if (events.length > 0) out.push([side, await w.ls[side]!.createTransfers(events)]);
      }
    }
    for (const l of w.ls) {
      out.push(await l.lookupAccounts([1n, 2n, 3n]));
      out.push([...(await l.lookupPending([100n, 101n, 102n, 103n, 104n, 105n])).entries()]);
    }
    return out;
  } finally {
    for (const l of w.ls) await l.close();
  }
}

describe('SQLite pending transfer cache, two connections on one file', () => {
  it('answers as stores without the cache', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(op, { maxLength: 6 }), { minLength: 1, maxLength: 20 }),
        async (ops) => {
          const plain = await run(0, ops);
          expect(await run(1, ops)).toEqual(plain);
          expect(await run(undefined, ops)).toEqual(plain);
        },
      ),
      { numRuns: 80 },
    );
  }, 240_000);
});
