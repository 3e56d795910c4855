/**
 * Routes and prices, computed from an in-memory snapshot of the link graph (no I/O).
 *
 * Owns: enumerating routes from the sender's agent to payout agents serving a region
 * (bounded depth and a bounded number of visits), and pricing a route exactly: each
 * agent's commission, each conversion, what the recipient gets, and the total cost as the
 * World Bank measures it. Never: a float, or a price that differs from what is booked: the
 * remittance books the legs this file returns, unit for unit.
 *
 * Pricing, agent by agent along the route (rates.ts states the rounding):
 *   in_0 = amount sent (send currency)
 *   c_i  = commission(agent i, in_i)               rounded up
 *   out_i = in_i - c_i
 *   if the next link is in another currency: in_{i+1} = convert(out_i, agent rate) rounded
 *   down; else in_{i+1} = out_i. The payout agent pays out_n to the recipient.
 * Fixing the amount delivered D: the amount sent is the least S whose out_n >= D; the few
 * minor units by which out_n exceeds D (from rounding) go to the payout agent's commission,
 * so the recipient gets exactly D and nothing is unaccounted for.
 */
import { currency, divide, type CurrencyCode } from '../money/index.ts';
import { commissionOf, convert, findRule, parseDecimal, type Rational } from './rates.ts';
import type { Agent, Link, QuoteLeg, RateEntry, TotalCost } from './types.ts';

export interface GraphSnapshot {
  readonly agents: ReadonlyMap<string, Agent>;
  /** Active links by the agent that hands over. */
  readonly linksFrom: ReadonlyMap<string, readonly Link[]>;
  /** Active links by id. */
  readonly activeLinks: ReadonlyMap<string, Link>;
}

export interface RouteCandidate {
  readonly agents: readonly Agent[];
  /** links[i] goes from agents[i] to agents[i+1]. */
  readonly links: readonly Link[];
}

export interface RouteQuery {
  readonly originAgentId: string;
  readonly payoutCountry: string;
  readonly payoutRegion: string;
  readonly payoutCurrency: CurrencyCode;
  readonly maxHops: number;
  readonly exclude: ReadonlySet<string>;
}

/** The most route-search steps one query may take: a bound on work for any graph shape. */
export const ROUTE_VISITS_MAX = 20_000;
/** The most candidate routes priced per query. */
export const ROUTES_MAX = 200;

export function buildSnapshot(agents: readonly Agent[], links: readonly Link[]): GraphSnapshot {
  const byId = new Map(agents.map((a) => [a.id, a] as const));
  const from = new Map<string, Link[]>();
  const active = new Map<string, Link>();
  for (const l of links) {
    if (!l.active) continue;
    active.set(l.id, l);
    const list = from.get(l.fromAgentId);
    if (list === undefined) from.set(l.fromAgentId, [l]);
    else list.push(l);
  }
  return { agents: byId, linksFrom: from, activeLinks: active };
}

function servesPayout(a: Agent, q: RouteQuery): boolean {
  return (
    a.roles.includes('payout') &&
    a.location.country === q.payoutCountry &&
    a.location.region === q.payoutRegion &&
    a.currencies.includes(q.payoutCurrency)
  );
}

/** Every simple route of 1..maxHops links through active agents, ending at a payout agent. */
export function findRoutes(g: GraphSnapshot, q: RouteQuery): RouteCandidate[] {
  const origin = g.agents.get(q.originAgentId);
  const out: RouteCandidate[] = [];
  if (origin === undefined || origin.status !== 'active') return out;
  const pathAgents: Agent[] = [origin];
  const pathLinks: Link[] = [];
  const onPath = new Set<string>([origin.id]);
  let visits = 0;
  const walk = (a: Agent): void => {
    for (const link of g.linksFrom.get(a.id) ?? []) {
      if (++visits > ROUTE_VISITS_MAX || out.length >= ROUTES_MAX) return;
      const next = g.agents.get(link.toAgentId);
      if (next === undefined || next.status !== 'active') continue;
      if (onPath.has(next.id) || q.exclude.has(next.id)) continue;
      if (!next.currencies.includes(link.currency)) continue;
      pathAgents.push(next);
      pathLinks.push(link);
      onPath.add(next.id);
      if (link.currency === q.payoutCurrency && servesPayout(next, q)) {
        out.push({ agents: [...pathAgents], links: [...pathLinks] });
      }
      // Value passes on only through an agent that carries it for others (an origin-only or
      // payout-only agent ends routes, it does not relay them).
      if (pathLinks.length < q.maxHops && next.roles.includes('intermediary')) walk(next);
      pathAgents.pop();
      pathLinks.pop();
      onPath.delete(next.id);
    }
  };
  walk(origin);
  return out;
}

export type PriceFailure = 'no_commission_rule' | 'no_rate' | 'too_small';

export interface PricedRoute {
  readonly legs: QuoteLeg[];
  readonly deliverMinor: bigint;
}

function rateFor(link: Link, from: CurrencyCode, to: CurrencyCode): RateEntry | undefined {
  return link.rates.find((r) => r.from === from && r.to === to);
}

/** Prices a route for an amount sent; a failure names why the route cannot carry it. */
export function priceRoute(
  route: RouteCandidate,
  sendCurrency: CurrencyCode,
  sendMinor: bigint,
  corridor: string,
): PricedRoute | PriceFailure {
  const legs: QuoteLeg[] = [];
  let cur = sendCurrency;
  let amountIn = sendMinor;
  const n = route.links.length;
  for (let i = 0; i <= n; i++) {
    const agent = route.agents[i]!;
    const rule = findRule(agent.commissions, corridor, cur);
    if (rule === undefined) return 'no_commission_rule';
    const c = commissionOf(amountIn, rule);
    if (c >= amountIn) return 'too_small';
    const out = amountIn - c;
    const base = {
      index: i,
      agentId: agent.id,
      agentName: agent.name,
      city: agent.location.city,
      ...(i > 0 ? { linkId: route.links[i - 1]!.id } : {}),
      currencyIn: cur,
      amountInMinor: amountIn,
      commissionMinor: c,
    };
    if (i === n) {
      legs.push({ ...base, currencyOut: cur, amountOutMinor: out });
      return { legs, deliverMinor: out };
    }
    const link = route.links[i]!;
    if (link.currency === cur) {
      legs.push({ ...base, currencyOut: cur, amountOutMinor: out });
      amountIn = out;
    } else {
      const rate = rateFor(link, cur, link.currency);
      if (rate === undefined) return 'no_rate';
      const converted = convert(out, cur, link.currency, parseDecimal(rate.agentRate, 'rate'));
      if (converted <= 0n) return 'too_small';
      legs.push({
        ...base,
        currencyOut: link.currency,
        amountOutMinor: converted,
        rate,
        convertedMinor: converted,
      });
      amountIn = converted;
      cur = link.currency;
    }
  }
  throw new Error('unreachable: a route has at least one link');
}

/**
 * Adjusts priced legs so the recipient gets exactly `deliverMinor` (<= what the route
 * yields): the difference is added to the payout agent's commission.
 */
export function fixDelivery(priced: PricedRoute, deliverMinor: bigint): PricedRoute {
  const surplus = priced.deliverMinor - deliverMinor;
  if (surplus < 0n) throw new Error('fixDelivery: the route yields less than the amount fixed');
  if (surplus === 0n) return priced;
  const legs = priced.legs.slice();
  const last = legs[legs.length - 1]!;
  legs[legs.length - 1] = {
    ...last,
    commissionMinor: last.commissionMinor + surplus,
    amountOutMinor: deliverMinor,
  };
  return { legs, deliverMinor };
}

/** The least amount sent whose delivery is at least `deliverMinor`, or undefined. */
export function sendForDeliver(
  route: RouteCandidate,
  sendCurrency: CurrencyCode,
  deliverMinor: bigint,
  corridor: string,
  maxSendMinor: bigint,
): PricedRoute | undefined {
  const yields = (s: bigint): bigint => {
    const p = priceRoute(route, sendCurrency, s, corridor);
    return typeof p === 'string' ? -1n : p.deliverMinor;
  };
  let hi = 1n;
  // Delivery is non-decreasing in the amount sent (see docs/accounting.md), so a doubling
  // then a bisection finds the least amount. Both loops are bounded by 64 steps each.
  for (let i = 0; i < 64 && yields(hi) < deliverMinor; i++) {
    if (hi >= maxSendMinor) return undefined;
    hi = hi * 2n > maxSendMinor ? maxSendMinor : hi * 2n;
  }
  if (yields(hi) < deliverMinor) return undefined;
  let lo = 0n; // yields(lo) < deliverMinor (or lo = 0)
  for (let i = 0; i < 130 && hi - lo > 1n; i++) {
    const mid = (lo + hi) / 2n;
    if (yields(mid) >= deliverMinor) hi = mid;
    else lo = mid;
  }
  const priced = priceRoute(route, sendCurrency, hi, corridor);
  if (typeof priced === 'string') return undefined;
  return fixDelivery(priced, deliverMinor);
}

/**
 * Total cost as the World Bank's Remittance Prices Worldwide measures it: 1 - delivered /
 * (amount sent at reference rates), i.e. fees plus exchange margin, in basis points
 * (half-even), with fees valued at reference rates along the rest of the route.
 */
export function totalCost(legs: readonly QuoteLeg[], deliverMinor: bigint): TotalCost {
  // Reference value of the amount sent, exact: num/den in payout minor units.
  let num = legs[0]!.amountInMinor;
  let den = 1n;
  const refRates: (Rational & { from: CurrencyCode; to: CurrencyCode })[] = [];
  for (const leg of legs) {
    if (leg.rate !== undefined) {
      const r = parseDecimal(leg.rate.referenceRate, 'reference rate');
      refRates.push({ ...r, from: leg.rate.from, to: leg.rate.to });
    }
  }
  for (const r of refRates) {
    const scaled = scale(r.from, r.to);
    num *= r.num * scaled.num;
    den *= r.den * scaled.den;
  }
  const referenceDeliverMinor = divide(num, den, 'floor');
  const basisPoints =
    num === 0n ? 0n : divide((num - deliverMinor * den) * 10_000n, num, 'half_even');
  // Fees at reference: each commission carried through the reference rates after it.
  let fees = 0n;
  let ratesSeen = 0;
  for (const leg of legs) {
    let fNum = leg.commissionMinor;
    let fDen = 1n;
    for (const r of refRates.slice(ratesSeen)) {
      const scaled = scale(r.from, r.to);
      fNum *= r.num * scaled.num;
      fDen *= r.den * scaled.den;
    }
    fees += divide(fNum, fDen, 'floor');
    if (leg.rate !== undefined) ratesSeen++;
  }
  return {
    basisPoints,
    percent: bpToPercent(basisPoints),
    referenceDeliverMinor,
    feesMinor: fees,
    fxMarginMinor: referenceDeliverMinor - deliverMinor - fees,
  };
}

function scale(from: CurrencyCode, to: CurrencyCode): Rational {
  const eFrom = exponentOf(from);
  const eTo = exponentOf(to);
  return { num: 10n ** BigInt(eTo), den: 10n ** BigInt(eFrom) };
}

function exponentOf(code: CurrencyCode): number {
  return currency(code).exponent;
}

export function bpToPercent(bp: bigint): string {
  const neg = bp < 0n;
  const a = neg ? -bp : bp;
  return `${neg ? '-' : ''}${a / 100n}.${(a % 100n).toString().padStart(2, '0')}`;
}
