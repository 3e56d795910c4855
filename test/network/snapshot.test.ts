/**
 * Two processes on one database (here: two services, each with its own graph snapshot,
 * over the same database): a change made through one is seen by the other on its next use,
 * without a restart. On SQLite always; on PostgreSQL, where several API processes are the
 * deployment this guards, when a server answers (always under CI=true).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createRemitnet, type Remitnet } from '../../src/remittances/index.ts';
import {
  agent,
  link,
  makeWorld,
  OPERATOR,
  postgresReachable,
  rule,
  type World,
} from '../remittances/support.ts';

let world: World | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

const kinds: Array<'sqlite' | 'postgres'> = ['sqlite'];
if (process.env.CI === 'true' || (await postgresReachable())) kinds.push('postgres');
else console.warn('snapshot.test.ts: PostgreSQL not reachable, its part is skipped');

describe.each(kinds)('the graph snapshot across processes (%s)', (kind) => {
  it('sees agents suspended and links added by another process', async () => {
    world = await makeWorld({}, kind);
    const one = world.rn;
    const other: Remitnet = await createRemitnet({
      ledger: world.ledger,
      sql: world.sql,
      clock: world.now,
      config: { payoutCodeSecret: 'test-secret-0123456789abcdef' },
    });
    const o = await agent(
      one,
      'O',
      ['KR', 'Seoul', 'Seoul'],
      ['KRW'],
      ['origin'],
      [rule('KRW', '0')],
    );
    const via = await agent(
      one,
      'Via',
      ['CN', 'Jilin', 'Yanji'],
      ['KRW'],
      ['intermediary'],
      [rule('KRW', '5')],
    );
    const p = await agent(
      one,
      'P',
      ['KP', 'Ryanggang', 'Hyesan'],
      ['KRW'],
      ['payout'],
      [rule('KRW', '5')],
    );
    await link(one, o, via, 'KRW');
    const request = {
      originAgentId: o.id,
      payoutCountry: 'KP',
      payoutRegion: 'Ryanggang',
      payoutCurrency: 'KRW' as const,
      sendCurrency: 'KRW' as const,
      sendAmountMinor: 100_000n,
    };
    // The other process loads its snapshot now: no route yet.
    await expect(other.network.quote(request)).rejects.toMatchObject({ code: 'no_route' });

    await link(one, via, p, 'KRW');
    expect((await other.network.quote(request)).quotes).toHaveLength(1);

    await one.network.setAgentStatus(via.id, 'suspended', OPERATOR, 'arrested');
    expect((await other.network.agent(via.id)).status).toBe('suspended');
    await expect(other.network.quote(request)).rejects.toMatchObject({ code: 'no_route' });

    await one.network.setAgentStatus(via.id, 'active', OPERATOR, 'released');
    expect((await other.network.quote(request)).quotes).toHaveLength(1);
  });
});
