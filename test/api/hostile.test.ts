/**
 * Bad input, at scale: more than 10,000 generated malformed and hostile requests (wrong
 * types, huge, negative and over-precise amounts, unknown fields, oversized and broken
 * bodies, other agents' ids, expired quotes, replayed and reused Idempotency-Keys, wrong
 * payout codes, bad keys, bad query strings) against a live two-hop corridor.
 *
 * Checks: no answer is a 5xx; every refusal is problem+json with a stable code; and no
 * refused request, nor a replay, changed any state. State is the whole database: SQLite's
 * total_changes() must not move; if it does (a statement that was rolled back), a full
 * fingerprint of every table must equal the one before. The only refusal allowed to write
 * is a wrong payout code, which the domain records on purpose (lockout after repeated
 * guesses); those go to decoy remittances that the fingerprint leaves out.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { customers, QUOTE_BODY } from '../../bench/api-network.ts';
import { idToHex } from '../../src/ledger/ids.ts';
import { positionId } from '../../src/network/index.ts';
import { corridorApi, type CorridorApi } from './support.ts';

const TOTAL = 10_500;
let t: CorridorApi;
let people: { sender: string; recipient: string };
const ids = {
  created: '',
  funded: '',
  ready: '',
  readyCode: '',
  decoys: [] as string[],
  expiredQuote: '',
  liveQuote: '',
  replayKey: 'replay-1',
  replayBody: {} as unknown,
};

async function ok(
  r: Promise<{ statusCode: number; body: string }>,
): Promise<Record<string, unknown>> {
  const res = await r;
  if (res.statusCode >= 300) throw new Error(`${res.statusCode} ${res.body}`);
  return JSON.parse(res.body) as Record<string, unknown>;
}

async function remittance(state: 'created' | 'funded' | 'ready') {
  const q = (await ok(t.as(t.agentKeys.origin, 'POST', '/v1/quotes', QUOTE_BODY))) as {
    quotes: Array<{ id: string }>;
  };
  const c = (await ok(
    t.as(t.agentKeys.origin, 'POST', '/v1/remittances', {
      quote_id: q.quotes[0]!.id,
      sender_id: people.sender,
      recipient_id: people.recipient,
    }),
  )) as { remittance: { id: string }; payout_code: string };
  const id = c.remittance.id;
  if (state !== 'created') await ok(t.as(t.agentKeys.origin, 'POST', `/v1/remittances/${id}/fund`));
  if (state === 'ready') {
    await ok(t.as(t.agentKeys.intermediary, 'POST', `/v1/remittances/${id}/accept`));
    await ok(t.as(t.agentKeys.payout, 'POST', `/v1/remittances/${id}/accept`));
  }
  return { id, code: c.payout_code, quote: q.quotes[0]!.id };
}

beforeAll(async () => {
  t = await corridorApi({ quoteTtl_s: 3 });
  people = await customers(t.caller('operator'));
  const expired = await remittance('created');
  ids.expiredQuote = expired.quote;
  ids.created = expired.id;
  await new Promise((r) => setTimeout(r, 3100)); // the quotes above are now expired
  ids.funded = (await remittance('funded')).id;
  const ready = await remittance('ready');
  ids.ready = ready.id;
  ids.readyCode = ready.code;
  for (let i = 0; i < 3; i++) ids.decoys.push((await remittance('ready')).id);
  ids.liveQuote = (
    (await ok(t.as(t.agentKeys.origin, 'POST', '/v1/quotes', QUOTE_BODY))) as {
      quotes: Array<{ id: string }>;
    }
  ).quotes[0]!.id;
  ids.replayBody = { cash: { amount: '10000000000.00', currency: 'CNY' } };
  await ok(
    t.as(t.agentKeys.payout, 'POST', `/v1/agents/${t.corridor.payout}/cash`, ids.replayBody, {
      'idempotency-key': ids.replayKey,
    }),
  );
}, 60_000);
afterAll(() => t.close());

function totalChanges(): bigint {
  return t.sql.db.prepare('SELECT total_changes()').pluck().get() as bigint;
}

/** Every row of every table, hashed; rows that mention a decoy remittance are left out. */
function fingerprint(): string {
  const h = createHash('sha256');
  const tables = t.sql.db
    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
    .pluck()
    .all() as string[];
  for (const table of tables) {
    h.update(`#${table}\n`);
    // Rows sorted as text: tables WITHOUT ROWID have no rowid to order by.
    const texts: string[] = [];
    for (const row of t.sql.db.prepare(`SELECT * FROM "${table}"`).all()) {
      const text = JSON.stringify(row, (_k, v: unknown) =>
        typeof v === 'bigint' ? v.toString() : Buffer.isBuffer(v) ? v.toString('hex') : v,
      );
      if (ids.decoys.some((d) => text.includes(d))) continue;
      texts.push(text);
    }
    for (const text of texts.sort()) h.update(text + '\n');
  }
  return h.digest('hex');
}

// ---- generators ------------------------------------------------------------------------

const junk = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.string({ maxLength: 20 }),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.integer(), { maxKeys: 3 }),
  fc.constant('__proto__'),
);

const badAmount = fc.oneof(
  fc.constantFrom(
    '-1',
    '-0.01',
    '1e9',
    '1E3',
    '0x10',
    '12.345',
    '0.001',
    ' 12',
    '1,000',
    'NaN',
    'Infinity',
    '',
    '.5',
    '5.',
    '99999999999999999999999',
    '9223372036854775808',
    '١٢٣',
    '12.5.1',
  ),
  fc.bigInt({ min: 10n ** 19n, max: 10n ** 30n }).map((n) => n.toString()),
  fc.integer({ min: -1_000_000, max: -1 }).map(String),
  fc.tuple(fc.nat(), fc.integer({ min: 4, max: 12 })).map(([w, d]) => `${w}.${'7'.repeat(d)}`),
);

const money = fc.oneof(
  badAmount.map((amount) => ({ amount, currency: 'CNY' })),
  fc.double().map((amount) => ({ amount, currency: 'KRW' })),
  fc
    .constantFrom('XXX', 'cny', 'BTC', '', 'US', 'USDT')
    .map((currency) => ({ amount: '10', currency })),
  junk,
  fc.constant({ amount: '10' }),
  fc.constant({ amount: '10', currency: 'CNY', extra: 1 }),
);

const hexId = fc.oneof(
  fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 32, maxLength: 32 }),
  fc.constantFrom(
    '0'.repeat(32),
    'f'.repeat(32),
    'g'.repeat(32),
    '../../etc/passwd',
    "1' OR '1'='1",
    'a'.repeat(33),
    '%00',
    '',
  ),
);

type Req = {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  url: string;
  key: 'operator' | 'auditor' | 'origin' | 'intermediary' | 'payout' | 'other' | 'none' | 'bad';
  body?: unknown;
  raw?: string;
  contentType?: string;
  idem?: string;
  /** A replay of a successful request: must change nothing and answer 2xx. */
  replay?: boolean;
  decoy?: boolean;
};

function withExtra(body: Record<string, unknown>, extra: Record<string, unknown>) {
  return { ...body, ...extra };
}

function requests(): fc.Arbitrary<Req> {
  const c = t.corridor;
  const remits = [ids.created, ids.funded, ids.ready];
  const anyRemit = fc.constantFrom(...remits);
  const agentKey = fc.constantFrom<Req['key']>('origin', 'intermediary', 'payout', 'other');
  const anyKey = fc.constantFrom<Req['key']>(
    'operator',
    'auditor',
    'origin',
    'intermediary',
    'payout',
    'other',
    'none',
    'bad',
  );
  const goodQuoteBody = { ...QUOTE_BODY };
  return fc.oneof(
    // quotes with broken fields
    fc
      .record({
        field: fc.constantFrom(
          'send',
          'deliver',
          'payout_country',
          'payout_region',
          'options',
          'payout_currency',
        ),
        value: fc.oneof(money, junk),
        key: fc.constantFrom<Req['key']>('origin', 'operator', 'other', 'auditor'),
      })
      .map(({ field, value, key }) => ({
        method: 'POST' as const,
        url: '/v1/quotes',
        key,
        body: { ...goodQuoteBody, [field]: value, ...(key === 'operator' ? {} : {}) },
      })),
    // unknown fields anywhere
    fc.record({ k: fc.string({ minLength: 1, maxLength: 8 }), v: junk }).map(({ k, v }) => ({
      method: 'POST' as const,
      url: '/v1/quotes',
      key: 'origin' as const,
      body: withExtra(goodQuoteBody, { [`x_${k}`]: v }),
    })),
    // remittance creation: expired quotes, other agents' quotes, bad ids, wrong customers
    fc
      .record({
        quote: fc.oneof(fc.constant(ids.expiredQuote), hexId),
        sender: fc.oneof(fc.constant(people.sender), fc.constant(people.recipient), hexId),
        key: fc.constantFrom<Req['key']>('origin', 'other', 'auditor', 'payout'),
      })
      .map(({ quote, sender, key }) => ({
        method: 'POST' as const,
        url: '/v1/remittances',
        key,
        body: { quote_id: quote, sender_id: sender, recipient_id: people.recipient },
      })),
    fc
      .record({ key: fc.constantFrom<Req['key']>('other', 'intermediary', 'payout', 'auditor') })
      .map(({ key }) => ({
        method: 'POST' as const,
        url: '/v1/remittances',
        key,
        body: { quote_id: ids.liveQuote, sender_id: people.sender, recipient_id: people.recipient },
      })),
    // transitions by the wrong agent, on the wrong state, with junk bodies
    fc
      .record({
        id: fc.oneof(anyRemit, hexId),
        action: fc.constantFrom(
          'fund',
          'accept',
          'decline',
          'payout',
          'cancel',
          'resolve',
          'write-off',
          'reissue-code',
        ),
        key: fc.constantFrom<Req['key']>(
          'other',
          'auditor',
          'intermediary',
          'payout',
          'none',
          'bad',
        ),
        body: fc.oneof(fc.constant(undefined), junk, fc.record({ reason: junk })),
      })
      .map(({ id, action, key, body }) => ({
        method: 'POST' as const,
        url: `/v1/remittances/${encodeURIComponent(id)}/${action}`,
        key,
        ...(body === undefined ? {} : { body }),
      })),
    // wrong payout codes, malformed and well-formed, against decoys (recorded on purpose)
    fc
      .record({
        decoy: fc.constantFrom(...ids.decoys),
        code: fc.oneof(
          fc.stringMatching(/^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{3}$/),
          fc.string({ maxLength: 40 }),
        ),
      })
      .map(({ decoy, code }) => ({
        method: 'POST' as const,
        url: `/v1/remittances/${decoy}/payout`,
        key: 'payout' as const,
        body: { code },
        decoy: true,
      })),
    // the right code by the wrong agent
    agentKey
      .filter((k) => k !== 'payout')
      .map((key) => ({
        method: 'POST' as const,
        url: `/v1/remittances/${ids.ready}/payout`,
        key,
        body: { code: ids.readyCode },
      })),
    // money-moving admin calls with bad amounts, by everyone
    fc
      .record({
        url: fc.constantFrom(
          `/v1/agents/${c.payout}/cash`,
          `/v1/agents/${c.origin}/exposure-limit`,
          `/v1/agents/${c.intermediary}/write-off`,
        ),
        field: fc.constantFrom('cash', 'limit', 'amount'),
        value: money,
        key: anyKey,
      })
      .map(({ url, field, value, key }) => ({
        method: 'POST' as const,
        url,
        key,
        body: { [field]: value, reason: 'r' },
      })),
    // other agents' things
    fc
      .record({
        path: fc.constantFrom(
          `/v1/agents/${c.origin}`,
          `/v1/agents/${c.origin}/statement?currency=KRW`,
          `/v1/agents/${c.payout}/tasks`,
          `/v1/agents/${c.payout}/cash`,
          `/v1/ledger/accounts/${idToHex(positionId(c.origin, 'KRW'))}`,
          `/v1/remittances/${ids.funded}`,
          `/v1/remittances/${ids.funded}/timeline`,
          `/v1/quotes/${ids.liveQuote}`,
          `/v1/customers/${people.sender}`,
          '/v1/agents',
          '/v1/keys',
        ),
        method: fc.constantFrom<Req['method']>('GET', 'POST', 'PATCH', 'DELETE'),
      })
      .map(({ path, method }) => ({
        method,
        url: path,
        key: 'other' as const,
        ...(method === 'GET' || method === 'DELETE'
          ? {}
          : { body: { cash: { amount: '1', currency: 'CNY' } } }),
      })),
    // broken bodies, content types and oversized bodies
    fc
      .record({
        raw: fc.oneof(
          fc.constantFrom(
            '{',
            '{"send":',
            'null',
            '[]',
            '"x"',
            '{"__proto__":{"admin":true}}',
            '{"constructor":{"prototype":{"x":1}}}',
          ),
          fc
            .integer({ min: 70_000, max: 300_000 })
            .map((n) => JSON.stringify({ ...goodQuoteBody, payout_region: 'x'.repeat(n) })),
          fc.string({ maxLength: 50 }),
        ),
        contentType: fc.constantFrom(
          'application/json',
          'text/plain',
          'application/x-www-form-urlencoded',
          'application/json; charset=latin1',
        ),
      })
      .map(({ raw, contentType }) => ({
        method: 'POST' as const,
        url: '/v1/quotes',
        key: 'origin' as const,
        raw,
        contentType,
      })),
    // Idempotency-Key reuse with a different body, and plain replays
    fc.oneof(money, junk).map((value) => ({
      method: 'POST' as const,
      url: `/v1/agents/${c.payout}/cash`,
      key: 'payout' as const,
      body: { cash: value },
      idem: ids.replayKey,
    })),
    fc.constant({
      method: 'POST' as const,
      url: `/v1/agents/${c.payout}/cash`,
      key: 'payout' as const,
      body: ids.replayBody,
      idem: ids.replayKey,
      replay: true,
    }),
    fc
      .oneof(
        fc.constant(''),
        fc.string({ minLength: 256, maxLength: 300 }),
        fc.constant('a\u0000b'),
      )
      .map((idem) => ({
        method: 'POST' as const,
        url: `/v1/agents/${c.payout}/cash`,
        key: 'payout' as const,
        body: ids.replayBody,
        idem,
      })),
    // bad query strings
    fc
      .record({
        q: fc.constantFrom(
          'limit=-1',
          'limit=0',
          'limit=abc',
          'limit=100000',
          'cursor=%%%',
          'cursor=AAAA',
          'state=lost',
          'at=yesterday',
          'side=up',
          'currency=XXX',
          'limit=1&limit=2',
        ),
        path: fc.constantFrom(
          '/v1/remittances',
          '/v1/agents',
          `/v1/ledger/accounts/${idToHex(positionId(c.payout, 'CNY'))}/transfers`,
          `/v1/ledger/accounts/${idToHex(positionId(c.payout, 'CNY'))}/balance`,
          `/v1/agents/${c.payout}/statement`,
          '/v1/ledger/accounts',
        ),
      })
      .map(({ q, path }) => ({
        method: 'GET' as const,
        url: `${path}?${q}`,
        key: 'operator' as const,
      })),
  );
}

function headersFor(r: Req, n: number): Record<string, string> {
  const h: Record<string, string> = {};
  const keys: Record<string, string | undefined> = {
    operator: t.keys.operator,
    auditor: t.keys.auditor,
    origin: t.agentKeys.origin,
    intermediary: t.agentKeys.intermediary,
    payout: t.agentKeys.payout,
    other: t.keys.agentA,
    bad: 'rnk_' + 'A'.repeat(43),
  };
  const key = keys[r.key];
  if (key !== undefined) h.authorization = `Bearer ${key}`;
  if (r.method !== 'GET') h['idempotency-key'] = r.idem ?? `hostile-${n}`;
  if (r.contentType !== undefined) h['content-type'] = r.contentType;
  return h;
}

describe('hostile input at scale', () => {
  it(`${TOTAL} generated bad requests: no 5xx, refusals are problems, and nothing changes`, async () => {
    const sample = fc.sample(requests(), { numRuns: TOTAL, seed: 20261128 });
    const statuses = new Map<number, number>();
    const problems: string[] = [];
    let baseline = fingerprint();
    let changes = totalChanges();
    let refused = 0;
    let n = 0;
    for (const r of sample) {
      n++;
      const res = await t.app.inject({
        method: r.method,
        url: r.url,
        headers: headersFor(r, n),
        ...(r.raw !== undefined
          ? { payload: r.raw }
          : r.body === undefined
            ? {}
            : {
                payload: JSON.stringify(r.body),
                headers: { ...headersFor(r, n), 'content-type': 'application/json' },
              }),
      });
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
      if (res.statusCode >= 500) {
        problems.push(`5xx for ${r.method} ${r.url}: ${res.body.slice(0, 200)}`);
        continue;
      }
      const refusedNow = res.statusCode >= 400;
      if (refusedNow) {
        refused++;
        if (!/^application\/problem\+json/.test(String(res.headers['content-type']))) {
          problems.push(`${res.statusCode} without problem+json for ${r.method} ${r.url}`);
        } else if (typeof res.json().code !== 'string' || 'stack' in res.json()) {
          problems.push(`bad problem body for ${r.method} ${r.url}: ${res.body.slice(0, 200)}`);
        }
      }
      if (r.replay === true && res.headers['idempotent-replayed'] !== 'true') {
        problems.push(`replay not replayed: ${res.statusCode} ${res.body.slice(0, 200)}`);
      }
      const now = totalChanges();
      if (now !== changes) {
        changes = now;
        const fp = fingerprint();
        if ((refusedNow || r.replay === true) && r.decoy !== true && fp !== baseline) {
          problems.push(
            `state changed by refused ${res.statusCode} ${r.method} ${r.url}: ${res.body.slice(0, 200)}`,
          );
        }
        baseline = fp;
      }
    }
    const summary = [...statuses].sort((a, b) => a[0] - b[0]);
    console.log(`hostile: ${n} requests, ${refused} refused, statuses ${JSON.stringify(summary)}`);
    expect(n).toBeGreaterThanOrEqual(10_000);
    expect(problems.slice(0, 20)).toEqual([]);
    expect(refused).toBeGreaterThan(n * 0.9);
    // The decoys' wrong codes were recorded, and no decoy was paid.
    for (const d of ids.decoys) {
      const r = await t.call('operator', 'GET', `/v1/remittances/${d}`);
      expect(r.json().state).toBe('ready');
    }
  }, 300_000);
});
