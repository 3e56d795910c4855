/**
 * The network: agents (location, currencies, status, reported cash, commission schedules,
 * exposure limits, contact), links between agents with rate tables, customers (only the
 * data FATF R.16 and the configuration require), routing and quotes.
 *
 * Owns: the agent graph, its in-memory snapshot, exact pricing, and each agent's ledger
 * accounts (position with its exposure cap, commission). Never: a remittance's lifecycle
 * (src/remittances), HTTP, process.env, or a float. Depends on ledger and money only.
 */
export * from './types.ts';
export * from './errors.ts';
export * from './accounts.ts';
export { NetworkService, type NetworkDeps, type PricedAlternative } from './service.ts';
export { NETWORK_MIGRATIONS } from './schema.ts';
export {
  buildSnapshot,
  findRoutes,
  priceRoute,
  fixDelivery,
  sendForDeliver,
  totalCost,
  bpToPercent,
  type GraphSnapshot,
  type RouteCandidate,
  type PricedRoute,
} from './routing.ts';
export { convert, commissionOf, parseDecimal, type Rational } from './rates.ts';
