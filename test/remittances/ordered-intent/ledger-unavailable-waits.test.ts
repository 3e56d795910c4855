/**
 * The `ordered` intent write (SqlClient TransactionOptions): an answer that
 * depends on an ordered commit must still wait for a sync that covers it, unless a later
 * commit of the same step (its ledger batch) is synced before the answer.
 */
import { describe, expect, it } from 'vitest';
import { asAgent, createFrom, koreanCorridor } from '../support.ts';
import { tracked, world } from './support.ts';

describe('answers that depend on an ordered intent', () => {
  it("ledger_unavailable ('the step is recorded') waits until the intent is durable", async () => {
    const w = await world('ledger-down.db');
    const { rn, drive, ledger } = w;
    try {
      const c = await drive(koreanCorridor(rn, { hops: 1 }));
      const a = await drive(createFrom(rn, c));
      const before = w.syncsDone();
      const real = ledger.createTransfers.bind(ledger);
      ledger.createTransfers = () =>
        Promise.reject(new Error('SQLITE_FULL: database or disk is full'));
      const p = rn.remittances.fund(a.id, asAgent(c.seoul));
      const t = tracked(p);
      await w.idle();
      // The intent committed but no sync has covered it: it is not "recorded" yet.
      expect(w.syncsDone()).toBe(before);
      expect(t.settled).toBe(false);
      await expect(drive(p)).rejects.toMatchObject({ code: 'ledger_unavailable' });
      ledger.createTransfers = real;
      expect((await drive(rn.remittances.get(a.id))).state).toBe('created');
    } finally {
      await w.close();
    }
  });
});
