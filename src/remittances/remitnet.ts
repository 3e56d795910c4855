/**
 * The public surface for the API and the CLI: one object built from a ledger, a SQL client,
 * a clock and configuration, holding the network and remittance services.
 */
import type { Ledger } from '../ledger/index.ts';
import { NetworkService } from '../network/service.ts';
import type { SqlClient } from '../stores/sql.ts';
import { RemittanceService } from './service.ts';
import type { RemitnetConfig } from './types.ts';

export interface RemitnetDeps {
  readonly ledger: Ledger;
  readonly sql: SqlClient;
  /** Milliseconds since the epoch; default Date.now. Tests pass a clock they move. */
  readonly clock?: () => number;
  readonly config: RemitnetConfig;
}

export interface Remitnet {
  readonly network: NetworkService;
  readonly remittances: RemittanceService;
  readonly config: RemitnetConfig;
}

/** Builds the services and applies their migrations (network, then remittances). */
export async function createRemitnet(deps: RemitnetDeps): Promise<Remitnet> {
  const clock = deps.clock ?? Date.now;
  const network = new NetworkService({
    ledger: deps.ledger,
    sql: deps.sql,
    clock,
    config: deps.config,
  });
  const remittances = new RemittanceService({
    ledger: deps.ledger,
    sql: deps.sql,
    network,
    clock,
    config: deps.config,
  });
  await network.migrate();
  await remittances.migrate();
  return Object.freeze({ network, remittances, config: deps.config });
}
