/**
 * Demo data for a fresh database: two corridors and a few remittances in various states.
 *
 * Owns: the demo network (the article's corridor, KRW to CNY cash in North Korea, 10 to 15%
 * per hop; an aid agency's corridor, USD to AFN in Kabul and Herat, 2 to 4%). Never: runs
 * against a database that already has agents (it returns what is there and changes
 * nothing), or anything a real installation needs. Names are invented.
 */
import type { CurrencyCode } from '../money/index.ts';
import type { Actor, Agent, AgentInput, CommissionRule, LinkInput } from '../network/types.ts';
import type { Remitnet } from '../remittances/remitnet.ts';
import type { RemittanceState } from '../remittances/types.ts';

const DEMO: Actor = { kind: 'operator', id: 'demo' };

export interface DemoSummary {
  /** False when the database already had agents and nothing was loaded. */
  readonly loaded: boolean;
  readonly agents: number;
  readonly links: number;
  readonly remittances: readonly {
    readonly id: string;
    readonly corridor: string;
    readonly state: RemittanceState;
    /** Demo only: the payout code of a remittance still to be paid, to try a payout. */
    readonly payoutCode?: string;
  }[];
}

function pct(currency: CurrencyCode, percent: string, corridor = '*'): CommissionRule {
  return { corridor, currency, percent, fixedMinor: 0n, minimumMinor: 0n };
}

/** What a complete demo load makes (a test checks these against a fresh load). */
export const DEMO_AGENTS = 9;
export const DEMO_LINKS = 10;
export const DEMO_REMITTANCES = 7;

/**
 * Loads the demo into an empty database; idempotent (a second call loads nothing). A load
 * found cut short is refused with what to do.
 */
export async function loadDemo(rn: Remitnet): Promise<DemoSummary> {
  const existing = await rn.network.listAgents({ limit: 1 });
  if (existing.items.length > 0) {
    const all = await rn.remittances.list({ limit: 500 });
    const agents = await rn.network.listAgents({ limit: 500 });
    const links = (await rn.network.listLinks()).length;
    const demoAgents = agents.items.filter((a) => a.contact.address.startsWith('demo:')).length;
    const demoRemittances = all.items.filter((r) => r.idempotencyKey?.startsWith('demo-')).length;
    if (
      demoAgents > 0 &&
      (demoAgents < DEMO_AGENTS || links < DEMO_LINKS || demoRemittances < DEMO_REMITTANCES)
    ) {
      // A load that was cut short (Ctrl-C during the first start): it cannot be resumed
      // (the payout codes of its remittances were shown only to the process that died).
      throw new Error(
        `the demo network was only partly loaded (${demoAgents} of ${DEMO_AGENTS} agents, ${links} of ${DEMO_LINKS} links, ${demoRemittances} of ${DEMO_REMITTANCES} remittances): an earlier start was interrupted; remove the database file (REMITNET_DB) and start again`,
      );
    }
    return {
      loaded: false,
      agents: agents.items.length,
      links: (await rn.network.listLinks()).length,
      remittances: all.items.map((r) => ({ id: r.id, corridor: r.corridor, state: r.state })),
    };
  }
  const net = rn.network;
  const make = async (
    name: string,
    where: [string, string, string],
    currencies: CurrencyCode[],
    roles: AgentInput['roles'],
    commissions: CommissionRule[],
    limits: Partial<Record<CurrencyCode, bigint>>,
    cash: Partial<Record<CurrencyCode, bigint>>,
  ): Promise<Agent> =>
    net.createAgent(
      {
        name,
        location: { country: where[0], region: where[1], city: where[2] },
        currencies,
        roles,
        contact: { kind: 'phone', address: `demo:${name.toLowerCase().replace(/\W+/g, '-')}` },
        commissions,
        exposureLimits: limits,
        cashOnHand: cash,
      },
      DEMO,
    );

  // ---- the article's corridor: South Korea / China to North Korea, KRW -> CNY cash ----
  const krwLimit = 200_000_000n; // 200,000,000 won
  const cnyLimit = 100_000_000n; // 1,000,000.00 yuan
  const seoul = await make(
    'Seoul defectors’ agent',
    ['KR', 'Seoul', 'Seoul'],
    ['KRW'],
    ['origin'],
    [pct('KRW', '10')],
    { KRW: krwLimit },
    { KRW: 50_000_000n },
  );
  const yanjiDesk = await make(
    'Yanji market desk',
    ['CN', 'Jilin', 'Yanji'],
    ['CNY'],
    ['origin'],
    [pct('CNY', '10')],
    { CNY: cnyLimit },
    { CNY: 20_000_000n },
  );
  const yanji = await make(
    'Yanji Korean-Chinese broker',
    ['CN', 'Jilin', 'Yanji'],
    ['KRW', 'CNY'],
    ['intermediary'],
    [pct('KRW', '12'), pct('CNY', '12')],
    { KRW: krwLimit, CNY: cnyLimit },
    {},
  );
  const dandong = await make(
    'Dandong trader',
    ['CN', 'Liaoning', 'Dandong'],
    ['KRW', 'CNY'],
    ['intermediary'],
    [pct('KRW', '15'), pct('CNY', '13')],
    { KRW: krwLimit, CNY: cnyLimit },
    {},
  );
  const hoeryong = await make(
    'Hoeryong phone broker',
    ['KP', 'North Hamgyong', 'Hoeryong'],
    ['CNY'],
    ['payout'],
    [pct('CNY', '12')],
    { CNY: cnyLimit },
    { CNY: 5_000_000n },
  );
  const hyesan = await make(
    'Hyesan phone broker',
    ['KP', 'Ryanggang', 'Hyesan'],
    ['CNY'],
    ['payout'],
    [pct('CNY', '15')],
    { CNY: cnyLimit },
    { CNY: 3_000_000n },
  );
  const krwCny = (agentRate: string) => [
    { from: 'KRW' as const, to: 'CNY' as const, agentRate, referenceRate: '0.0053' },
  ];
  const links: LinkInput[] = [
    { fromAgentId: seoul.id, toAgentId: yanji.id, currency: 'KRW' as const, expectedMinutes: 60 },
    {
      fromAgentId: seoul.id,
      toAgentId: dandong.id,
      currency: 'KRW' as const,
      expectedMinutes: 120,
    },
    {
      fromAgentId: yanji.id,
      toAgentId: hoeryong.id,
      currency: 'CNY' as const,
      rates: krwCny('0.0050'),
      expectedMinutes: 240,
    },
    {
      fromAgentId: yanji.id,
      toAgentId: hyesan.id,
      currency: 'CNY' as const,
      rates: krwCny('0.0050'),
      expectedMinutes: 360,
    },
    {
      fromAgentId: yanji.id,
      toAgentId: dandong.id,
      currency: 'CNY' as const,
      rates: krwCny('0.0051'),
      expectedMinutes: 180,
    },
    {
      fromAgentId: dandong.id,
      toAgentId: hyesan.id,
      currency: 'CNY' as const,
      rates: krwCny('0.0049'),
      expectedMinutes: 480,
    },
    {
      fromAgentId: yanjiDesk.id,
      toAgentId: hoeryong.id,
      currency: 'CNY' as const,
      expectedMinutes: 240,
    },
    {
      fromAgentId: yanjiDesk.id,
      toAgentId: dandong.id,
      currency: 'CNY' as const,
      expectedMinutes: 120,
    },
  ];

  // ---- an aid agency's corridor: USD -> AFN cash in Kabul and Herat, 2 to 4% ----
  const usdLimit = 50_000_000n; // 500,000.00 dollars
  const afnLimit = 5_000_000_000n; // 50,000,000.00 afghani
  const dubai = await make(
    'Dubai hawala (aid agency account)',
    ['AE', 'Dubai', 'Dubai'],
    ['USD', 'AFN'],
    ['origin'],
    [pct('USD', '1')],
    { USD: usdLimit, AFN: afnLimit },
    { USD: 10_000_000n },
  );
  const kabulMaster = await make(
    'Kabul Sarai Shahzada hawaladar',
    ['AF', 'Kabul', 'Kabul'],
    ['AFN'],
    ['intermediary', 'payout'],
    [pct('AFN', '2')],
    { AFN: afnLimit },
    { AFN: 2_000_000_000n },
  );
  const herat = await make(
    'Herat hawaladar',
    ['AF', 'Herat', 'Herat'],
    ['AFN'],
    ['payout'],
    [pct('AFN', '1.5')],
    { AFN: afnLimit },
    { AFN: 800_000_000n },
  );
  const usdAfn = (agentRate: string) => [
    { from: 'USD' as const, to: 'AFN' as const, agentRate, referenceRate: '70.10' },
  ];
  links.push(
    {
      fromAgentId: dubai.id,
      toAgentId: kabulMaster.id,
      currency: 'AFN',
      rates: usdAfn('69.40'),
      expectedMinutes: 60,
    },
    { fromAgentId: kabulMaster.id, toAgentId: herat.id, currency: 'AFN', expectedMinutes: 120 },
  );
  for (const l of links) await net.createLink(l, DEMO);

  const customer = (
    role: 'sender' | 'recipient',
    name: string,
    reference: string,
    where?: [string, string],
  ) =>
    net.createCustomer(
      {
        role,
        name,
        reference,
        ...(where !== undefined ? { country: where[0], region: where[1] } : {}),
        ...(role === 'sender' ? { data: { customerId: reference } } : {}),
      },
      DEMO,
    );
  const kim = await customer('sender', 'Kim (demo)', 'DEMO-S-1');
  const parkFamily = await customer('recipient', 'Park family (demo)', 'DEMO-R-1', [
    'KP',
    'Ryanggang',
  ]);
  const choiFamily = await customer('recipient', 'Choi family (demo)', 'DEMO-R-2', [
    'KP',
    'North Hamgyong',
  ]);
  const agency = await customer('sender', 'Aid agency cash programme (demo)', 'DEMO-S-AID');
  const heratHousehold = await customer('recipient', 'Household 0042 (demo)', 'DEMO-R-AID-42', [
    'AF',
    'Herat',
  ]);
  const kabulHousehold = await customer('recipient', 'Household 0007 (demo)', 'DEMO-R-AID-7', [
    'AF',
    'Kabul',
  ]);

  const out: { id: string; corridor: string; state: RemittanceState; payoutCode?: string }[] = [];
  const agentActor = (id: string): Actor => ({ kind: 'agent', id });
  const send = async (
    origin: Agent,
    sender: string,
    recipient: string,
    where: [string, string, CurrencyCode],
    sendCurrency: CurrencyCode,
    amount: bigint,
    goal: 'created' | 'funded' | 'ready' | 'completed' | 'refunded',
    n: number,
  ) => {
    const { quotes } = await net.quote({
      originAgentId: origin.id,
      payoutCountry: where[0],
      payoutRegion: where[1],
      payoutCurrency: where[2],
      sendCurrency,
      sendAmountMinor: amount,
    });
    const q = quotes[0]!;
    const made = await rn.remittances.create(
      { quoteId: q.id, idempotencyKey: `demo-${n}`, senderId: sender, recipientId: recipient },
      agentActor(origin.id),
    );
    const id = made.remittance.id;
    let state: RemittanceState = 'created';
    if (goal !== 'created') {
      state = (await rn.remittances.fund(id, agentActor(origin.id))).state;
      const upTo = goal === 'funded' ? q.hops - 1 : q.hops;
      for (let hop = 1; hop <= upTo; hop++) {
        state = (await rn.remittances.accept(id, agentActor(q.legs[hop]!.agentId))).state;
      }
      if (goal === 'completed') {
        state = (
          await rn.remittances.payout(id, { code: made.payoutCode! }, agentActor(q.payoutAgentId))
        ).state;
      } else if (goal === 'refunded') {
        state = (
          await rn.remittances.cancel(
            id,
            { kind: 'customer', id: sender },
            'demo: the family moved',
          )
        ).state;
      }
    }
    out.push({
      id,
      corridor: q.corridor,
      state,
      ...(state !== 'completed' && state !== 'refunded' ? { payoutCode: made.payoutCode! } : {}),
    });
  };
  await send(
    seoul,
    kim.id,
    parkFamily.id,
    ['KP', 'Ryanggang', 'CNY'],
    'KRW',
    1_000_000n,
    'completed',
    1,
  );
  await send(
    seoul,
    kim.id,
    choiFamily.id,
    ['KP', 'North Hamgyong', 'CNY'],
    'KRW',
    2_000_000n,
    'ready',
    2,
  );
  await send(
    seoul,
    kim.id,
    parkFamily.id,
    ['KP', 'Ryanggang', 'CNY'],
    'KRW',
    500_000n,
    'funded',
    3,
  );
  await send(
    yanjiDesk,
    kim.id,
    choiFamily.id,
    ['KP', 'North Hamgyong', 'CNY'],
    'CNY',
    300_000n,
    'created',
    4,
  );
  await send(
    seoul,
    kim.id,
    choiFamily.id,
    ['KP', 'North Hamgyong', 'CNY'],
    'KRW',
    700_000n,
    'refunded',
    5,
  );
  await send(
    dubai,
    agency.id,
    heratHousehold.id,
    ['AF', 'Herat', 'AFN'],
    'USD',
    20_000n,
    'completed',
    6,
  );
  await send(
    dubai,
    agency.id,
    kabulHousehold.id,
    ['AF', 'Kabul', 'AFN'],
    'USD',
    15_000n,
    'ready',
    7,
  );
  return { loaded: true, agents: 9, links: links.length, remittances: out };
}
