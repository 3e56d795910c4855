/**
 * Random lifecycles (fast-check): many remittances driven through random actions, random
 * suspensions and random time. After every action:
 * - money is conserved: per currency, posted debits equal posted credits, and the in-flight
 *   account holds exactly the value of held remittances;
 * - no remittance is both paid and refunded;
 * - the sender's value is always reserved (funding pending), delivered (posted, with the
 *   payout posted), or returned (voided, expired, reversed or refunded by another agent);
 * - no agent position owes more than its limit (checked at funding and acceptance by the
 *   ledger, and here on every account).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AccountCode, inFlightId } from '../../src/network/index.ts';
import { fundingId } from '../../src/remittances/bookings.ts';
import { RemitnetError, type Remittance } from '../../src/remittances/index.ts';
import {
  asAgent,
  createFrom,
  koreanCorridor,
  makeWorld,
  OPERATOR,
  type KoreanCorridor,
  type World,
} from './support.ts';

type Action =
  | { kind: 'create'; amount: bigint }
  | { kind: 'fund' | 'accept' | 'decline' | 'payout' | 'wrongCode' | 'cancel'; r: number }
  | { kind: 'resolve'; r: number; how: 'resume' | 'refund' }
  | { kind: 'writeOff'; r: number }
  | { kind: 'suspend'; agent: number; policy: 'reroute' | 'hold' | 'refund' }
  | { kind: 'reinstate'; agent: number }
  | { kind: 'advance'; minutes: number }
  | { kind: 'sweep' };

const action: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc
      .bigInt(50_000n, 2_000_000n)
      .map((amount) => ({ kind: 'create' as const, amount })),
  },
  ...(
    [
      ['fund', 3],
      ['accept', 6],
      ['payout', 3],
      ['decline', 1],
      ['wrongCode', 1],
      ['cancel', 1],
    ] as const
  ).map(([kind, weight]) => ({
    weight,
    arbitrary: fc.record({ kind: fc.constant(kind), r: fc.nat(6) }),
  })),
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('resolve' as const),
      r: fc.nat(5),
      how: fc.constantFrom('resume' as const, 'refund' as const),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('writeOff' as const), r: fc.nat(5) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('suspend' as const),
      agent: fc.nat(4),
      policy: fc.constantFrom('reroute' as const, 'hold' as const, 'refund' as const),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('reinstate' as const), agent: fc.nat(4) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('advance' as const),
      minutes: fc.integer({ min: 1, max: 40 }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'sweep' as const }) },
);

interface Tracked {
  id: string;
  code: string;
}

async function apply(
  w: World,
  c: KoreanCorridor,
  busan: string,
  tracked: Tracked[],
  a: Action,
): Promise<void> {
  const { rn } = w;
  const agents = [c.seoul, c.yanji, c.yanji2!, c.hyesan, { id: busan }];
  const pick = (r: number) => tracked[r % Math.max(tracked.length, 1)];
  const get = async (t: Tracked) => rn.remittances.get(t.id);
  switch (a.kind) {
    case 'create': {
      const made = await createFrom(rn, c, a.amount);
      tracked.push({ id: made.id, code: made.code });
      return;
    }
    case 'advance':
      w.advance(a.minutes * 60_000);
      return;
    case 'sweep':
      await rn.remittances.sweep();
      return;
    case 'suspend':
      await rn.remittances.suspendAgent(
        agents[a.agent]!.id,
        { policy: a.policy },
        OPERATOR,
        'arrested',
      );
      return;
    case 'reinstate':
      await rn.network.setAgentStatus(agents[a.agent]!.id, 'active', OPERATOR, 'released');
      return;
  }
  // Mostly act on a remittance in a state where the action makes sense, so runs get far;
  // sometimes on any remittance, so refusals are exercised too.
  const wanted: Record<string, string[]> = {
    fund: ['created'],
    accept: ['funded'],
    decline: ['funded'],
    payout: ['ready'],
    wrongCode: ['ready'],
    cancel: ['created', 'funded', 'ready'],
    resolve: ['held'],
    writeOff: ['held'],
  };
  const rows = (await rn.remittances.list({ limit: 500 })).items;
  const eligible = rows.filter((x) => wanted[a.kind]!.includes(x.state));
  const target =
    a.r < 5 && eligible.length > 0 ? eligible[a.r % eligible.length]!.id : pick(a.r)?.id;
  const t = tracked.find((x) => x.id === target);
  if (t === undefined) return;
  const r: Remittance = await get(t);
  switch (a.kind) {
    case 'fund':
      await rn.remittances.fund(t.id, asAgent({ id: r.originAgentId }));
      return;
    case 'accept':
      await rn.remittances.accept(t.id, asAgent({ id: r.awaitingAgentId ?? r.payoutAgentId }));
      return;
    case 'decline':
      await rn.remittances.decline(
        t.id,
        asAgent({ id: r.awaitingAgentId ?? r.payoutAgentId }),
        'busy',
      );
      return;
    case 'payout':
      await rn.remittances.payout(t.id, { code: t.code }, asAgent({ id: r.payoutAgentId }));
      return;
    case 'wrongCode':
      await rn.remittances.payout(
        t.id,
        { code: '0000-0000-000' },
        asAgent({ id: r.payoutAgentId }),
      );
      return;
    case 'cancel':
      await rn.remittances.cancel(t.id, { kind: 'customer', id: r.senderId }, 'cancel');
      return;
    case 'resolve':
      await rn.remittances.resolveHeld(t.id, a.how, OPERATOR, 'resolved');
      return;
    case 'writeOff':
      await rn.remittances.writeOff(t.id, { refundViaAgentId: busan }, OPERATOR, 'lost');
      return;
  }
}

/** States reached across all runs: the test also proves the actions got somewhere. */
const reached = new Map<string, number>();

async function checkInvariants(w: World, tracked: Tracked[]): Promise<void> {
  const { rn, ledger } = w;
  // 1. double entry and exposure caps, over every account
  const accounts = await ledger.store.scanAccounts(-1n, 8000);
  const sums = new Map<number, bigint>();
  for (const acc of accounts) {
    sums.set(acc.ledger, (sums.get(acc.ledger) ?? 0n) + acc.creditsPosted - acc.debitsPosted);
    if (acc.code === AccountCode.position) {
      expect(acc.debitsPosted + acc.debitsPending).toBeLessThanOrEqual(acc.creditsPosted);
    }
  }
  for (const s of sums.values()) expect(s).toBe(0n);
  // 2-3. per remittance
  let heldKrw = 0n;
  // Every remittance here was created with time-ordered transfer ids.
  const funding = (id: string) => fundingId({ id, transferIds: 'time' });
  const fundingIds = tracked.map((t) => funding(t.id));
  const pending = await ledger.lookupPending(fundingIds);
  for (const t of tracked) {
    const r = await rn.remittances.get(t.id);
    reached.set(r.state, (reached.get(r.state) ?? 0) + 1);
    if (r.attempt > 0) reached.set('rerouted', (reached.get('rerouted') ?? 0) + 1);
    expect(r.pendingStep).toBeUndefined();
    const events = (await rn.remittances.history(t.id)).map((h) => h.event);
    expect(events.includes('paid') && events.includes('refunded')).toBe(false);
    const f = pending.get(funding(t.id));
    switch (r.state) {
      case 'created':
      case 'cancelled':
      case 'expired':
        expect(f).toBeUndefined();
        break;
      case 'funded':
      case 'ready':
        expect(['pending', 'posted']).toContain(f?.status);
        break;
      case 'held':
        expect(f?.status).toBe('posted');
        heldKrw += r.sendAmountMinor;
        break;
      case 'completed':
        expect(f?.status).toBe('posted');
        expect(events).toContain('paid');
        break;
      case 'refunded':
        expect(['voided', 'expired', 'posted']).toContain(f?.status);
        break;
      case 'written_off':
        expect(f?.status).toBe('posted');
        break;
      case 'paid':
        throw new Error('a paid remittance must complete within the call');
    }
  }
  const [krw, cny] = await ledger.lookupAccounts([inFlightId('KRW'), inFlightId('CNY')]);
  const posted = (x: typeof krw) => (x === undefined ? 0n : x.creditsPosted - x.debitsPosted);
  expect(posted(krw)).toBe(heldKrw);
  expect(posted(cny)).toBe(0n);
}

describe('random lifecycles', () => {
  it('conserve money, never pay and refund, keep the sender’s value accounted for, hold limits', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(action, { minLength: 5, maxLength: 40 }), async (actions) => {
        const w = await makeWorld({
          hopAcceptTimeout_s: 3600,
          payoutWindow_s: 4 * 3600,
          reservationGrace_s: 600,
        });
        try {
          const c = await koreanCorridor(w.rn, { hops: 2, alternate: true });
          // tight limits so that funding and acceptance are refused sometimes
          await w.rn.network.setExposureLimit(c.seoul.id, 'KRW', 3_000_000n, OPERATOR);
          await w.rn.network.setExposureLimit(c.yanji.id, 'CNY', 10_000n * 100n, OPERATOR);
          await w.rn.network.reportCash(c.hyesan.id, 'CNY', 1_000_000n, OPERATOR);
          const busan = await w.rn.network.createAgent(
            {
              name: 'Busan agent',
              location: { country: 'KR', region: 'Busan', city: 'Busan' },
              currencies: ['KRW'],
              roles: ['origin'],
              contact: { kind: 'phone', address: '+82' },
              commissions: [],
            },
            OPERATOR,
          );
          const tracked: Tracked[] = [];
          for (const a of actions) {
            try {
              await apply(w, c, busan.id, tracked, a);
            } catch (error) {
              if (!(error instanceof RemitnetError)) throw error;
              reached.set(
                `!${a.kind}:${error.code}`,
                (reached.get(`!${a.kind}:${error.code}`) ?? 0) + 1,
              );
              expect(error.kind).not.toBe('unavailable');
            }
            await checkInvariants(w, tracked);
          }
          // Finally, pay out whatever is ready (so every run that reaches ready also
          // exercises completion), and check once more.
          for (const t of tracked) {
            const r = await w.rn.remittances.get(t.id);
            if (r.state !== 'ready') continue;
            try {
              await w.rn.remittances.payout(
                t.id,
                { code: t.code },
                asAgent({ id: r.payoutAgentId }),
              );
            } catch (error) {
              if (!(error instanceof RemitnetError)) throw error;
            }
          }
          await checkInvariants(w, tracked);
        } finally {
          await w.close();
        }
      }),
      { numRuns: 300, seed: Number(process.env.REMITNET_PROPERTY_SEED ?? 20260301) },
    );
    console.info('property: states reached (remittance x step)', Object.fromEntries(reached));
    for (const state of [
      'funded',
      'ready',
      'completed',
      'refunded',
      'held',
      'cancelled',
      'rerouted',
    ]) {
      expect(reached.get(state) ?? 0, `no run reached ${state}`).toBeGreaterThan(0);
    }
  });
});
