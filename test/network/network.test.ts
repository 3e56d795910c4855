/**
 * The network on its own: exact rates and commissions, routes (hop limit, suspended agents,
 * ranking), the snapshot's invalidation, validation of agents and links, payout codes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  commissionOf,
  convert,
  parseDecimal,
  RemitnetError,
  type Agent,
} from '../../src/network/index.ts';
import { newPayoutCode, normalizePayoutCode } from '../../src/remittances/index.ts';
import { agent, link, makeWorld, OPERATOR, rule, type World } from '../remittances/support.ts';

let world: World | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

describe('rates and commissions', () => {
  it('converts across exponents, rounding down', () => {
    // 1,000,000 KRW (exponent 0) at 0.0050 CNY = 5,000.00 CNY = 500000 fen
    expect(convert(1_000_000n, 'KRW', 'CNY', parseDecimal('0.0050', 'r'))).toBe(500_000n);
    // 100.00 USD at 70.123 AFN = 7,012.30 AFN
    expect(convert(10_000n, 'USD', 'AFN', parseDecimal('70.123', 'r'))).toBe(701_230n);
    // 0.01 USD at 70.129 = 0.70129 AFN -> 0.70 (floor)
    expect(convert(1n, 'USD', 'AFN', parseDecimal('70.129', 'r'))).toBe(70n);
    // KRW from CNY: 1.23 CNY at 188.7 = 232.101 KRW -> 232
    expect(convert(123n, 'CNY', 'KRW', parseDecimal('188.7', 'r'))).toBe(232n);
  });

  it('commission rounds up, adds the fixed part, never goes below the minimum', () => {
    expect(commissionOf(1_000_001n, rule('KRW', '10'))).toBe(100_001n);
    expect(commissionOf(10_000n, rule('USD', '2.5', '*', 50n))).toBe(300n);
    expect(commissionOf(1_000n, rule('USD', '2', '*', 0n, 100n))).toBe(100n);
  });

  it('refuses malformed rates', () => {
    for (const bad of ['', '-1', '1e3', '0', '0.0000000000000000001', 'abc', '1,5']) {
      expect(() => parseDecimal(bad, 'rate')).toThrow(RemitnetError);
    }
  });
});

describe('routes and quotes', () => {
  async function chain(w: World, n: number): Promise<Agent[]> {
    const out: Agent[] = [];
    out.push(
      await agent(w.rn, 'A0', ['KR', 'Seoul', 'Seoul'], ['KRW'], ['origin'], [rule('KRW', '1')]),
    );
    for (let i = 1; i < n; i++) {
      out.push(
        await agent(
          w.rn,
          `A${i}`,
          ['CN', 'Jilin', `C${i}`],
          ['KRW'],
          ['intermediary'],
          [rule('KRW', '1')],
        ),
      );
    }
    out.push(
      await agent(
        w.rn,
        'P',
        ['KP', 'North Hamgyong', 'Hoeryong'],
        ['KRW'],
        ['payout'],
        [rule('KRW', '1')],
      ),
    );
    for (let i = 0; i < out.length - 1; i++) await link(w.rn, out[i]!, out[i + 1]!, 'KRW');
    return out;
  }
  const req = (origin: string) => ({
    originAgentId: origin,
    payoutCountry: 'KP',
    payoutRegion: 'North Hamgyong',
    payoutCurrency: 'KRW' as const,
    sendCurrency: 'KRW' as const,
    sendAmountMinor: 100_000n,
  });

  it('respects the hop limit (4 by default, configurable)', async () => {
    world = await makeWorld();
    const five = await chain(world, 5); // 5 links
    await expect(world.rn.network.quote(req(five[0]!.id))).rejects.toMatchObject({
      code: 'no_route',
    });
    await world.close();
    world = await makeWorld({ maxHops: 5 });
    const again = await chain(world, 5);
    const { quotes } = await world.rn.network.quote(req(again[0]!.id));
    expect(quotes[0]!.hops).toBe(5);
  });

  it('ranks by total cost, then expected time; new links show at once; suspended agents never', async () => {
    world = await makeWorld();
    const { rn } = world;
    const o = await agent(
      rn,
      'O',
      ['KR', 'Seoul', 'Seoul'],
      ['KRW'],
      ['origin'],
      [rule('KRW', '0')],
    );
    const cheap = await agent(
      rn,
      'Cheap',
      ['CN', 'Jilin', 'Yanji'],
      ['KRW'],
      ['intermediary'],
      [rule('KRW', '5')],
    );
    const fast = await agent(
      rn,
      'Fast',
      ['CN', 'Jilin', 'Yanji'],
      ['KRW'],
      ['intermediary'],
      [rule('KRW', '8')],
    );
    const p = await agent(
      rn,
      'P',
      ['KP', 'North Hamgyong', 'Hoeryong'],
      ['KRW'],
      ['payout'],
      [rule('KRW', '10')],
    );
    await link(rn, o, cheap, 'KRW', [], 600);
    await link(rn, cheap, p, 'KRW', [], 600);
    await link(rn, o, fast, 'KRW', [], 10);
    await link(rn, fast, p, 'KRW', [], 10);
    let { quotes } = await rn.network.quote(req(o.id));
    expect(quotes.map((q) => q.legs[1]!.agentName)).toEqual(['Cheap', 'Fast']);
    expect(quotes[0]!.totalCost.percent).toBe('14.50'); // 1 - 0.95 * 0.90
    // a direct link (1 hop) appears in the very next quote
    await link(rn, o, p, 'KRW', [], 30);
    ({ quotes } = await rn.network.quote({ ...req(o.id), options: 5 }));
    expect(quotes[0]!.hops).toBe(1);
    await rn.network.setAgentStatus(p.id, 'unreachable', OPERATOR, 'no answer');
    await expect(rn.network.quote(req(o.id))).rejects.toMatchObject({ code: 'no_route' });
  });

  it('a route without a rate for a needed conversion, or a commission rule, is not offered', async () => {
    world = await makeWorld();
    const { rn } = world;
    const o = await agent(
      rn,
      'O',
      ['US', 'New York', 'New York'],
      ['USD', 'AFN'],
      ['origin'],
      [rule('USD', '2')],
    );
    const p = await agent(rn, 'P', ['AF', 'Herat', 'Herat'], ['AFN'], ['payout'], []);
    await link(rn, o, p, 'AFN', [{ from: 'USD', agentRate: '69.5', referenceRate: '70.1' }]);
    await expect(
      rn.network.quote({
        ...req(o.id),
        payoutCountry: 'AF',
        payoutRegion: 'Herat',
        payoutCurrency: 'AFN',
        sendCurrency: 'USD',
      }),
    ).rejects.toMatchObject({ code: 'no_route' });
  });

  it('validates agents, links and limits', async () => {
    world = await makeWorld();
    const { rn } = world;
    const o = await agent(
      rn,
      'O',
      ['KR', 'Seoul', 'Seoul'],
      ['KRW'],
      ['origin'],
      [rule('KRW', '1')],
    );
    await expect(
      agent(rn, 'Bad', ['Korea', 'Seoul', 'Seoul'], ['KRW'], ['origin'], []),
    ).rejects.toMatchObject({ code: 'agent_invalid' });
    await expect(
      agent(rn, 'Bad', ['KR', 'Seoul', 'Seoul'], ['KRW'], ['origin'], [rule('CNY', '1')]),
    ).rejects.toMatchObject({ code: 'currency_not_handled' });
    await expect(
      agent(rn, 'Bad', ['KR', 'Seoul', 'Seoul'], ['KRW'], ['origin'], [rule('KRW', '101')]),
    ).rejects.toMatchObject({ code: 'rate_invalid' });
    await expect(link(rn, o, o, 'KRW')).rejects.toMatchObject({ code: 'link_invalid' });
    await expect(
      rn.network.createLink(
        { fromAgentId: o.id, toAgentId: 'f'.repeat(32), currency: 'KRW' },
        OPERATOR,
      ),
    ).rejects.toMatchObject({ code: 'agent_not_found' });
    const limited = await rn.network.setExposureLimit(o.id, 'KRW', 5n, OPERATOR);
    expect(limited.exposureLimits.KRW).toBe(5n);
    const [line] = await rn.network.agentExposure(o.id);
    expect(line!.limitMinor).toBe(5n);
    expect(line!.headroomMinor).toBe(5n);
    const page1 = await rn.network.listAgents({ limit: 1 });
    expect(page1.items).toHaveLength(1);
    expect(page1.nextCursor).toBeUndefined();
  });
});

describe('payout codes', () => {
  it('are 11 Crockford characters with a check that catches any single error', () => {
    const alphabet = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
    for (let n = 0; n < 200; n++) {
      const code = newPayoutCode();
      expect(normalizePayoutCode(code)).toBe(code.replace(/-/g, ''));
      const plain = code.replace(/-/g, '');
      const i = n % plain.length;
      for (const ch of alphabet) {
        if (ch === plain[i]) continue;
        const typo = plain.slice(0, i) + ch + plain.slice(i + 1);
        expect(normalizePayoutCode(typo)).toBeUndefined();
      }
    }
  });
});
