/**
 * The `ordered` intent write (SqlClient TransactionOptions): an answer that
 * depends on an ordered commit must still wait for a sync that covers it, unless a later
 * commit of the same step (its ledger batch) is synced before the answer.
 */
import { describe, expect, it } from 'vitest';
import { asAgent, createFrom, koreanCorridor } from '../support.ts';
import { tracked, world } from './support.ts';

describe('answers that depend on an ordered intent', () => {
  it("a refusal decided on another step's intent (cash_insufficient) waits until that intent is durable", async () => {
    const w = await world('cash.db');
    const { rn, drive } = w;
    try {
      const c = await drive(koreanCorridor(rn, { hops: 1 }));
      await drive(rn.network.reportCash(c.hyesan.id, 'CNY', 500_000n, asAgent(c.hyesan)));
      const a = await drive(createFrom(rn, c));
      const b = await drive(createFrom(rn, c));
      await drive(rn.remittances.fund(a.id, asAgent(c.seoul)));
      await drive(rn.remittances.fund(b.id, asAgent(c.seoul)));
      const before = w.syncsDone();
      // Cash for one of them: whichever intent commits second sees the other's claim.
      const pa = rn.remittances.accept(a.id, asAgent(c.hyesan));
      const pb = rn.remittances.accept(b.id, asAgent(c.hyesan));
      const ta = tracked(pa);
      const tb = tracked(pb);
      await w.idle();
      // No sync has completed: the winner's intent could still be lost to a power cut, so
      // the loser must not yet be told that the agent's cash is taken.
      expect(w.syncsDone()).toBe(before);
      expect([ta.settled, tb.settled]).toEqual([false, false]);
      const results = await drive(Promise.allSettled([pa, pb]));
      expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
      const refused = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
      expect(refused.reason).toMatchObject({ code: 'cash_insufficient' });
    } finally {
      await w.close();
    }
  });
});
