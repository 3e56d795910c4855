/**
 * The `ordered` intent write (SqlClient TransactionOptions): an answer that
 * depends on an ordered commit must still wait for a sync that covers it, unless a later
 * commit of the same step (its ledger batch) is synced before the answer.
 */
import { describe, expect, it } from 'vitest';
import { asAgent, createFrom, koreanCorridor } from '../support.ts';
import { tracked, world } from './support.ts';

describe('answers that depend on an ordered intent', () => {
  it("a version_conflict decided on another step's intent waits until that intent is durable", async () => {
    const w = await world('conflict.db');
    const { rn, drive } = w;
    try {
      const c = await drive(koreanCorridor(rn, { hops: 1 }));
      const a = await drive(createFrom(rn, c));
      const before = w.syncsDone();
      // Two fundings of one remittance read the same row; the second intent write loses.
      const p1 = rn.remittances.fund(a.id, asAgent(c.seoul));
      const p2 = rn.remittances.fund(a.id, asAgent(c.seoul));
      const t1 = tracked(p1);
      const t2 = tracked(p2);
      await w.idle();
      expect(w.syncsDone()).toBe(before);
      expect([t1.settled, t2.settled]).toEqual([false, false]);
      const results = await drive(Promise.allSettled([p1, p2]));
      expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    } finally {
      await w.close();
    }
  });
});
