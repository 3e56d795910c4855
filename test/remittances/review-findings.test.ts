/**
 * Review findings: each test states a property the project promises that the reviewed code
 * broke (each failed then; each passes since its fix, see the commits that name it).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { openRuntime } from '../../src/api/runtime.ts';
import type { RemitnetConfig } from '../../src/remittances/index.ts';
import { positionId, writeOffId } from '../../src/network/index.ts';
import {
  agent,
  asAgent,
  link,
  rule,
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

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

for (const kind of await storeKinds()) {
  const mk = (config: Partial<RemitnetConfig> = {}) => makeWorld(config, kind);
  describe(`on ${kind}`, () => {
    it('a payout agent cannot accept, at once, more payouts than its cash covers', async () => {
      world = await mk();
      const { rn } = world;
      const c = await koreanCorridor(rn, { hops: 1 });
      // 1,000,000 KRW -> 5,000.00 CNY -> 4,500.00 CNY delivered (450,000 minor) each.
      await rn.network.reportCash(c.hyesan.id, 'CNY', 500_000n, asAgent(c.hyesan));
      const a = await createFrom(rn, c);
      const b = await createFrom(rn, c);
      await rn.remittances.fund(a.id, asAgent(c.seoul));
      await rn.remittances.fund(b.id, asAgent(c.seoul));
      // Two acceptances in flight at once (two tellers, two requests): hold each ledger call
      // until both have reached it, so neither has recorded 'ready' when the other checks cash.
      const real = world.ledger.createTransfers.bind(world.ledger);
      let arrived = 0;
      let release!: () => void;
      const both = new Promise<void>((r) => (release = r));
      world.ledger.createTransfers = async (batch) => {
        if (++arrived === 2) release();
        await Promise.race([both, new Promise((r) => setTimeout(r, 2_000))]);
        return real(batch);
      };
      const results = await Promise.allSettled([
        rn.remittances.accept(a.id, asAgent(c.hyesan)),
        rn.remittances.accept(b.id, asAgent(c.hyesan)),
      ]);
      world.ledger.createTransfers = real;
      const ready = [await rn.remittances.get(a.id), await rn.remittances.get(b.id)].filter(
        (r) => r.state === 'ready',
      );
      const promised = ready.reduce((s, r) => s + r.deliverAmountMinor, 0n);
      expect(results.map((r) => r.status)).toContain('rejected');
      expect(promised).toBeLessThanOrEqual(500_000n);
    });

    it("an acceptance left in progress by a ledger failure keeps its claim on the payout agent's cash", async () => {
      world = await mk();
      const { rn } = world;
      const c = await koreanCorridor(rn, { hops: 1 });
      await rn.network.reportCash(c.hyesan.id, 'CNY', 500_000n, asAgent(c.hyesan));
      const a = await createFrom(rn, c);
      const b = await createFrom(rn, c);
      await rn.remittances.fund(a.id, asAgent(c.seoul));
      await rn.remittances.fund(b.id, asAgent(c.seoul));
      const real = world.ledger.createTransfers.bind(world.ledger);
      world.ledger.createTransfers = async () => {
        throw new Error('connection lost');
      };
      await expect(rn.remittances.accept(a.id, asAgent(c.hyesan))).rejects.toMatchObject({
        code: 'ledger_unavailable',
      });
      world.ledger.createTransfers = real;
      expect((await rn.remittances.get(a.id)).pendingStep).toBe('accept:1');
      await expect(rn.remittances.accept(b.id, asAgent(c.hyesan))).rejects.toMatchObject({
        code: 'cash_insufficient',
      });
      expect(await rn.remittances.recover()).toMatchObject({ redriven: 1, failed: 0 });
      expect((await rn.remittances.get(a.id)).state).toBe('ready');
      await expect(rn.remittances.accept(b.id, asAgent(c.hyesan))).rejects.toMatchObject({
        code: 'cash_insufficient',
      });
      // Reported cash enough for both: b is accepted.
      await rn.network.reportCash(c.hyesan.id, 'CNY', 900_000n, asAgent(c.hyesan));
      expect((await rn.remittances.accept(b.id, asAgent(c.hyesan))).state).toBe('ready');
    });

    it('a held remittance resumed after its original payout window can still be delivered', async () => {
      world = await mk();
      const { rn } = world;
      const c = await koreanCorridor(rn, { hops: 2, alternate: true });
      const a = await createFrom(rn, c);
      await rn.remittances.fund(a.id, asAgent(c.seoul));
      await rn.remittances.accept(a.id, asAgent(c.yanji));
      await rn.remittances.suspendAgent(c.yanji.id, { policy: 'hold' }, OPERATOR, 'questioned');
      expect((await rn.remittances.get(a.id)).state).toBe('held');
      // The border is closed for a while (held has no deadline: an operator resolves it).
      world.advance(8 * DAY);
      const resumed = await rn.remittances.resolveHeld(a.id, 'resume', OPERATOR, 'border open');
      expect(resumed.state).toBe('funded');
      expect(resumed.awaitingAgentId).toBe(c.yanji2!.id);
      await rn.remittances.accept(a.id, asAgent(c.yanji2!));
      await rn.remittances.accept(a.id, asAgent(c.hyesan));
      const done = await rn.remittances.payout(a.id, { code: a.code }, asAgent(c.hyesan));
      expect(done.state).toBe('completed');
      expect(await openValue(world, [c.seoul, c.yanji, c.yanji2!, c.hyesan])).toBe(0n);
    });

    it('with the sweeper down past the reservations, a funded remittance is refunded, not rerouted', async () => {
      world = await mk();
      const { rn } = world;
      const c = await koreanCorridor(rn, { hops: 2, alternate: true });
      const a = await createFrom(rn, c);
      await rn.remittances.fund(a.id, asAgent(c.seoul));
      await rn.remittances.accept(a.id, asAgent(c.yanji));
      // Past the payout deadline and the grace: the ledger released the funding by itself.
      world.advance(7 * DAY + 2 * HOUR);
      expect(await openValue(world, [c.seoul, c.yanji, c.yanji2!, c.hyesan])).toBe(0n);
      const report = await rn.remittances.sweep();
      expect(report).toMatchObject({ refunded: 1, rerouted: 0, failed: 0 });
      const r = await rn.remittances.get(a.id);
      expect(r.state).toBe('refunded');
      const events = (await rn.remittances.history(a.id)).map((h) => h.event);
      expect(events).not.toContain('rerouted');
      expect(await openValue(world, [c.seoul, c.yanji, c.yanji2!, c.hyesan])).toBe(0n);
      const seoul = (await rn.network.agentExposure(c.seoul.id)).find((l) => l.currency === 'KRW')!;
      expect(seoul.owesIncludingPendingMinor).toBe(0n);
    });

    it('no hop accepts once the payout window has closed; the sweeper refunds without blaming it', async () => {
      world = await mk({ hopAcceptTimeout_s: 8 * 24 * 3600 });
      const { rn } = world;
      const c = await koreanCorridor(rn, { hops: 2 });
      const a = await createFrom(rn, c);
      await rn.remittances.fund(a.id, asAgent(c.seoul));
      world.advance(7 * DAY);
      await expect(rn.remittances.accept(a.id, asAgent(c.yanji))).rejects.toMatchObject({
        code: 'deadline_passed',
      });
      expect((await rn.remittances.get(a.id)).state).toBe('funded');
      expect(await rn.remittances.sweep()).toMatchObject({ refunded: 1 });
      expect((await rn.remittances.get(a.id)).state).toBe('refunded');
      expect((await rn.network.getAgent(c.yanji.id)).failedCount).toBe(0);
      expect(await openValue(world, [c.seoul, c.yanji, c.hyesan])).toBe(0n);
    });

    it('an origin suspended after the ledger released its funding is held on a re-booked debt', async () => {
      world = await mk();
      const { rn } = world;
      const c = await koreanCorridor(rn, { hops: 2 });
      const a = await createFrom(rn, c);
      await rn.remittances.fund(a.id, asAgent(c.seoul));
      world.advance(7 * DAY + 2 * HOUR); // the sweeper was down: the funding expired
      const report = await rn.remittances.suspendAgent(c.seoul.id, {}, OPERATOR, 'arrested');
      expect(report.outcomes.map((o) => o.outcome)).toEqual(['held']);
      const owes = async () =>
        (await rn.network.agentExposure(c.seoul.id)).find((l) => l.currency === 'KRW')!;
      expect((await owes()).owesPostedMinor).toBe(1_000_000n);
      await rn.network.setAgentStatus(c.seoul.id, 'active', OPERATOR, 'released');
      const r = await rn.remittances.resolveHeld(a.id, 'refund', OPERATOR, 'cash returned');
      expect(r.state).toBe('refunded');
      expect((await owes()).owesIncludingPendingMinor).toBe(0n);
      expect(await openValue(world, [c.seoul, c.yanji, c.hyesan])).toBe(0n);
    });

    it('a cancellation past the payout window refunds in full (no fee on an expired funding)', async () => {
      world = await mk({ cancellationFeeBp: 100 });
      const { rn } = world;
      const c = await koreanCorridor(rn, { hops: 2 });
      const a = await createFrom(rn, c);
      await rn.remittances.fund(a.id, asAgent(c.seoul));
      world.advance(7 * DAY + 2 * HOUR);
      const r = await rn.remittances.cancel(a.id, { kind: 'customer', id: c.sender }, 'late');
      expect(r.state).toBe('refunded');
      expect(r.refundMinor).toBe(1_000_000n);
      expect(await openValue(world, [c.seoul, c.yanji, c.hyesan])).toBe(0n);
    });

    it("a sender's cancellation is not counted as the awaited agent's delivery failure", async () => {
      world = await mk();
      const { rn } = world;
      const c = await koreanCorridor(rn, { hops: 2 });
      const { id } = await createFrom(rn, c);
      await rn.remittances.fund(id, asAgent(c.seoul));
      const r = await rn.remittances.cancel(
        id,
        { kind: 'customer', id: c.sender },
        'changed my mind',
      );
      expect(r.state).toBe('refunded');
      const yanji = await rn.network.getAgent(c.yanji.id);
      expect(yanji.failedCount).toBe(0); // Yanji was never asked long enough to fail
    });

    it('a write-off cannot name the origin agent itself as the agent that refunds the sender', async () => {
      world = await mk();
      const { rn } = world;
      const c = await koreanCorridor(rn, { hops: 2 });
      const a = await createFrom(rn, c);
      await rn.remittances.fund(a.id, asAgent(c.seoul));
      await rn.remittances.suspendAgent(c.seoul.id, {}, OPERATOR, 'arrested with the cash');
      expect((await rn.remittances.get(a.id)).state).toBe('held');
      await rn.network.setAgentStatus(c.seoul.id, 'active', OPERATOR, 'released');
      const [before] = await world.ledger.lookupAccounts([positionId(c.seoul.id, 'KRW')]);
      await expect(
        rn.remittances.writeOff(a.id, { refundViaAgentId: c.seoul.id }, OPERATOR, 'mistake'),
      ).rejects.toMatchObject({ code: expect.any(String) });
      // Nothing booked: no loss, and Seoul is not credited twice for one sender's cash.
      const [after, wo] = await world.ledger.lookupAccounts([
        positionId(c.seoul.id, 'KRW'),
        writeOffId('KRW'),
      ]);
      expect(after).toEqual(before);
      expect(wo?.debitsPosted ?? 0n).toBe(0n);
    });

    it('a second reroute needs only the quoted amount, not what an earlier reroute improved it to', async () => {
      world = await mk();
      const { rn } = world;
      const c = await koreanCorridor(rn, { hops: 2, alternate: true });
      // A third Yanji broker, priced like the quoted route (10%), slower.
      const yanji3 = await agent(
        rn,
        'Yanji broker 3',
        ['CN', 'Jilin', 'Yanji'],
        ['KRW', 'CNY'],
        ['intermediary'],
        [rule('KRW', '10'), rule('CNY', '10')],
      );
      const fx = [{ from: 'KRW' as const, agentRate: '0.0050', referenceRate: '0.0053' }];
      await link(rn, c.seoul, yanji3, 'KRW', [], 100);
      await link(rn, yanji3, c.hyesan, 'CNY', fx, 100);
      const { id, code } = await createFrom(rn, c);
      const quoted = (await rn.remittances.get(id)).deliverAmountMinor;
      expect(quoted).toBe(405_000n);
      await rn.remittances.fund(id, asAgent(c.seoul));
      // Yanji 2 lowers its price, Yanji declines: rerouted through Yanji 2, family gets more.
      await rn.network.updateAgent(
        c.yanji2!.id,
        { commissions: [rule('KRW', '5'), rule('CNY', '5')] },
        OPERATOR,
      );
      const r1 = await rn.remittances.decline(id, asAgent(c.yanji), 'no courier');
      expect(r1.awaitingAgentId).toBe(c.yanji2!.id);
      expect(r1.deliverAmountMinor).toBe(427_500n);
      // Yanji 2 declines too. Yanji 3 still delivers the quoted 405,000 for the same
      // 1,000,000 KRW: "reroute within the quoted cost, else refund" says reroute.
      const r2 = await rn.remittances.decline(id, asAgent(c.yanji2!), 'closed');
      expect(r2.state).toBe('funded');
      expect(r2.awaitingAgentId).toBe(yanji3.id);
      await rn.remittances.accept(id, asAgent(yanji3));
      await rn.remittances.accept(id, asAgent(c.hyesan));
      const done = await rn.remittances.payout(id, { code }, asAgent(c.hyesan));
      expect(done.deliverAmountMinor).toBeGreaterThanOrEqual(quoted);
    });

    for (const quote of ['kept', 'purged'] as const) {
      it(`a row written before the quoted amount was kept reroutes against the quote (quote ${quote})`, async () => {
        world = await mk();
        const { rn, sql } = world;
        const c = await koreanCorridor(rn, { hops: 2, alternate: true });
        const yanji3 = await agent(
          rn,
          'Yanji broker 3',
          ['CN', 'Jilin', 'Yanji'],
          ['KRW', 'CNY'],
          ['intermediary'],
          [rule('KRW', '10'), rule('CNY', '10')],
        );
        const fx = [{ from: 'KRW' as const, agentRate: '0.0050', referenceRate: '0.0053' }];
        await link(rn, c.seoul, yanji3, 'KRW', [], 100);
        await link(rn, yanji3, c.hyesan, 'CNY', fx, 100);
        const { id, quoteId } = await createFrom(rn, c);
        await rn.remittances.fund(id, asAgent(c.seoul));
        await rn.network.updateAgent(
          c.yanji2!.id,
          { commissions: [rule('KRW', '5'), rule('CNY', '5')] },
          OPERATOR,
        );
        await rn.remittances.decline(id, asAgent(c.yanji), 'no courier');
        // As an older build stored it: no quoted amount on the row.
        const [stored] = await sql.query('SELECT body FROM remittances WHERE id = $1', [id]);
        const body = JSON.parse(String(stored!.body)) as Record<string, unknown>;
        delete body.quotedDeliverAmountMinor;
        await sql.transaction(async (tx) => {
          await tx.execute('UPDATE remittances SET body = $1 WHERE id = $2', [
            JSON.stringify(body),
            id,
          ]);
          if (quote === 'purged')
            await tx.execute('DELETE FROM network_quotes WHERE id = $1', [quoteId]);
        });
        const r2 = await rn.remittances.decline(id, asAgent(c.yanji2!), 'closed');
        if (quote === 'kept') {
          // The quote still says 405,000: Yanji 3 delivers it.
          expect(r2.awaitingAgentId).toBe(yanji3.id);
        } else {
          // Without the quote, the bound is what is promised now (427,500): never less than
          // the quote, so the sender is refunded rather than the family paid short.
          expect(r2.state).toBe('refunded');
        }
      });
    }

    it('a position write-off is refused above what the agent owes, and does not raise its limit', async () => {
      world = await mk();
      const { rn } = world;
      const c = await koreanCorridor(rn, { hops: 2 });
      // Seoul owes nothing on settled business.
      const before = (await rn.network.agentExposure(c.seoul.id)).find(
        (l) => l.currency === 'KRW',
      )!;
      expect(before.owesPostedMinor).toBe(0n);
      await expect(
        rn.remittances.writeOffPosition(
          c.seoul.id,
          'KRW',
          1_000_000n,
          'wo-1',
          OPERATOR,
          'books a loss that does not exist',
        ),
      ).rejects.toMatchObject({ code: expect.any(String) });
      const after = (await rn.network.agentExposure(c.seoul.id)).find((l) => l.currency === 'KRW')!;
      expect(after.owesPostedMinor).toBe(0n);
      expect(after.headroomMinor).toBe(before.headroomMinor);
    });

    it('a write-off is refused while the origin is active again: it refunds the sender instead', async () => {
      world = await mk();
      const { rn } = world;
      const c = await koreanCorridor(rn, { hops: 2 });
      const a = await createFrom(rn, c);
      await rn.remittances.fund(a.id, asAgent(c.seoul));
      await rn.remittances.suspendAgent(c.seoul.id, {}, OPERATOR, 'arrested with the cash');
      await expect(
        rn.remittances.writeOff(a.id, { refundViaAgentId: c.seoul.id }, OPERATOR, 'lost'),
      ).rejects.toMatchObject({ code: 'write_off_via_origin' });
      await rn.network.setAgentStatus(c.seoul.id, 'active', OPERATOR, 'released');
      await expect(
        rn.remittances.writeOff(a.id, { refundViaAgentId: c.yanji.id }, OPERATOR, 'lost'),
      ).rejects.toMatchObject({ code: 'write_off_origin_active' });
      expect((await rn.remittances.get(a.id)).state).toBe('held');
      const r = await rn.remittances.resolveHeld(a.id, 'refund', OPERATOR, 'cash returned');
      expect(r.state).toBe('refunded');
      expect(await openValue(world, [c.seoul, c.yanji, c.hyesan])).toBe(0n);
    });

    it('a position write-off books at most what the agent owes, once per key', async () => {
      world = await mk();
      const { rn } = world;
      const c = await koreanCorridor(rn, { hops: 2 });
      const a = await createFrom(rn, c);
      await rn.remittances.fund(a.id, asAgent(c.seoul));
      // Holding posts the funding: Seoul owes 1,000,000 KRW on the books.
      await rn.remittances.suspendAgent(c.seoul.id, {}, OPERATOR, 'arrested with the cash');
      const owes = async () =>
        (await rn.network.agentExposure(c.seoul.id)).find((l) => l.currency === 'KRW')!
          .owesPostedMinor;
      expect(await owes()).toBe(1_000_000n);
      const wo = (amount: bigint, k: string) =>
        rn.remittances.writeOffPosition(c.seoul.id, 'KRW', amount, k, OPERATOR, 'gone');
      await expect(wo(400_000n, '')).rejects.toMatchObject({ code: 'idempotency_key_invalid' });
      await wo(400_000n, 'wo-1');
      expect(await owes()).toBe(600_000n);
      // A retry of the same write-off answers as the first did and books nothing more (it
      // is not refused for exceeding what is left: it is already part of what was taken).
      await wo(400_000n, 'wo-1');
      expect(await owes()).toBe(600_000n);
      await expect(wo(300_000n, 'wo-1')).rejects.toMatchObject({
        code: 'idempotency_key_reused',
      });
      await expect(wo(600_001n, 'wo-2')).rejects.toMatchObject({
        code: 'write_off_above_position',
      });
      await wo(600_000n, 'wo-3');
      expect(await owes()).toBe(0n);
      const [loss] = await world.ledger.lookupAccounts([writeOffId('KRW')]);
      expect(loss!.debitsPosted).toBe(1_000_000n);
    });
  });
}

describe('the running process (src/api/runtime.ts)', () => {
  it('re-drives a step left pending by a transient ledger failure without waiting for a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'remitnet-review-'));
    const runtime = await openRuntime(loadConfig({ REMITNET_DB: join(dir, 'r.db') }), {
      expiryInterval_ms: 0,
      sweepInterval_ms: 25,
      recoverMinAge_ms: 200,
    });
    try {
      const rn = runtime.remitnet;
      const c = await koreanCorridor(rn, { hops: 2 });
      const { id } = await createFrom(rn, c);
      // The ledger fails once (a lost connection, say): the step is recorded as pending and
      // the caller is told it "will be re-driven by recover()".
      const real = runtime.ledger.createTransfers.bind(runtime.ledger);
      runtime.ledger.createTransfers = async () => {
        throw new Error('connection lost');
      };
      await expect(rn.remittances.fund(id, asAgent(c.seoul))).rejects.toMatchObject({
        code: 'ledger_unavailable',
      });
      runtime.ledger.createTransfers = real;
      expect((await rn.remittances.get(id)).pendingStep).toBe('fund');
      // The process keeps running; only sweep() is scheduled. recover() (which alone re-drives
      // pending steps, and which its own doc says to run periodically with minAge_ms) never
      // runs again, so the remittance answers remittance_busy until someone restarts it.
      let recoverCalls = 0;
      // One tick at a time: recover and sweep never run at once, nor two of either.
      let running = 0;
      let overlapped = false;
      const watch =
        <A extends unknown[], R>(f: (...a: A) => Promise<R>) =>
        async (...a: A): Promise<R> => {
          if (++running > 1) overlapped = true;
          try {
            await new Promise((r) => setTimeout(r, 40)); // slower than the interval
            return await f(...a);
          } finally {
            running--;
          }
        };
      const recover = rn.remittances.recover.bind(rn.remittances);
      rn.remittances.recover = watch(async (o?: { minAge_ms?: number }) => {
        recoverCalls++;
        return recover(o);
      });
      rn.remittances.sweep = watch(rn.remittances.sweep.bind(rn.remittances));
      await new Promise((r) => setTimeout(r, 1_000));
      expect(recoverCalls).toBeGreaterThan(0);
      expect(overlapped).toBe(false);
      // Re-driven once older than recoverMinAge_ms: funded, and not busy any more.
      const r = await rn.remittances.get(id);
      expect(r.pendingStep).toBeUndefined();
      expect(r.state).toBe('funded');
    } finally {
      await runtime.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
