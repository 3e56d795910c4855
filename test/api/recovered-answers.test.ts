/**
 * A retry after a crash mid-step gets the answer the step would have given.
 *
 * A remittance step writes its intent, calls the ledger, then records its outcome together
 * with the request's Idempotency-Key answer. If the process dies (or the ledger fails)
 * between the intent and the outcome, recover() finishes the step later, without the
 * request. Its retry with the same key must then replay the step's answer, not run again
 * and be told `transition_not_allowed`. Here the "crash" is a ledger call that commits and
 * then throws, once: the request fails, the ledger has the step's transfers, the remittance
 * row still holds the intent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { customers, QUOTE_BODY } from '../../bench/api-network.ts';
import { corridorApi, type CorridorApi } from './support.ts';

let t: CorridorApi;
let people: { sender: string; recipient: string };

beforeAll(async () => {
  t = await corridorApi();
  people = await customers(t.caller('operator'));
});
afterAll(() => t.close());

async function newRemittance(): Promise<{ id: string; code: string }> {
  const q = await t.as(t.agentKeys.origin, 'POST', '/v1/quotes', QUOTE_BODY);
  expect(q.statusCode, q.body).toBe(201);
  const c = await t.as(t.agentKeys.origin, 'POST', '/v1/remittances', {
    quote_id: q.json().quotes[0].id,
    sender_id: people.sender,
    recipient_id: people.recipient,
  });
  expect(c.statusCode, c.body).toBe(201);
  return { id: c.json().remittance.id, code: c.json().payout_code };
}

/** The next ledger call commits, then fails as if the process had died right after. */
function crashAfterNextLedgerCommit(): void {
  const ledger = t.ledger;
  const real = ledger.createTransfers.bind(ledger);
  ledger.createTransfers = async (batch) => {
    ledger.createTransfers = real;
    await real(batch);
    throw new Error('the process died after the ledger commit');
  };
}

describe('a step finished by recover()', () => {
  it('answers the retry of its request with the step’s answer', async () => {
    const { id, code } = await newRemittance();
    const steps = [
      { key: t.agentKeys.origin, path: 'fund', body: undefined, state: 'funded' },
      { key: t.agentKeys.intermediary, path: 'accept', body: undefined, state: 'funded' },
      { key: t.agentKeys.payout, path: 'accept', body: undefined, state: 'ready' },
      { key: t.agentKeys.payout, path: 'payout', body: { code }, state: 'completed' },
    ];
    for (const [i, step] of steps.entries()) {
      const url = `/v1/remittances/${id}/${step.path}`;
      const idem = { 'idempotency-key': `recovered-${id}-${i}` };
      crashAfterNextLedgerCommit();
      const failed = await t.as(step.key, 'POST', url, step.body, idem);
      expect(failed.statusCode, failed.body).toBe(503);

      // Before recovery the step is still in progress: the retry is told so, nothing runs.
      const early = await t.as(step.key, 'POST', url, step.body, idem);
      expect(early.statusCode, early.body).toBe(409);
      expect(early.json().code).toBe('remittance_busy');

      expect(await t.remitnet.remittances.recover()).toEqual({ redriven: 1, failed: 0 });
      const now = await t.as(step.key, 'GET', `/v1/remittances/${id}`);
      expect(now.json().state).toBe(step.state);

      const retry = await t.as(step.key, 'POST', url, step.body, idem);
      expect(retry.statusCode, retry.body).toBe(200);
      expect(retry.headers['idempotent-replayed']).toBe('true');
      expect(retry.json()).toEqual(now.json());

      // The same key with another body is still a misuse; a new key runs the step again,
      // which the domain refuses as before (a step happens once).
      const other = await t.as(step.key, 'POST', url, { code: 'AAAA-AAAA-AAA' }, idem);
      expect(other.statusCode, other.body).toBe(409);
      expect(other.json().code).toBe('idempotency_key_reused');
      // (an accept by an agent no longer awaited is refused for who it is, first).
      const fresh = await t.as(step.key, 'POST', url, step.body);
      expect([403, 409], fresh.body).toContain(fresh.statusCode);
      expect(['transition_not_allowed', 'actor_not_allowed']).toContain(fresh.json().code);
    }
    // The payout code is never stored, not even inside a recovered answer.
    const rows = await t.sql.query<{ body: string }>('SELECT body FROM api_idempotency');
    expect(rows.some((r) => r.body.includes(code))).toBe(false);
  });

  it('a recovered step whose request asked for no record leaves none', async () => {
    const { id } = await newRemittance();
    crashAfterNextLedgerCommit();
    // Straight through the service, as a script would: no Idempotency-Key involved.
    await expect(
      t.remitnet.remittances.fund(id, { kind: 'operator', id: 'ops' }),
    ).rejects.toMatchObject({ code: 'ledger_unavailable' });
    const before = await t.sql.query('SELECT count(*) AS n FROM api_idempotency');
    expect(await t.remitnet.remittances.recover()).toEqual({ redriven: 1, failed: 0 });
    expect((await t.remitnet.remittances.get(id)).state).toBe('funded');
    expect(await t.sql.query('SELECT count(*) AS n FROM api_idempotency')).toEqual(before);
  });
});
