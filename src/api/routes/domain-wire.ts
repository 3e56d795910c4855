/**
 * Wire forms of the domain's objects (agents, links, customers, quotes, remittances):
 * snake_case fields, amounts as Money, ids as 32 hex digits, times as ISO 8601.
 */
import { Type, type Static } from '@sinclair/typebox';
import type {
  Agent,
  AgentExposureLine,
  CommissionRule,
  Customer,
  Link,
  Quote,
  QuoteLeg,
  RateEntry,
} from '../../network/index.ts';
import type {
  ExposureReport,
  HistoryEntry,
  Remittance,
  SuspensionReport,
  TimelineEntry,
} from '../../remittances/index.ts';
import type { CurrencyCode } from '../../money/index.ts';
import { Id, Money, Timestamp } from '../schemas.ts';
import { toWireMoney, type WireMoney } from '../wire.ts';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) =>
  Type.Union([t, Type.Null()]);

export function msToIso(ms: number): string {
  return new Date(ms).toISOString();
}

function moneyMap(m: Readonly<Partial<Record<CurrencyCode, bigint>>>): WireMoney[] {
  return Object.entries(m).map(([c, v]) => toWireMoney(v as bigint, c));
}

export const Location = Type.Object(
  {
    country: Type.String({ pattern: '^[A-Z]{2}$', description: 'ISO 3166-1 alpha-2' }),
    region: Type.String({ minLength: 1, maxLength: 100 }),
    city: Type.String({ minLength: 1, maxLength: 100 }),
  },
  { additionalProperties: false },
);

export const Contact = Type.Object(
  {
    kind: Type.String({ minLength: 1, maxLength: 40 }),
    address: Type.String({ minLength: 1, maxLength: 200 }),
  },
  { additionalProperties: false },
);

export const Commission = Type.Object(
  {
    corridor: Type.String({ maxLength: 10, description: '"KR-KP" or "*"' }),
    currency: Type.String({ pattern: '^[A-Z]{3}$' }),
    percent: Type.String({ pattern: '^[0-9]{1,3}(\\.[0-9]{1,6})?$' }),
    fixed: Type.String({ pattern: '^[0-9]{1,19}(\\.[0-9]{1,3})?$', description: 'in currency' }),
    minimum: Type.String({ pattern: '^[0-9]{1,19}(\\.[0-9]{1,3})?$', description: 'in currency' }),
  },
  { additionalProperties: false },
);

export const AgentWire = Type.Object({
  id: Id,
  name: Type.String(),
  location: Location,
  currencies: Type.Array(Type.String()),
  roles: Type.Array(Type.String()),
  status: Type.String(),
  cash_on_hand: Type.Array(Money),
  commissions: Type.Array(Commission),
  exposure_limits: Type.Array(Money),
  contact: Contact,
  delivered_count: Type.Integer(),
  failed_count: Type.Integer(),
  version: Type.Integer(),
  created_at: Timestamp,
  updated_at: Timestamp,
});

export function commissionToWire(c: CommissionRule): Static<typeof Commission> {
  return {
    corridor: c.corridor,
    currency: c.currency,
    percent: c.percent,
    fixed: toWireMoney(c.fixedMinor, c.currency).amount,
    minimum: toWireMoney(c.minimumMinor, c.currency).amount,
  };
}

export function agentToWire(a: Agent): Static<typeof AgentWire> {
  return {
    id: a.id,
    name: a.name,
    location: { ...a.location },
    currencies: [...a.currencies],
    roles: [...a.roles],
    status: a.status,
    cash_on_hand: moneyMap(a.cashOnHand),
    commissions: a.commissions.map(commissionToWire),
    exposure_limits: moneyMap(a.exposureLimits),
    contact: { ...a.contact },
    delivered_count: a.deliveredCount,
    failed_count: a.failedCount,
    version: a.version,
    created_at: msToIso(a.createdAt_ms),
    updated_at: msToIso(a.updatedAt_ms),
  };
}

export const Rate = Type.Object(
  {
    from: Type.String({ pattern: '^[A-Z]{3}$' }),
    to: Type.String({ pattern: '^[A-Z]{3}$' }),
    reference_rate: Type.String({ pattern: '^[0-9]{1,12}(\\.[0-9]{1,18})?$' }),
    agent_rate: Type.String({ pattern: '^[0-9]{1,12}(\\.[0-9]{1,18})?$' }),
  },
  { additionalProperties: false },
);

export function rateToWire(r: RateEntry): Static<typeof Rate> {
  return { from: r.from, to: r.to, reference_rate: r.referenceRate, agent_rate: r.agentRate };
}

export function rateFromWire(r: Static<typeof Rate>): RateEntry {
  return {
    from: r.from as CurrencyCode,
    to: r.to as CurrencyCode,
    referenceRate: r.reference_rate,
    agentRate: r.agent_rate,
  };
}

export const LinkWire = Type.Object({
  id: Id,
  from_agent_id: Id,
  to_agent_id: Id,
  currency: Type.String(),
  rates: Type.Array(Rate),
  expected_minutes: Type.Integer(),
  active: Type.Boolean(),
  version: Type.Integer(),
  created_at: Timestamp,
  updated_at: Timestamp,
});

export function linkToWire(l: Link): Static<typeof LinkWire> {
  return {
    id: l.id,
    from_agent_id: l.fromAgentId,
    to_agent_id: l.toAgentId,
    currency: l.currency,
    rates: l.rates.map(rateToWire),
    expected_minutes: l.expectedMinutes,
    active: l.active,
    version: l.version,
    created_at: msToIso(l.createdAt_ms),
    updated_at: msToIso(l.updatedAt_ms),
  };
}

export const CustomerData = Type.Object(
  {
    address: Type.Optional(Type.String({ maxLength: 300 })),
    national_id: Type.Optional(Type.String({ maxLength: 100 })),
    customer_id: Type.Optional(Type.String({ maxLength: 100 })),
    date_and_place_of_birth: Type.Optional(Type.String({ maxLength: 200 })),
    phone: Type.Optional(Type.String({ maxLength: 40 })),
  },
  { additionalProperties: false },
);

const FIELD_NAMES = {
  address: 'address',
  nationalId: 'national_id',
  customerId: 'customer_id',
  dateAndPlaceOfBirth: 'date_and_place_of_birth',
  phone: 'phone',
} as const;

export function customerDataFromWire(
  d: Static<typeof CustomerData> | undefined,
): Partial<Record<keyof typeof FIELD_NAMES, string>> {
  const out: Partial<Record<keyof typeof FIELD_NAMES, string>> = {};
  if (d === undefined) return out;
  for (const [camel, snake] of Object.entries(FIELD_NAMES)) {
    const v = d[snake];
    if (v !== undefined) out[camel as keyof typeof FIELD_NAMES] = v;
  }
  return out;
}

export const CustomerWire = Type.Object({
  id: Id,
  role: Type.String(),
  name: Type.String(),
  reference: Type.String(),
  country: Nullable(Type.String()),
  region: Nullable(Type.String()),
  data: CustomerData,
  created_at: Timestamp,
});

export function customerToWire(c: Customer): Static<typeof CustomerWire> {
  const data: Record<string, string> = {};
  for (const [camel, snake] of Object.entries(FIELD_NAMES)) {
    const v = c.data[camel as keyof typeof FIELD_NAMES];
    if (v !== undefined) data[snake] = v;
  }
  return {
    id: c.id,
    role: c.role,
    name: c.name,
    reference: c.reference,
    country: c.country ?? null,
    region: c.region ?? null,
    data,
    created_at: msToIso(c.createdAt_ms),
  };
}

export const Leg = Type.Object({
  index: Type.Integer(),
  agent_id: Id,
  agent_name: Type.String(),
  city: Type.String(),
  link_id: Nullable(Id),
  amount_in: Money,
  commission: Money,
  amount_out: Money,
  rate: Nullable(Rate),
  converted: Nullable(Money),
});

export function legToWire(l: QuoteLeg): Static<typeof Leg> {
  return {
    index: l.index,
    agent_id: l.agentId,
    agent_name: l.agentName,
    city: l.city,
    link_id: l.linkId ?? null,
    amount_in: toWireMoney(l.amountInMinor, l.currencyIn),
    commission: toWireMoney(l.commissionMinor, l.currencyIn),
    amount_out: toWireMoney(l.amountOutMinor, l.currencyOut),
    rate: l.rate === undefined ? null : rateToWire(l.rate),
    converted:
      l.convertedMinor === undefined || l.rate === undefined
        ? null
        : toWireMoney(l.convertedMinor, l.rate.to),
  };
}

export const QuoteWire = Type.Object({
  id: Id,
  fixed: Type.String(),
  corridor: Type.String(),
  origin_agent_id: Id,
  payout_agent_id: Id,
  payout_country: Type.String(),
  payout_region: Type.String(),
  send: Money,
  deliver: Money,
  legs: Type.Array(Leg),
  hops: Type.Integer(),
  total_cost: Type.Object({
    percent: Type.String({ description: 'fees plus FX margin, as the World Bank measures it' }),
    basis_points: Type.String(),
    reference_deliver: Money,
    fees: Money,
    fx_margin: Money,
  }),
  expected_minutes: Type.Integer(),
  delivery_score: Type.Number(),
  created_at: Timestamp,
  expires_at: Timestamp,
});

export function quoteToWire(q: Quote): Static<typeof QuoteWire> {
  return {
    id: q.id,
    fixed: q.fixed,
    corridor: q.corridor,
    origin_agent_id: q.originAgentId,
    payout_agent_id: q.payoutAgentId,
    payout_country: q.payoutCountry,
    payout_region: q.payoutRegion,
    send: toWireMoney(q.sendAmountMinor, q.sendCurrency),
    deliver: toWireMoney(q.deliverAmountMinor, q.deliverCurrency),
    legs: q.legs.map(legToWire),
    hops: q.hops,
    total_cost: {
      percent: q.totalCost.percent,
      basis_points: q.totalCost.basisPoints.toString(),
      reference_deliver: toWireMoney(q.totalCost.referenceDeliverMinor, q.deliverCurrency),
      fees: toWireMoney(q.totalCost.feesMinor, q.deliverCurrency),
      fx_margin: toWireMoney(q.totalCost.fxMarginMinor, q.deliverCurrency),
    },
    expected_minutes: q.expectedMinutes,
    delivery_score: q.deliveryScore,
    created_at: msToIso(q.createdAt_ms),
    expires_at: msToIso(q.expiresAt_ms),
  };
}

export const RemittanceWire = Type.Object({
  id: Id,
  state: Type.String(),
  version: Type.Integer(),
  quote_id: Id,
  corridor: Type.String(),
  sender_id: Id,
  recipient_id: Id,
  origin_agent_id: Id,
  payout_agent_id: Id,
  send: Money,
  deliver: Money,
  legs: Type.Array(Leg),
  attempt: Type.Integer(),
  accepted_hops: Type.Integer(),
  awaiting_hop: Nullable(Type.Integer()),
  awaiting_agent_id: Nullable(Id),
  quote_expires_at: Timestamp,
  hop_deadline: Nullable(Timestamp),
  payout_deadline: Nullable(Timestamp),
  excluded_agent_ids: Type.Array(Id),
  refund: Nullable(Money),
  held_agent_id: Nullable(Id),
  payout_code_locked: Type.Boolean(),
  payout_code_attempts: Type.Integer(),
  pending_step: Nullable(Type.String()),
  created_at: Timestamp,
  updated_at: Timestamp,
});

export function remittanceToWire(r: Remittance): Static<typeof RemittanceWire> {
  return {
    id: r.id,
    state: r.state,
    version: r.version,
    quote_id: r.quoteId,
    corridor: r.corridor,
    sender_id: r.senderId,
    recipient_id: r.recipientId,
    origin_agent_id: r.originAgentId,
    payout_agent_id: r.payoutAgentId,
    send: toWireMoney(r.sendAmountMinor, r.sendCurrency),
    deliver: toWireMoney(r.deliverAmountMinor, r.deliverCurrency),
    legs: r.legs.map(legToWire),
    attempt: r.attempt,
    accepted_hops: r.acceptedHops,
    awaiting_hop: r.awaitingHop ?? null,
    awaiting_agent_id: r.awaitingAgentId ?? null,
    quote_expires_at: msToIso(r.quoteExpiresAt_ms),
    hop_deadline: r.hopDeadline_ms === undefined ? null : msToIso(r.hopDeadline_ms),
    payout_deadline: r.payoutDeadline_ms === undefined ? null : msToIso(r.payoutDeadline_ms),
    excluded_agent_ids: [...r.excludedAgentIds],
    refund: r.refundMinor === undefined ? null : toWireMoney(r.refundMinor, r.sendCurrency),
    held_agent_id: r.heldAgentId ?? null,
    payout_code_locked: r.payoutCodeLocked,
    payout_code_attempts: r.payoutCodeAttempts,
    pending_step: r.pendingStep ?? null,
    created_at: msToIso(r.createdAt_ms),
    updated_at: msToIso(r.updatedAt_ms),
  };
}

export const TimelineWire = Type.Array(
  Type.Object({
    at: Timestamp,
    state: Type.String(),
    event: Type.String(),
    message: Type.String(),
  }),
);

export function timelineToWire(t: readonly TimelineEntry[]): Static<typeof TimelineWire> {
  return t.map((e) => ({
    at: msToIso(e.at_ms),
    state: e.state,
    event: e.event,
    message: e.message,
  }));
}

export const HistoryWire = Type.Array(
  Type.Object({
    seq: Type.Integer(),
    at: Timestamp,
    from: Nullable(Type.String()),
    to: Type.String(),
    event: Type.String(),
    actor: Type.Object({ kind: Type.String(), id: Type.String() }),
    reason: Type.String(),
    detail: Type.Record(Type.String(), Type.String()),
  }),
);

export function historyToWire(h: readonly HistoryEntry[]): Static<typeof HistoryWire> {
  return h.map((e) => ({
    seq: e.seq,
    at: msToIso(e.at_ms),
    from: e.from,
    to: e.to,
    event: e.event,
    actor: { kind: e.actor.kind, id: e.actor.id },
    reason: e.reason,
    detail: { ...(e.detail ?? {}) },
  }));
}

export const ExposureLineWire = Type.Object({
  currency: Type.String(),
  limit: Money,
  owes_posted: Money,
  owes_including_pending: Money,
  commission_posted: Money,
  cash_on_hand: Money,
  headroom: Money,
});

export function exposureLineToWire(l: AgentExposureLine): Static<typeof ExposureLineWire> {
  const c = l.currency;
  return {
    currency: c,
    limit: toWireMoney(l.limitMinor, c),
    owes_posted: toWireMoney(l.owesPostedMinor, c),
    owes_including_pending: toWireMoney(l.owesIncludingPendingMinor, c),
    commission_posted: toWireMoney(l.commissionPostedMinor, c),
    cash_on_hand: toWireMoney(l.cashOnHandMinor, c),
    headroom: toWireMoney(l.headroomMinor, c),
  };
}

export const ExposureWire = Type.Object({
  agent_id: Id,
  status: Type.String(),
  lines: Type.Array(ExposureLineWire),
  in_flight: Type.Array(
    Type.Object({
      remittance_id: Id,
      state: Type.String(),
      role: Type.String(),
      amount: Money,
    }),
  ),
});

export function exposureToWire(e: ExposureReport): Static<typeof ExposureWire> {
  return {
    agent_id: e.agentId,
    status: e.status,
    lines: e.lines.map(exposureLineToWire),
    in_flight: e.inFlight.map((f) => ({
      remittance_id: f.remittanceId,
      state: f.state,
      role: f.role,
      amount: toWireMoney(f.amountMinor, f.currency),
    })),
  };
}

export const SuspensionWire = Type.Object({
  agent_id: Id,
  policy: Type.String(),
  outcomes: Type.Array(
    Type.Object({ remittance_id: Id, outcome: Type.String(), reason: Type.String() }),
  ),
  exposure: ExposureWire,
});

export function suspensionToWire(s: SuspensionReport): Static<typeof SuspensionWire> {
  return {
    agent_id: s.agentId,
    policy: s.policy,
    outcomes: s.outcomes.map((o) => ({
      remittance_id: o.remittanceId,
      outcome: o.outcome,
      reason: o.reason,
    })),
    exposure: exposureToWire(s.exposure),
  };
}
