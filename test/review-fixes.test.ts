/**
 * Review of today's fixes (903136e..469e50d): one test per defect found; each failed on the
 * reviewed code and passes since its fix.
 */
import { describe, expect, it } from 'vitest';
import type { SuspensionReport } from '../src/remittances/index.ts';
import { OPERATOR, asAgent, createFrom, koreanCorridor, makeWorld } from './remittances/support.ts';

describe('review of the fixes', () => {
  /**
   * service.ts #suspensionsMissed applies this.#cfg.suspensionPolicy (default 'reroute'),
   * not the policy the operator gave suspendAgent. An operator who suspends a hop with
   * { policy: 'hold' } (to investigate, no refund) while an acceptance is in progress sees
   * that remittance rerouted or, with no other route, refunded once the step finishes.
   */
  it("a suspension met mid-step is applied with the operator's policy, not the configured default", async () => {
    const w = await makeWorld({ hopAcceptTimeout_s: 3600, payoutWindow_s: 4 * 3600 });
    try {
      const c = await koreanCorridor(w.rn); // Seoul -> Yanji -> Changbai -> Hyesan
      const made = await createFrom(w.rn, c, 1_000_000n);
      await w.rn.remittances.fund(made.id, asAgent(c.seoul));
      const r = await w.rn.remittances.get(made.id);
      expect(r.awaitingAgentId).toBe(c.yanji.id);
      // While Yanji's acceptance is at the ledger (its intent written), the operator
      // suspends Changbai, later on the route, asking to hold what goes through it.
      const ledger = w.ledger as unknown as { createTransfers: (...a: unknown[]) => unknown };
      const original = ledger.createTransfers.bind(w.ledger);
      let report: SuspensionReport | undefined;
      ledger.createTransfers = async (...args: unknown[]) => {
        if (report === undefined) {
          report = await w.rn.remittances.suspendAgent(
            c.changbai.id,
            { policy: 'hold' },
            OPERATOR,
            'questioned by the police',
          );
        }
        return original(...args);
      };
      await w.rn.remittances.accept(made.id, asAgent(c.yanji));
      ledger.createTransfers = original;
      expect(report!.outcomes).toMatchObject([{ remittanceId: made.id, outcome: 'failed' }]);
      const after = await w.rn.remittances.get(made.id);
      // Observed: 'refunded' (the default 'reroute' policy found no other route).
      expect(after.state).toBe('held');
    } finally {
      await w.close();
    }
  });

  /**
   * network/repository.ts recordDeliveries calls onDeliveries (NetworkService's #deliveries
   * overlay) inside the step's transaction, before it commits. A transaction that rolls
   * back after it (here the outcome hook fails, e.g. the Idempotency-Key answer could not
   * be written; on PostgreSQL also every serialization-failure rerun of transaction(),
   * which lockCash now provokes on purpose) still counts, and the redriven step counts
   * again: the quote's delivery score is computed from deliveries that never happened.
   */
  it('the delivery score counts a delivery once, even when its first outcome write rolled back', async () => {
    const w = await makeWorld({ hopAcceptTimeout_s: 3600, payoutWindow_s: 4 * 3600 });
    try {
      const c = await koreanCorridor(w.rn); // Seoul -> Yanji -> Changbai -> Hyesan
      // A: Yanji declines; no other route: refunded, one failure for Yanji.
      const a = await createFrom(w.rn, c, 1_000_000n);
      await w.rn.remittances.fund(a.id, asAgent(c.seoul));
      const declined = await w.rn.remittances.decline(a.id, asAgent(c.yanji), 'no courier');
      expect(declined.state).toBe('refunded');
      // B: delivered; the outcome's transaction fails once (after recordDeliveries ran in
      // it), and recover() finishes the step.
      const b = await createFrom(w.rn, c, 1_000_000n);
      await w.rn.remittances.fund(b.id, asAgent(c.seoul));
      await w.rn.remittances.accept(b.id, asAgent(c.yanji));
      await w.rn.remittances.accept(b.id, asAgent(c.changbai));
      await w.rn.remittances.accept(b.id, asAgent(c.hyesan));
      const failing = Object.assign(async () => {
        throw new Error('the answer could not be recorded');
      }, {});
      await expect(
        w.rn.remittances.payout(b.id, { code: b.code }, asAgent(c.hyesan), failing),
      ).rejects.toThrow('the answer could not be recorded');
      expect(await w.rn.remittances.recover()).toEqual({ redriven: 1, failed: 0 });
      expect((await w.rn.remittances.get(b.id)).state).toBe('completed');
      // What the database holds: Yanji delivered 1, failed 1.
      const yanji = await w.rn.network.getAgent(c.yanji.id);
      expect([yanji.deliveredCount, yanji.failedCount]).toEqual([1, 1]);
      const { quotes } = await w.rn.network.quote({
        originAgentId: c.seoul.id,
        payoutCountry: 'KP',
        payoutRegion: 'Ryanggang',
        payoutCurrency: 'CNY',
        sendCurrency: 'KRW',
        sendAmountMinor: 1_000_000n,
      });
      // (1 + 1) / (1 + 1 + 1). Observed: 0.75, as if Yanji had delivered twice.
      expect(quotes[0]!.deliveryScore).toBeCloseTo(2 / 3, 6);
    } finally {
      await w.close();
    }
  });
});
