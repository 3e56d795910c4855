/**
 * The happy path for 1, 2 and 3 hops with currency exchange, checked against the ledger to
 * the last minor unit, on SQLite (and PostgreSQL, see lifecycle-postgres.test.ts).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { RemitnetConfig } from '../../src/remittances/index.ts';
import { commissionId, inFlightId, positionId, type QuoteLeg } from '../../src/network/index.ts';
import {
  asAgent,
  key,
  koreanCorridor,
  makeWorld,
  OPERATOR,
  storeKinds,
  type World,
} from './support.ts';

let world: World | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

export async function balances(w: World, ids: bigint[]): Promise<Map<bigint, bigint>> {
  const accounts = await w.ledger.lookupAccounts(ids);
  return new Map(accounts.map((a) => [a.id, a.creditsPosted - a.debitsPosted]));
}

export async function pendingTotal(w: World, ids: bigint[]): Promise<bigint> {
  const accounts = await w.ledger.lookupAccounts(ids);
  return accounts.reduce((s, a) => s + a.debitsPending + a.creditsPending, 0n);
}

export async function runToCompletion(
  w: World,
  opts: { hops: 1 | 2 | 3 },
): Promise<{ legs: readonly QuoteLeg[]; remittanceId: string; payoutCode: string }> {
  const { rn } = w;
  const c = await koreanCorridor(rn, { hops: opts.hops });
  const { quotes } = await rn.network.quote({
    originAgentId: c.seoul.id,
    payoutCountry: 'KP',
    payoutRegion: 'Ryanggang',
    payoutCurrency: 'CNY',
    sendCurrency: 'KRW',
    sendAmountMinor: 1_000_000n,
  });
  const q = quotes[0]!;
  expect(q.hops).toBe(opts.hops);
  const created = await rn.remittances.create(
    { quoteId: q.id, idempotencyKey: key(), senderId: c.sender, recipientId: c.recipient },
    asAgent(c.seoul),
  );
  const id = created.remittance.id;
  let r = await rn.remittances.fund(id, asAgent(c.seoul));
  expect(r.state).toBe('funded');
  for (let hop = 1; hop <= opts.hops; hop++) {
    r = await rn.remittances.accept(id, asAgent({ id: q.legs[hop]!.agentId }));
  }
  expect(r.state).toBe('ready');
  r = await rn.remittances.payout(id, { code: created.payoutCode! }, asAgent(c.hyesan));
  expect(r.state).toBe('completed');
  return { legs: q.legs, remittanceId: id, payoutCode: created.payoutCode! };
}

for (const kind of await storeKinds()) {
  const mk = (config: Partial<RemitnetConfig> = {}) => makeWorld(config, kind);
  describe(`on ${kind}`, () => {
    describe('happy path', () => {
      it('3 hops: Seoul -> Yanji (KRW->CNY) -> Changbai -> Hyesan, as docs/accounting.md works it', async () => {
        world = await mk();
        const w = world;
        const c = await koreanCorridor(w.rn, { hops: 3 });
        const { quotes } = await w.rn.network.quote({
          originAgentId: c.seoul.id,
          payoutCountry: 'KP',
          payoutRegion: 'Ryanggang',
          payoutCurrency: 'CNY',
          sendCurrency: 'KRW',
          sendAmountMinor: 1_000_000n,
        });
        const q = quotes[0]!;
        expect(
          q.legs.map((l) => [l.currencyIn, l.amountInMinor, l.commissionMinor, l.amountOutMinor]),
        ).toEqual([
          ['KRW', 1_000_000n, 0n, 1_000_000n],
          ['KRW', 1_000_000n, 100_000n, 450_000n],
          ['CNY', 450_000n, 45_000n, 405_000n],
          ['CNY', 405_000n, 40_500n, 364_500n],
        ]);
        expect(q.deliverAmountMinor).toBe(364_500n);
        expect(q.totalCost.referenceDeliverMinor).toBe(530_000n);
        expect(q.totalCost.percent).toBe('31.23');
        expect(q.totalCost.feesMinor + q.totalCost.fxMarginMinor).toBe(530_000n - 364_500n);

        const created = await w.rn.remittances.create(
          { quoteId: q.id, idempotencyKey: key(), senderId: c.sender, recipientId: c.recipient },
          asAgent(c.seoul),
        );
        expect(created.payoutCode).toMatch(/^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{3}$/);
        const id = created.remittance.id;
        await w.rn.remittances.fund(id, asAgent(c.seoul));
        const inFlight = [inFlightId('KRW'), inFlightId('CNY')];
        expect(await pendingTotal(w, inFlight)).toBeGreaterThan(0n);
        await w.rn.remittances.accept(id, asAgent(c.yanji));
        await w.rn.remittances.accept(id, asAgent(c.changbai));
        const ready = await w.rn.remittances.accept(id, asAgent(c.hyesan));
        expect(ready.state).toBe('ready');
        const done = await w.rn.remittances.payout(
          id,
          { code: created.payoutCode! },
          asAgent(c.hyesan),
        );
        expect(done.state).toBe('completed');

        const ids = [
          positionId(c.seoul.id, 'KRW'),
          positionId(c.yanji.id, 'KRW'),
          positionId(c.yanji.id, 'CNY'),
          positionId(c.hyesan.id, 'CNY'),
          commissionId(c.yanji.id, 'KRW'),
          commissionId(c.changbai.id, 'CNY'),
          commissionId(c.hyesan.id, 'CNY'),
          ...inFlight,
        ];
        const b = await balances(w, ids);
        const limit = 1_000_000_000_000n;
        expect(b.get(positionId(c.seoul.id, 'KRW'))! - limit).toBe(-1_000_000n); // Seoul owes the sent cash
        expect(b.get(positionId(c.yanji.id, 'KRW'))! - limit).toBe(900_000n); // owed the KRW it converted
        expect(b.get(positionId(c.yanji.id, 'CNY'))! - limit).toBe(-450_000n); // owes the CNY it handed on
        expect(b.get(positionId(c.hyesan.id, 'CNY'))! - limit).toBe(364_500n); // paid out from its cash
        expect(b.get(commissionId(c.yanji.id, 'KRW'))).toBe(100_000n);
        expect(b.get(commissionId(c.changbai.id, 'CNY'))).toBe(45_000n);
        expect(b.get(commissionId(c.hyesan.id, 'CNY'))).toBe(40_500n);
        expect(b.get(inFlightId('KRW'))).toBe(0n);
        expect(b.get(inFlightId('CNY'))).toBe(0n);
        expect(await pendingTotal(w, ids)).toBe(0n);

        const hyesan = await w.rn.network.getAgent(c.hyesan.id);
        expect(hyesan.cashOnHand.CNY).toBe(1_000_000_000_000n - 364_500n);
        const history = await w.rn.remittances.history(id);
        expect(history.map((h) => h.event)).toEqual([
          'created',
          'funded',
          'hop_accepted',
          'hop_accepted',
          'hop_accepted',
          'ready',
          'paid',
          'completed',
        ]);
        const timeline = await w.rn.remittances.timeline(id);
        expect(timeline.map((t) => t.message).join(' | ')).toContain(
          'Accepted by an agent in Yanji',
        );
        expect(JSON.stringify(timeline)).not.toContain('Yanji broker');
      });

      for (const hops of [1, 2] as const) {
        it(`${hops} hop(s) with KRW -> CNY exchange`, async () => {
          world = await mk();
          const { legs } = await runToCompletion(world, { hops });
          const last = legs[legs.length - 1]!;
          expect(last.currencyOut).toBe('CNY');
          const b = await balances(world, [inFlightId('KRW'), inFlightId('CNY')]);
          expect([...b.values()]).toEqual([0n, 0n]);
        });
      }

      it('a quote fixing the amount delivered delivers exactly that', async () => {
        world = await mk();
        const { rn } = world;
        const c = await koreanCorridor(rn, { hops: 2 });
        const { quotes } = await rn.network.quote({
          originAgentId: c.seoul.id,
          payoutCountry: 'KP',
          payoutRegion: 'Ryanggang',
          payoutCurrency: 'CNY',
          sendCurrency: 'KRW',
          deliverAmountMinor: 300_001n,
        });
        const q = quotes[0]!;
        expect(q.fixed).toBe('deliver');
        expect(q.deliverAmountMinor).toBe(300_001n);
        const sent = q.sendAmountMinor;
        // one won less would not be enough
        const lower = await rn.network.quote({
          originAgentId: c.seoul.id,
          payoutCountry: 'KP',
          payoutRegion: 'Ryanggang',
          payoutCurrency: 'CNY',
          sendCurrency: 'KRW',
          sendAmountMinor: sent - 1n,
        });
        expect(lower.quotes[0]!.deliverAmountMinor).toBeLessThan(300_001n);
        const legsSum = q.legs.reduce(
          (s, l) => s + (l.index === q.legs.length - 1 ? l.amountOutMinor : 0n),
          0n,
        );
        expect(legsSum).toBe(300_001n);
      });

      it('the same idempotency key returns the same remittance, without the code', async () => {
        world = await mk();
        const { rn } = world;
        const c = await koreanCorridor(rn, { hops: 2 });
        const { quotes } = await rn.network.quote({
          originAgentId: c.seoul.id,
          payoutCountry: 'KP',
          payoutRegion: 'Ryanggang',
          payoutCurrency: 'CNY',
          sendCurrency: 'KRW',
          sendAmountMinor: 500_000n,
        });
        const input = {
          quoteId: quotes[0]!.id,
          idempotencyKey: key(),
          senderId: c.sender,
          recipientId: c.recipient,
        };
        const [a, b] = await Promise.all([
          rn.remittances.create(input, asAgent(c.seoul)),
          rn.remittances.create(input, asAgent(c.seoul)),
        ]);
        expect(a.remittance.id).toBe(b.remittance.id);
        expect([a.replayed, b.replayed].sort()).toEqual([false, true]);
        expect([a.payoutCode, b.payoutCode].filter((x) => x !== undefined)).toHaveLength(1);
        await expect(
          rn.remittances.create({ ...input, recipientId: c.sender }, OPERATOR),
        ).rejects.toMatchObject({ code: 'idempotency_key_reused' });
      });
    });
  });
}
