/**
 * IdempotencyStore on its own: the request fingerprint is the HMAC it always was (stored
 * fingerprints must still match after an upgrade), and an answer record that fails inside
 * the caller's transaction undoes nothing of the caller's writes (on SQLite without a
 * savepoint: a failed statement undoes only itself), after which finish() writes it.
 */
import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { IdempotencyStore, requestHash, type StoredResponse } from '../../src/api/idempotency.ts';
import { migrateApi } from '../../src/api/keys.ts';
import { SqliteClient } from '../../src/stores/sql.ts';

/** The fingerprint as it was first computed: one HMAC update per part. */
function reference(key: string, method: string, path: string, canonicalBody: string): string {
  return createHmac('sha256', key)
    .update(method)
    .update('\n')
    .update(path)
    .update('\n')
    .update(canonicalBody)
    .digest('hex');
}

describe('requestHash', () => {
  it('is the HMAC of method, path and canonical body, as before', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1 }),
        fc.constantFrom('POST', 'PUT', 'DELETE'),
        fc.string(),
        fc.dictionary(fc.string(), fc.oneof(fc.string(), fc.integer(), fc.boolean())),
        (key, method, path, body) => {
          const sorted = Object.keys(body).sort();
          const canonical = `{${sorted.map((k) => `${JSON.stringify(k)}:${JSON.stringify(body[k])}`).join(',')}}`;
          expect(requestHash(key, method, path, body)).toBe(
            reference(key, method, path, canonical),
          );
        },
      ),
    );
    expect(requestHash('k', 'POST', '/v1/x', undefined)).toBe(
      reference('k', 'POST', '/v1/x', 'null'),
    );
  });
});

const opened: SqliteClient[] = [];
afterAll(async () => {
  for (const c of opened) await c.close();
});

describe('an answer record inside the caller’s transaction (SQLite)', () => {
  it('that fails leaves the caller’s writes, and finish() then writes it', async () => {
    const sql = SqliteClient.open(':memory:');
    opened.push(sql);
    await migrateApi(sql);
    await sql.execute('CREATE TABLE effects (id TEXT PRIMARY KEY)');
    const store = new IdempotencyStore(sql, 'hash-key');
    const begun = await store.begin('key-1', 'idem-1', 'h1');
    if (begun === 'in_flight' || begun.kind !== 'new') throw new Error('expected a new request');
    const good: StoredResponse = { status: 200, contentType: 'application/json', body: '{"ok":1}' };
    // content_type NOT NULL: this insert fails inside the transaction.
    const bad = { ...good, contentType: null } as unknown as StoredResponse;
    await sql.transaction(async (tx) => {
      await tx.execute('INSERT INTO effects VALUES ($1)', ['before']);
      await begun.record(tx, bad);
      await tx.execute('INSERT INTO effects VALUES ($1)', ['after']);
    });
    const effects = await sql.query<{ id: string }>('SELECT id FROM effects ORDER BY id');
    expect(effects.map((r) => r.id)).toEqual(['after', 'before']);
    expect(await sql.query('SELECT 1 AS one FROM api_idempotency')).toEqual([]);
    await begun.finish(good);
    const replay = await store.begin('key-1', 'idem-1', 'h1');
    expect(replay).toEqual({ kind: 'replay', response: good });
    expect(store.inFlight).toBe(0);
  });

  it('that succeeds is the answer, and finish() writes nothing more', async () => {
    const sql = SqliteClient.open(':memory:');
    opened.push(sql);
    await migrateApi(sql);
    const store = new IdempotencyStore(sql, 'hash-key');
    const begun = await store.begin('key-1', 'idem-2', 'h2');
    if (begun === 'in_flight' || begun.kind !== 'new') throw new Error('expected a new request');
    const answer: StoredResponse = { status: 201, contentType: 'application/json', body: '{}' };
    await sql.transaction((tx) => begun.record(tx, answer));
    await begun.finish({ ...answer, body: '{"other":true}' });
    expect(await store.begin('key-1', 'idem-2', 'h2')).toEqual({
      kind: 'replay',
      response: answer,
    });
    expect(await store.begin('key-1', 'idem-2', 'other')).toEqual({ kind: 'mismatch' });
  });
});
