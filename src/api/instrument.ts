/**
 * A LedgerStore that counts what reaches the store: how many durable transfer batches and
 * how many transfers each held. Group commit shows here: under load, many requests share
 * one batch (remitnet_ledger_transfer_batch_events grows above 1).
 */
import type { LedgerStore } from '../ledger/store.ts';
import type { ApiMetrics } from './metrics.ts';

export function instrumentStore(store: LedgerStore, metrics: ApiMetrics): LedgerStore {
  return {
    get kind() {
      return store.kind;
    },
    createAccounts: (events, now) => store.createAccounts(events, now),
    createTransfers: async (events, now) => {
      const results = await store.createTransfers(events, now);
      metrics.ledgerBatches.inc();
      metrics.ledgerBatchEvents.observe(events.length);
      return results;
    },
    expirePending: (now) => store.expirePending(now),
    nextExpiry: () => store.nextExpiry(),
    lookupAccounts: (ids) => store.lookupAccounts(ids),
    lookupTransfers: (ids) => store.lookupTransfers(ids),
    lookupPending: (ids) => store.lookupPending(ids),
    getAccountTransfers: (filter) => store.getAccountTransfers(filter),
    getAccountBalanceAt: (id, ts) => store.getAccountBalanceAt(id, ts),
    scanAccounts: (after, limit) => store.scanAccounts(after, limit),
    close: () => store.close(),
  };
}
