/**
 * A step's intent is written `ordered`: it answers once committed, and the sync of the
 * ledger batch after it makes it durable. So a step waits for two WAL syncs (its ledger
 * batch's, its outcome's), not three, and a failed sync is answered as what it is.
 */
import { describe, expect, it } from 'vitest';
import { LedgerError } from '../../../src/ledger/index.ts';
import { asAgent, createFrom, koreanCorridor } from '../support.ts';
import { tracked, turns, world } from './support.ts';

describe('a remittance step on the connection the ledger shares', () => {
  it('waits for two syncs, not three: its intent is durable once the ledger batch after it is', async () => {
    const w = await world('step-syncs.db');
    /** `p`'s value and how many syncs completed until it settled. */
    const counted = async <T>(p: Promise<T>) => {
      const before = w.syncsDone(); // one `p` started already is completed, so counted, later
      const value = await w.drive(p);
      return { value, syncs: w.syncsDone() - before };
    };
    try {
      const c = await w.drive(koreanCorridor(w.rn, { hops: 1 }));
      await w.drive(w.rn.network.reportCash(c.hyesan.id, 'CNY', 5_000_000n, asAgent(c.hyesan)));
      const made = await w.drive(createFrom(w.rn, c));
      // Intent (answered once committed), ledger batch (synced: the intent with it), outcome.
      expect((await counted(w.rn.remittances.fund(made.id, asAgent(c.seoul)))).syncs).toBe(2);
      // The payout agent's acceptance claims its cash in the intent's transaction.
      const accepted = await counted(w.rn.remittances.accept(made.id, asAgent(c.hyesan)));
      expect(accepted.syncs).toBe(2);
      expect(accepted.value.state).toBe('ready');
      const paid = await counted(
        w.rn.remittances.payout(made.id, { code: made.code }, asAgent(c.hyesan)),
      );
      expect(paid.syncs).toBe(2);
      expect(paid.value.state).toBe('completed');
    } finally {
      await w.close();
    }
  });

  it('answers commit_unconfirmed when the sync after its ledger batch fails: whether it happened is unknown', async () => {
    const w = await world('step-sync-fails.db');
    try {
      const c = await w.drive(koreanCorridor(w.rn, { hops: 1 }));
      const made = await w.drive(createFrom(w.rn, c));
      const fund = tracked(w.rn.remittances.fund(made.id, asAgent(c.seoul)));
      const next = w.m.calls.length; // every earlier sync has completed (drive)
      while (w.m.calls.length === next) await turns();
      w.m.calls[next]!(new Error('EIO')); // the first sync the step waits for
      while (!fund.settled) await turns();
      expect(fund.error).toBeInstanceOf(LedgerError);
      expect((fund.error as LedgerError).code).toBe('commit_unconfirmed');
    } finally {
      await w.close().catch(() => undefined);
    }
  });
});
