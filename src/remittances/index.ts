/**
 * Remittances: the lifecycle of value handed through a chain of agents, as an explicit
 * state machine over the ledger: created, funded (reserved by pending transfers), accepted
 * hop by hop, ready, paid against a one-time code, completed (every reservation posted);
 * and off the happy path rerouted, refunded, held, written off.
 *
 * Owns: transitions (time, actor, reason recorded), payout codes (hash only), deadlines
 * and the sweeper, policies for cancel and suspension, timelines, crash recovery. Never:
 * HTTP, process.env, a float, or a loss booked without an operator. Depends on network,
 * ledger and money only.
 */
export * from './types.ts';
export { createRemitnet, type Remitnet, type RemitnetDeps } from './remitnet.ts';
export { RemittanceService, type OutcomeHook, type RemittanceDeps } from './service.ts';
export { TRANSITIONS, TERMINAL, IN_FLIGHT, assertTransition } from './state-machine.ts';
export { newPayoutCode, normalizePayoutCode } from './payout-code.ts';
export { REMITTANCE_MIGRATIONS } from './schema.ts';
export { involves } from './row.ts';
export { RemitnetError, REMITNET_ERRORS, isRemitnetError } from '../network/errors.ts';
export type { ErrorKind, RemitnetErrorCode } from '../network/errors.ts';
