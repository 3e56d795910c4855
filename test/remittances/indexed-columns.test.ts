/**
 * The searched columns of a remittance row (state, pending_step, payout_agent_id,
 * deadline_ms) stay what the row says at every step, although an UPDATE now sets only
 * those that change (RemittanceRepository.#indexed): what is left out must already be
 * right in the database, not merely in the row this process last saw.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { fromJson } from '../../src/network/json.ts';
import type { RemittanceRow } from '../../src/remittances/row.ts';
import {
  asAgent,
  createFrom,
  koreanCorridor,
  makeWorld,
  storeKinds,
  type World,
} from './support.ts';

let world: World | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

interface Columns {
  state: string;
  pending_step: string | null;
  payout_agent_id: string;
  deadline_ms: number | null;
}

async function stored(w: World, id: string): Promise<{ columns: Columns; row: RemittanceRow }> {
  const [r] = await w.sql.query(
    'SELECT state, pending_step, payout_agent_id, deadline_ms, body FROM remittances WHERE id = $1',
    [id],
  );
  return {
    columns: {
      state: String(r!.state),
      pending_step: r!.pending_step === null ? null : String(r!.pending_step),
      payout_agent_id: String(r!.payout_agent_id),
      deadline_ms: r!.deadline_ms === null ? null : Number(r!.deadline_ms),
    },
    row: fromJson<RemittanceRow>(r!.body),
  };
}

/** The columns a row should have, worked out here independently of the repository. */
function expected(row: RemittanceRow): Columns {
  const deadline =
    row.state === 'created'
      ? row.quoteExpiresAt_ms
      : row.state === 'funded'
        ? Math.min(row.hopDeadline_ms!, row.payoutDeadline_ms!)
        : row.state === 'ready'
          ? row.payoutDeadline_ms!
          : null;
  return {
    state: row.state,
    pending_step: null,
    payout_agent_id: row.payoutAgentId,
    deadline_ms: deadline,
  };
}

for (const kind of await storeKinds()) {
  describe(`indexed columns on ${kind}`, () => {
    it('match the row after every step of a remittance, three hops', async () => {
      world = await makeWorld({}, kind);
      const { rn } = world;
      const c = await koreanCorridor(rn, { hops: 3 });
      const { id, code } = await createFrom(rn, c);
      const check = async (state: string) => {
        const { columns, row } = await stored(world!, id);
        expect(row.state).toBe(state);
        expect(columns).toEqual(expected(row));
      };
      await check('created');
      const r = await rn.remittances.fund(id, asAgent(c.seoul));
      await check('funded');
      for (let hop = 1; hop < r.legs.length; hop++) {
        world.advance(1000); // each acceptance moves the hop deadline
        await rn.remittances.accept(id, asAgent({ id: r.legs[hop]!.agentId }));
        await check(hop === r.legs.length - 1 ? 'ready' : 'funded');
      }
      await rn.remittances.payout(id, { code }, asAgent({ id: r.payoutAgentId }));
      await check('completed');
    });

    it('are set from what the database holds, not from what the row says', async () => {
      world = await makeWorld({}, kind);
      const { rn } = world;
      const c = await koreanCorridor(rn, { hops: 2 });
      const { id } = await createFrom(rn, c);
      // Columns gone wrong behind the row's back (no new version): funding changes neither
      // the payout agent nor, in its intent, the deadline, yet both must come out right.
      await world.sql.transaction((tx) =>
        tx.execute('UPDATE remittances SET payout_agent_id = $1, deadline_ms = $2 WHERE id = $3', [
          'not-an-agent',
          1,
          id,
        ]),
      );
      await rn.remittances.fund(id, asAgent(c.seoul));
      const { columns, row } = await stored(world, id);
      expect(columns).toEqual(expected(row));
      expect(columns.payout_agent_id).toBe(row.payoutAgentId);
    });

    it('stay right for a step that another actor raced (version conflict, then retried)', async () => {
      world = await makeWorld({}, kind);
      const { rn } = world;
      const c = await koreanCorridor(rn, { hops: 2 });
      const { id } = await createFrom(rn, c);
      const r = await rn.remittances.fund(id, asAgent(c.seoul));
      const hop1 = asAgent({ id: r.legs[1]!.agentId });
      // Two acceptances at once: one wins, the other is refused; the columns follow the winner.
      const outcomes = await Promise.allSettled([
        rn.remittances.accept(id, hop1),
        rn.remittances.accept(id, hop1),
      ]);
      expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
      const { columns, row } = await stored(world, id);
      expect(row.acceptedHops).toBe(1);
      expect(columns).toEqual(expected(row));
    });
  });
}
