/**
 * The ledger: a double-entry, two-phase, TigerBeetle-style ledger with no I/O of its own.
 * Stores (src/stores/*) implement LedgerStore; everything else uses Ledger.
 */
export * from './types.ts';
export * from './results.ts';
export * from './ids.ts';
export * from './ledger.ts';
export type { LedgerStore } from './store.ts';
export type { AccountEvent, TransferEvent } from './normalize.ts';
export { normalizeAccounts, normalizeTransfers } from './normalize.ts';
export { executeAccounts, executeExpiry, executeTransfers } from './engine.ts';
export type { LedgerView, LedgerWrites, TransferOutcome, AccountOutcome } from './engine.ts';
