/**
 * A remittance's ledger transfer ids lead with its own id's milliseconds (bookings.ts,
 * transferId), so the transfers of the remittances in flight sit together at the end of
 * the ledger's id index. A row written before (no `transferIds`) keeps deriving the hashed
 * ids its steps already booked: a step re-driven after an upgrade must still find them.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Transfer } from '../../src/ledger/index.ts';
import { derivedId, inFlightId } from '../../src/network/index.ts';
import { fundingId } from '../../src/remittances/bookings.ts';
import { REMITTANCE_MIGRATIONS } from '../../src/remittances/schema.ts';
import { migrateComponent } from '../../src/stores/sql.ts';
import {
  asAgent,
  createFrom,
  koreanCorridor,
  makeWorld,
  OPERATOR,
  openValue,
  storeKinds,
  type KoreanCorridor,
  type World,
} from './support.ts';

let world: World | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

/** Every transfer on the in-flight accounts: each step of a remittance books through them. */
async function inFlightTransfers(w: World): Promise<Transfer[]> {
  const out: Transfer[] = [];
  for (const cur of ['KRW', 'CNY'] as const) {
    const page = await w.ledger.getAccountTransfers({ accountId: inFlightId(cur), limit: 8189 });
    out.push(...page.transfers);
  }
  return out;
}

const millisOf = (remittanceId: string) => BigInt('0x' + remittanceId.slice(0, 12));

/** As a build before time-ordered transfer ids stored the row: without `transferIds`. */
async function asWrittenBefore(w: World, id: string): Promise<void> {
  const [stored] = await w.sql.query('SELECT body FROM remittances WHERE id = $1', [id]);
  const body = JSON.parse(String(stored!.body)) as Record<string, unknown>;
  expect(body.transferIds).toBe('time');
  delete body.transferIds;
  await w.sql.transaction((tx) =>
    tx.execute('UPDATE remittances SET body = $1 WHERE id = $2', [JSON.stringify(body), id]),
  );
}

async function deliver(w: World, c: KoreanCorridor, id: string, code: string): Promise<void> {
  const { rn } = w;
  await rn.remittances.fund(id, asAgent(c.seoul));
  await rn.remittances.accept(id, asAgent(c.yanji));
  await rn.remittances.accept(id, asAgent(c.hyesan));
  const r = await rn.remittances.payout(id, { code }, asAgent(c.hyesan));
  expect(r.state).toBe('completed');
}

/** A 2-hop remittance created now, then stored as a build before would have (see above). */
async function writtenBefore(kind: 'sqlite' | 'postgres', alternate = false) {
  world = await makeWorld({}, kind);
  const c = await koreanCorridor(world.rn, { hops: 2, alternate });
  const { id, code } = await createFrom(world.rn, c);
  await asWrittenBefore(world, id);
  return { w: world, rn: world.rn, c, id, code };
}

/** The state of the funding booked under the hashed id a row written before derives. */
async function hashedFunding(w: World, id: string) {
  const hashed = derivedId('rt', id, 'fund');
  return (await w.ledger.lookupPending([hashed])).get(hashed)?.status;
}

for (const kind of await storeKinds()) {
  describe(`on ${kind}`, () => {
    it("every transfer a new remittance books leads with its id's milliseconds", async () => {
      world = await makeWorld({}, kind);
      const c = await koreanCorridor(world.rn, { hops: 2 });
      const { id, code } = await createFrom(world.rn, c);
      await deliver(world, c, id, code);
      const transfers = await inFlightTransfers(world);
      // funding, the reservations of both legs, and a post of each
      expect(transfers.length).toBeGreaterThanOrEqual(8);
      for (const t of transfers) expect(t.id >> 80n).toBe(millisOf(id));
      const [funding] = await world.ledger.lookupTransfers([
        fundingId({ id, transferIds: 'time' }),
      ]);
      expect(funding?.amount).toBe(1_000_000n);
      expect(await openValue(world, [c.seoul, c.yanji, c.hyesan])).toBe(0n);
    });

    it('a row written before keeps its hashed ids through delivery', async () => {
      const { w, c, id, code } = await writtenBefore(kind);
      await deliver(w, c, id, code);
      const [funding] = await w.ledger.lookupTransfers([derivedId('rt', id, 'fund')]);
      expect(funding?.amount).toBe(1_000_000n);
      const transfers = await inFlightTransfers(w);
      expect(transfers.length).toBeGreaterThanOrEqual(8);
      for (const t of transfers) expect(t.id >> 80n).not.toBe(millisOf(id));
      expect(await openValue(w, [c.seoul, c.yanji, c.hyesan])).toBe(0n);
    });

    it('a row written before and funded then is refunded against the funding it booked', async () => {
      const { w, rn, c, id } = await writtenBefore(kind);
      await rn.remittances.fund(id, asAgent(c.seoul));
      await rn.remittances.accept(id, asAgent(c.yanji));
      // The funding is found (and released) by the id it was booked under: a time-ordered
      // id here would miss it, and the sender's cash would stay reserved.
      const r = await rn.remittances.decline(id, asAgent(c.hyesan), 'no courier');
      expect(['refunded', 'cancelled']).toContain(r.state);
      expect(await hashedFunding(w, id)).toBe('voided');
      expect(await openValue(w, [c.seoul, c.yanji, c.hyesan])).toBe(0n);
    });

    // The other steps that derive ids on a row written before (cases a review added).
    it('a row written before is rerouted, then delivered, on its hashed ids', async () => {
      const { w, rn, c, id, code } = await writtenBefore(kind, true);
      await rn.remittances.fund(id, asAgent(c.seoul));
      await rn.remittances.accept(id, asAgent(c.yanji));
      const report = await rn.remittances.suspendAgent(
        c.yanji.id,
        { policy: 'reroute' },
        OPERATOR,
        'unreachable',
      );
      expect(report.outcomes.map((o) => o.outcome)).toEqual(['rerouted']);
      await rn.remittances.accept(id, asAgent(c.yanji2!));
      await rn.remittances.accept(id, asAgent(c.hyesan));
      const r = await rn.remittances.payout(id, { code }, asAgent(c.hyesan));
      expect(r.state).toBe('completed');
      expect(await hashedFunding(w, id)).toBe('posted');
      expect(await openValue(w, [c.seoul, c.yanji, c.yanji2!, c.hyesan])).toBe(0n);
    });

    it('a row written before is held, then refunded, on its hashed ids', async () => {
      const { w, rn, c, id } = await writtenBefore(kind);
      await rn.remittances.fund(id, asAgent(c.seoul));
      const held = await rn.remittances.suspendAgent(
        c.hyesan.id,
        { policy: 'hold' },
        OPERATOR,
        'arrested',
      );
      expect(held.outcomes.map((o) => o.outcome)).toEqual(['held']);
      expect(await hashedFunding(w, id)).toBe('posted');
      const r = await rn.remittances.resolveHeld(id, 'refund', OPERATOR, 'the family moved');
      expect(r.state).toBe('refunded');
      for (const t of await inFlightTransfers(w)) expect(t.id >> 80n).not.toBe(millisOf(id));
      expect(await openValue(w, [c.seoul, c.yanji, c.hyesan])).toBe(0n);
    });

    it('a row written before is cancelled with a fee against the funding it booked', async () => {
      const { w, rn, c, id } = await writtenBefore(kind);
      await rn.remittances.fund(id, asAgent(c.seoul));
      const r = await rn.remittances.cancel(id, asAgent(c.seoul), 'changed mind');
      expect(['refunded', 'cancelled']).toContain(r.state);
      expect(['posted', 'voided']).toContain(await hashedFunding(w, id));
      expect(await openValue(w, [c.seoul, c.yanji, c.hyesan])).toBe(0n);
    });

    it('a build that knows only the first remittances migration refuses the database', async () => {
      // Such a build derives hashed ids for every row, new ones included: it must not step
      // a remittance this one created (src/remittances/schema.ts, migration 2).
      world = await makeWorld({}, kind);
      await expect(
        migrateComponent(world.sql, 'remittances', REMITTANCE_MIGRATIONS.slice(0, 1)),
      ).rejects.toMatchObject({ code: 'store_schema_newer' });
    });
  });
}
