/**
 * A small corridor for tests and the API benchmark, built through the HTTP API as an
 * operator would: Seoul (origin, KRW) -> Yanji (intermediary, converts to CNY) -> Hyesan
 * (payout, CNY). Two hops. Limits and cash are large so a benchmark never runs out.
 */

export type Caller = (
  method: 'GET' | 'POST' | 'PATCH',
  path: string,
  body?: unknown,
) => Promise<{ status: number; json: unknown }>;

export interface Corridor {
  readonly origin: string;
  readonly intermediary: string;
  readonly payout: string;
}

async function ok<T>(p: Promise<{ status: number; json: unknown }>, what: string): Promise<T> {
  const r = await p;
  if (r.status >= 300) throw new Error(`${what}: ${r.status} ${JSON.stringify(r.json)}`);
  return r.json as T;
}

const LIMIT_KRW = '1000000000000';
const LIMIT_CNY = '10000000000.00';

export async function buildCorridor(operator: Caller, tag = ''): Promise<Corridor> {
  const agent = (body: unknown) =>
    ok<{ id: string }>(operator('POST', '/v1/agents', body), 'create agent').then((a) => a.id);
  const commissions = (currency: string) => [
    { corridor: '*', currency, percent: '2', fixed: '0', minimum: '0' },
  ];
  const origin = await agent({
    name: `Seoul broker${tag}`,
    location: { country: 'KR', region: 'Seoul', city: 'Seoul' },
    currencies: ['KRW'],
    roles: ['origin'],
    contact: { kind: 'phone', address: '+82-2-0000-0000' },
    commissions: commissions('KRW'),
    exposure_limits: [{ amount: LIMIT_KRW, currency: 'KRW' }],
  });
  const intermediary = await agent({
    name: `Yanji broker${tag}`,
    location: { country: 'CN', region: 'Jilin', city: 'Yanji' },
    currencies: ['KRW', 'CNY'],
    roles: ['intermediary'],
    contact: { kind: 'wechat', address: 'yanji-broker' },
    commissions: [...commissions('KRW'), ...commissions('CNY')],
    exposure_limits: [
      { amount: LIMIT_KRW, currency: 'KRW' },
      { amount: LIMIT_CNY, currency: 'CNY' },
    ],
  });
  const payout = await agent({
    name: `Hyesan phone broker${tag}`,
    location: { country: 'KP', region: 'Ryanggang', city: 'Hyesan' },
    currencies: ['CNY'],
    roles: ['payout'],
    contact: { kind: 'phone', address: '+86-000-0000' },
    commissions: commissions('CNY'),
    exposure_limits: [{ amount: LIMIT_CNY, currency: 'CNY' }],
    cash_on_hand: [{ amount: LIMIT_CNY, currency: 'CNY' }],
  });
  await ok(
    operator('POST', '/v1/links', {
      from_agent_id: origin,
      to_agent_id: intermediary,
      currency: 'KRW',
      expected_minutes: 10,
    }),
    'link origin->intermediary',
  );
  await ok(
    operator('POST', '/v1/links', {
      from_agent_id: intermediary,
      to_agent_id: payout,
      currency: 'CNY',
      rates: [{ from: 'KRW', to: 'CNY', reference_rate: '0.0053', agent_rate: '0.0050' }],
      expected_minutes: 30,
    }),
    'link intermediary->payout',
  );
  return { origin, intermediary, payout };
}

export async function customers(
  caller: Caller,
  tag = '',
): Promise<{ sender: string; recipient: string }> {
  const sender = await ok<{ id: string }>(
    caller('POST', '/v1/customers', {
      role: 'sender',
      name: `Kim Sender${tag}`,
      reference: `S-${tag}1`,
    }),
    'sender',
  );
  const recipient = await ok<{ id: string }>(
    caller('POST', '/v1/customers', {
      role: 'recipient',
      name: `Ri Recipient${tag}`,
      reference: `R-${tag}1`,
      country: 'KP',
      region: 'Ryanggang',
    }),
    'recipient',
  );
  return { sender: sender.id, recipient: recipient.id };
}

export const QUOTE_BODY = {
  payout_country: 'KP',
  payout_region: 'Ryanggang',
  payout_currency: 'CNY',
  send: { amount: '500000', currency: 'KRW' },
  options: 1,
};
