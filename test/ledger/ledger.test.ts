/**
 * The Ledger around the store, on every store of the matrix: group commit, paging of an
 * account's transfers, balances as of past times, expiry without further writes, and ids.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { IdGenerator, hexToId, idToHex, newId } from '../../src/ledger/ids.ts';
import { Ledger } from '../../src/ledger/ledger.ts';
import type { CreateTransferResult } from '../../src/ledger/results.ts';
import type { LedgerStore } from '../../src/ledger/store.ts';
import {
  AccountFlags,
  BATCH_MAX,
  MAX_AMOUNT,
  NS_PER_S,
  TransferFlags,
  U16_MAX,
  U32_MAX,
  U64_MAX,
  type AccountTransfersFilter,
  type Transfer,
  type TransferInput,
} from '../../src/ledger/types.ts';
import { SqliteStore } from '../../src/stores/sqlite/sqlite-store.ts';
import { storeMatrix } from '../support/stores.ts';
import { LedgerModel } from './model.ts';

const USD = 840;
const P = TransferFlags.pending;
const LINKED = TransferFlags.linked;

const factories = await storeMatrix();

describe.each(factories.map((f) => [f.name, f] as const))('Ledger on %s', (_n, factory) => {
  let store: LedgerStore;
  let now = 1_750_000_000n * NS_PER_S;
  let space = 0n;
  const clock = () => now;

  beforeAll(async () => {
    store = await factory.create();
  });
  afterAll(async () => {
    await factory.cleanup();
  });

  /** A fresh id range and `n` USD accounts in it. */
  async function accounts(ledger: Ledger, n: number): Promise<{ ids: bigint[]; id: () => bigint }> {
    space += 1n;
    const base = space << 64n;
    let next = base + 1000n;
    const ids = Array.from({ length: n }, (_v, i) => base + BigInt(i + 1));
    now += 100n * NS_PER_S;
    const r = await ledger.createAccounts(ids.map((id) => ({ id, ledger: USD, code: 1 })));
    expect(r).toEqual(ids.map(() => 'ok'));
    return { ids, id: () => next++ };
  }

  /** A store that counts the batches it is given (to see group commit happen). */
  function counting(): { store: LedgerStore; batches: number[] } {
    const batches: number[] = [];
    const proxy = new Proxy(store, {
      get(target, prop, receiver) {
        if (prop === 'createTransfers') {
          return (events: readonly unknown[], at: bigint) => {
            batches.push(events.length);
            return target.createTransfers(events as never, at);
          };
        }
        const v: unknown = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    return { store: proxy, batches };
  }

  describe('group commit', () => {
    it('merges concurrent callers; each gets exactly its own results, in order', async () => {
      const { store: spy, batches } = counting();
      const ledger = new Ledger(spy, { clock });
      const { ids, id } = await accounts(ledger, 4);
      const [a, b, c] = ids as [bigint, bigint, bigint];
      const callers: TransferInput[][] = [];
      for (let k = 0; k < 60; k++) {
        const t = (over: Partial<TransferInput> = {}): TransferInput => ({
          id: id(),
          debitAccountId: k % 2 === 0 ? a : b,
          creditAccountId: k % 3 === 0 ? c : a === (k % 2 === 0 ? a : b) ? b : a,
          amount: BigInt(k + 1),
          ledger: USD,
          code: 1,
          ...over,
        });
        switch (k % 6) {
          case 0:
            callers.push([t()]);
            break;
          case 1:
            callers.push([t(), t({ amount: 0n }), t()]); // a failing middle event
            break;
          case 2:
            callers.push([t({ flags: LINKED }), t({ flags: LINKED }), t()]); // a chain that holds
            break;
          case 3:
            callers.push([t({ flags: LINKED }), t({ code: 0 }), t()]); // a chain that breaks
            break;
          case 4:
            callers.push([t(), t({ flags: LINKED })]); // ends linked: goes alone, chain open
            break;
          default: {
            const dup = t();
            callers.push([dup, { ...dup }, { ...dup, amount: 999n }]); // duplicate ids
          }
        }
      }
      // What each call must answer: the calls one by one, in call order, on a model.
      const model = new LedgerModel();
      model.createAccounts(
        ids.map((x) => ({ id: x, ledger: USD, code: 1 })),
        0n,
      );
      const expected = callers.map((batch) => model.createTransfers(batch, 0n));

      const got = await Promise.all(callers.map((batch) => ledger.createTransfers(batch)));
      expect(got).toEqual(expected);
      // The open-chain callers end with linked_event_chain_open (their unlinked first event
      // stands alone) and never broke another call.
      for (let k = 4; k < callers.length; k += 6) {
        expect(got[k]).toEqual(['ok', 'linked_event_chain_open']);
      }
      // Merged: far fewer store batches than callers, every event submitted exactly once.
      expect(batches.length).toBeLessThan(callers.length / 2);
      expect(batches.reduce((x, y) => x + y, 0)).toBe(callers.reduce((x, y) => x + y.length, 0));
      const balances = await ledger.lookupAccounts(ids);
      expect(balances.map((x) => [x.debitsPosted, x.creditsPosted])).toEqual(
        ids.map((x) => {
          const m = model.account(x)!;
          return [m.debitsPosted, m.creditsPosted];
        }),
      );
      await ledger.drain();
    });

    it('a caller whose last event is linked never chains into the next caller', async () => {
      const { store: spy, batches } = counting();
      const ledger = new Ledger(spy, { clock });
      const { ids, id } = await accounts(ledger, 2);
      const [a, b] = ids as [bigint, bigint];
      const t = (over: Partial<TransferInput> = {}): TransferInput => ({
        id: id(),
        debitAccountId: a,
        creditAccountId: b,
        amount: 1n,
        ledger: USD,
        code: 1,
        ...over,
      });
      const first = t();
      const open = t({ flags: LINKED });
      const after = t();
      const failing = t({ amount: 0n });
      const results = await Promise.all([
        ledger.createTransfers([first]),
        ledger.createTransfers([open]),
        ledger.createTransfers([after]),
        ledger.createTransfers([failing]),
      ]);
      expect(results).toEqual([
        ['ok'],
        ['linked_event_chain_open'],
        ['ok'],
        ['amount_must_be_positive'],
      ]);
      // The open call was a store batch of its own.
      expect(batches).toContain(1);
      const stored = await ledger.lookupTransfers([first.id, open.id, after.id]);
      expect(stored.map((x) => x.id)).toEqual([first.id, after.id]);
      await ledger.drain();
    });

    it('respects maxBatch and splits merged groups at call boundaries', async () => {
      const { store: spy, batches } = counting();
      const ledger = new Ledger(spy, { clock, maxBatch: 5 });
      const { ids, id } = await accounts(ledger, 2);
      const [a, b] = ids as [bigint, bigint];
      const calls = Array.from({ length: 10 }, () =>
        Array.from({ length: 3 }, () => ({
          id: id(),
          debitAccountId: a,
          creditAccountId: b,
          amount: 2n,
          ledger: USD,
          code: 1,
        })),
      );
      const results = await Promise.all(calls.map((c) => ledger.createTransfers(c)));
      expect(results).toEqual(calls.map((c) => c.map((): CreateTransferResult => 'ok')));
      expect(batches.every((n) => n <= 5 && n % 3 === 0)).toBe(true);
      const [acc] = await ledger.lookupAccounts([a]);
      expect(acc!.debitsPosted).toBe(60n);
      expect(() => new Ledger(store, { maxBatch: 0 })).toThrow(RangeError);
      expect(() => new Ledger(store, { maxBatch: 8190 })).toThrow(RangeError);
      await ledger.drain();
    });

    it('rejects a malformed call without disturbing the calls merged with it', async () => {
      const ledger = new Ledger(store, { clock });
      const { ids, id } = await accounts(ledger, 2);
      const [a, b] = ids as [bigint, bigint];
      const good = {
        id: id(),
        debitAccountId: a,
        creditAccountId: b,
        amount: 5n,
        ledger: USD,
        code: 1,
      };
      const [ok, bad] = await Promise.allSettled([
        ledger.createTransfers([good]),
        ledger.createTransfers([{ ...good, id: id(), amount: 5 as unknown as bigint }]),
      ]);
      expect(ok).toEqual({ status: 'fulfilled', value: ['ok'] });
      expect(bad.status).toBe('rejected');
      expect(await ledger.createTransfers([])).toEqual([]);
      await ledger.drain();
    });
  });

  describe('fields at the edges of their ranges', () => {
    it('ids, user data and amounts at their limits are stored and read back exactly', async () => {
      const ledger = new Ledger(store, { clock });
      now += 100n * NS_PER_S;
      const hi = (1n << 128n) - 2n; // the largest id allowed
      const top = 1n << 127n;
      const acc = {
        ledger: USD,
        code: U16_MAX,
        userData128: (1n << 128n) - 1n,
        userData64: U64_MAX,
        userData32: U32_MAX,
      };
      const made = await ledger.createAccounts([
        { id: hi, ...acc },
        { id: top, ...acc, userData64: 1n << 63n, userData128: 1n },
      ]);
      expect(made).toEqual(['ok', 'ok']);
      const [a, b] = await ledger.lookupAccounts([hi, top]);
      expect(a).toMatchObject({ id: hi, ...acc });
      expect(b).toMatchObject({ id: top, userData64: 1n << 63n, userData128: 1n });
      expect(await ledger.createAccounts([{ id: hi, ...acc }])).toEqual(['exists']);
      const t = {
        id: hi - 7n,
        debitAccountId: hi,
        creditAccountId: top,
        amount: MAX_AMOUNT,
        ledger: USD,
        code: U16_MAX,
        userData128: (1n << 128n) - 1n,
        userData64: U64_MAX,
        userData32: U32_MAX,
        timeout: U32_MAX,
        flags: P,
      };
      expect(await ledger.createTransfers([t])).toEqual(['ok']);
      expect(await ledger.createTransfers([t])).toEqual(['exists']);
      const [stored] = await ledger.lookupTransfers([t.id]);
      expect(stored).toMatchObject(t);
      const [dr] = await ledger.lookupAccounts([hi]);
      expect(dr!.debitsPending).toBe(MAX_AMOUNT);
      expect((await ledger.lookupPending([t.id])).get(t.id)).toEqual({
        status: 'pending',
        expiresAt: stored!.timestamp + BigInt(U32_MAX) * NS_PER_S,
        resolvedAt: null,
      });
      const page = await ledger.getAccountTransfers({ accountId: top, limit: 10 });
      expect(page.transfers).toEqual([stored]);
      const post = { id: hi - 8n, pendingId: t.id, flags: TransferFlags.postPending };
      expect(await ledger.createTransfers([post])).toEqual(['ok']);
      const [p] = await ledger.lookupTransfers([post.id]);
      // A post takes the pending transfer's fields where it leaves them zero.
      expect(p).toMatchObject({
        amount: MAX_AMOUNT,
        userData128: t.userData128,
        userData64: U64_MAX,
        userData32: U32_MAX,
        code: U16_MAX,
        debitAccountId: hi,
        creditAccountId: top,
        timeout: 0,
      });
      const balance = await ledger.getAccountBalanceAt(top, now + NS_PER_S * 1000n);
      expect(balance.creditsPosted).toBe(MAX_AMOUNT);
      expect(balance.creditsPending).toBe(0n);
    });
  });

  describe('timestamps', () => {
    it('event i of a batch gets base + i, base = max(now, last + 1), failed events included', async () => {
      const ledger = new Ledger(store, { clock });
      const { ids, id } = await accounts(ledger, 2);
      const [a, b] = ids as [bigint, bigint];
      const t = (over: Partial<TransferInput> = {}): TransferInput => ({
        id: id(),
        debitAccountId: a,
        creditAccountId: b,
        amount: 1n,
        ledger: USD,
        code: 1,
        ...over,
      });
      const ts = async (x: TransferInput) => (await ledger.lookupTransfers([x.id]))[0]!.timestamp;
      now += NS_PER_S;
      const first = t();
      const second = t();
      expect(await ledger.createTransfers([t({ amount: 0n }), first, second])).toEqual([
        'amount_must_be_positive',
        'ok',
        'ok',
      ]);
      const base = await ts(first);
      expect(base).toBe(now + 1n);
      expect(await ts(second)).toBe(base + 1n);
      // The clock stands still (or goes back): the next batch starts after the last one.
      expect(await ledger.createTransfers([t({ code: 0 }), t({ code: 0 })])).toEqual([
        'code_must_not_be_zero',
        'code_must_not_be_zero',
      ]);
      now -= NS_PER_S;
      // A batch that names an existing id (a store may first guess it is new, and retry).
      const third = t();
      expect(await ledger.createTransfers([third, { ...first }])).toEqual(['ok', 'exists']);
      expect(await ts(third)).toBe(base + 4n);
      const fourth = t();
      expect(await ledger.createTransfers([fourth])).toEqual(['ok']);
      expect(await ts(fourth)).toBe(base + 6n);
      now += 10n * NS_PER_S;
      const fifth = t();
      expect(await ledger.createTransfers([fifth])).toEqual(['ok']);
      expect(await ts(fifth)).toBe(now);
    });
  });

  describe('getAccountTransfers', () => {
    let ledger: Ledger;
    let account: bigint;
    let all: Transfer[];

    beforeAll(async () => {
      ledger = new Ledger(store, { clock });
      const { ids, id } = await accounts(ledger, 4);
      const [a, b, c, d] = ids as [bigint, bigint, bigint, bigint];
      account = a;
      const made: bigint[] = [];
      // 23 transfers touching a (debit and credit side), and some that do not touch it.
      for (let batch = 0; batch < 5; batch++) {
        const events: TransferInput[] = [];
        for (let k = 0; k < 6; k++) {
          const n = batch * 6 + k;
          const touches = n % 4 !== 3;
          const debit = n % 2 === 0;
          events.push({
            id: id(),
            debitAccountId: touches ? (debit ? a : b) : c,
            creditAccountId: touches ? (debit ? b : a) : d,
            amount: BigInt(n + 1),
            ledger: USD,
            code: 1,
            flags: n % 5 === 0 ? P : 0,
          });
        }
        expect(await ledger.createTransfers(events)).toEqual(events.map(() => 'ok'));
        made.push(...events.map((e) => e.id));
        now += NS_PER_S;
      }
      all = (await ledger.lookupTransfers(made))
        .filter((t) => t.debitAccountId === a || t.creditAccountId === a)
        .sort((x, y) => (x.timestamp < y.timestamp ? -1 : 1));
      expect(all.length).toBe(23);
    });

    async function readAll(filter: Omit<AccountTransfersFilter, 'cursor'>): Promise<Transfer[]> {
      const out: Transfer[] = [];
      let cursor: string | undefined;
      for (let pages = 0; pages < 100; pages++) {
        const page = await ledger.getAccountTransfers({ ...filter, ...(cursor ? { cursor } : {}) });
        expect(page.transfers.length).toBeLessThanOrEqual(filter.limit);
        out.push(...page.transfers);
        if (page.nextCursor === undefined) return out;
        expect(page.transfers.length).toBe(filter.limit);
        cursor = page.nextCursor;
      }
      throw new Error('paging did not end');
    }

    it('pages forward and backward with no duplicates or gaps, for every page size', async () => {
      for (const limit of [1, 2, 3, 4, 5, 22, 23, 24, 100]) {
        expect(await readAll({ accountId: account, limit })).toEqual(all);
        expect(await readAll({ accountId: account, limit, reversed: true })).toEqual(
          [...all].reverse(),
        );
      }
    });

    it('filters by side', async () => {
      const debits = all.filter((t) => t.debitAccountId === account);
      const credits = all.filter((t) => t.creditAccountId === account);
      expect(debits.length).toBeGreaterThan(0);
      expect(credits.length).toBeGreaterThan(0);
      for (const limit of [1, 3, 50]) {
        expect(await readAll({ accountId: account, limit, side: 'debits' })).toEqual(debits);
        expect(await readAll({ accountId: account, limit, side: 'credits' })).toEqual(credits);
        expect(await readAll({ accountId: account, limit, side: 'both' })).toEqual(all);
        expect(
          await readAll({ accountId: account, limit, side: 'credits', reversed: true }),
        ).toEqual([...credits].reverse());
      }
    });

    it('filters by time range, both bounds inclusive, in both directions', async () => {
      const lo = all[4]!.timestamp;
      const hi = all[17]!.timestamp;
      const inRange = all.slice(4, 18);
      for (const limit of [1, 4, 14, 15]) {
        const f = { accountId: account, limit, timestampMin: lo, timestampMax: hi };
        expect(await readAll(f)).toEqual(inRange);
        expect(await readAll({ ...f, reversed: true })).toEqual([...inRange].reverse());
        expect(await readAll({ ...f, side: 'debits' })).toEqual(
          inRange.filter((t) => t.debitAccountId === account),
        );
      }
      expect(await readAll({ accountId: account, limit: 5, timestampMin: lo })).toEqual(
        all.slice(4),
      );
      expect(
        await readAll({ accountId: account, limit: 5, timestampMax: hi, reversed: true }),
      ).toEqual(all.slice(0, 18).reverse());
      expect(
        await readAll({ accountId: account, limit: 5, timestampMin: hi + 1n, timestampMax: hi }),
      ).toEqual([]);
      expect(
        await readAll({
          accountId: account,
          limit: 5,
          timestampMin: lo + 1n,
          timestampMax: lo + 1n,
        }),
      ).toEqual(all.filter((t) => t.timestamp === lo + 1n));
    });

    it('a cursor, handed back, continues exactly where the page ended', async () => {
      const p1 = await ledger.getAccountTransfers({ accountId: account, limit: 7 });
      expect(p1.transfers).toEqual(all.slice(0, 7));
      const p2 = await ledger.getAccountTransfers({
        accountId: account,
        limit: 7,
        cursor: p1.nextCursor!,
      });
      expect(p2.transfers).toEqual(all.slice(7, 14));
      // The same cursor twice gives the same page (cursors are stateless).
      const again = await ledger.getAccountTransfers({
        accountId: account,
        limit: 7,
        cursor: p1.nextCursor!,
      });
      expect(again).toEqual(p2);
      const r1 = await ledger.getAccountTransfers({ accountId: account, limit: 7, reversed: true });
      const r2 = await ledger.getAccountTransfers({
        accountId: account,
        limit: 7,
        reversed: true,
        cursor: r1.nextCursor!,
      });
      expect([...r1.transfers, ...r2.transfers]).toEqual([...all].reverse().slice(0, 14));
      // An exact fit: the last full page says there is no more.
      const exact = await ledger.getAccountTransfers({ accountId: account, limit: 23 });
      expect(exact.transfers).toEqual(all);
      expect(exact.nextCursor).toBeUndefined();
    });

    it('an unknown account has no transfers', async () => {
      const page = await ledger.getAccountTransfers({ accountId: (space + 1n) << 64n, limit: 10 });
      expect(page).toEqual({ transfers: [] });
    });
  });

  describe('getAccountBalanceAt', () => {
    it('replays history: pendings later posted, voided and expired count only while pending', async () => {
      const ledger = new Ledger(store, { clock });
      const { ids, id } = await accounts(ledger, 2);
      const [a, b] = ids as [bigint, bigint];
      const t = (over: Partial<TransferInput>): TransferInput => ({
        id: id(),
        debitAccountId: a,
        creditAccountId: b,
        ledger: USD,
        code: 1,
        ...over,
      });
      now += NS_PER_S;
      const plain = t({ amount: 1000n });
      const toPost = t({ amount: 100n, flags: P });
      const toVoid = t({ amount: 20n, flags: P });
      const toExpire = t({ amount: 3n, flags: P, timeout: 5 });
      expect(await ledger.createTransfers([plain, toPost, toVoid, toExpire])).toEqual([
        'ok',
        'ok',
        'ok',
        'ok',
      ]);
      now += NS_PER_S;
      const post = t({ amount: 60n, pendingId: toPost.id, flags: TransferFlags.postPending });
      const voided = { id: id(), pendingId: toVoid.id, flags: TransferFlags.voidPending };
      expect(await ledger.createTransfers([post, voided])).toEqual(['ok', 'ok']);
      now += 10n * NS_PER_S;
      expect(await ledger.createTransfers([t({ amount: 7n })])).toEqual(['ok']); // sweeps

      const ts = new Map(
        (await ledger.lookupTransfers([plain.id, toPost.id, toExpire.id, post.id, voided.id])).map(
          (x) => [x.id, x.timestamp],
        ),
      );
      const [expiry] = [(await ledger.lookupPending([toExpire.id])).get(toExpire.id)!];
      expect(expiry.status).toBe('expired');
      expect(expiry.resolvedAt).toBe(ts.get(toExpire.id)! + 5n * NS_PER_S);

      const at = async (time: bigint) => {
        const x = await ledger.getAccountBalanceAt(a, time);
        expect(x.accountId).toBe(a);
        expect(x.timestamp).toBe(time);
        const y = await ledger.getAccountBalanceAt(b, time);
        // Double entry holds at every instant.
        expect([y.creditsPending, y.creditsPosted]).toEqual([x.debitsPending, x.debitsPosted]);
        return [x.debitsPending, x.debitsPosted];
      };
      expect(await at(ts.get(plain.id)! - 1n)).toEqual([0n, 0n]);
      expect(await at(ts.get(plain.id)!)).toEqual([0n, 1000n]);
      expect(await at(ts.get(toExpire.id)!)).toEqual([123n, 1000n]);
      expect(await at(ts.get(post.id)! - 1n)).toEqual([123n, 1000n]);
      expect(await at(ts.get(post.id)!)).toEqual([23n, 1060n]);
      expect(await at(ts.get(voided.id)!)).toEqual([3n, 1060n]);
      expect(await at(expiry.resolvedAt! - 1n)).toEqual([3n, 1060n]);
      expect(await at(expiry.resolvedAt!)).toEqual([0n, 1060n]);
      expect(await at(now + 100n * NS_PER_S)).toEqual([0n, 1067n]);
    });

    it('does not count a reservation past its deadline that no write has swept yet', async () => {
      const ledger = new Ledger(store, { clock });
      const { ids, id } = await accounts(ledger, 2);
      const [a, b] = ids as [bigint, bigint];
      const p = { id: id(), debitAccountId: a, creditAccountId: b, amount: 50n, ledger: USD };
      expect(await ledger.createTransfers([{ ...p, code: 1, flags: P, timeout: 1 }])).toEqual([
        'ok',
      ]);
      const [stored] = await ledger.lookupTransfers([p.id]);
      now += 2n * NS_PER_S; // no write, no read since
      const balance = await ledger.getAccountBalanceAt(a, now);
      expect(balance.debitsPending).toBe(0n);
      const before = await ledger.getAccountBalanceAt(a, stored!.timestamp + NS_PER_S - 1n);
      expect(before.debitsPending).toBe(50n);
    });
  });

  describe('expiry', () => {
    it('lookups never count an expired reservation, with no write after it', async () => {
      const ledger = new Ledger(store, { clock });
      const { ids, id } = await accounts(ledger, 3);
      const [a, b, c] = ids as [bigint, bigint, bigint];
      const p = {
        id: id(),
        debitAccountId: a,
        creditAccountId: b,
        amount: 40n,
        ledger: USD,
        code: 1,
        timeout: 2,
        flags: P | TransferFlags.closingCredit,
      };
      expect(await ledger.createTransfers([p])).toEqual(['ok']);
      const [stored] = await ledger.lookupTransfers([p.id]);
      now = stored!.timestamp + 2n * NS_PER_S - 1n;
      let [acc] = await ledger.lookupAccounts([a]);
      expect(acc!.debitsPending).toBe(40n);
      now += 1n;
      [acc] = await ledger.lookupAccounts([a]);
      expect(acc!.debitsPending).toBe(0n);
      const [credit] = await ledger.lookupAccounts([b]);
      expect(credit!.creditsPending).toBe(0n);
      expect(credit!.closed).toBe(false); // the closing reservation expired: b is open again
      expect((await ledger.lookupPending([p.id])).get(p.id)).toEqual({
        status: 'expired',
        expiresAt: stored!.timestamp + 2n * NS_PER_S,
        resolvedAt: stored!.timestamp + 2n * NS_PER_S,
      });
      expect(
        await ledger.createTransfers([
          { id: id(), debitAccountId: c, creditAccountId: b, amount: 1n, ledger: USD, code: 1 },
        ]),
      ).toEqual(['ok']);
      expect(await ledger.expire()).toBe(0);
    });

    it('after a sweep, a clock that steps back never timestamps a batch before the expiry', async () => {
      const ledger = new Ledger(store, { clock });
      const { ids, id } = await accounts(ledger, 2);
      const [a, b] = ids as [bigint, bigint];
      space += 1n;
      const drc = space << 64n;
      expect(
        await ledger.createAccounts([
          { id: drc, ledger: USD, code: 1, flags: AccountFlags.debitsMustNotExceedCredits },
        ]),
      ).toEqual(['ok']);
      const t = (over: Partial<TransferInput>): TransferInput => ({
        id: id(),
        debitAccountId: drc,
        creditAccountId: b,
        amount: 10n,
        ledger: USD,
        code: 1,
        ...over,
      });
      const reserve = t({ flags: P, timeout: 1 });
      expect(
        await ledger.createTransfers([t({ debitAccountId: a, creditAccountId: drc }), reserve]),
      ).toEqual(['ok', 'ok']);
      const [p] = await ledger.lookupTransfers([reserve.id]);
      const deadline = p!.timestamp + NS_PER_S;
      now = deadline + NS_PER_S;
      expect((await ledger.lookupAccounts([drc]))[0]!.debitsPending).toBe(0n); // swept
      now = deadline - NS_PER_S / 2n; // the wall clock steps back (NTP)
      const spend = t({});
      expect(await ledger.createTransfers([spend])).toEqual(['ok']); // the reservation is gone
      const [s] = await ledger.lookupTransfers([spend.id]);
      // History must agree with what the batch saw: it came after the expiry, and at its
      // own timestamp the account did not owe more than it held.
      expect(s!.timestamp > deadline).toBe(true);
      const at = await ledger.getAccountBalanceAt(drc, s!.timestamp);
      expect(at.debitsPending + at.debitsPosted <= at.creditsPosted).toBe(true);
      now = deadline + 10n * NS_PER_S;
    });

    it('a sweep larger than one batch (8189) expires every reservation', async () => {
      const ledger = new Ledger(store, { clock });
      const { ids, id } = await accounts(ledger, 2);
      const [a, b] = ids as [bigint, bigint];
      const n = BATCH_MAX + 11;
      const events = Array.from({ length: n }, (_v, i) => ({
        id: id(),
        debitAccountId: a,
        creditAccountId: b,
        amount: 1n,
        ledger: USD,
        code: 1,
        flags: P,
        timeout: 1 + (i % 2),
      }));
      for (const chunk of [events.slice(0, BATCH_MAX), events.slice(BATCH_MAX)]) {
        const r = await ledger.createTransfers(chunk);
        expect(r.every((x) => x === 'ok')).toBe(true);
      }
      expect((await ledger.lookupAccounts([a]))[0]!.debitsPending).toBe(BigInt(n));
      now += 3n * NS_PER_S;
      expect(await ledger.expire()).toBe(n);
      const [acc] = await ledger.lookupAccounts([a]);
      expect(acc!.debitsPending).toBe(0n);
      const states = await ledger.lookupPending([events[0]!.id, events[n - 1]!.id]);
      expect([...states.values()].map((s) => s.status)).toEqual(['expired', 'expired']);
      const next = await store.nextExpiry();
      expect(next === null || next > now).toBe(true);
    });

    it('startExpiry sweeps on a timer, with no reads or writes at all', async () => {
      const ledger = new Ledger(store, { clock });
      const { ids, id } = await accounts(ledger, 2);
      const [a, b] = ids as [bigint, bigint];
      const p = {
        id: id(),
        debitAccountId: a,
        creditAccountId: b,
        amount: 9n,
        ledger: USD,
        code: 1,
      };
      expect(await ledger.createTransfers([{ ...p, flags: P, timeout: 1 }])).toEqual(['ok']);
      expect(await store.nextExpiry()).not.toBeNull();
      now += 2n * NS_PER_S;
      // Read the store directly: the Ledger's own reads would sweep.
      expect((await store.lookupAccounts([a]))[0]!.debitsPending).toBe(9n);
      ledger.startExpiry(5);
      try {
        await vi.waitFor(
          async () => {
            expect((await store.lookupAccounts([a]))[0]!.debitsPending).toBe(0n);
          },
          { timeout: 10_000, interval: 5 },
        );
      } finally {
        await ledger.drain(); // stops the timer
      }
      expect((await store.lookupPending([p.id])).get(p.id)?.status).toBe('expired');
    });
  });
});

describe('ids', () => {
  it('are time-ordered: the top 48 bits are the millisecond', () => {
    let ms = 1_700_000_000_000;
    const gen = new IdGenerator(() => ms);
    const a = gen.next();
    ms += 1;
    const b = gen.next();
    expect(a >> 80n).toBe(1_700_000_000_000n);
    expect(b >> 80n).toBe(1_700_000_000_001n);
    expect(b).toBeGreaterThan(a);
  });

  it('increase by one within a millisecond, and stay monotonic when the clock goes back', () => {
    let ms = 1_700_000_000_000;
    const gen = new IdGenerator(() => ms);
    const first = gen.next();
    const second = gen.next();
    expect(second).toBe(first + 1n);
    ms -= 5000; // the wall clock stepped back
    const third = gen.next();
    expect(third).toBe(second + 1n);
    ms += 10_000;
    expect(gen.next()).toBeGreaterThan(third);
  });

  it('are unique and strictly increasing over many calls, from the shared generator too', () => {
    let ms = 1_700_000_000_000;
    let calls = 0;
    const gen = new IdGenerator(() => (calls++ % 7 === 0 ? ++ms : ms));
    let prev = 0n;
    const seen = new Set<bigint>();
    for (let i = 0; i < 20_000; i++) {
      const id = gen.next();
      expect(id > prev).toBe(true);
      expect(id > 0n && id < 1n << 128n).toBe(true);
      seen.add(id);
      prev = id;
    }
    expect(seen.size).toBe(20_000);
    prev = 0n;
    for (let i = 0; i < 5000; i++) {
      const id = newId();
      expect(id > prev).toBe(true);
      prev = id;
    }
  });

  it('two generators in the same millisecond do not collide', () => {
    const ms = () => 1_700_000_000_000;
    const a = new IdGenerator(ms);
    const b = new IdGenerator(ms);
    const ids = new Set<bigint>();
    for (let i = 0; i < 1000; i++) {
      ids.add(a.next());
      ids.add(b.next());
    }
    expect(ids.size).toBe(2000);
  });

  it('hex round trip: 32 digits out, 1..32 hex digits in', () => {
    const id = newId();
    expect(idToHex(id)).toMatch(/^[0-9a-f]{32}$/);
    expect(hexToId(idToHex(id))).toBe(id);
    expect(idToHex(1n)).toBe('0'.repeat(31) + '1');
    expect(hexToId('FF')).toBe(255n);
    expect(hexToId('f'.repeat(32))).toBe((1n << 128n) - 1n);
    for (const bad of ['', 'g', '0x10', '1'.repeat(33), ' 1', '-1']) {
      expect(hexToId(bad)).toBeUndefined();
    }
  });
});

describe('SQLite: two connections on one file', () => {
  it('a write through one connection is seen by the next write through the other', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'remitnet-ledger-'));
    const path = join(dir, 'ledger.db');
    const one = await SqliteStore.open({ path, synchronous: 'NORMAL' });
    const two = await SqliteStore.open({ path, synchronous: 'NORMAL' });
    try {
      let now = 1_760_000_000n * NS_PER_S;
      const l1 = new Ledger(one, { clock: () => now });
      const l2 = new Ledger(two, { clock: () => now });
      const [a, b, c] = [1n, 2n, 3n];
      expect(
        await l1.createAccounts([
          { id: a, ledger: USD, code: 1, flags: AccountFlags.debitsMustNotExceedCredits },
          { id: b, ledger: USD, code: 1 },
          { id: c, ledger: USD, code: 1 },
        ]),
      ).toEqual(['ok', 'ok', 'ok']);
      const t = (id: bigint, dr: bigint, cr: bigint, amount: bigint): TransferInput => ({
        id,
        debitAccountId: dr,
        creditAccountId: cr,
        amount,
        ledger: USD,
        code: 1,
      });
      // Both connections cache account a (holding 10) through a write each.
      expect(await l1.createTransfers([t(10n, b, a, 10n)])).toEqual(['ok']);
      expect(await l2.createTransfers([t(11n, a, c, 4n)])).toEqual(['ok']);
      // Connection one spends the rest; connection two must see it and refuse to overdraw.
      expect(await l1.createTransfers([t(12n, a, c, 6n)])).toEqual(['ok']);
      expect(await l2.createTransfers([t(13n, a, c, 1n)])).toEqual(['exceeds_credits']);
      // Ids taken through the other connection are duplicates here too.
      expect(await l2.createTransfers([t(12n, a, c, 6n)])).toEqual(['exists']);
      now -= NS_PER_S; // and timestamps keep increasing across both
      expect(await l2.createTransfers([t(14n, b, c, 1n)])).toEqual(['ok']);
      expect(await l1.createTransfers([t(15n, b, c, 1n)])).toEqual(['ok']);
      const ts = (await l1.lookupTransfers([10n, 11n, 12n, 14n, 15n])).map((x) => x.timestamp);
      expect([...ts].sort((x, y) => (x < y ? -1 : 1))).toEqual(ts);
      expect(new Set(ts).size).toBe(5);
      const [acc] = await l2.lookupAccounts([a]);
      expect([acc!.debitsPosted, acc!.creditsPosted]).toEqual([10n, 10n]);
    } finally {
      await one.close();
      await two.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
