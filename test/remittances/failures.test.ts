/**
 * Every failure path: declines and timeouts (reroute or refund), cancellation, suspension
 * (reroute, hold, refund), write-off, payout deadline, payout codes, and bad input that must
 * change nothing.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { RemitnetConfig } from '../../src/remittances/index.ts';
import { positionId, writeOffId, inFlightId, commissionId } from '../../src/network/index.ts';
import {
  agent,
  asAgent,
  createFrom,
  key,
  koreanCorridor,
  makeWorld,
  storeKinds,
  openValue,
  OPERATOR,
  rule,
  type World,
} from './support.ts';

let world: World | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

const HOUR = 3_600_000;

async function all(w: World, c: Awaited<ReturnType<typeof koreanCorridor>>) {
  return [c.seoul, c.yanji, c.changbai, c.hyesan, ...(c.yanji2 ? [c.yanji2] : [])].map((a) => a);
}

for (const kind of await storeKinds()) {
  const mk = (config: Partial<RemitnetConfig> = {}) => makeWorld(config, kind);
  describe(`on ${kind}`, () => {
    describe('decline and timeout', () => {
      it('a declining hop is rerouted through another route within the quoted cost, then delivered', async () => {
        world = await mk();
        const { rn } = world;
        const c = await koreanCorridor(rn, { hops: 2, alternate: true });
        const { id, code } = await createFrom(rn, c);
        await rn.remittances.fund(id, asAgent(c.seoul));
        const r = await rn.remittances.decline(id, asAgent(c.yanji), 'no courier today');
        expect(r.state).toBe('funded');
        expect(r.attempt).toBe(1);
        expect(r.awaitingAgentId).toBe(c.yanji2!.id);
        expect(r.excludedAgentIds).toContain(c.yanji.id);
        await rn.remittances.accept(id, asAgent(c.yanji2!));
        await rn.remittances.accept(id, asAgent(c.hyesan));
        const done = await rn.remittances.payout(id, { code }, asAgent(c.hyesan));
        expect(done.state).toBe('completed');
        expect(done.deliverAmountMinor).toBe(405_000n);
        expect(await openValue(world, await all(world, c))).toBe(0n);
        const [yk] = await world.ledger.lookupAccounts([commissionId(c.yanji.id, 'KRW')]);
        expect(yk!.creditsPosted + yk!.creditsPending).toBe(0n); // the decliner earns nothing
        const events = (await rn.remittances.history(id)).map((h) => h.event);
        expect(events).toContain('hop_declined');
        expect(events).toContain('rerouted');
      });

      it('a reroute onto a cheaper route gives the family the saving', async () => {
        world = await mk();
        const { rn } = world;
        const c = await koreanCorridor(rn, { hops: 2, alternate: true });
        const { id, code } = await createFrom(rn, c);
        await rn.remittances.fund(id, asAgent(c.seoul));
        await rn.network.updateAgent(
          c.yanji2!.id,
          { commissions: [rule('KRW', '5'), rule('CNY', '5')] },
          OPERATOR,
        );
        const r = await rn.remittances.decline(id, asAgent(c.yanji), 'no courier');
        expect(r.deliverAmountMinor).toBe(427_500n); // 950,000 KRW -> 4,750.00 CNY, less 10%
        await rn.remittances.accept(id, asAgent(c.yanji2!));
        await rn.remittances.accept(id, asAgent(c.hyesan));
        const done = await rn.remittances.payout(id, { code }, asAgent(c.hyesan));
        expect(done.deliverAmountMinor).toBe(427_500n);
        const [pos] = await world.ledger.lookupAccounts([positionId(c.hyesan.id, 'CNY')]);
        expect(pos!.creditsPosted - 1_000_000_000_000n).toBe(427_500n);
        expect(await openValue(world, await all(world, c))).toBe(0n);
      });

      it('a reroute that would cost more than quoted is refused: the sender is refunded', async () => {
        world = await mk();
        const { rn } = world;
        const c = await koreanCorridor(rn, { hops: 2, alternate: true, alternatePercent: '12' });
        const { id } = await createFrom(rn, c);
        await rn.remittances.fund(id, asAgent(c.seoul));
        const r = await rn.remittances.decline(id, asAgent(c.yanji), 'closed');
        expect(r.state).toBe('refunded');
        expect(r.refundMinor).toBe(1_000_000n);
        expect(await openValue(world, await all(world, c))).toBe(0n);
        const [p] = await world.ledger.lookupAccounts([positionId(c.seoul.id, 'KRW')]);
        expect(p!.debitsPosted).toBe(0n);
      });

      it('a hop that does not answer by its deadline is swept: rerouted, or refunded', async () => {
        world = await mk({ hopAcceptTimeout_s: 600 });
        const { rn } = world;
        const c = await koreanCorridor(rn, { hops: 2 });
        const { id } = await createFrom(rn, c);
        await rn.remittances.fund(id, asAgent(c.seoul));
        await rn.remittances.accept(id, asAgent(c.yanji));
        world.advance(601_000);
        await expect(rn.remittances.accept(id, asAgent(c.hyesan))).rejects.toMatchObject({
          code: 'deadline_passed',
        });
        const report = await rn.remittances.sweep();
        expect(report.refunded).toBe(1);
        const r = await rn.remittances.get(id);
        expect(r.state).toBe('refunded');
        expect(await openValue(world, await all(world, c))).toBe(0n);
        const hyesan = await rn.network.getAgent(c.hyesan.id);
        expect(hyesan.failedCount).toBe(1);
      });

      it('an unfunded remittance expires with its quote', async () => {
        world = await mk({ quoteTtl_s: 60 });
        const { rn } = world;
        const c = await koreanCorridor(rn, { hops: 2 });
        const { id } = await createFrom(rn, c);
        world.advance(61_000);
        await expect(rn.remittances.fund(id, asAgent(c.seoul))).rejects.toMatchObject({
          code: 'quote_expired',
        });
        expect((await rn.remittances.sweep()).expired).toBe(1);
        expect((await rn.remittances.get(id)).state).toBe('expired');
      });

      it('a remittance not paid by the payout deadline is refunded by the sweeper', async () => {
        world = await mk({ payoutWindow_s: 2 * 3600 });
        const { rn } = world;
        const c = await koreanCorridor(rn, { hops: 2 });
        const { id, code } = await createFrom(rn, c);
        await rn.remittances.fund(id, asAgent(c.seoul));
        await rn.remittances.accept(id, asAgent(c.yanji));
        await rn.remittances.accept(id, asAgent(c.hyesan));
        world.advance(2 * HOUR);
        await expect(rn.remittances.payout(id, { code }, asAgent(c.hyesan))).rejects.toMatchObject({
          code: 'deadline_passed',
        });
        expect((await rn.remittances.sweep()).refunded).toBe(1);
        expect((await rn.remittances.get(id)).state).toBe('refunded');
        expect(await openValue(world, await all(world, c))).toBe(0n);
      });

      it('if remitnet never sweeps, the ledger releases the reservations by itself', async () => {
        world = await mk({ payoutWindow_s: 3600, reservationGrace_s: 60 });
        const { rn } = world;
        const c = await koreanCorridor(rn, { hops: 2 });
        const { id } = await createFrom(rn, c);
        await rn.remittances.fund(id, asAgent(c.seoul));
        world.advance(HOUR + 61_000);
        await world.ledger.expire();
        expect(await openValue(world, await all(world, c))).toBe(0n);
        // and the sweeper, when it runs, refunds cleanly (voids of expired reservations count as done)
        await rn.remittances.sweep();
        expect((await rn.remittances.get(id)).state).toBe('refunded');
      });
    });

    describe('cancel', () => {
      it('before funding: cancelled, nothing booked', async () => {
        world = await mk();
        const { rn } = world;
        const c = await koreanCorridor(rn, { hops: 2 });
        const { id } = await createFrom(rn, c);
        const r = await rn.remittances.cancel(
          id,
          { kind: 'customer', id: c.sender },
          'changed my mind',
        );
        expect(r.state).toBe('cancelled');
        await expect(rn.remittances.fund(id, asAgent(c.seoul))).rejects.toMatchObject({
          code: 'transition_not_allowed',
        });
      });

      it('after acceptance: refunded under the cancellation policy (fee kept by the origin)', async () => {
        world = await mk({ cancellationFeeBp: 100 });
        const { rn } = world;
        const c = await koreanCorridor(rn, { hops: 2 });
        const { id } = await createFrom(rn, c);
        await rn.remittances.fund(id, asAgent(c.seoul));
        await rn.remittances.accept(id, asAgent(c.yanji));
        await expect(
          rn.remittances.cancel(id, { kind: 'customer', id: c.recipient }, 'not mine'),
        ).rejects.toMatchObject({ code: 'actor_not_allowed' });
        const r = await rn.remittances.cancel(
          id,
          { kind: 'customer', id: c.sender },
          'family moved',
        );
        expect(r.state).toBe('refunded');
        expect(r.refundMinor).toBe(990_000n);
        const [pos, com] = await world.ledger.lookupAccounts([
          positionId(c.seoul.id, 'KRW'),
          commissionId(c.seoul.id, 'KRW'),
        ]);
        expect(pos!.debitsPosted).toBe(10_000n); // Seoul keeps the fee in cash: it owes it...
        expect(com!.creditsPosted).toBe(10_000n); // ...and is owed it as commission: net nothing
        expect(await openValue(world, await all(world, c))).toBe(0n);
      });

      it('after payout: refused', async () => {
        world = await mk();
        const { rn } = world;
        const c = await koreanCorridor(rn, { hops: 1 });
        const { id, code } = await createFrom(rn, c);
        await rn.remittances.fund(id, asAgent(c.seoul));
        await rn.remittances.accept(id, asAgent(c.hyesan));
        await rn.remittances.payout(id, { code }, asAgent(c.hyesan));
        await expect(rn.remittances.cancel(id, OPERATOR, 'too late')).rejects.toMatchObject({
          code: 'transition_not_allowed',
        });
      });
    });

    describe('suspension (an agent is arrested)', () => {
      it('an intermediary: its remittances are rerouted where a route exists, and the operator sees exposure', async () => {
        world = await mk();
        const { rn } = world;
        const c = await koreanCorridor(rn, { hops: 2, alternate: true });
        const a = await createFrom(rn, c);
        await rn.remittances.fund(a.id, asAgent(c.seoul));
        await rn.remittances.accept(a.id, asAgent(c.yanji));
        const report = await rn.remittances.suspendAgent(
          c.yanji.id,
          { policy: 'reroute' },
          OPERATOR,
          'arrested',
        );
        expect(report.outcomes).toEqual([
          expect.objectContaining({ remittanceId: a.id, outcome: 'rerouted' }),
        ]);
        expect(report.exposure.status).toBe('suspended');
        const r = await rn.remittances.get(a.id);
        expect(r.awaitingAgentId).toBe(c.yanji2!.id);
        await rn.remittances.accept(a.id, asAgent(c.yanji2!));
        await rn.remittances.accept(a.id, asAgent(c.hyesan));
        await rn.remittances.payout(a.id, { code: a.code }, asAgent(c.hyesan));
        expect(await openValue(world, await all(world, c))).toBe(0n);
        // a suspended agent is never quoted
        const q = await rn.network.quote({
          originAgentId: c.seoul.id,
          payoutCountry: 'KP',
          payoutRegion: 'Ryanggang',
          payoutCurrency: 'CNY',
          sendCurrency: 'KRW',
          sendAmountMinor: 10_000n,
          options: 10,
        });
        expect(q.quotes.every((x) => x.legs.every((l) => l.agentId !== c.yanji.id))).toBe(true);
      });

      it('policy refund: the sender is refunded; policy hold: held until an operator resolves it', async () => {
        world = await mk();
        const { rn } = world;
        const c = await koreanCorridor(rn, { hops: 3 });
        const a = await createFrom(rn, c);
        await rn.remittances.fund(a.id, asAgent(c.seoul));
        await rn.remittances.accept(a.id, asAgent(c.yanji));
        const b = await createFrom(rn, c, 500_000n);
        await rn.remittances.fund(b.id, asAgent(c.seoul));
        const report = await rn.remittances.suspendAgent(
          c.changbai.id,
          { policy: 'refund' },
          OPERATOR,
          'arrested',
        );
        expect(report.outcomes.map((o) => o.outcome)).toEqual(['refunded', 'refunded']);
        expect(await openValue(world, await all(world, c))).toBe(0n);

        await rn.network.setAgentStatus(c.changbai.id, 'active', OPERATOR, 'released');
        const d = await createFrom(rn, c);
        await rn.remittances.fund(d.id, asAgent(c.seoul));
        const held = await rn.remittances.suspendAgent(
          c.hyesan.id,
          { policy: 'hold' },
          OPERATOR,
          'unreachable',
        );
        expect(held.outcomes.map((o) => o.outcome)).toEqual(['held']);
        const r = await rn.remittances.get(d.id);
        expect(r.state).toBe('held');
        // the value is posted into in-flight (not left to expire) while held
        const [inflight] = await world.ledger.lookupAccounts([inFlightId('KRW')]);
        expect(inflight!.creditsPosted - inflight!.debitsPosted).toBe(1_000_000n);
        const refunded = await rn.remittances.resolveHeld(
          d.id,
          'refund',
          OPERATOR,
          'family unreachable',
        );
        expect(refunded.state).toBe('refunded');
        expect(await openValue(world, await all(world, c))).toBe(0n);
      });

      it('a held remittance resumes onto another route, or is refunded when none is left', async () => {
        world = await mk();
        const { rn } = world;
        const c = await koreanCorridor(rn, { hops: 2, alternate: true });
        const a = await createFrom(rn, c);
        await rn.remittances.fund(a.id, asAgent(c.seoul));
        await rn.remittances.accept(a.id, asAgent(c.yanji));
        await rn.remittances.suspendAgent(c.yanji.id, { policy: 'hold' }, OPERATOR, 'questioned');
        expect((await rn.remittances.get(a.id)).state).toBe('held');
        const resumed = await rn.remittances.resolveHeld(
          a.id,
          'resume',
          OPERATOR,
          'route via Yanji 2',
        );
        expect(resumed.state).toBe('funded');
        expect(resumed.awaitingAgentId).toBe(c.yanji2!.id);
        await rn.remittances.accept(a.id, asAgent(c.yanji2!));
        await rn.remittances.accept(a.id, asAgent(c.hyesan));
        await rn.remittances.payout(a.id, { code: a.code }, asAgent(c.hyesan));
        expect(await openValue(world, await all(world, c))).toBe(0n);

        const b = await createFrom(rn, c);
        await rn.remittances.fund(b.id, asAgent(c.seoul));
        await rn.remittances.suspendAgent(c.yanji2!.id, { policy: 'hold' }, OPERATOR, 'questioned');
        const refunded = await rn.remittances.resolveHeld(b.id, 'resume', OPERATOR, 'try again');
        expect(refunded.state).toBe('refunded');
        expect(await openValue(world, await all(world, c))).toBe(0n);
      });

      it('the origin agent holding the cash: held; the operator writes the loss off, another agent refunds', async () => {
        world = await mk();
        const { rn } = world;
        const c = await koreanCorridor(rn, { hops: 2 });
        const busan = await agent(
          rn,
          'Busan agent',
          ['KR', 'Busan', 'Busan'],
          ['KRW'],
          ['origin'],
          [rule('KRW', '1')],
        );
        const a = await createFrom(rn, c);
        await rn.remittances.fund(a.id, asAgent(c.seoul));
        await rn.remittances.accept(a.id, asAgent(c.yanji));
        const report = await rn.remittances.suspendAgent(
          c.seoul.id,
          { policy: 'reroute' },
          OPERATOR,
          'arrested with the cash',
        );
        expect(report.outcomes.map((o) => o.outcome)).toEqual(['held']);
        expect(report.exposure.inFlight).toEqual([
          expect.objectContaining({
            remittanceId: a.id,
            role: 'origin',
            amountMinor: 1_000_000n,
            currency: 'KRW',
          }),
        ]);
        const krw = report.exposure.lines.find((l) => l.currency === 'KRW')!;
        expect(krw.owesPostedMinor).toBe(1_000_000n);
        await expect(
          rn.remittances.writeOff(a.id, { refundViaAgentId: busan.id }, asAgent(busan), 'lost'),
        ).rejects.toMatchObject({ code: 'actor_not_allowed' });
        const r = await rn.remittances.writeOff(
          a.id,
          { refundViaAgentId: busan.id },
          OPERATOR,
          'cash confiscated',
        );
        expect(r.state).toBe('written_off');
        const [wo, seoulPos, busanPos, inflight] = await world.ledger.lookupAccounts([
          writeOffId('KRW'),
          positionId(c.seoul.id, 'KRW'),
          positionId(busan.id, 'KRW'),
          inFlightId('KRW'),
        ]);
        expect(wo!.debitsPosted).toBe(1_000_000n);
        expect(seoulPos!.debitsPosted - (seoulPos!.creditsPosted - 1_000_000_000_000n)).toBe(0n);
        expect(busanPos!.creditsPosted - 1_000_000_000_000n).toBe(1_000_000n);
        expect(inflight!.creditsPosted - inflight!.debitsPosted).toBe(0n);
        const events = (await rn.remittances.history(a.id)).map((h) => [h.event, h.actor.kind]);
        expect(events).toContainEqual(['written_off', 'operator']);
      });
    });

    describe('payout codes and proofs', () => {
      it('wrong codes count, lock after the limit; malformed ones do not count; a reissued code works once', async () => {
        world = await mk({ payoutCodeMaxAttempts: 3 });
        const { rn } = world;
        const c = await koreanCorridor(rn, { hops: 1 });
        const { id, code } = await createFrom(rn, c);
        await rn.remittances.fund(id, asAgent(c.seoul));
        await rn.remittances.accept(id, asAgent(c.hyesan));
        await expect(
          rn.remittances.payout(id, { code: 'hello' }, asAgent(c.hyesan)),
        ).rejects.toMatchObject({
          code: 'payout_code_malformed',
        });
        const typo = code.slice(0, 2) + (code[2] === '7' ? '8' : '7') + code.slice(3);
        await expect(
          rn.remittances.payout(id, { code: typo }, asAgent(c.hyesan)),
        ).rejects.toMatchObject({
          code: 'payout_code_malformed', // the check character catches a single wrong character
        });
        const other = (await import('../../src/remittances/index.ts')).newPayoutCode();
        await expect(
          rn.remittances.payout(id, { code: other }, asAgent(c.hyesan)),
        ).rejects.toMatchObject({
          code: 'payout_code_wrong',
        });
        await expect(
          rn.remittances.payout(id, { code: other }, asAgent(c.hyesan)),
        ).rejects.toMatchObject({
          code: 'payout_code_wrong',
        });
        await expect(
          rn.remittances.payout(id, { code: other }, asAgent(c.hyesan)),
        ).rejects.toMatchObject({
          code: 'payout_code_locked',
        });
        await expect(rn.remittances.payout(id, { code }, asAgent(c.hyesan))).rejects.toMatchObject({
          code: 'payout_code_locked',
        });
        await expect(rn.remittances.payout(id, { code }, asAgent(c.yanji))).rejects.toMatchObject({
          code: 'actor_not_allowed',
        });
        const { payoutCode } = await rn.remittances.reissuePayoutCode(
          id,
          OPERATOR,
          'recipient called the hotline',
        );
        await expect(rn.remittances.payout(id, { code }, asAgent(c.hyesan))).rejects.toMatchObject({
          code: 'payout_code_wrong',
        });
        // read aloud: lower case, spaces, O for 0 all work
        const spoken = payoutCode.toLowerCase().replace(/-/g, ' ').replace(/0/g, 'o');
        const r = await rn.remittances.payout(id, { code: spoken }, asAgent(c.hyesan));
        expect(r.state).toBe('completed');
        await expect(
          rn.remittances.payout(id, { code: payoutCode }, asAgent(c.hyesan)),
        ).rejects.toMatchObject({
          code: 'transition_not_allowed', // a used code cannot pay twice
        });
        const stored = await world.sql.query('SELECT body FROM remittances WHERE id = $1', [id]);
        expect(String(stored[0]!.body)).not.toContain(payoutCode.replace(/-/g, ''));
      });

      it('a corridor can require a codeword agreed with the family', async () => {
        world = await mk({ corridors: { 'KR-KP': { proofs: ['code', 'codeword'] } } });
        const { rn } = world;
        const c = await koreanCorridor(rn, { hops: 1 });
        const { quotes } = await rn.network.quote({
          originAgentId: c.seoul.id,
          payoutCountry: 'KP',
          payoutRegion: 'Ryanggang',
          payoutCurrency: 'CNY',
          sendCurrency: 'KRW',
          sendAmountMinor: 100_000n,
        });
        const base = { quoteId: quotes[0]!.id, senderId: c.sender, recipientId: c.recipient };
        await expect(
          rn.remittances.create({ ...base, idempotencyKey: key() }, OPERATOR),
        ).rejects.toMatchObject({
          code: 'proof_missing',
        });
        const { remittance, payoutCode } = await rn.remittances.create(
          { ...base, idempotencyKey: key(), codeword: 'Grandmother Pine Tree' },
          OPERATOR,
        );
        await rn.remittances.fund(remittance.id, asAgent(c.seoul));
        await rn.remittances.accept(remittance.id, asAgent(c.hyesan));
        await expect(
          rn.remittances.payout(
            remittance.id,
            { code: payoutCode!, codeword: 'oak' },
            asAgent(c.hyesan),
          ),
        ).rejects.toMatchObject({ code: 'proof_wrong' });
        const r = await rn.remittances.payout(
          remittance.id,
          { code: payoutCode!, codeword: 'grandmother  pine tree' },
          asAgent(c.hyesan),
        );
        expect(r.state).toBe('completed');
      });
    });

    describe('bad input changes nothing', () => {
      it('out-of-order transitions, wrong actors, unknown ids', async () => {
        world = await mk();
        const { rn } = world;
        const c = await koreanCorridor(rn, { hops: 2 });
        const { id, code } = await createFrom(rn, c);
        const before = await rn.remittances.get(id);
        await expect(rn.remittances.accept(id, asAgent(c.yanji))).rejects.toMatchObject({
          code: 'transition_not_allowed',
        });
        await expect(rn.remittances.payout(id, { code }, asAgent(c.hyesan))).rejects.toMatchObject({
          code: 'transition_not_allowed',
        });
        await expect(rn.remittances.fund(id, asAgent(c.yanji))).rejects.toMatchObject({
          code: 'actor_not_allowed',
        });
        await expect(rn.remittances.fund('00', asAgent(c.seoul))).rejects.toMatchObject({
          code: 'remittance_not_found',
        });
        await rn.remittances.fund(id, asAgent(c.seoul));
        await expect(rn.remittances.accept(id, asAgent(c.hyesan))).rejects.toMatchObject({
          code: 'actor_not_allowed',
        });
        await expect(rn.remittances.decline(id, asAgent(c.yanji), '')).rejects.toMatchObject({
          code: 'reason_missing',
        });
        const after = await rn.remittances.get(id);
        expect(after.version).toBe(before.version + 2); // fund = intent + outcome; refusals wrote nothing
        expect(after.state).toBe('funded');
      });

      it('quotes: unknown and suspended agents, amounts, currencies', async () => {
        world = await mk({
          corridors: {
            'KR-KP': { minSendMinor: { KRW: 10_000n }, maxSendMinor: { KRW: 5_000_000n } },
          },
        });
        const { rn } = world;
        const c = await koreanCorridor(rn, { hops: 2 });
        const req = {
          originAgentId: c.seoul.id,
          payoutCountry: 'KP',
          payoutRegion: 'Ryanggang',
          payoutCurrency: 'CNY' as const,
          sendCurrency: 'KRW' as const,
          sendAmountMinor: 100_000n,
        };
        await expect(
          rn.network.quote({ ...req, originAgentId: 'f'.repeat(32) }),
        ).rejects.toMatchObject({
          code: 'agent_not_found',
        });
        await expect(rn.network.quote({ ...req, sendAmountMinor: 9_999n })).rejects.toMatchObject({
          code: 'amount_below_minimum',
        });
        await expect(
          rn.network.quote({ ...req, sendAmountMinor: 5_000_001n }),
        ).rejects.toMatchObject({
          code: 'amount_above_limit',
        });
        await expect(rn.network.quote({ ...req, sendAmountMinor: -5n })).rejects.toMatchObject({
          code: 'amount_invalid',
        });
        await expect(
          rn.network.quote({ ...req, payoutRegion: 'North Hamgyong' }),
        ).rejects.toMatchObject({
          code: 'no_route',
        });
        await expect(
          rn.network.quote({ ...req, sendCurrency: 'XXX' as 'KRW' }),
        ).rejects.toMatchObject({
          code: 'currency_unknown',
        });
        await rn.network.setAgentStatus(c.seoul.id, 'suspended', OPERATOR, 'arrested');
        await expect(rn.network.quote(req)).rejects.toMatchObject({ code: 'agent_suspended' });
      });

      it('customers: only configured fields; the travel rule above the threshold', async () => {
        world = await mk({ travelRuleThresholdMinor: { KRW: 1_300_000n } });
        const { rn } = world;
        const c = await koreanCorridor(rn, { hops: 2 });
        await expect(
          rn.network.createCustomer(
            {
              role: 'recipient',
              name: 'X',
              reference: 'R',
              country: 'KP',
              region: 'Ryanggang',
              data: { phone: '+850' },
            },
            OPERATOR,
          ),
        ).rejects.toMatchObject({ code: 'customer_field_not_allowed' });
        await expect(
          rn.network.createCustomer(
            {
              role: 'sender',
              name: 'X',
              reference: 'R',
              data: { favouriteColour: 'red' } as never,
            },
            OPERATOR,
          ),
        ).rejects.toMatchObject({ code: 'customer_field_not_allowed' });
        await expect(
          rn.network.createCustomer({ role: 'sender', name: '', reference: 'R' }, OPERATOR),
        ).rejects.toMatchObject({
          code: 'customer_invalid',
        });
        const bare = await rn.network.createCustomer(
          { role: 'sender', name: 'Lee', reference: 'S-9' },
          OPERATOR,
        );
        const { quotes } = await rn.network.quote({
          originAgentId: c.seoul.id,
          payoutCountry: 'KP',
          payoutRegion: 'Ryanggang',
          payoutCurrency: 'CNY',
          sendCurrency: 'KRW',
          sendAmountMinor: 1_300_000n,
        });
        await expect(
          rn.remittances.create(
            {
              quoteId: quotes[0]!.id,
              idempotencyKey: key(),
              senderId: bare.id,
              recipientId: c.recipient,
            },
            OPERATOR,
          ),
        ).rejects.toMatchObject({ code: 'customer_data_missing' });
        // below the threshold, a name and a reference suffice
        const small = await rn.network.quote({
          originAgentId: c.seoul.id,
          payoutCountry: 'KP',
          payoutRegion: 'Ryanggang',
          payoutCurrency: 'CNY',
          sendCurrency: 'KRW',
          sendAmountMinor: 1_299_999n,
        });
        const ok = await rn.remittances.create(
          {
            quoteId: small.quotes[0]!.id,
            idempotencyKey: key(),
            senderId: bare.id,
            recipientId: c.recipient,
          },
          OPERATOR,
        );
        expect(ok.remittance.state).toBe('created');
      });

      it('cash on hand and exposure limits are enforced; a refusal reserves nothing', async () => {
        world = await mk();
        const { rn } = world;
        const c = await koreanCorridor(rn, { hops: 2 });
        await rn.network.reportCash(c.hyesan.id, 'CNY', 500_000n, asAgent(c.hyesan));
        const a = await createFrom(rn, c);
        const b = await createFrom(rn, c);
        for (const x of [a, b]) {
          await rn.remittances.fund(x.id, asAgent(c.seoul));
          await rn.remittances.accept(x.id, asAgent(c.yanji));
        }
        await rn.remittances.accept(a.id, asAgent(c.hyesan)); // 405,000 of 500,000
        await expect(rn.remittances.accept(b.id, asAgent(c.hyesan))).rejects.toMatchObject({
          code: 'cash_insufficient',
        });
        // exposure: Seoul may owe at most 1,500,000 KRW; 2,000,000 is already reserved
        await expect(
          rn.network.setExposureLimit(c.seoul.id, 'KRW', 1_500_000n, OPERATOR),
        ).rejects.toMatchObject({ code: 'limit_below_usage' });
        await rn.network.setExposureLimit(c.seoul.id, 'KRW', 2_500_000n, OPERATOR);
        const d = await createFrom(rn, c);
        const before = await world.ledger.lookupAccounts([positionId(c.seoul.id, 'KRW')]);
        await expect(rn.remittances.fund(d.id, asAgent(c.seoul))).rejects.toMatchObject({
          code: 'exposure_limit_exceeded',
        });
        const after = await world.ledger.lookupAccounts([positionId(c.seoul.id, 'KRW')]);
        expect(after).toEqual(before);
        expect((await rn.remittances.get(d.id)).state).toBe('created');
      });
    });
  });
}
