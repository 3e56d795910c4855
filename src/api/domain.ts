/**
 * Plugs the domain (network and remittances) into the API: its routes, and who owns which
 * ledger account (so an agent key sees its own accounts and no others).
 */
import type { FastifyInstance } from 'fastify';
import type { Account } from '../ledger/index.ts';
import { commissionId, positionId, type Agent } from '../network/index.ts';
import type { Remitnet } from '../remittances/index.ts';
import type { ApiContext } from './app.ts';
import { recordRecoveredAnswer } from './idempotency.ts';
import { JSON_TYPE } from './route.ts';
import { remittanceToWire } from './routes/domain-wire.ts';
import type { AccountOwner } from './routes/ledger.ts';
import { registerNetworkRoutes } from './routes/network.ts';
import { registerRemittanceRoutes } from './routes/remittances.ts';

export function domainPlugin(remitnet: Remitnet) {
  return (app: FastifyInstance, ctx: ApiContext) => {
    recordRecoveredAnswers(remitnet);
    registerNetworkRoutes(app, ctx, remitnet);
    registerRemittanceRoutes(app, ctx, remitnet);
  };
}

/** Whether an agent exists, for AppServices.agentExists. */
export function agentExistsOf(remitnet: Remitnet): (agentId: string) => Promise<boolean> {
  return async (agentId) => {
    try {
      await remitnet.network.getAgent(agentId);
      return true;
    } catch (error) {
      if ((error as { code?: unknown }).code === 'agent_not_found') return false;
      throw error;
    }
  };
}

/**
 * Lets a remittance step finished by recover() or the sweeper record the answer its request
 * would have had, so a retry with the same Idempotency-Key replays it instead of being told
 * `transition_not_allowed` (see recordRecoveredAnswer). Every route that hands a step an
 * answer reference answers 200 with the remittance (routes/remittances.ts, Transition).
 * Install it before the first recover() (the runtime does, at start-up).
 */
export function recordRecoveredAnswers(remitnet: Remitnet): void {
  remitnet.remittances.answerRecorder = (tx, ref, result) =>
    recordRecoveredAnswer(tx, ref, {
      status: 200,
      contentType: JSON_TYPE,
      body: JSON.stringify(remittanceToWire(result)),
    });
}

/**
 * Agents' accounts have derived ids (position and commission per currency), so the owner of
 * an account is found by deriving every agent's ids once and again when an unknown account
 * is asked about (at most once a second: network-wide accounts are unknown by design).
 */
export function accountOwnerOf(remitnet: Remitnet): AccountOwner {
  let owners = new Map<bigint, string>();
  let refreshed_ms = 0;
  const refresh = async () => {
    const next = new Map<bigint, string>();
    let cursor: string | undefined;
    for (let pages = 0; pages < 10_000; pages++) {
      const page = await remitnet.network.listAgents({
        limit: 500,
        ...(cursor === undefined ? {} : { cursor }),
      });
      for (const a of page.items) addAgent(next, a);
      cursor = page.nextCursor;
      if (cursor === undefined) break;
    }
    owners = next;
    refreshed_ms = Date.now();
  };
  return async (account: Account) => {
    const known = owners.get(account.id);
    if (known !== undefined) return known;
    if (Date.now() - refreshed_ms < 1000) return null;
    await refresh();
    return owners.get(account.id) ?? null;
  };
}

function addAgent(map: Map<bigint, string>, a: Agent): void {
  for (const c of a.currencies) {
    map.set(positionId(a.id, c), a.id);
    map.set(commissionId(a.id, c), a.id);
  }
}
