/**
 * The network service: agents, links and rate tables, customers, exposure limits, quotes.
 *
 * Owns: validating network input, keeping the ledger accounts of every agent and currency
 * (created with the agent; the exposure cap is a credit line booked on the ledger), and the
 * in-memory snapshot of the link graph that quotes are priced from (rebuilt after any
 * change to agents or links, by this process or another: see snapshot()). Never: a remittance's state, HTTP, process.env.
 */
import { idToHex, isApplied, newId, type Ledger, type TransferInput } from '../ledger/index.ts';
import { currency, isCurrencyCode, MAX_MINOR, type CurrencyCode } from '../money/index.ts';
import type { SqlClient } from '../stores/sql.ts';
import { migrateComponent } from '../stores/sql.ts';
import {
  agentAccounts,
  commissionId,
  creditLineId,
  currencyAccounts,
  derivedId,
  ledgerOf,
  positionId,
  TransferCode,
} from './accounts.ts';
import { RemitnetError } from './errors.ts';
import { checkPercent, parseDecimal } from './rates.ts';
import { NetworkRepository } from './repository.ts';
import {
  buildSnapshot,
  findRoutes,
  priceRoute,
  sendForDeliver,
  totalCost,
  type GraphSnapshot,
  type PricedRoute,
  type RouteCandidate,
} from './routing.ts';
import { NETWORK_MIGRATIONS } from './schema.ts';
import type {
  Actor,
  Agent,
  AgentExposureLine,
  AgentInput,
  AgentPatch,
  AgentRole,
  AgentStatus,
  CommissionRule,
  CorridorConfig,
  Customer,
  CustomerField,
  CustomerInput,
  Link,
  LinkInput,
  LinkPatch,
  NetworkConfig,
  Page,
  Quote,
  QuoteOptions,
  QuoteRequest,
  RateEntry,
} from './types.ts';

export interface NetworkDeps {
  readonly ledger: Ledger;
  readonly sql: SqlClient;
  /** Milliseconds since the epoch. */
  readonly clock: () => number;
  readonly config: NetworkConfig;
}

const ROLES: readonly AgentRole[] = ['origin', 'intermediary', 'payout'];
const STATUSES: readonly AgentStatus[] = ['active', 'suspended', 'unreachable'];
const ALL_FIELDS: readonly CustomerField[] = [
  'address',
  'nationalId',
  'customerId',
  'dateAndPlaceOfBirth',
  'phone',
];
const R16_FIELDS: readonly CustomerField[] = [
  'address',
  'nationalId',
  'customerId',
  'dateAndPlaceOfBirth',
];
const TEXT_MAX = 200;

/** A priced alternative route, as the remittance module reroutes onto it. */
export interface PricedAlternative {
  readonly route: RouteCandidate;
  readonly priced: PricedRoute;
}

export class NetworkService {
  readonly repo: NetworkRepository;
  readonly #ledger: Ledger;
  readonly #clock: () => number;
  readonly #config: Required<Omit<NetworkConfig, 'corridors'>> & {
    corridors: Readonly<Record<string, CorridorConfig>>;
  };
  #snapshot: { readonly version: bigint; readonly graph: GraphSnapshot } | undefined;
  /** Delivery outcomes recorded by this process since the snapshot loaded, by agent. */
  readonly #deliveries = new Map<string, { delivered: number; failed: number }>();
  #snapshotLoading:
    { readonly version: bigint; readonly graph: Promise<GraphSnapshot> } | undefined;
  /** A read of the network version in flight, shared by the callers that arrive meanwhile. */
  #versionReading: Promise<bigint> | undefined;
  readonly #currenciesReady = new Set<CurrencyCode>();

  constructor(deps: NetworkDeps) {
    this.repo = new NetworkRepository(deps.sql);
    this.#ledger = deps.ledger;
    this.#clock = deps.clock;
    const c = deps.config;
    this.#config = Object.freeze({
      maxHops: c.maxHops ?? 4,
      quoteTtl_s: c.quoteTtl_s ?? 900,
      travelRuleThresholdMinor: c.travelRuleThresholdMinor ?? { USD: 100_000n, EUR: 100_000n },
      customerFields: c.customerFields ?? R16_FIELDS,
      corridors: c.corridors ?? {},
    });
    if (!Number.isInteger(this.#config.maxHops) || this.#config.maxHops < 1) {
      throw new RangeError('maxHops must be a whole number of at least 1');
    }
  }

  /** Applies the network's migrations. Call once before use. */
  async migrate(): Promise<void> {
    await migrateComponent(this.repo.sql, 'network', NETWORK_MIGRATIONS);
  }

  // ---- agents -------------------------------------------------------------------------

  async createAgent(input: AgentInput, _actor: Actor): Promise<Agent> {
    checkAgentFields(input);
    const now = this.#clock();
    const id = idToHex(newId());
    const limits = input.exposureLimits ?? {};
    for (const [cur, v] of Object.entries(limits)) checkLimit(cur, v, input.currencies);
    for (const [cur, v] of Object.entries(input.cashOnHand ?? {})) {
      checkCurrencyOf(cur, input.currencies);
      checkAmount(v, true);
    }
    const agent: Agent = {
      id,
      name: input.name,
      location: input.location,
      currencies: [...input.currencies],
      roles: [...input.roles],
      status: 'active',
      cashOnHand: { ...(input.cashOnHand ?? {}) },
      commissions: [...(input.commissions ?? [])],
      exposureLimits: { ...limits },
      contact: input.contact,
      deliveredCount: 0,
      failedCount: 0,
      version: 1,
      createdAt_ms: now,
      updatedAt_ms: now,
    };
    // Ledger first (accounts and credit lines have derived ids, so a retry is harmless),
    // then the row: an agent never exists without its accounts.
    await this.#ensureAgentAccounts(id, agent.currencies);
    const transfers: TransferInput[] = [];
    for (const [cur, v] of Object.entries(limits) as [CurrencyCode, bigint][]) {
      if (v > 0n) transfers.push(limitTransfer(id, cur, v, 'initial'));
    }
    await this.#book(transfers, 'limit_below_usage');
    await this.repo.insertAgent(agent);
    this.invalidate();
    return agent;
  }

  async getAgent(id: string): Promise<Agent> {
    const a = await this.repo.getAgent(id);
    if (a === undefined) throw new RemitnetError('agent_not_found', id);
    return a;
  }

  async listAgents(
    filter: { status?: AgentStatus; country?: string; limit?: number; cursor?: string } = {},
  ): Promise<Page<Agent>> {
    const limit = pageLimit(filter.limit);
    const after = filter.cursor === undefined ? undefined : decodeCursor(filter.cursor);
    const items = await this.repo.listAgents({
      ...(filter.status !== undefined ? { status: filter.status } : {}),
      ...(filter.country !== undefined ? { country: filter.country } : {}),
      ...(after !== undefined ? { after } : {}),
      limit: limit + 1,
    });
    return page(items, limit);
  }

  async updateAgent(id: string, patch: AgentPatch, _actor: Actor): Promise<Agent> {
    const a = await this.getAgent(id);
    const next: Agent = {
      ...a,
      ...(patch.name !== undefined ? { name: patch.name } : {}),
      ...(patch.location !== undefined ? { location: patch.location } : {}),
      ...(patch.currencies !== undefined ? { currencies: [...patch.currencies] } : {}),
      ...(patch.roles !== undefined ? { roles: [...patch.roles] } : {}),
      ...(patch.contact !== undefined ? { contact: patch.contact } : {}),
      ...(patch.commissions !== undefined ? { commissions: [...patch.commissions] } : {}),
      version: a.version + 1,
      updatedAt_ms: this.#clock(),
    };
    checkAgentFields(next);
    for (const c of a.currencies) {
      if (!next.currencies.includes(c)) {
        throw new RemitnetError('agent_invalid', `currency ${c} cannot be removed`);
      }
    }
    await this.#ensureAgentAccounts(id, next.currencies);
    if (!(await this.repo.updateAgent(next, a.version))) {
      throw new RemitnetError('version_conflict', `agent ${id}`);
    }
    this.invalidate();
    return next;
  }

  /**
   * Sets an agent's status. This alone does not touch remittances in flight: to suspend an
   * agent with a policy for them, use the remittance service's suspendAgent.
   */
  async setAgentStatus(
    id: string,
    status: AgentStatus,
    _actor: Actor,
    _reason: string,
  ): Promise<Agent> {
    if (!STATUSES.includes(status)) {
      throw new RemitnetError('agent_invalid', `status must be one of ${STATUSES.join(', ')}`);
    }
    for (let attempt = 0; attempt < 5; attempt++) {
      const a = await this.getAgent(id);
      if (a.status === status) return a;
      const next = { ...a, status, version: a.version + 1, updatedAt_ms: this.#clock() };
      if (await this.repo.updateAgent(next, a.version)) {
        this.invalidate();
        return next;
      }
    }
    throw new RemitnetError('version_conflict', `agent ${id}`);
  }

  /** Records the cash on hand an agent reports in one currency. */
  async reportCash(
    id: string,
    cur: CurrencyCode,
    amountMinor: bigint,
    _actor: Actor,
  ): Promise<Agent> {
    const a = await this.getAgent(id);
    checkCurrencyOf(cur, a.currencies);
    checkAmount(amountMinor, true);
    await this.repo.setCash(id, cur, amountMinor, this.#clock());
    return { ...a, cashOnHand: { ...a.cashOnHand, [cur]: amountMinor } };
  }

  /**
   * Sets the most an agent may owe the network in a currency. The change is a ledger
   * transfer between the agent's credit-line account and its position, so a cut below what
   * the agent already owes or has reserved is refused by the ledger itself. The ledger is
   * the source of truth (the credit line's balance is the limit): the delta is taken against
   * it, so repeating a call after a crash repairs the row and books nothing twice.
   */
  async setExposureLimit(
    id: string,
    cur: CurrencyCode,
    limitMinor: bigint,
    _actor: Actor,
  ): Promise<Agent> {
    const a = await this.getAgent(id);
    checkLimit(cur, limitMinor, a.currencies);
    const current = await this.#ledgerLimit(id, cur);
    if (current !== limitMinor) {
      // One change per agent version: a concurrent change with another amount gets
      // exists_with_different_amount from the ledger and is told to retry.
      const results = await this.#ledger.createTransfers([
        limitTransfer(id, cur, limitMinor - current, `v${a.version}:${current}`),
      ]);
      const r = results[0]!;
      if (r === 'exceeds_credits') throw new RemitnetError('limit_below_usage');
      if (r.startsWith('exists_with_different')) {
        throw new RemitnetError('version_conflict', `agent ${id}`);
      }
      if (!isApplied(r)) throw new RemitnetError('ledger_refused', r);
    }
    if (a.exposureLimits[cur] === limitMinor) return a;
    const next: Agent = {
      ...a,
      exposureLimits: { ...a.exposureLimits, [cur]: limitMinor },
      version: a.version + 1,
      updatedAt_ms: this.#clock(),
    };
    if (!(await this.repo.updateAgent(next, a.version))) {
      throw new RemitnetError('version_conflict', `agent ${id}`);
    }
    return next;
  }

  async #ledgerLimit(agentId: string, cur: CurrencyCode): Promise<bigint> {
    const [line] = await this.#ledger.lookupAccounts([creditLineId(agentId, cur)]);
    return line === undefined ? 0n : line.debitsPosted - line.creditsPosted;
  }

  /** What the network stands to lose with an agent, per currency, from the ledger. */
  async agentExposure(id: string): Promise<AgentExposureLine[]> {
    const a = await this.getAgent(id);
    const ids = a.currencies.flatMap((c) => [
      positionId(id, c),
      commissionId(id, c),
      creditLineId(id, c),
    ]);
    const accounts = new Map((await this.#ledger.lookupAccounts(ids)).map((x) => [x.id, x]));
    return a.currencies.map((c) => {
      const line = accounts.get(creditLineId(id, c));
      const limit = line === undefined ? 0n : line.debitsPosted - line.creditsPosted;
      const p = accounts.get(positionId(id, c));
      const k = accounts.get(commissionId(id, c));
      const dp = p?.debitsPosted ?? 0n;
      const cp = (p?.creditsPosted ?? 0n) - limit; // the credit line is not owed to the agent
      const dPend = p?.debitsPending ?? 0n;
      const cPend = p?.creditsPending ?? 0n;
      return {
        currency: c,
        limitMinor: limit,
        owesPostedMinor: dp - cp,
        owesIncludingPendingMinor: dp + dPend - cp - cPend,
        commissionPostedMinor: (k?.creditsPosted ?? 0n) - (k?.debitsPosted ?? 0n),
        cashOnHandMinor: a.cashOnHand[c] ?? 0n,
        headroomMinor: (p?.creditsPosted ?? 0n) - dp - dPend,
      };
    });
  }

  // ---- links --------------------------------------------------------------------------

  async createLink(input: LinkInput, _actor: Actor): Promise<Link> {
    const [from, to] = await Promise.all([
      this.getAgent(input.fromAgentId),
      this.getAgent(input.toAgentId),
    ]);
    if (from.id === to.id)
      throw new RemitnetError('link_invalid', 'an agent cannot link to itself');
    if (!isCurrencyCode(input.currency))
      throw new RemitnetError('currency_unknown', input.currency);
    checkCurrencyOf(input.currency, to.currencies);
    checkCurrencyOf(input.currency, from.currencies);
    const rates = input.rates ?? [];
    checkRates(rates, input.currency, from);
    const expectedMinutes = input.expectedMinutes ?? 60;
    checkMinutes(expectedMinutes);
    if ((await this.repo.findLink(from.id, to.id, input.currency)) !== undefined) {
      throw new RemitnetError(
        'link_invalid',
        'a link between these agents in this currency exists',
      );
    }
    const now = this.#clock();
    const link: Link = {
      id: idToHex(newId()),
      fromAgentId: from.id,
      toAgentId: to.id,
      currency: input.currency,
      rates: [...rates],
      expectedMinutes,
      active: true,
      version: 1,
      createdAt_ms: now,
      updatedAt_ms: now,
    };
    try {
      await this.repo.insertLink(link);
    } catch (error) {
      // The check above and this insert are not one step: a concurrent create of the same
      // link meets the unique index here, and is the same refusal, not a server error.
      if (isUniqueViolation(error)) {
        throw new RemitnetError(
          'link_invalid',
          'a link between these agents in this currency exists',
        );
      }
      throw error;
    }
    this.invalidate();
    return link;
  }

  async getLink(id: string): Promise<Link> {
    const l = await this.repo.getLink(id);
    if (l === undefined) throw new RemitnetError('link_not_found', id);
    return l;
  }

  /** Links from or to an agent, or every link. */
  async listLinks(filter: { agentId?: string } = {}): Promise<Link[]> {
    return this.repo.allLinks(filter.agentId);
  }

  /** Changes a link's rate table, expected time, or switches it off and on. */
  async updateLink(id: string, patch: LinkPatch, _actor: Actor): Promise<Link> {
    const l = await this.getLink(id);
    const from = await this.getAgent(l.fromAgentId);
    const next: Link = {
      ...l,
      ...(patch.rates !== undefined ? { rates: [...patch.rates] } : {}),
      ...(patch.expectedMinutes !== undefined ? { expectedMinutes: patch.expectedMinutes } : {}),
      ...(patch.active !== undefined ? { active: patch.active } : {}),
      version: l.version + 1,
      updatedAt_ms: this.#clock(),
    };
    checkRates(next.rates, next.currency, from);
    checkMinutes(next.expectedMinutes);
    if (!(await this.repo.updateLink(next, l.version))) {
      throw new RemitnetError('version_conflict', `link ${id}`);
    }
    this.invalidate();
    return next;
  }

  // ---- customers ----------------------------------------------------------------------

  /**
   * Registers a sender or recipient with only what the rules require: a name and a
   * reference, and optional fields only when configured (others are refused, not dropped,
   * so the caller knows they were not kept).
   */
  async createCustomer(input: CustomerInput, _actor: Actor): Promise<Customer> {
    if (input.role !== 'sender' && input.role !== 'recipient') {
      throw new RemitnetError('customer_invalid', 'role must be sender or recipient');
    }
    checkText(input.name, 'name', 'customer_invalid');
    checkText(input.reference, 'reference', 'customer_invalid');
    const data: Partial<Record<CustomerField, string>> = {};
    for (const [k, v] of Object.entries(input.data ?? {})) {
      if (!ALL_FIELDS.includes(k as CustomerField)) {
        throw new RemitnetError('customer_field_not_allowed', k);
      }
      const field = k as CustomerField;
      const allowed =
        this.#config.customerFields.includes(field) ||
        (field === 'phone' && input.role === 'recipient' && this.#anyCorridorWantsPhone());
      if (!allowed) throw new RemitnetError('customer_field_not_allowed', k);
      checkText(v, k, 'customer_invalid');
      data[field] = v;
    }
    if (input.role === 'recipient' && (input.country === undefined || input.region === undefined)) {
      throw new RemitnetError('customer_invalid', 'a recipient needs a country and a region');
    }
    const c: Customer = {
      id: idToHex(newId()),
      role: input.role,
      name: input.name,
      reference: input.reference,
      ...(input.country !== undefined ? { country: input.country } : {}),
      ...(input.region !== undefined ? { region: input.region } : {}),
      data,
      createdAt_ms: this.#clock(),
    };
    await this.repo.insertCustomer(c);
    return c;
  }

  async getCustomer(id: string): Promise<Customer> {
    const c = (await this.repo.getCustomers([id])).get(id);
    if (c === undefined) throw new RemitnetError('customer_not_found', id);
    return c;
  }

  /** FATF R.16: refuses a transfer whose sender lacks the data its amount requires. */
  checkTravelRule(sender: Customer, cur: CurrencyCode, amountMinor: bigint): void {
    const threshold = this.#config.travelRuleThresholdMinor[cur];
    if (threshold === undefined || amountMinor < threshold) return;
    if (!R16_FIELDS.some((f) => (sender.data[f] ?? '') !== '')) {
      throw new RemitnetError('customer_data_missing', `sender ${sender.id}`);
    }
  }

  #anyCorridorWantsPhone(): boolean {
    return Object.values(this.#config.corridors).some((c) => c.recipientPhone === true);
  }

  corridorConfig(corridor: string): CorridorConfig {
    return this.#config.corridors[corridor] ?? this.#config.corridors['*'] ?? {};
  }

  // ---- routes and quotes --------------------------------------------------------------

  /**
   * The link graph as of the latest change to agents or links, made by this process or
   * another: one read of the network version per use (shared by concurrent callers), and a
   * reload when it moved.
   */
  async snapshot(): Promise<GraphSnapshot> {
    const version = await this.#graphVersion();
    const held = this.#snapshot;
    if (held !== undefined && held.version === version) return held.graph;
    if (this.#snapshotLoading === undefined || this.#snapshotLoading.version !== version) {
      // The version is read before the graph: a change landing in between makes the next
      // use reload once more, never keep a stale graph.
      const graph = Promise.all([this.repo.allAgents(), this.repo.allLinks()]).then(
        ([agents, links]) => buildSnapshot(agents, links),
      );
      const loading = { version, graph };
      this.#snapshotLoading = loading;
      void graph.then(
        (g) => {
          if (this.#snapshotLoading === loading) {
            this.#snapshot = { version, graph: g };
            this.#snapshotLoading = undefined;
            this.#deliveries.clear(); // the reloaded agents hold them
          }
        },
        () => {
          if (this.#snapshotLoading === loading) this.#snapshotLoading = undefined;
        },
      );
    }
    return this.#snapshotLoading.graph;
  }

  /**
   * The network version, read after the caller asked: callers asking in the same turn of
   * the event loop share one read, started once that turn is over. (Joining a read already
   * in flight could return a version from before another process's change that the caller
   * had already seen committed, and keep a suspended agent routable.)
   */
  #graphVersion(): Promise<bigint> {
    if (this.#versionReading === undefined) {
      let start!: () => void;
      const reading = new Promise<bigint>((resolve, reject) => {
        start = () => {
          if (this.#versionReading === reading) this.#versionReading = undefined;
          this.repo.graphVersion().then(resolve, reject);
        };
      });
      this.#versionReading = reading;
      setImmediate(start);
    }
    return this.#versionReading;
  }

  /**
   * Counts delivery outcomes that were just committed (repo.recordDeliveries, in a step's
   * transaction) toward the next quotes' delivery scores: call it after the commit, so a
   * rolled-back or rerun transaction counts nothing twice.
   */
  noteDeliveries(agentIds: readonly string[], delivered: boolean): void {
    for (const id of agentIds) {
      const d = this.#deliveries.get(id) ?? { delivered: 0, failed: 0 };
      if (delivered) d.delivered++;
      else d.failed++;
      this.#deliveries.set(id, d);
    }
  }

  /** Drops the snapshot; the next use reloads it. */
  invalidate(): void {
    this.#snapshot = undefined;
    this.#snapshotLoading = undefined;
    this.#versionReading = undefined;
  }

  /**
   * Refuses a quoted route that is broken now: an agent on it no longer active, or a link
   * on it switched off (a quote keeps its prices, not a closed route).
   */
  async checkRoute(legs: readonly { agentId: string; linkId?: string }[]): Promise<void> {
    const g = await this.snapshot();
    for (const leg of legs) {
      const a = g.agents.get(leg.agentId);
      if (a === undefined) throw new RemitnetError('agent_not_found', leg.agentId);
      if (a.status !== 'active') throw new RemitnetError('agent_suspended', a.id);
      if (leg.linkId !== undefined && !g.activeLinks.has(leg.linkId)) {
        throw new RemitnetError(
          'no_route',
          `the link into ${a.id} on the quoted route was switched off; ask for a new quote`,
        );
      }
    }
  }

  /** An agent from the snapshot (no SQL); refuses unknown ones. */
  async agent(id: string): Promise<Agent> {
    const a = (await this.snapshot()).agents.get(id);
    if (a === undefined) throw new RemitnetError('agent_not_found', id);
    return a;
  }

  /**
   * Routes and prices for a request, best first. Quotes are stored (one statement) so a
   * remittance can be created from one by id until it expires.
   */
  /**
   * Prices and stores quotes. `onStored` runs in the transaction that stores them (the API
   * keeps its Idempotency-Key record there); it must await nothing but `tx`.
   */
  async quote(
    req: QuoteRequest,
    onStored?: (tx: SqlClient, result: QuoteOptions) => Promise<void>,
  ): Promise<QuoteOptions> {
    const g = await this.snapshot();
    const origin = g.agents.get(req.originAgentId);
    if (origin === undefined) throw new RemitnetError('agent_not_found', req.originAgentId);
    if (origin.status !== 'active') throw new RemitnetError('agent_suspended', origin.id);
    if (!origin.roles.includes('origin')) {
      throw new RemitnetError('agent_invalid', 'this agent does not take senders’ cash');
    }
    for (const c of [req.sendCurrency, req.payoutCurrency]) {
      if (!isCurrencyCode(c)) throw new RemitnetError('currency_unknown', String(c));
    }
    checkCurrencyOf(req.sendCurrency, origin.currencies);
    const fixed: 'send' | 'deliver' = req.sendAmountMinor !== undefined ? 'send' : 'deliver';
    if ((req.sendAmountMinor === undefined) === (req.deliverAmountMinor === undefined)) {
      throw new RemitnetError('amount_invalid', 'fix exactly one of the amount sent or delivered');
    }
    const amount = (req.sendAmountMinor ?? req.deliverAmountMinor)!;
    checkAmount(amount, false);
    const corridor = `${origin.location.country}-${req.payoutCountry}`;
    const cc = this.corridorConfig(corridor);
    const min = cc.minSendMinor?.[req.sendCurrency] ?? 1n;
    const max = cc.maxSendMinor?.[req.sendCurrency] ?? MAX_MINOR / 1_000_000n;
    if (fixed === 'send') {
      if (amount < min)
        throw new RemitnetError('amount_below_minimum', `minimum ${min} minor units`);
      if (amount > max) throw new RemitnetError('amount_above_limit', `limit ${max} minor units`);
    }
    const routes = findRoutes(g, {
      originAgentId: origin.id,
      payoutCountry: req.payoutCountry,
      payoutRegion: req.payoutRegion,
      payoutCurrency: req.payoutCurrency,
      maxHops: this.#config.maxHops,
      exclude: new Set(req.excludeAgentIds ?? []),
    });
    if (routes.length === 0) throw new RemitnetError('no_route', corridor);
    const now = this.#clock();
    const quotes: Quote[] = [];
    let tooSmall = false;
    let tooLarge = false;
    for (const route of routes) {
      let priced: PricedRoute | undefined;
      if (fixed === 'send') {
        const p = priceRoute(route, req.sendCurrency, amount, corridor);
        if (p === 'too_small') tooSmall = true;
        priced = typeof p === 'string' ? undefined : p;
      } else {
        priced = sendForDeliver(route, req.sendCurrency, amount, corridor, max);
      }
      if (priced === undefined) continue;
      // A rate can turn a permitted amount into more than any ledger amount can hold: such
      // a quote could never be booked, so it is never offered.
      if (priced.legs.some((l) => l.amountInMinor > MAX_MINOR || l.amountOutMinor > MAX_MINOR)) {
        tooLarge = true;
        continue;
      }
      const send = priced.legs[0]!.amountInMinor;
      if (fixed === 'deliver' && (send < min || send > max)) continue;
      quotes.push(this.#toQuote(route, priced, fixed, corridor, req, now));
    }
    if (quotes.length === 0) {
      if (tooSmall)
        throw new RemitnetError('amount_below_minimum', 'commissions would take it all');
      if (tooLarge) {
        throw new RemitnetError(
          'amount_above_limit',
          'at these rates the amounts would exceed what the ledger can hold',
        );
      }
      throw new RemitnetError('no_route', `${corridor}: no route can carry this amount`);
    }
    quotes.sort(compareQuotes);
    const wanted = Math.min(Math.max(req.options ?? 3, 1), 10);
    const chosen = quotes.slice(0, wanted);
    const result: QuoteOptions = { quotes: chosen };
    await this.repo.insertQuotes(
      chosen,
      onStored === undefined ? undefined : (tx) => onStored(tx, result),
    );
    return result;
  }

  async getQuote(id: string): Promise<Quote> {
    const q = await this.repo.getQuote(id);
    if (q === undefined) throw new RemitnetError('quote_not_found', id);
    return q;
  }

  /**
   * For rerouting: the best route from the same origin that delivers at least the quoted
   * amount for the same amount sent (so within the quoted cost), avoiding `exclude`.
   */
  async alternative(
    q: Pick<
      Quote,
      | 'originAgentId'
      | 'payoutCountry'
      | 'payoutRegion'
      | 'deliverCurrency'
      | 'sendCurrency'
      | 'corridor'
    >,
    sendMinor: bigint,
    deliverMinor: bigint,
    exclude: ReadonlySet<string>,
  ): Promise<PricedAlternative | undefined> {
    const g = await this.snapshot();
    const routes = findRoutes(g, {
      originAgentId: q.originAgentId,
      payoutCountry: q.payoutCountry,
      payoutRegion: q.payoutRegion,
      payoutCurrency: q.deliverCurrency,
      maxHops: this.#config.maxHops,
      exclude,
    });
    let best: PricedAlternative | undefined;
    for (const route of routes) {
      const p = priceRoute(route, q.sendCurrency, sendMinor, q.corridor);
      if (typeof p === 'string' || p.deliverMinor < deliverMinor) continue;
      if (best === undefined || p.deliverMinor > best.priced.deliverMinor) {
        best = { route, priced: p };
      }
    }
    return best;
  }

  #toQuote(
    route: RouteCandidate,
    priced: PricedRoute,
    fixed: 'send' | 'deliver',
    corridor: string,
    req: QuoteRequest,
    now: number,
  ): Quote {
    const expectedMinutes = route.links.reduce((s, l) => s + l.expectedMinutes, 0);
    const scores = route.agents.map((a) => {
      // Deliveries recorded since the snapshot loaded count at once (the snapshot reloads
      // only on changes to agents and links, not on every payout).
      const since = this.#deliveries.get(a.id);
      const delivered = a.deliveredCount + (since?.delivered ?? 0);
      const failed = a.failedCount + (since?.failed ?? 0);
      return (delivered + 1) / (delivered + failed + 1);
    });
    return {
      id: idToHex(newId()),
      fixed,
      corridor,
      originAgentId: route.agents[0]!.id,
      payoutAgentId: route.agents[route.agents.length - 1]!.id,
      payoutCountry: req.payoutCountry,
      payoutRegion: req.payoutRegion,
      sendCurrency: req.sendCurrency,
      sendAmountMinor: priced.legs[0]!.amountInMinor,
      deliverCurrency: req.payoutCurrency,
      deliverAmountMinor: priced.deliverMinor,
      legs: priced.legs,
      hops: route.links.length,
      totalCost: totalCost(priced.legs, priced.deliverMinor),
      expectedMinutes,
      deliveryScore: Math.min(...scores),
      createdAt_ms: now,
      expiresAt_ms: now + this.#config.quoteTtl_s * 1000,
    };
  }

  // ---- ledger -------------------------------------------------------------------------

  /** Creates the network accounts of a currency once per process (idempotent anyway). */
  async ensureCurrency(cur: CurrencyCode): Promise<void> {
    if (this.#currenciesReady.has(cur)) return;
    const results = await this.#ledger.createAccounts(currencyAccounts(cur));
    if (!results.every(isApplied)) throw new RemitnetError('ledger_refused', results.join(', '));
    this.#currenciesReady.add(cur);
  }

  async #ensureAgentAccounts(agentId: string, currencies: readonly CurrencyCode[]): Promise<void> {
    for (const c of currencies) await this.ensureCurrency(c);
    const results = await this.#ledger.createAccounts(
      currencies.flatMap((c) => agentAccounts(agentId, c)),
    );
    if (!results.every(isApplied)) throw new RemitnetError('ledger_refused', results.join(', '));
  }

  async #book(transfers: TransferInput[], onExceeds: 'limit_below_usage'): Promise<void> {
    if (transfers.length === 0) return;
    const results = await this.#ledger.createTransfers(transfers);
    if (results.some((r) => r === 'exceeds_credits')) throw new RemitnetError(onExceeds);
    if (!results.every(isApplied)) throw new RemitnetError('ledger_refused', results.join(', '));
  }
}

function limitTransfer(
  agentId: string,
  cur: CurrencyCode,
  delta: bigint,
  change: string,
): TransferInput {
  const id = derivedId('limit', agentId, cur, change);
  const ledger = ledgerOf(cur);
  const line = creditLineId(agentId, cur);
  const position = positionId(agentId, cur);
  return {
    id,
    debitAccountId: delta > 0n ? line : position,
    creditAccountId: delta > 0n ? position : line,
    amount: delta > 0n ? delta : -delta,
    ledger,
    code: TransferCode.creditLimit,
  };
}

function compareQuotes(a: Quote, b: Quote): number {
  if (a.totalCost.basisPoints !== b.totalCost.basisPoints) {
    return a.totalCost.basisPoints < b.totalCost.basisPoints ? -1 : 1;
  }
  if (a.expectedMinutes !== b.expectedMinutes) return a.expectedMinutes - b.expectedMinutes;
  return b.deliveryScore - a.deliveryScore;
}

function checkText(v: unknown, what: string, code: 'agent_invalid' | 'customer_invalid'): void {
  if (typeof v !== 'string' || v.trim() === '' || v.length > TEXT_MAX) {
    throw new RemitnetError(code, `${what} must be text of 1 to ${TEXT_MAX} characters`);
  }
}

function checkAgentFields(a: {
  name: string;
  location: { country: string; region: string; city: string };
  currencies: readonly string[];
  roles: readonly string[];
  contact: { kind: string; address: string };
  commissions?: readonly CommissionRule[];
}): void {
  checkText(a.name, 'name', 'agent_invalid');
  if (a.location === undefined || typeof a.location !== 'object') {
    throw new RemitnetError('agent_invalid', 'location needs country, region and city');
  }
  if (!/^[A-Z]{2}$/.test(a.location.country)) {
    throw new RemitnetError('agent_invalid', 'location.country must be an ISO 3166 alpha-2 code');
  }
  checkText(a.location.region, 'location.region', 'agent_invalid');
  checkText(a.location.city, 'location.city', 'agent_invalid');
  if (!Array.isArray(a.currencies) || a.currencies.length === 0) {
    throw new RemitnetError('agent_invalid', 'an agent handles at least one currency');
  }
  for (const c of a.currencies)
    if (!isCurrencyCode(c)) throw new RemitnetError('currency_unknown', c);
  if (!Array.isArray(a.roles) || a.roles.length === 0) {
    throw new RemitnetError('agent_invalid', `roles: at least one of ${ROLES.join(', ')}`);
  }
  for (const r of a.roles) {
    if (!ROLES.includes(r as AgentRole)) throw new RemitnetError('agent_invalid', `role ${r}`);
  }
  if (a.contact === undefined) throw new RemitnetError('agent_invalid', 'contact is required');
  checkText(a.contact.kind, 'contact.kind', 'agent_invalid');
  checkText(a.contact.address, 'contact.address', 'agent_invalid');
  for (const rule of a.commissions ?? []) {
    if (typeof rule.corridor !== 'string' || !/^(\*|[A-Z]{2}-[A-Z]{2})$/.test(rule.corridor)) {
      throw new RemitnetError('agent_invalid', 'a commission corridor is "KR-KP" or "*"');
    }
    checkCurrencyOf(rule.currency, a.currencies);
    checkPercent(rule.percent);
    checkAmount(rule.fixedMinor, true);
    checkAmount(rule.minimumMinor, true);
  }
}

function checkCurrencyOf(cur: string, currencies: readonly string[]): void {
  if (!isCurrencyCode(cur)) throw new RemitnetError('currency_unknown', String(cur));
  if (!currencies.includes(cur)) throw new RemitnetError('currency_not_handled', cur);
}

function checkAmount(v: unknown, allowZero: boolean): void {
  if (typeof v !== 'bigint' || v < (allowZero ? 0n : 1n) || v > MAX_MINOR) {
    throw new RemitnetError('amount_invalid', `got ${String(v)}`);
  }
}

function checkLimit(cur: string, v: unknown, currencies: readonly string[]): void {
  checkCurrencyOf(cur, currencies);
  checkAmount(v, true);
}

function checkMinutes(m: unknown): void {
  if (typeof m !== 'number' || !Number.isInteger(m) || m < 0 || m > 1_000_000) {
    throw new RemitnetError('link_invalid', 'expectedMinutes must be a whole number of minutes');
  }
}

function checkRates(rates: readonly RateEntry[], linkCurrency: CurrencyCode, from: Agent): void {
  const seen = new Set<string>();
  for (const r of rates) {
    if (!isCurrencyCode(r.from) || !isCurrencyCode(r.to)) {
      throw new RemitnetError('currency_unknown', `${String(r.from)}/${String(r.to)}`);
    }
    if (r.to !== linkCurrency || r.from === r.to) {
      throw new RemitnetError(
        'link_invalid',
        `a rate converts into the link currency ${linkCurrency}`,
      );
    }
    checkCurrencyOf(r.from, from.currencies);
    parseDecimal(r.referenceRate, 'referenceRate');
    parseDecimal(r.agentRate, 'agentRate');
    const key = `${r.from}/${r.to}`;
    if (seen.has(key)) throw new RemitnetError('link_invalid', `two rates for ${key}`);
    seen.add(key);
    currency(r.from);
  }
}

export function pageLimit(limit: number | undefined): number {
  const l = limit ?? 50;
  if (!Number.isInteger(l) || l < 1 || l > 500) {
    throw new RemitnetError('cursor_invalid', 'limit must be a whole number from 1 to 500');
  }
  return l;
}

export function encodeCursor(id: string): string {
  return Buffer.from(`c1:${id}`).toString('base64url');
}

export function decodeCursor(cursor: string): string {
  const text = Buffer.from(cursor, 'base64url').toString();
  if (!/^c1:[0-9a-f]{32}$/.test(text)) throw new RemitnetError('cursor_invalid');
  return text.slice(3);
}

export function page<T extends { id: string }>(items: readonly T[], limit: number): Page<T> {
  if (items.length <= limit) return { items };
  const shown = items.slice(0, limit);
  return { items: shown, nextCursor: encodeCursor(shown[shown.length - 1]!.id) };
}

/** A unique-index violation, on SQLite (better-sqlite3) or PostgreSQL (23505). */
function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return (
    code === 'SQLITE_CONSTRAINT_UNIQUE' ||
    code === 'SQLITE_CONSTRAINT_PRIMARYKEY' ||
    code === '23505'
  );
}
