/**
 * Idempotency-Key records: a retried POST gets the original answer, not a second effect.
 *
 * Owns: remembering, per API key and Idempotency-Key, the request's hash and the response
 * it got; deciding whether a request is new, a replay, a misuse (same key, other body) or
 * a duplicate racing the original. Never: remembering a rejected request. Only successful
 * (2xx) responses are stored, because a rejected request changed nothing, so running it
 * again is safe and a client may fix its cause and retry with the same key.
 *
 * Concurrency: duplicates racing inside this process wait for the original and replay its
 * answer. A record is written through the SQL client's group commit, before the response
 * is sent, so a replay after a crash still finds every answer that was given. Where a route
 * can, it writes the record inside the transaction that records the request's effect
 * (`record`), so effect and answer cost one durable commit instead of two.
 */
import { createHmac } from 'node:crypto';
import type { SqlClient } from '../stores/sql.ts';

export const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

export interface StoredResponse {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

/**
 * Writes a request's answer record inside the caller's transaction. `answerRef` names the
 * record (see answerRef below) for a step that may be finished by someone else.
 */
export type RecordAnswer = ((tx: SqlClient, response: StoredResponse) => Promise<void>) & {
  readonly answerRef: string;
};

export type Begin =
  | {
      readonly kind: 'new';
      /**
       * Writes the record inside the caller's transaction (the one that makes the request's
       * effect durable), so the effect and its answer share one durable commit; finish()
       * then only releases the key. If the write fails, finish() writes it as usual.
       */
      readonly record: RecordAnswer;
      readonly finish: (response: StoredResponse | null) => Promise<void>;
    }
  | { readonly kind: 'replay'; readonly response: StoredResponse | null }
  | { readonly kind: 'mismatch' };

interface InFlight {
  readonly hash: string;
  readonly done: Promise<void>;
}

/** Canonical JSON: object keys sorted, so key order does not change a request's hash. */
function canonical(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  const keys = Object.keys(value as Record<string, unknown>).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(',')}}`;
}

/**
 * The request's fingerprint: HMAC-SHA256 under a per-database key, so a stored fingerprint
 * of a body that held a payout code or a codeword cannot be tested against guesses.
 */
export function requestHash(
  key: string | Buffer,
  method: string,
  path: string,
  body: unknown,
): string {
  // One update of the whole text: the same bytes, so the same digest, as one per part.
  return createHmac('sha256', key)
    .update(`${method}\n${path}\n${canonical(body ?? null)}`)
    .digest('hex');
}

/** What an answer reference holds: where the record goes, and whether it keeps the body. */
interface AnswerTarget {
  readonly v: 1;
  readonly keyId: string;
  readonly idemKey: string;
  readonly hash: string;
  readonly storeBody: boolean;
}

function insertAnswer(tx: SqlClient, t: AnswerTarget, response: StoredResponse): Promise<number> {
  // ON CONFLICT: a record already there is the answer (recordRecoveredAnswer may race it).
  return tx.execute(
    'INSERT INTO api_idempotency (key_id, idem_key, request_hash, status, content_type, body, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (key_id, idem_key) DO NOTHING',
    [
      t.keyId,
      t.idemKey,
      t.hash,
      response.status,
      response.contentType,
      t.storeBody ? response.body : '',
      new Date().toISOString(),
    ],
  );
}

/**
 * Records the answer of a request whose effect was completed by someone other than the
 * request itself: the process died (or the ledger failed) after a remittance step's intent
 * was written, and recover() or the sweeper finished the step later. The request got no
 * answer, or an error, and stored nothing; without this, its retry with the same key would
 * run again, find the step done, and be told `transition_not_allowed`. With it, the retry
 * replays the answer the request would have had. `ref` is RecordAnswer.answerRef, which
 * the domain keeps with the step (remittances' StepIntent.answerTo). Only 2xx is recorded.
 */
export async function recordRecoveredAnswer(
  tx: SqlClient,
  ref: string,
  response: StoredResponse,
): Promise<void> {
  if (response.status < 200 || response.status >= 300) return;
  let target: AnswerTarget;
  try {
    target = JSON.parse(ref) as AnswerTarget;
  } catch {
    return; // not one of ours: nothing to record
  }
  if (target?.v !== 1 || typeof target.keyId !== 'string' || typeof target.idemKey !== 'string')
    return;
  await tx.transaction((inner) => insertAnswer(inner, target, response));
}

export class IdempotencyStore {
  readonly #sql: SqlClient;
  readonly #inFlight = new Map<string, InFlight>();
  /** Most duplicates one request waits through before giving up with in_flight. */
  static readonly WAIT_ROUNDS_MAX = 3;

  readonly hashKey: string | Buffer;

  constructor(sql: SqlClient, hashKey: string | Buffer) {
    this.#sql = sql;
    this.hashKey = hashKey;
  }

  /**
   * Starts a request. 'new' means the caller runs it and then must call finish() with the
   * response to keep (2xx) or null (anything else), exactly once. With storeBody false
   * only the fingerprint and status are kept, and a replay carries no response (the
   * domain answers the retry itself; used where the answer holds a secret).
   */
  async begin(
    keyId: string,
    idemKey: string,
    hash: string,
    storeBody = true,
  ): Promise<Begin | 'in_flight'> {
    const scope = `${keyId}\n${idemKey}`;
    for (let round = 0; round < IdempotencyStore.WAIT_ROUNDS_MAX; round++) {
      const flying = this.#inFlight.get(scope);
      if (flying !== undefined) {
        if (flying.hash !== hash) return { kind: 'mismatch' };
        await flying.done;
        continue;
      }
      const rows = await this.#sql.query<{
        request_hash: string;
        status: bigint | number;
        content_type: string;
        body: string;
      }>(
        'SELECT request_hash, status, content_type, body FROM api_idempotency WHERE key_id = $1 AND idem_key = $2',
        [keyId, idemKey],
      );
      // Another request may have claimed the key while we read; look again.
      if (this.#inFlight.has(scope)) continue;
      const row = rows[0];
      if (row !== undefined) {
        if (row.request_hash !== hash) return { kind: 'mismatch' };
        return {
          kind: 'replay',
          response: storeBody
            ? { status: Number(row.status), contentType: row.content_type, body: row.body }
            : null,
        };
      }
      let release!: () => void;
      const done = new Promise<void>((r) => (release = r));
      this.#inFlight.set(scope, { hash, done });
      let finished = false;
      /** Whether the record was written inside the request's own transaction. */
      let recorded = false;
      const target: AnswerTarget = { v: 1, keyId, idemKey, hash, storeBody };
      const insert = (tx: SqlClient, response: StoredResponse) =>
        insertAnswer(tx, target, response);
      const write = async (tx: SqlClient, response: StoredResponse): Promise<void> => {
        if (finished || recorded) return;
        if (response.status < 200 || response.status >= 300) return;
        try {
          // A failing insert must not undo the caller's own writes. On PostgreSQL an error
          // aborts the whole transaction, so the insert runs in a savepoint; on SQLite a
          // failed statement undoes only itself and the transaction goes on, so a savepoint
          // would add two statements to every request and protect nothing more.
          if (tx.dialect === 'sqlite') await insert(tx, response);
          else await tx.transaction((inner) => insert(inner, response));
          recorded = true;
        } catch {
          // finish() tries again in a transaction of its own (and reports its failure).
        }
      };
      const record: RecordAnswer = Object.assign(write, { answerRef: JSON.stringify(target) });
      const finish = async (response: StoredResponse | null): Promise<void> => {
        if (finished) return;
        finished = true;
        try {
          if (response !== null && response.status >= 200 && response.status < 300 && !recorded) {
            await this.#sql.transaction((tx) => insert(tx, response));
          }
        } finally {
          this.#inFlight.delete(scope);
          release();
        }
      };
      return { kind: 'new', record, finish };
    }
    return 'in_flight';
  }

  /**
   * Forgets answers older than `before` (ISO 8601): a key is for retrying, not forever, and
   * stored answers may hold personal data (a customer's name). Returns how many went.
   */
  async purge(before: string): Promise<number> {
    return this.#sql.transaction((tx) =>
      tx.execute('DELETE FROM api_idempotency WHERE created_at < $1', [before]),
    );
  }

  /** Requests currently running under a key (for graceful shutdown and tests). */
  get inFlight(): number {
    return this.#inFlight.size;
  }
}
