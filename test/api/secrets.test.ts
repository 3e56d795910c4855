/**
 * The installation's keys kept out of the database (REMITNET_SECRET_FILE): the file format
 * and its checks, key derivation, the start-up rules, and moving the keys of an
 * installation that started without a file, after which a payout code issued before the
 * move still verifies and an Idempotency-Key still replays.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createHmac, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import { buildCorridor, customers, QUOTE_BODY } from '../../bench/api-network.ts';
import { loadConfig, type Config } from '../../src/config.ts';
import { openRuntime } from '../../src/api/runtime.ts';
import { startService, type Service } from '../../src/api/service.ts';
import {
  deriveKeys,
  keysFileText,
  masterFileText,
  moveKeysOut,
  newSecretFile,
  parseSecretFile,
  readSecretFile,
} from '../../src/api/secrets.ts';
import { PostgresClient, SqliteClient } from '../../src/stores/sql.ts';
import { createTestDatabase, postgresWanted } from '../support/stores.ts';
import { hashSecret, normalizePayoutCode } from '../../src/remittances/payout-code.ts';
import { requestHash } from '../../src/api/idempotency.ts';

const postgres = await postgresWanted();
const dir = mkdtempSync(join(tmpdir(), 'remitnet-secrets-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const fresh = (name: string) => join(dir, `${++n}-${name}`);

function privateFile(text: string, mode = 0o600): string {
  const path = fresh('secret');
  writeFileSync(path, text, { mode });
  chmodSync(path, mode); // the umask may have cleared bits the test asks for
  return path;
}

function config(db: string, secretFile?: string): Config {
  return loadConfig({
    REMITNET_DB: db,
    ...(secretFile === undefined ? {} : { REMITNET_SECRET_FILE: secretFile }),
  });
}

async function settings(db: string): Promise<Record<string, string>> {
  const sql = SqliteClient.open(db);
  try {
    const rows = await sql.query<{ name: string; value: string }>(
      'SELECT name, value FROM api_settings ORDER BY name',
    );
    return Object.fromEntries(rows.map((r) => [r.name, r.value]));
  } finally {
    await sql.close();
  }
}

/** A column of one row, read straight from the database file. */
async function column(db: string, query: string, params: string[]): Promise<string> {
  const sql = SqliteClient.open(db);
  try {
    const rows = await sql.query<{ v: string }>(query, params);
    return rows[0]!.v;
  } finally {
    await sql.close();
  }
}

/** Whether the stored hash of a remittance's payout code was made under `key`. */
async function codeHashedUnder(
  db: string,
  id: string,
  code: string,
  key: string | Buffer,
): Promise<boolean> {
  const stored = await column(db, 'SELECT code_hash AS v FROM remittances WHERE id = $1', [id]);
  const bytes = typeof key === 'string' ? Buffer.from(key) : key;
  return stored === hashSecret(bytes, id, 'code', normalizePayoutCode(code)!);
}

/** RFC 5869 HKDF-SHA256 with an empty salt, one block: written out, not node's hkdfSync. */
function hkdfByHand(master: Buffer, info: string): Buffer {
  const prk = createHmac('sha256', Buffer.alloc(32)).update(master).digest();
  return createHmac('sha256', prk)
    .update(Buffer.concat([Buffer.from(info), Buffer.from([1])]))
    .digest();
}

describe('key derivation', () => {
  it('is HKDF-SHA256, stable, and gives two distinct keys', () => {
    const master = Buffer.alloc(32, 7);
    const a = deriveKeys(master);
    // Fixed values: a change here would make every payout code issued so far fail.
    expect(a.payoutCodeSecret.toString('hex')).toBe(
      '55b22ddc078f226ed0831d10f0890ed2cc322fd44a14ad01d9ad83d479003458',
    );
    expect(a.requestHashKey.toString('hex')).toBe(
      'fb3d74210ac70ae996ec73a26eabd9577b101398a47bb46c36be60ff5a40f61c',
    );
    expect(a.payoutCodeSecret).toEqual(hkdfByHand(master, 'remitnet payout code v1'));
    expect(a.requestHashKey).toEqual(hkdfByHand(master, 'remitnet request hash v1'));
    expect(deriveKeys(Buffer.alloc(32, 7))).toEqual(a);
    expect(a.payoutCodeSecret.equals(a.requestHashKey)).toBe(false);
    const b = deriveKeys(Buffer.alloc(32, 8));
    expect(b.payoutCodeSecret.equals(a.payoutCodeSecret)).toBe(false);
    expect(b.requestHashKey.equals(a.requestHashKey)).toBe(false);
  });
});

describe('the secret file', () => {
  const master = randomBytes(32);
  const derived = deriveKeys(master);

  it('accepts a master secret as JSON, base64url, base64 or hex, all to the same keys', () => {
    for (const text of [
      masterFileText(master),
      master.toString('base64url'),
      `  ${master.toString('base64')}\n`,
      master.toString('hex').toUpperCase() + '\n',
      JSON.stringify({ master: master.toString('hex'), version: 1 }),
    ]) {
      expect(parseSecretFile(text, '/x')).toEqual(derived);
    }
  });

  it('accepts explicit keys and uses them exactly as stored', () => {
    const keys = { payoutCodeSecret: 'p'.repeat(43), requestHashKey: 'r'.repeat(43) };
    expect(parseSecretFile(keysFileText(keys), '/x')).toEqual(keys);
  });

  it('refuses a short secret and says how to make one', () => {
    for (const text of [
      randomBytes(31).toString('base64url'),
      randomBytes(16).toString('hex'),
      masterFileText(randomBytes(24)),
    ]) {
      expect(() => parseSecretFile(text, '/etc/rn/secret')).toThrow(
        /at least 32 are needed.*remitnet secret new --file PATH/,
      );
    }
  });

  it('refuses what is not a secret file, without quoting it', () => {
    const cases: Array<[string, RegExp]> = [
      ['', /not a remitnet secret file/],
      ['hunter2 hunter2 hunter2 hunter2 hunter2', /not a remitnet secret file/],
      ['{"version":1,"master":', /not valid JSON/],
      ['{"version":2,"master":"x"}', /"version" must be 1/],
      [`{"version":1,"master":"${'a'.repeat(64)}","extra":1}`, /unexpected fields/],
      ['{"version":1,"payout_code_secret":"short","request_hash_key":"short"}', /32 to 512/],
    ];
    for (const [text, message] of cases) {
      let error: unknown;
      try {
        parseSecretFile(text, '/x');
      } catch (e) {
        error = e;
      }
      expect((error as Error).message).toMatch(message);
      if (text.length > 8) expect((error as Error).message).not.toContain(text);
    }
  });

  it('refuses a file others can read, naming the chmod that fixes it', () => {
    const text = masterFileText(master);
    for (const mode of [0o644, 0o640, 0o604, 0o660]) {
      const path = privateFile(text, mode);
      expect(() => readSecretFile(path)).toThrow(`chmod 600 ${path}`);
    }
    expect(readSecretFile(privateFile(text, 0o600))).toEqual(derived);
    expect(readSecretFile(privateFile(text, 0o400))).toEqual(derived);
  });

  it('refuses a missing file, saying how to make one', () => {
    const path = fresh('missing');
    expect(() => readSecretFile(path)).toThrow(
      `REMITNET_SECRET_FILE names ${path}, which does not exist; make one with \`remitnet secret new --file ${path}\``,
    );
  });

  it('secret new writes a 32-byte master, mode 0600, and never overwrites', () => {
    const path = fresh('new');
    newSecretFile(path);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const doc = JSON.parse(readFileSync(path, 'utf8'));
    expect(Object.keys(doc).sort()).toEqual(['master', 'version']);
    expect(Buffer.from(doc.master, 'base64url').length).toBe(32);
    expect(readSecretFile(path)).toEqual(deriveKeys(Buffer.from(doc.master, 'base64url')));
    const before = readFileSync(path, 'utf8');
    expect(() => newSecretFile(path)).toThrow(/exists already/);
    expect(readFileSync(path, 'utf8')).toBe(before);
  });
});

/** Log lines a service wrote, parsed. */
function logSink(): { lines: Array<Record<string, unknown>>; write(line: string): void } {
  const lines: Array<Record<string, unknown>> = [];
  return { lines, write: (line: string) => void lines.push(JSON.parse(line)) };
}

async function start(cfg: Config, logs = logSink()): Promise<Service> {
  return startService({
    config: cfg,
    host: '127.0.0.1',
    port: 0,
    logLevel: 'info',
    logDestination: logs,
  });
}

interface Network {
  readonly operator: string;
  readonly agents: Record<'origin' | 'intermediary' | 'payout', string>;
  readonly people: { sender: string; recipient: string };
}

async function call(
  app: FastifyInstance,
  key: string,
  method: 'GET' | 'POST' | 'PATCH',
  url: string,
  body?: unknown,
  idempotencyKey = `secrets-${randomBytes(8).toString('hex')}`,
) {
  return app.inject({
    method,
    url,
    headers: {
      authorization: `Bearer ${key}`,
      ...(method === 'POST' ? { 'idempotency-key': idempotencyKey } : {}),
    },
    ...(body === undefined ? {} : { payload: body as object }),
  });
}

async function buildNetwork(app: FastifyInstance): Promise<Network> {
  const operator = (await app.remitnet.keys.create({ role: 'operator', label: 'test' })).key;
  const caller = async (method: 'GET' | 'POST' | 'PATCH', url: string, body?: unknown) => {
    const r = await call(app, operator, method, url, body);
    return { status: r.statusCode, json: r.body === '' ? null : r.json() };
  };
  const corridor = await buildCorridor(caller);
  const agentKey = async (agentId: string) =>
    (await app.remitnet.keys.create({ role: 'agent', agentId, label: 'test' })).key;
  return {
    operator,
    agents: {
      origin: await agentKey(corridor.origin),
      intermediary: await agentKey(corridor.intermediary),
      payout: await agentKey(corridor.payout),
    },
    people: await customers(caller),
  };
}

/** A remittance accepted by every hop, waiting for the payout code: its id and code. */
async function readyRemittance(
  app: FastifyInstance,
  net: Network,
): Promise<{ id: string; code: string }> {
  const q = await call(app, net.agents.origin, 'POST', '/v1/quotes', QUOTE_BODY);
  expect(q.statusCode, q.body).toBe(201);
  const c = await call(app, net.agents.origin, 'POST', '/v1/remittances', {
    quote_id: q.json().quotes[0].id,
    sender_id: net.people.sender,
    recipient_id: net.people.recipient,
  });
  expect(c.statusCode, c.body).toBe(201);
  const id = c.json().remittance.id as string;
  for (const [who, step] of [
    ['origin', 'fund'],
    ['intermediary', 'accept'],
    ['payout', 'accept'],
  ] as const) {
    const r = await call(app, net.agents[who], 'POST', `/v1/remittances/${id}/${step}`);
    expect(r.statusCode, r.body).toBe(200);
  }
  return { id, code: c.json().payout_code as string };
}

async function payout(app: FastifyInstance, net: Network, id: string, code: string) {
  return call(app, net.agents.payout, 'POST', `/v1/remittances/${id}/payout`, { code });
}

const WARNING = /keys are stored in the database/;
const warned = (logs: ReturnType<typeof logSink>) =>
  logs.lines.filter((l) => l.level === 40 && WARNING.test(String(l.msg)));

describe('start-up and moving the keys out', () => {
  it('zero configuration keeps the keys in the database and warns once', async () => {
    const db = fresh('zero.db');
    const logs = logSink();
    const service = await start(config(db), logs);
    let issued: { id: string; code: string };
    try {
      const { app } = service.server;
      const net = await buildNetwork(app);
      issued = await readyRemittance(app, net);
      expect((await payout(app, net, issued.id, issued.code)).statusCode).toBe(200);
    } finally {
      await service.server.close();
    }
    expect(warned(logs)).toHaveLength(1);
    expect(String(warned(logs)[0]!.msg)).toContain('remitnet secret move-out --file PATH');
    const stored = await settings(db);
    expect(stored.payout_code_secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(stored.request_hash_key).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(stored.secret_key_check).toBeUndefined();
    // The stored row is the key codes are hashed under, as it always was.
    expect(await codeHashedUnder(db, issued.id, issued.code, stored.payout_code_secret!)).toBe(
      true,
    );

    // The same keys on the next start: nothing is made again.
    const again = await openRuntime(config(db), { expiryInterval_ms: 0 });
    expect(again.keySource).toBe('database');
    expect(again.requestHashKey).toBe(stored.request_hash_key);
    await again.close();
    expect(await settings(db)).toEqual(stored);
  });

  it('moves stored keys to a file: codes issued before still verify, replays still replay', async () => {
    const db = fresh('moved.db');
    const first = await start(config(db));
    let net: Network;
    let pending: { id: string; code: string };
    const customerBody = { role: 'sender', name: 'Replay Sender', reference: 'S-replay' };
    let created: string;
    try {
      const { app } = first.server;
      net = await buildNetwork(app);
      pending = await readyRemittance(app, net);
      const c = await call(app, net.operator, 'POST', '/v1/customers', customerBody, 'cust-1');
      expect(c.statusCode, c.body).toBe(201);
      created = c.body;
    } finally {
      await first.server.close();
    }
    const stored = await settings(db);
    expect(await codeHashedUnder(db, pending.id, pending.code, stored.payout_code_secret!)).toBe(
      true,
    );
    expect(
      await column(db, 'SELECT request_hash AS v FROM api_idempotency WHERE idem_key = $1', [
        'cust-1',
      ]),
    ).toBe(requestHash(stored.request_hash_key!, 'POST', '/v1/customers', customerBody));

    // A file configured while the database still holds its keys: refused, with the fix.
    const other = fresh('other-secret');
    newSecretFile(other);
    await expect(openRuntime(config(db, other), { expiryInterval_ms: 0 })).rejects.toThrow(
      /still holds its own payout-code and request-hash keys.*remitnet secret move-out --file PATH/,
    );
    expect(await settings(db)).toEqual(stored);

    const file = fresh('moved-secret');
    const sql = SqliteClient.open(db);
    try {
      expect(await moveKeysOut(sql, file)).toEqual({ path: file, wroteFile: true });
      // Already moved: a second run has nothing to move and says so.
      await expect(moveKeysOut(sql, fresh('again'))).rejects.toThrow(/holds no keys to move/);
    } finally {
      await sql.close();
    }
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({
      version: 1,
      payout_code_secret: stored.payout_code_secret,
      request_hash_key: stored.request_hash_key,
    });
    const after = await settings(db);
    expect(after.payout_code_secret).toBeUndefined();
    expect(after.request_hash_key).toBeUndefined();
    expect(after.secret_key_check).toMatch(/^v1:[0-9a-f]{16}:[0-9a-f]{16}$/);
    expect(Object.values(after).join()).not.toContain(stored.payout_code_secret);

    // Without the file, or with another one, a start would make every code fail: refused.
    await expect(openRuntime(config(db), { expiryInterval_ms: 0 })).rejects.toThrow(
      /REMITNET_SECRET_FILE is not set: set it to that file's path/,
    );
    await expect(openRuntime(config(db, other), { expiryInterval_ms: 0 })).rejects.toThrow(
      /holds other keys than the ones this database was used with/,
    );
    expect(await settings(db)).toEqual(after);

    const logs = logSink();
    const second = await start(config(db, file), logs);
    try {
      const { app } = second.server;
      expect(warned(logs)).toHaveLength(0);
      const wrong = await payout(app, net, pending.id, '0000-0000-000');
      expect(wrong.statusCode).toBeGreaterThanOrEqual(400);
      const paid = await payout(app, net, pending.id, pending.code);
      expect(paid.statusCode, paid.body).toBe(200);
      expect(['paid', 'completed']).toContain(paid.json().state);
      // The request-hash key moved too: the same Idempotency-Key and body replay.
      const replay = await call(app, net.operator, 'POST', '/v1/customers', customerBody, 'cust-1');
      expect(replay.statusCode, replay.body).toBe(201);
      expect(replay.headers['idempotent-replayed']).toBe('true');
      expect(replay.body).toBe(created);
      // New codes are made and verified under the moved key as well.
      const next = await readyRemittance(app, net);
      expect((await payout(app, net, next.id, next.code)).statusCode).toBe(200);
    } finally {
      await second.server.close();
    }
    expect(await settings(db)).toEqual(after);
  }, 60_000);

  it('finishes an interrupted move-out and never overwrites a different file', async () => {
    const db = fresh('interrupted.db');
    const runtime = await openRuntime(config(db), { expiryInterval_ms: 0 });
    await runtime.close();
    const stored = await settings(db);
    const keys = {
      payoutCodeSecret: stored.payout_code_secret!,
      requestHashKey: stored.request_hash_key!,
    };
    const sql = SqliteClient.open(db);
    try {
      const taken = fresh('taken');
      newSecretFile(taken);
      const before = readFileSync(taken, 'utf8');
      await expect(moveKeysOut(sql, taken)).rejects.toThrow(/exists already and holds other keys/);
      expect(readFileSync(taken, 'utf8')).toBe(before);
      expect(await settings(db)).toEqual(stored);

      // The file written, the rows not yet deleted (a crash in between): run it again.
      const file = privateFile(keysFileText(keys));
      expect(await moveKeysOut(sql, file)).toEqual({ path: file, wroteFile: false });
    } finally {
      await sql.close();
    }
    expect(Object.keys(await settings(db))).toEqual(['secret_key_check']);
  });

  it('a new installation with a file uses the derived keys and stores none', async () => {
    const db = fresh('file.db');
    const file = fresh('file-secret');
    newSecretFile(file);
    const master = Buffer.from(JSON.parse(readFileSync(file, 'utf8')).master, 'base64url');
    const logs = logSink();
    const service = await start(config(db, file), logs);
    let net: Network;
    let pending: { id: string; code: string };
    try {
      const { app } = service.server;
      expect(warned(logs)).toHaveLength(0);
      net = await buildNetwork(app);
      pending = await readyRemittance(app, net);
    } finally {
      await service.server.close();
    }
    expect(Object.keys(await settings(db))).toEqual(['secret_key_check']);
    const derived = deriveKeys(master);
    expect(await codeHashedUnder(db, pending.id, pending.code, derived.payoutCodeSecret)).toBe(
      true,
    );

    const runtime = await openRuntime(config(db, file), { expiryInterval_ms: 0 });
    try {
      expect(runtime.keySource).toBe('file');
      expect(runtime.requestHashKey).toEqual(derived.requestHashKey);
    } finally {
      await runtime.close();
    }
    // The same master written another way is the same secret.
    const hex = privateFile(master.toString('hex'));
    const again = await start(config(db, hex));
    try {
      const paid = await payout(again.server.app, net, pending.id, pending.code);
      expect(paid.statusCode, paid.body).toBe(200);
    } finally {
      await again.server.close();
    }
    expect(Object.keys(await settings(db))).toEqual(['secret_key_check']);
  }, 60_000);

  it('a bad secret file stops start-up before the database is touched', async () => {
    const db = fresh('untouched.db');
    const loose = privateFile(masterFileText(randomBytes(32)), 0o644);
    await expect(openRuntime(config(db, loose))).rejects.toThrow(`chmod 600 ${loose}`);
    const short = privateFile(randomBytes(16).toString('base64url'));
    await expect(openRuntime(config(db, short))).rejects.toThrow(/at least 32 are needed/);
    expect(() => statSync(db)).toThrow(/ENOENT/);
  });
});

describe.skipIf(!postgres)('start-up and moving the keys out on PostgreSQL', () => {
  it('follows the same rules, and the moved keys are the stored ones', async () => {
    const db = await createTestDatabase();
    const pgConfig = (secretFile?: string) =>
      loadConfig({
        DATABASE_URL: db.url,
        ...(secretFile === undefined ? {} : { REMITNET_SECRET_FILE: secretFile }),
      });
    try {
      const zero = await openRuntime(pgConfig(), { expiryInterval_ms: 0 });
      expect(zero.keySource).toBe('database');
      const storedRequestKey = zero.requestHashKey;
      await zero.close();

      const other = fresh('pg-other');
      newSecretFile(other);
      await expect(openRuntime(pgConfig(other), { expiryInterval_ms: 0 })).rejects.toThrow(
        /remitnet secret move-out --file PATH/,
      );
      const file = fresh('pg-secret');
      const sql = PostgresClient.open(db.url, 1);
      try {
        expect(await moveKeysOut(sql, file)).toEqual({ path: file, wroteFile: true });
        const names = await sql.query<{ name: string }>('SELECT name FROM api_settings');
        expect(names.map((r) => r.name)).toEqual(['secret_key_check']);
      } finally {
        await sql.close();
      }
      await expect(openRuntime(pgConfig(), { expiryInterval_ms: 0 })).rejects.toThrow(
        /REMITNET_SECRET_FILE is not set/,
      );
      await expect(openRuntime(pgConfig(other), { expiryInterval_ms: 0 })).rejects.toThrow(
        /holds other keys/,
      );
      const moved = await openRuntime(pgConfig(file), { expiryInterval_ms: 0 });
      try {
        expect(moved.keySource).toBe('file');
        expect(moved.requestHashKey).toBe(storedRequestKey);
      } finally {
        await moved.close();
      }
    } finally {
      await db.drop();
    }
  }, 60_000);
});
