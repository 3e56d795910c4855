/**
 * API keys: who is calling, and in which role.
 *
 * Owns: creating keys (random 32 bytes behind a visible prefix, shown once), storing only
 * their SHA-256 hashes, verifying a presented key, listing and revoking. Never: storing or
 * logging a key itself. Roles: operator (administers the network), agent (bound to one
 * agent id: sees and acts only on its own things), auditor (reads everything, changes
 * nothing).
 */
import { randomBytes } from 'node:crypto';
import { newId, idToHex } from '../ledger/ids.ts';
import { migrateComponent, type SqlClient } from '../stores/sql.ts';
import type { Migration, MigrationReport } from '../stores/migrate.ts';
import { sha256Hex } from '../network/sha256.ts';

export const ROLES = ['operator', 'agent', 'auditor'] as const;
export type Role = (typeof ROLES)[number];

/** The visible start of every key, so a leaked one is recognisable (and greppable). */
export const KEY_PREFIX = 'rnk_';
const KEY_BYTES = 32;
const KEY_PATTERN = /^rnk_[A-Za-z0-9_-]{43}$/;
/** Characters of a key shown in listings to tell keys apart (prefix + 8). */
const DISPLAY_CHARS = KEY_PREFIX.length + 8;

export interface Principal {
  readonly keyId: string;
  readonly role: Role;
  /** For role agent: the agent this key acts as (32 hex digits). */
  readonly agentId: string | null;
  readonly label: string;
}

export interface ApiKeyInfo extends Principal {
  readonly prefix: string;
  readonly createdAt: string;
  readonly revokedAt: string | null;
}

export const API_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'api keys and idempotency records',
    statements: [
      `CREATE TABLE api_keys (
        id TEXT PRIMARY KEY,
        prefix TEXT NOT NULL,
        hash TEXT NOT NULL UNIQUE,
        role TEXT NOT NULL,
        agent_id TEXT,
        label TEXT NOT NULL,
        created_at TEXT NOT NULL,
        revoked_at TEXT
      )`,
      `CREATE TABLE api_idempotency (
        key_id TEXT NOT NULL,
        idem_key TEXT NOT NULL,
        request_hash TEXT NOT NULL,
        status INTEGER NOT NULL,
        content_type TEXT NOT NULL,
        body TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (key_id, idem_key)
      )`,
    ],
  },
  {
    version: 2,
    name: 'api settings (the payout-code secret of an embedded install)',
    statements: [
      'CREATE TABLE api_settings (name TEXT PRIMARY KEY, value TEXT NOT NULL)',
      'CREATE INDEX api_idempotency_created ON api_idempotency (created_at)',
    ],
  },
  {
    version: 3,
    name: 'no API key kept in an Idempotency-Key answer',
    statements: [
      // Answers of POST /v1/keys used to be kept whole, the new key included (a replay
      // showed it again). Keep the record, drop the answer: a replay is then told it was
      // not kept (idempotency_answer_unavailable) instead of seeing the key.
      `UPDATE api_idempotency SET body = '' WHERE body LIKE '{"key":"rnk%'`,
    ],
  },
];

/**
 * A setting kept in the database, created with `make` the first time it is asked for.
 * Used for the payout-code secret when none is configured: an embedded install then works
 * out of the box, and the secret survives restarts (codes issued before still verify).
 */
export async function settingOrCreate(
  sql: SqlClient,
  name: string,
  make: () => string,
): Promise<string> {
  const read = async () =>
    (
      await sql.query<{ value: string }>('SELECT value FROM api_settings WHERE name = $1', [name])
    )[0]?.value;
  const existing = await read();
  if (existing !== undefined) return existing;
  const value = make();
  await sql.transaction(async (tx) => {
    const rows = await tx.query('SELECT 1 AS one FROM api_settings WHERE name = $1', [name]);
    if (rows.length === 0) {
      await tx.execute('INSERT INTO api_settings (name, value) VALUES ($1, $2)', [name, value]);
    }
  });
  return (await read())!;
}

export async function migrateApi(sql: SqlClient): Promise<MigrationReport> {
  return migrateComponent(sql, 'api', API_MIGRATIONS);
}

export function hashKey(key: string): string {
  return sha256Hex(key);
}

interface KeyRow {
  id: string;
  prefix: string;
  role: string;
  agent_id: string | null;
  label: string;
  created_at: string;
  revoked_at: string | null;
  [k: string]: unknown;
}

export interface ApiKeyStoreOptions {
  /**
   * How long a verified key is remembered, in milliseconds. A revocation made through this
   * process takes effect at once; one made by another process within this time.
   */
  readonly cacheTtl_ms?: number;
  readonly now?: () => number;
}

export class ApiKeyStore {
  readonly #sql: SqlClient;
  readonly #ttl_ms: number;
  readonly #now: () => number;
  /** hash -> principal (or null for "no such key"), with its expiry. Bounded. */
  readonly #cache = new Map<string, { principal: Principal | null; until_ms: number }>();
  /** Counts revocations (before and after each), so verify() knows one overlapped it. */
  #revocations = 0;
  static readonly CACHE_MAX = 10_000;

  constructor(sql: SqlClient, options: ApiKeyStoreOptions = {}) {
    this.#sql = sql;
    this.#ttl_ms = options.cacheTtl_ms ?? 1000;
    this.#now = options.now ?? Date.now;
  }

  /** Creates a key and returns it: the only time the key itself is ever available. */
  /**
   * Creates a key. `also` runs inside the transaction that stores it, given the key's
   * info (never the key): the API keeps its Idempotency-Key answer there, without the key.
   */
  async create(
    input: {
      role: Role;
      agentId?: string | null;
      label?: string;
    },
    also?: (tx: SqlClient, info: ApiKeyInfo) => Promise<void>,
  ): Promise<{ key: string; info: ApiKeyInfo }> {
    if (!ROLES.includes(input.role)) throw new Error(`role must be one of ${ROLES.join(', ')}`);
    const agentId = input.agentId ?? null;
    if (input.role === 'agent' && (agentId === null || !/^[0-9a-f]{32}$/.test(agentId))) {
      throw new Error('an agent key must name its agent (32 lowercase hex digits)');
    }
    if (input.role !== 'agent' && agentId !== null) {
      throw new Error('only agent keys are bound to an agent');
    }
    const key = KEY_PREFIX + randomBytes(KEY_BYTES).toString('base64url');
    const info: ApiKeyInfo = {
      keyId: idToHex(newId()),
      role: input.role,
      agentId,
      label: (input.label ?? '').slice(0, 200),
      prefix: key.slice(0, DISPLAY_CHARS),
      createdAt: new Date(this.#now()).toISOString(),
      revokedAt: null,
    };
    await this.#sql.transaction(async (tx) => {
      await tx.execute(
        'INSERT INTO api_keys (id, prefix, hash, role, agent_id, label, created_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL)',
        [
          info.keyId,
          info.prefix,
          hashKey(key),
          info.role,
          info.agentId,
          info.label,
          info.createdAt,
        ],
      );
      await also?.(tx, info);
    });
    return { key, info };
  }

  /** The principal a presented key stands for, or undefined (unknown, malformed, revoked). */
  async verify(key: string): Promise<Principal | undefined> {
    if (!KEY_PATTERN.test(key)) return undefined;
    const hash = hashKey(key);
    const now = this.#now();
    const hit = this.#cache.get(hash);
    if (hit !== undefined && hit.until_ms > now) return hit.principal ?? undefined;
    // A revocation that commits while this read is in flight must not be undone by caching
    // what the read saw: the answer is cached only if no revocation happened meanwhile.
    const revocations = this.#revocations;
    const rows = await this.#sql.query<KeyRow>(
      'SELECT id, prefix, role, agent_id, label, created_at, revoked_at FROM api_keys WHERE hash = $1',
      [hash],
    );
    const row = rows[0];
    const principal = row === undefined || row.revoked_at !== null ? null : toInfo(row);
    if (revocations !== this.#revocations) {
      return principal === null ? undefined : principalOf(principal);
    }
    if (this.#cache.size >= ApiKeyStore.CACHE_MAX) this.#cache.clear();
    this.#cache.set(hash, {
      principal: principal === null ? null : principalOf(principal),
      until_ms: now + this.#ttl_ms,
    });
    return principal === null ? undefined : principalOf(principal);
  }

  async list(): Promise<ApiKeyInfo[]> {
    const rows = await this.#sql.query<KeyRow>(
      'SELECT id, prefix, role, agent_id, label, created_at, revoked_at FROM api_keys ORDER BY created_at, id',
    );
    return rows.map(toInfo);
  }

  async get(keyId: string): Promise<ApiKeyInfo | undefined> {
    const rows = await this.#sql.query<KeyRow>(
      'SELECT id, prefix, role, agent_id, label, created_at, revoked_at FROM api_keys WHERE id = $1',
      [keyId],
    );
    return rows[0] === undefined ? undefined : toInfo(rows[0]);
  }

  /** Revokes a key; answers false when no such key exists. Revoking twice is harmless. */
  async revoke(keyId: string): Promise<boolean> {
    this.#revocations++; // a verify() reading now must not cache (see verify)
    const at = new Date(this.#now()).toISOString();
    const changed = await this.#sql.transaction(async (tx) => {
      const n = await tx.execute(
        'UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL',
        [at, keyId],
      );
      if (n > 0) return true;
      const rows = await tx.query('SELECT 1 AS one FROM api_keys WHERE id = $1', [keyId]);
      return rows.length > 0;
    });
    this.#revocations++;
    this.#cache.clear();
    return changed;
  }

  /** How many keys of a role are active (e.g. "is there an operator key yet?"). */
  async countActive(role: Role): Promise<number> {
    const rows = await this.#sql.query<{ n: bigint | number }>(
      'SELECT count(*) AS n FROM api_keys WHERE role = $1 AND revoked_at IS NULL',
      [role],
    );
    return Number(rows[0]?.n ?? 0);
  }
}

function toInfo(row: KeyRow): ApiKeyInfo {
  return {
    keyId: row.id,
    role: row.role as Role,
    agentId: row.agent_id,
    label: row.label,
    prefix: row.prefix,
    createdAt: row.created_at,
    revokedAt: row.revoked_at,
  };
}

function principalOf(info: ApiKeyInfo): Principal {
  return { keyId: info.keyId, role: info.role, agentId: info.agentId, label: info.label };
}
