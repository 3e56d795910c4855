/**
 * Chaos lifecycles (fast-check): many remittances driven through interleavings the property
 * test does not cover: a ledger call that commits and then throws (a crash between a step's
 * intent and its outcome) or throws before committing, later `recover()`; links switched
 * off and on; time jumping past hop deadlines, the payout window and the reservation grace,
 * with `sweep()` and `ledger.expire()`; two steps on one remittance at once; suspensions
 * under each policy; held remittances resumed, refunded or written off.
 *
 * After every action: per currency, posted and pending debits equal credits; errors are
 * RemitnetErrors; a steady remittance in created/funded/ready has a deadline the sweeper
 * will act on; a terminal one has nothing pending in the ledger. At the end (crashes off,
 * recover, time far ahead, sweep, expire): every remittance is terminal or held, nothing is
 * reserved for a terminal one, in_flight holds exactly the held value, and agents' cash
 * moved by exactly what the remittances did.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  commissionId,
  creditLineId,
  inFlightId,
  positionId,
  writeOffId,
  type Agent,
} from '../../src/network/index.ts';
import { RemitnetError } from '../../src/remittances/index.ts';
import {
  asAgent,
  createFrom,
  koreanCorridor,
  makeWorld,
  OPERATOR,
  type KoreanCorridor,
  type World,
} from './support.ts';

type Step = 'fund' | 'accept' | 'decline' | 'payout' | 'cancel' | 'resume' | 'refund' | 'writeOff';

type Action =
  | { kind: 'create'; amount: bigint }
  | { kind: 'step'; step: Step; r: number }
  | { kind: 'both'; a: Step; b: Step; r: number }
  | { kind: 'race'; step: Step; with: 'recover' | 'sweep' | 'suspend'; agent: number; r: number }
  | { kind: 'crash'; mode: 'after' | 'before' }
  | { kind: 'recover' }
  | { kind: 'suspend'; agent: number; policy: 'reroute' | 'hold' | 'refund' }
  | { kind: 'reinstate'; agent: number }
  | { kind: 'link'; link: number; active: boolean }
  | { kind: 'advance'; minutes: number }
  | { kind: 'sweep' }
  | { kind: 'expire' };

const STEPS: Step[] = [
  'fund',
  'accept',
  'decline',
  'payout',
  'cancel',
  'resume',
  'refund',
  'writeOff',
];
const stepArb = fc.constantFrom<Step>(
  ...STEPS,
  ...(['fund', 'fund', 'accept', 'accept', 'accept', 'accept', 'payout', 'payout'] as const),
);

const action: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 2,
    arbitrary: fc
      .bigInt(50_000n, 2_000_000n)
      .map((amount) => ({ kind: 'create' as const, amount })),
  },
  {
    weight: 16,
    arbitrary: fc.record({ kind: fc.constant('step' as const), step: stepArb, r: fc.nat(7) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('both' as const),
      a: stepArb,
      b: stepArb,
      r: fc.nat(7),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('race' as const),
      step: stepArb,
      with: fc.constantFrom('recover' as const, 'sweep' as const, 'suspend' as const),
      agent: fc.nat(3),
      r: fc.nat(7),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('crash' as const),
      mode: fc.constantFrom('after' as const, 'before' as const),
    }),
  },
  { weight: 2, arbitrary: fc.constant({ kind: 'recover' as const }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('suspend' as const),
      agent: fc.nat(3),
      policy: fc.constantFrom('reroute' as const, 'hold' as const, 'refund' as const),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant('reinstate' as const), agent: fc.nat(3) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('link' as const),
      link: fc.nat(3),
      active: fc.boolean(),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('advance' as const),
      // up to 8 hours: past a hop deadline (1 h), the payout window (4 h), the grace (10 min)
      minutes: fc.oneof(
        { weight: 3, arbitrary: fc.integer({ min: 1, max: 45 }) },
        { weight: 1, arbitrary: fc.integer({ min: 200, max: 480 }) },
      ),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'sweep' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'expire' as const }) },
);

interface Tracked {
  id: string;
  code: string;
  /** Every transfer id the row ever listed as reserved. */
  reserved: Set<string>;
}

interface Ctx {
  w: World;
  c: KoreanCorridor;
  busan: Agent;
  links: string[];
  tracked: Tracked[];
  crash: 'after' | 'before' | undefined;
  unexpected: string[];
  reached: Map<string, number>;
}

const count = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);

/** Wraps the ledger once: a crash armed by an action hits the next ledger call. */
function installCrashes(ctx: Ctx): void {
  const ledger = ctx.w.ledger;
  const real = ledger.createTransfers.bind(ledger);
  ledger.createTransfers = async (batch) => {
    const mode = ctx.crash;
    ctx.crash = undefined;
    if (mode === 'before') throw new Error('the ledger did not answer');
    const out = await real(batch);
    if (mode === 'after') throw new Error('the process died after the ledger commit');
    return out;
  };
}

async function runStep(ctx: Ctx, step: Step, id: string): Promise<unknown> {
  const { rn } = ctx.w;
  const r = await rn.remittances.get(id);
  const t = ctx.tracked.find((x) => x.id === id)!;
  switch (step) {
    case 'fund':
      return rn.remittances.fund(id, asAgent({ id: r.originAgentId }));
    case 'accept':
      return rn.remittances.accept(id, asAgent({ id: r.awaitingAgentId ?? r.payoutAgentId }));
    case 'decline':
      return rn.remittances.decline(
        id,
        asAgent({ id: r.awaitingAgentId ?? r.payoutAgentId }),
        'busy',
      );
    case 'payout':
      return rn.remittances.payout(id, { code: t.code }, asAgent({ id: r.payoutAgentId }));
    case 'cancel':
      return rn.remittances.cancel(id, { kind: 'customer', id: r.senderId }, 'changed my mind');
    case 'resume':
      return rn.remittances.resolveHeld(id, 'resume', OPERATOR, 'released');
    case 'refund':
      return rn.remittances.resolveHeld(id, 'refund', OPERATOR, 'returned');
    case 'writeOff':
      return rn.remittances.writeOff(id, { refundViaAgentId: ctx.busan.id }, OPERATOR, 'lost');
  }
}

const WANTED: Record<Step, string[]> = {
  fund: ['created'],
  accept: ['funded'],
  decline: ['funded'],
  payout: ['ready'],
  cancel: ['created', 'funded', 'ready'],
  resume: ['held'],
  refund: ['held'],
  writeOff: ['held'],
};

async function target(ctx: Ctx, step: Step, r: number): Promise<string | undefined> {
  if (ctx.tracked.length === 0) return undefined;
  const rows = (await ctx.w.rn.remittances.list({ limit: 500 })).items;
  const eligible = rows.filter((x) => WANTED[step].includes(x.state));
  if (r < 6 && eligible.length > 0) return eligible[r % eligible.length]!.id;
  return ctx.tracked[r % ctx.tracked.length]!.id;
}

/** Expected: a RemitnetError. Anything else is a defect, recorded (and failed on). */
function judge(ctx: Ctx, what: string, error: unknown): void {
  if (error instanceof RemitnetError) {
    count(ctx.reached, `!${what}:${error.code}`);
    return;
  }
  ctx.unexpected.push(`${what}: ${(error as Error)?.name}: ${(error as Error)?.message}`);
}

async function apply(ctx: Ctx, a: Action): Promise<void> {
  const { w, c } = ctx;
  const { rn } = w;
  const agents = [c.seoul, c.yanji, c.yanji2!, c.hyesan];
  switch (a.kind) {
    case 'create': {
      const made = await createFrom(rn, c, a.amount);
      ctx.tracked.push({ id: made.id, code: made.code, reserved: new Set() });
      return;
    }
    case 'crash':
      ctx.crash = a.mode;
      return;
    case 'recover': {
      const rep = await rn.remittances.recover();
      if (rep.failed > 0) count(ctx.reached, 'recover_failed');
      return;
    }
    case 'advance':
      w.advance(a.minutes * 60_000);
      return;
    case 'sweep': {
      const rep = await rn.remittances.sweep();
      if (rep.failed > 0) count(ctx.reached, 'sweep_failed');
      return;
    }
    case 'expire':
      await w.ledger.expire();
      return;
    case 'suspend': {
      const rep = await rn.remittances.suspendAgent(
        agents[a.agent]!.id,
        { policy: a.policy },
        OPERATOR,
        'arrested',
      );
      for (const o of rep.outcomes) {
        count(
          ctx.reached,
          `suspend:${o.outcome}${o.outcome === 'failed' ? `:${o.reason.slice(0, 60)}` : ''}`,
        );
        // a failure that is not a documented refusal (e.g. a TypeError's message)
        if (
          o.outcome === 'failed' &&
          /TypeError|RangeError|undefined|null|SQLITE|invariant/i.test(o.reason)
        )
          ctx.unexpected.push(`suspend outcome: ${o.reason}`);
      }
      return;
    }
    case 'reinstate':
      await rn.network.setAgentStatus(agents[a.agent]!.id, 'active', OPERATOR, 'released');
      return;
    case 'link':
      await rn.network.updateLink(
        ctx.links[a.link % ctx.links.length]!,
        { active: a.active },
        OPERATOR,
      );
      return;
    case 'step': {
      const id = await target(ctx, a.step, a.r);
      if (id === undefined) return;
      try {
        await runStep(ctx, a.step, id);
        count(ctx.reached, `ok:${a.step}`);
      } catch (e) {
        judge(ctx, a.step, e);
      }
      return;
    }
    case 'race': {
      const id = await target(ctx, a.step, a.r);
      if (id === undefined) return;
      const other =
        a.with === 'recover'
          ? rn.remittances.recover()
          : a.with === 'sweep'
            ? rn.remittances.sweep()
            : rn.remittances.suspendAgent(
                agents[a.agent]!.id,
                { policy: 'reroute' },
                OPERATOR,
                'raid',
              );
      const settled = await Promise.allSettled([runStep(ctx, a.step, id), other]);
      for (const [i, s] of settled.entries()) {
        const what = i === 0 ? `race:${a.step}` : `race-with:${a.with}`;
        if (s.status === 'rejected') judge(ctx, what, s.reason);
        else count(ctx.reached, `ok:${what}`);
      }
      return;
    }
    case 'both': {
      const id = await target(ctx, a.a, a.r);
      if (id === undefined) return;
      const settled = await Promise.allSettled([runStep(ctx, a.a, id), runStep(ctx, a.b, id)]);
      for (const [i, s] of settled.entries()) {
        if (s.status === 'rejected') judge(ctx, `both:${i === 0 ? a.a : a.b}`, s.reason);
        else count(ctx.reached, `both-ok:${i === 0 ? a.a : a.b}`);
      }
      return;
    }
  }
}

const TERMINAL = new Set(['completed', 'cancelled', 'expired', 'refunded', 'written_off']);

async function check(ctx: Ctx, final: boolean): Promise<void> {
  const { rn, ledger } = ctx.w;
  // double entry, posted and pending, per currency
  const accounts = await ledger.store.scanAccounts(-1n, 8000);
  const posted = new Map<number, bigint>();
  const pending = new Map<number, bigint>();
  for (const acc of accounts) {
    posted.set(acc.ledger, (posted.get(acc.ledger) ?? 0n) + acc.creditsPosted - acc.debitsPosted);
    pending.set(
      acc.ledger,
      (pending.get(acc.ledger) ?? 0n) + acc.creditsPending - acc.debitsPending,
    );
  }
  for (const [l, s] of posted) expect(s, `posted imbalance in ledger ${l}`).toBe(0n);
  for (const [l, s] of pending) expect(s, `pending imbalance in ledger ${l}`).toBe(0n);

  let heldKrw = 0n;
  for (const t of ctx.tracked) {
    const r = await rn.remittances.get(t.id);
    const row = (await rn.remittances.repo.get(t.id))!;
    for (const h of row.reserved) t.reserved.add(h);
    if (final) count(ctx.reached, `final:${r.state}`);
    if (final) expect(r.pendingStep, `${t.id} still has a step in progress`).toBeUndefined();
    if (r.pendingStep !== undefined) continue;
    if (['created', 'funded', 'ready'].includes(r.state)) {
      // the sweeper finds it by its deadline
      const due = await rn.remittances.repo.due([r.state], Number.MAX_SAFE_INTEGER, 10_000);
      expect(due, `${t.id} (${r.state}) has no deadline the sweeper acts on`).toContain(t.id);
    }
    if (final)
      expect(TERMINAL.has(r.state) || r.state === 'held', `${t.id} ends ${r.state}`).toBe(true);
    if (r.state === 'held') heldKrw += r.sendAmountMinor;
    if (TERMINAL.has(r.state) && t.reserved.size > 0) {
      const ids = [...t.reserved].map((h) => BigInt(`0x${h}`));
      const states = await ledger.lookupPending(ids);
      for (const [id, s] of states) {
        expect(s.status, `${r.state} ${t.id}: transfer ${id.toString(16)} still reserved`).not.toBe(
          'pending',
        );
      }
    }
  }
  if (final) {
    const [krw, cny] = await ledger.lookupAccounts([inFlightId('KRW'), inFlightId('CNY')]);
    const net = (x: typeof krw) => (x === undefined ? 0n : x.creditsPosted - x.debitsPosted);
    expect(net(krw), 'in_flight(KRW) = held value').toBe(heldKrw);
    expect(net(cny), 'in_flight(CNY) = 0').toBe(0n);
    expect((krw?.debitsPending ?? 0n) + (krw?.creditsPending ?? 0n), 'KRW pending left').toBe(0n);
    expect((cny?.debitsPending ?? 0n) + (cny?.creditsPending ?? 0n), 'CNY pending left').toBe(0n);
    // cash: funding adds to the origin's, a refund subtracts what was returned, a payout
    // subtracts what the payout agent handed over
    let seoul = 1_000_000_000_000n;
    let hyesan = 1_000_000n;
    for (const t of ctx.tracked) {
      const r = await rn.remittances.get(t.id);
      const events = (await rn.remittances.history(t.id)).map((h) => h.event);
      if (events.includes('funded')) seoul += r.sendAmountMinor;
      if (r.state === 'refunded') seoul -= r.refundMinor ?? 0n;
      if (r.state === 'completed' && r.payoutAgentId === ctx.c.hyesan.id)
        hyesan -= r.deliverAmountMinor;
    }
    const s = await rn.network.getAgent(ctx.c.seoul.id);
    const h = await rn.network.getAgent(ctx.c.hyesan.id);
    await checkPositions(ctx);
    expect(s.cashOnHand.KRW, 'Seoul cash').toBe(seoul);
    expect(h.cashOnHand.CNY, 'Hyesan cash').toBe(hyesan);
  }
  expect(ctx.unexpected, 'unexpected errors').toEqual([]);
}

/**
 * Posted balances (credits - debits, the limit left out) of every position and commission
 * account, and the write-off account, against what the remittances' final states imply.
 */
async function checkPositions(ctx: Ctx): Promise<void> {
  const { rn, ledger } = ctx.w;
  const want = new Map<string, bigint>();
  const add = (id: bigint, v: bigint) =>
    want.set(id.toString(16), (want.get(id.toString(16)) ?? 0n) + v);
  for (const t of ctx.tracked) {
    const r = await rn.remittances.get(t.id);
    const cur = r.sendCurrency;
    switch (r.state) {
      case 'completed':
        add(positionId(r.originAgentId, cur), -r.sendAmountMinor);
        for (const [i, leg] of r.legs.entries()) {
          if (leg.commissionMinor > 0n)
            add(commissionId(leg.agentId, leg.currencyIn), leg.commissionMinor);
          if (i === r.legs.length - 1)
            add(positionId(leg.agentId, leg.currencyIn), leg.amountOutMinor);
          else if (leg.rate !== undefined && leg.convertedMinor !== undefined) {
            add(positionId(leg.agentId, leg.currencyIn), leg.amountInMinor - leg.commissionMinor);
            add(positionId(leg.agentId, leg.currencyOut), -leg.convertedMinor);
          }
        }
        break;
      case 'refunded': {
        const fee = r.sendAmountMinor - (r.refundMinor ?? r.sendAmountMinor);
        add(positionId(r.originAgentId, cur), -fee);
        add(commissionId(r.originAgentId, cur), fee);
        break;
      }
      case 'held':
        add(positionId(r.originAgentId, cur), -r.sendAmountMinor);
        break;
      case 'written_off':
        add(positionId(ctx.busan.id, cur), r.sendAmountMinor);
        add(writeOffId(cur), -r.sendAmountMinor);
        break;
    }
  }
  const agents = [ctx.c.seoul, ctx.c.yanji, ctx.c.yanji2!, ctx.c.hyesan, ctx.busan];
  const ids: bigint[] = [writeOffId('KRW'), writeOffId('CNY')];
  const lines: bigint[] = [];
  for (const a of agents)
    for (const cur of a.currencies) {
      ids.push(positionId(a.id, cur), commissionId(a.id, cur));
      lines.push(creditLineId(a.id, cur));
    }
  const limits = new Map<string, bigint>();
  for (const cl of await ledger.lookupAccounts(lines))
    limits.set(cl.id.toString(16), cl.debitsPosted - cl.creditsPosted);
  const got = new Map<string, bigint>();
  for (const acc of await ledger.lookupAccounts(ids))
    got.set(acc.id.toString(16), acc.creditsPosted - acc.debitsPosted);
  for (const a of agents)
    for (const cur of a.currencies) {
      const p = positionId(a.id, cur).toString(16);
      const limit = limits.get(creditLineId(a.id, cur).toString(16)) ?? 0n;
      expect((got.get(p) ?? 0n) - limit, `position ${a.name} ${cur}`).toBe(want.get(p) ?? 0n);
      const k = commissionId(a.id, cur).toString(16);
      expect(got.get(k) ?? 0n, `commission ${a.name} ${cur}`).toBe(want.get(k) ?? 0n);
    }
  for (const cur of ['KRW', 'CNY'] as const) {
    const k = writeOffId(cur).toString(16);
    expect(got.get(k) ?? 0n, `write_off ${cur}`).toBe(want.get(k) ?? 0n);
  }
}

async function setup(): Promise<Ctx> {
  const w = await makeWorld({
    hopAcceptTimeout_s: 3600,
    payoutWindow_s: 4 * 3600,
    reservationGrace_s: 600,
    cancellationFeeBp: 100,
    quoteTtl_s: 7200,
  });
  const c = await koreanCorridor(w.rn, { hops: 2, alternate: true });
  await w.rn.network.setExposureLimit(c.seoul.id, 'KRW', 5_000_000n, OPERATOR);
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
  const links = (await w.rn.network.listLinks()).map((l) => l.id);
  const ctx: Ctx = {
    w,
    c,
    busan,
    links,
    tracked: [],
    crash: undefined,
    unexpected: [],
    reached: new Map(),
  };
  installCrashes(ctx);
  return ctx;
}

/** Crashes off, everything recovered, time far ahead, swept, expired. */
async function settle(ctx: Ctx): Promise<void> {
  ctx.crash = undefined;
  const { w } = ctx;
  for (let i = 0; i < 4; i++) {
    await w.rn.remittances.recover();
    w.advance(24 * 3_600_000);
    await w.rn.remittances.sweep();
    await w.ledger.expire();
  }
  await w.rn.remittances.recover();
  await w.rn.remittances.sweep();
}

const allReached = new Map<string, number>();

describe('chaos lifecycles', () => {
  it('crashes, deadlines, suspensions and races keep money balanced and every remittance moving', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.bigInt(50_000n, 2_000_000n), { minLength: 2, maxLength: 5 }),
        fc.array(action, { minLength: 10, maxLength: 60 }),
        async (amounts, actions) => {
          const ctx = await setup();
          try {
            for (const amount of amounts) await apply(ctx, { kind: 'create', amount });
            for (const a of actions) {
              try {
                await apply(ctx, a);
              } catch (e) {
                judge(ctx, a.kind, e);
              }
              await check(ctx, false);
            }
            await settle(ctx);
            await check(ctx, true);
          } finally {
            for (const [k, v] of ctx.reached) allReached.set(k, (allReached.get(k) ?? 0) + v);
            await ctx.w.close();
          }
        },
      ),
      {
        numRuns: Number(process.env.REMITNET_CHAOS_RUNS ?? 50),
        seed: Number(process.env.REMITNET_CHAOS_SEED ?? 20261128),
      },
    );
    console.info('chaos: reached', Object.fromEntries([...allReached].sort()));
  }, 120_000);
});

/**
 * Seen in the chaos run's outcome counts (suspendAgent outcomes 'failed: … in progress')
 * and reduced to this: an origin agent suspended while a step of one of its
 * remittances is in progress (here the step's ledger call committed and its process died;
 * a request still running does the same). suspendAgent reports that remittance as 'failed'
 * (remittance_busy) and never comes back to it; once recover() finishes the step, the
 * remittance carries on through the arrested origin, and the sweeper "refunds" the sender
 * through it, as if the arrested agent had handed the cash back. docs/remittances.md: the
 * origin's suspension always holds (only an operator can know whether the cash comes back).
 */
describe('chaos findings', () => {
  it('an origin suspended while a step is in progress: the remittance is held, not refunded through the arrested origin', async () => {
    const ctx = await setup();
    const { w, c } = ctx;
    try {
      const made = await createFrom(w.rn, c, 1_000_000n);
      await w.rn.remittances.fund(made.id, asAgent(c.seoul));
      const r = await w.rn.remittances.get(made.id);
      // The first hop's acceptance commits in the ledger, then its process dies.
      ctx.crash = 'after';
      await expect(
        w.rn.remittances.accept(made.id, asAgent({ id: r.awaitingAgentId! })),
      ).rejects.toMatchObject({ code: 'ledger_unavailable' });
      // The origin is arrested meanwhile.
      const report = await w.rn.remittances.suspendAgent(
        c.seoul.id,
        { policy: 'hold' },
        OPERATOR,
        'arrested',
      );
      expect(report.outcomes).toMatchObject([{ outcome: 'failed' }]);
      expect(report.outcomes[0]!.reason).toMatch(/in progress/); // remittance_busy
      // The sweeper's tick: recover, later sweep.
      expect(await w.rn.remittances.recover()).toEqual({ redriven: 1, failed: 0 });
      w.advance(5 * 3_600_000); // past the payout window (4 h)
      await w.rn.remittances.sweep();
      const after = await w.rn.remittances.get(made.id);
      const events = (await w.rn.remittances.history(made.id)).map((h) => h.event);
      // Observed: 'refunded' by the sweeper (funding voided, the arrested origin's cash
      // "returned"), with no 'held' event ever recorded.
      expect({ state: after.state, held: events.includes('held') }).toEqual({
        state: 'held',
        held: true,
      });
    } finally {
      await w.close();
    }
  });
  it('an origin suspended while an acceptance is running (no crash): the remittance is held', async () => {
    const ctx = await setup();
    const { w, c } = ctx;
    try {
      const made = await createFrom(w.rn, c, 1_000_000n);
      await w.rn.remittances.fund(made.id, asAgent(c.seoul));
      const r = await w.rn.remittances.get(made.id);
      const [accepted, suspended] = await Promise.allSettled([
        w.rn.remittances.accept(made.id, asAgent({ id: r.awaitingAgentId! })),
        w.rn.remittances.suspendAgent(c.seoul.id, { policy: 'hold' }, OPERATOR, 'arrested'),
      ]);
      expect(accepted.status).toBe('fulfilled');
      expect(suspended.status).toBe('fulfilled');
      // Observed: the suspension meets the acceptance's intent, reports 'failed'
      // (remittance_busy), and leaves the remittance funded through the arrested origin.
      const after = await w.rn.remittances.get(made.id);
      expect(after.state).toBe('held');
    } finally {
      await w.close();
    }
  });
});
