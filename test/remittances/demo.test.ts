/** The demo loads into a fresh database, its remittances reach their states, and a second load changes nothing. */
import { afterEach, expect, it } from 'vitest';
import { DEMO_AGENTS, DEMO_LINKS, DEMO_REMITTANCES, loadDemo } from '../../src/demo/index.ts';
import { makeWorld, type World } from './support.ts';

let world: World | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

it('loads both corridors with remittances in various states, idempotently', async () => {
  world = await makeWorld();
  const first = await loadDemo(world.rn);
  expect(first.loaded).toBe(true);
  expect(first.remittances.map((r) => r.state)).toEqual([
    'completed',
    'ready',
    'funded',
    'created',
    'refunded',
    'completed',
    'ready',
  ]);
  const [korea, aid] = [first.remittances[0]!, first.remittances[5]!];
  expect(korea.corridor).toBe('KR-KP');
  expect(aid.corridor).toBe('AE-AF');
  const q = await world.rn.network.quote({
    originAgentId: (await world.rn.remittances.get(aid.id)).originAgentId,
    payoutCountry: 'AF',
    payoutRegion: 'Herat',
    payoutCurrency: 'AFN',
    sendCurrency: 'USD',
    sendAmountMinor: 20_000n,
  });
  const bp = q.quotes[0]!.totalCost.basisPoints;
  expect(bp).toBeGreaterThan(200n);
  expect(bp).toBeLessThan(600n);
  const second = await loadDemo(world.rn);
  expect(second.loaded).toBe(false);
  // A complete load is what a cut-short one is measured against.
  expect([second.agents, second.links, second.remittances.length]).toEqual([
    DEMO_AGENTS,
    DEMO_LINKS,
    DEMO_REMITTANCES,
  ]);
  expect(second.remittances).toHaveLength(7);
});
