/**
 * Races and crashes: two actors at once, a payout racing its deadline, duplicate requests,
 * and a crash between the ledger call and the recorded outcome (recover re-drives it).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { RemitnetConfig } from '../../src/remittances/index.ts';
import type { Ledger } from '../../src/ledger/index.ts';
import {
  asAgent,
  createFrom,
  koreanCorridor,
  makeWorld,
  storeKinds,
  openValue,
  OPERATOR,
  type World,
} from './support.ts';

let world: World | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

function settled<T>(ps: Promise<T>[]) {
  return Promise.allSettled(ps);
}

for (const kind of await storeKinds()) {
  const mk = (config: Partial<RemitnetConfig> = {}) => makeWorld(config, kind);
  describe(`on ${kind}`, () => {
    describe('races', () => {
      it('the same hop accepting twice at once: one acceptance, one clear conflict', async () => {
        world = await mk();
        const { rn } = world;
        const c = await koreanCorridor(rn, { hops: 2 });
        const { id } = await createFrom(rn, c);
        await rn.remittances.fund(id, asAgent(c.seoul));
        const results = await settled([
          rn.remittances.accept(id, asAgent(c.yanji)),
          rn.remittances.accept(id, asAgent(c.yanji)),
        ]);
        const ok = results.filter((r) => r.status === 'fulfilled');
        const failed = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
        expect(ok).toHaveLength(1);
        expect(failed).toHaveLength(1);
        expect(['version_conflict', 'remittance_busy', 'transition_not_allowed']).toContain(
          (failed[0]!.reason as { code: string }).code,
        );
        const r = await rn.remittances.get(id);
        expect(r.acceptedHops).toBe(1);
        expect(r.pendingStep).toBeUndefined();
      });

      it('a hop accepting while the sender cancels: exactly one wins, and the ledger agrees', async () => {
        world = await mk();
        const { rn } = world;
        const c = await koreanCorridor(rn, { hops: 2 });
        const { id } = await createFrom(rn, c);
        await rn.remittances.fund(id, asAgent(c.seoul));
        const results = await settled([
          rn.remittances.accept(id, asAgent(c.yanji)),
          rn.remittances.cancel(id, { kind: 'customer', id: c.sender }, 'changed my mind'),
        ]);
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        const r = await rn.remittances.get(id);
        if (r.state === 'refunded') {
          expect(await openValue(world, [c.seoul, c.yanji, c.hyesan])).toBe(0n);
        } else {
          expect(r.acceptedHops).toBe(1);
          const done = await rn.remittances.cancel(id, OPERATOR, 'second try');
          expect(done.state).toBe('refunded');
          expect(await openValue(world, [c.seoul, c.yanji, c.hyesan])).toBe(0n);
        }
      });

      it('a payout racing its deadline: paid or refunded, never both', async () => {
        for (let i = 0; i < 6; i++) {
          world = await mk({ payoutWindow_s: 3600 });
          const { rn } = world;
          const c = await koreanCorridor(rn, { hops: 1 });
          const { id, code } = await createFrom(rn, c);
          await rn.remittances.fund(id, asAgent(c.seoul));
          const ready = await rn.remittances.accept(id, asAgent(c.hyesan));
          world.advance(ready.payoutDeadline_ms! - world.now() - 1);
          const ps: Promise<unknown>[] = [
            rn.remittances.payout(id, { code }, asAgent(c.hyesan)),
            rn.remittances.sweep(ready.payoutDeadline_ms!),
          ];
          if (i % 2 === 1) ps.reverse();
          await settled(ps);
          const r = await rn.remittances.get(id);
          const events = (await rn.remittances.history(id)).map((h) => h.event);
          expect(['completed', 'refunded']).toContain(r.state);
          expect(events.includes('completed') && events.includes('refunded')).toBe(false);
          expect(await openValue(world, [c.seoul, c.hyesan])).toBe(0n);
          await world.close();
          world = undefined;
        }
      });

      it('duplicate fund requests: funded once', async () => {
        world = await mk();
        const { rn } = world;
        const c = await koreanCorridor(rn, { hops: 1 });
        const { id } = await createFrom(rn, c);
        const results = await settled([
          rn.remittances.fund(id, asAgent(c.seoul)),
          rn.remittances.fund(id, asAgent(c.seoul)),
          rn.remittances.fund(id, OPERATOR),
        ]);
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        await expect(rn.remittances.fund(id, asAgent(c.seoul))).rejects.toMatchObject({
          code: 'transition_not_allowed',
        });
        const seoul = await rn.network.getAgent(c.seoul.id);
        expect(seoul.cashOnHand.KRW).toBe(1_000_000_000_000n + 1_000_000n);
      });
    });

    describe('crash recovery', () => {
      function breakLedger(ledger: Ledger, mode: 'before' | 'after'): () => void {
        const real = ledger.createTransfers.bind(ledger);
        ledger.createTransfers = async (batch) => {
          if (mode === 'after') await real(batch);
          throw new Error('simulated crash');
        };
        return () => {
          ledger.createTransfers = real;
        };
      }

      for (const mode of ['before', 'after'] as const) {
        it(`a crash ${mode} the ledger applied a step: recover() finishes it exactly once`, async () => {
          world = await mk();
          const { rn } = world;
          const c = await koreanCorridor(rn, { hops: 2 });
          const { id, code } = await createFrom(rn, c);
          await rn.remittances.fund(id, asAgent(c.seoul));
          const heal = breakLedger(world.ledger, mode);
          await expect(rn.remittances.accept(id, asAgent(c.yanji))).rejects.toMatchObject({
            code: 'ledger_unavailable',
          });
          heal();
          const stuck = await rn.remittances.get(id);
          expect(stuck.pendingStep).toBe('accept:1');
          await expect(rn.remittances.cancel(id, OPERATOR, 'meanwhile')).rejects.toMatchObject({
            code: 'remittance_busy',
          });
          expect(await rn.remittances.recover()).toEqual({ redriven: 1, failed: 0 });
          const r = await rn.remittances.get(id);
          expect(r.pendingStep).toBeUndefined();
          expect(r.acceptedHops).toBe(1);
          await rn.remittances.accept(id, asAgent(c.hyesan));
          await rn.remittances.payout(id, { code }, asAgent(c.hyesan));
          expect(await openValue(world, [c.seoul, c.yanji, c.hyesan])).toBe(0n);
        });
      }

      it('a crash during the payout: the remittance stays paid and recover() completes it', async () => {
        world = await mk();
        const { rn } = world;
        const c = await koreanCorridor(rn, { hops: 1 });
        const { id, code } = await createFrom(rn, c);
        await rn.remittances.fund(id, asAgent(c.seoul));
        await rn.remittances.accept(id, asAgent(c.hyesan));
        const heal = breakLedger(world.ledger, 'after');
        await expect(rn.remittances.payout(id, { code }, asAgent(c.hyesan))).rejects.toMatchObject({
          code: 'ledger_unavailable',
        });
        heal();
        expect((await rn.remittances.get(id)).state).toBe('paid');
        // the sweeper never refunds a paid remittance, even past its deadline
        world.advance(30 * 24 * 3_600_000);
        await rn.remittances.sweep();
        expect((await rn.remittances.get(id)).state).toBe('paid');
        await rn.remittances.recover();
        expect((await rn.remittances.get(id)).state).toBe('completed');
      });
    });
  });
}

describe('lists', () => {
  it('by agent and state, with cursor pagination', async () => {
    const w = await makeWorld();
    try {
      const { rn } = w;
      const c = await koreanCorridor(rn, { hops: 2 });
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push((await createFrom(rn, c, 100_000n + BigInt(i))).id);
      await rn.remittances.fund(ids[0]!, asAgent(c.seoul));
      const first = await rn.remittances.list({ agentId: c.yanji.id, limit: 2 });
      expect(first.items.map((r) => r.id)).toEqual(ids.slice(0, 2));
      const second = await rn.remittances.list({
        agentId: c.yanji.id,
        limit: 2,
        cursor: first.nextCursor!,
      });
      expect(second.items.map((r) => r.id)).toEqual(ids.slice(2, 4));
      const funded = await rn.remittances.list({ state: 'funded' });
      expect(funded.items.map((r) => r.id)).toEqual([ids[0]]);
      await expect(rn.remittances.list({ cursor: 'nonsense' })).rejects.toMatchObject({
        code: 'cursor_invalid',
      });
    } finally {
      await w.close();
    }
  });
});
