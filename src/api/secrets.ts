/**
 * The installation's two HMAC keys, and where they are kept.
 *
 * - payout code key: payout codes and recipients' codewords are stored only as HMAC-SHA256
 *   under it (remittances/payout-code.ts);
 * - request hash key: Idempotency-Key records keep an HMAC of the request body, and some
 *   bodies hold a payout code (idempotency.ts).
 *
 * Both hashes protect low-entropy values (a codeword, a 50-bit code), so whoever holds a
 * hash and its key can test guesses offline. Keys kept in the database would travel with
 * every backup and dump of it; a secret file (REMITNET_SECRET_FILE) keeps them apart.
 *
 * Owns: the secret file's format, reading it (refusing short secrets and files others can
 * read), deriving the keys, deciding at start-up where the keys come from, and moving keys
 * that are stored in the database out into a file. Never: a key or the file's text in a
 * log line or an error message.
 *
 * The file (UTF-8 text, surrounding whitespace ignored) is one of:
 * - JSON `{"version":1,"master":"<secret>"}`: a master secret; both keys are derived from it
 *   with HKDF-SHA256 under distinct labels. `remitnet secret new` writes this form.
 * - the master secret alone, as text (for files made by other tools, such as
 *   `openssl rand -base64 32`).
 * - JSON `{"version":1,"payout_code_secret":"…","request_hash_key":"…"}`: the two keys
 *   themselves, exactly as they were stored in `api_settings`. `remitnet secret move-out`
 *   writes this form: stored keys were random, not derived from anything, and the codes
 *   already issued only verify under those very keys.
 * A master secret is base64url, base64 (padded) or hex text of at least 32 bytes.
 *
 * The database keeps, in `api_settings`, either the two keys themselves (an installation
 * started without a file) or a key check value (`secret_key_check`: HMACs of a fixed text
 * under each key, truncated). The check value lets a start refuse a different file, or no
 * file, instead of silently making every outstanding payout code fail; it reveals nothing
 * that helps a guess (the keys are 256-bit random).
 */
import {
  closeSync,
  constants as fsConstants,
  fstatSync,
  fsyncSync,
  openSync,
  readFileSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { settingOrCreate } from './keys.ts';
import type { SqlClient } from '../stores/sql.ts';

/** The keys a runtime uses. Strings are used as their UTF-8 bytes (as stored keys always were). */
export interface InstallationKeys {
  readonly payoutCodeSecret: string | Buffer;
  readonly requestHashKey: string | Buffer;
}

export type KeySource = 'file' | 'database';

export const SECRET_FILE_VERSION = 1;
export const MASTER_MIN_BYTES = 32;
/** HKDF labels: one per key, so neither key is the other; "v1" leaves room for a rotation. */
export const PAYOUT_CODE_INFO = 'remitnet payout code v1';
export const REQUEST_HASH_INFO = 'remitnet request hash v1';

/** api_settings rows. */
export const PAYOUT_CODE_SETTING = 'payout_code_secret';
export const REQUEST_HASH_SETTING = 'request_hash_key';
export const KEY_CHECK_SETTING = 'secret_key_check';

/** A stored key is used as text; the generator made 43 base64url characters (256 bits). */
const STORED_KEY_PATTERN = /^[\x21-\x7e]{32,512}$/;
/** A secret file is small; anything larger is not one (and is not read whole). */
const FILE_MAX_BYTES = 4096;

const HOW_TO_MAKE = (path: string) =>
  `make one with \`remitnet secret new --file ${path}\` (a new installation), or move the ` +
  `keys of an installation that started without one into it with ` +
  `\`remitnet secret move-out --file ${path}\``;

/** A secret file that cannot be used; `missing` when there is no file at the path at all. */
export class SecretFileError extends Error {
  readonly missing: boolean;
  constructor(message: string, missing = false) {
    super(message);
    this.name = 'SecretFileError';
    this.missing = missing;
  }
}

/** Makes a new random key for an installation that keeps its keys in the database. */
export function newStoredKey(): string {
  return randomBytes(32).toString('base64url');
}

/** The two keys derived from a master secret (32 bytes each). */
export function deriveKeys(master: Buffer): { payoutCodeSecret: Buffer; requestHashKey: Buffer } {
  if (master.length < MASTER_MIN_BYTES) {
    throw new RangeError(`a master secret must be at least ${MASTER_MIN_BYTES} bytes`);
  }
  // No salt: the master is uniformly random already (HKDF's extract step needs none), and
  // a salt kept next to it would add nothing.
  const derive = (info: string) =>
    Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), info, 32));
  return {
    payoutCodeSecret: derive(PAYOUT_CODE_INFO),
    requestHashKey: derive(REQUEST_HASH_INFO),
  };
}

/**
 * Decodes a master secret written as text: hex (an even number of hex digits), base64url
 * (no padding) or base64 (padded). Hex is tried first: 64 hex digits are also valid base64,
 * and a person who typed hex meant hex.
 */
function decodeMaster(text: string): Buffer | undefined {
  if (/^(?:[0-9a-fA-F]{2})+$/.test(text)) return Buffer.from(text, 'hex');
  if (/^[A-Za-z0-9_-]+$/.test(text) && text.length % 4 !== 1) {
    return Buffer.from(text, 'base64url');
  }
  if (/^[A-Za-z0-9+/]+={0,2}$/.test(text) && text.length % 4 === 0) {
    return Buffer.from(text, 'base64');
  }
  return undefined;
}

function masterKeys(text: string, path: string): InstallationKeys {
  const master = decodeMaster(text);
  if (master === undefined) {
    throw new SecretFileError(
      `${path} is not a remitnet secret file: the master secret must be base64url, base64 or ` +
        `hex text; ${HOW_TO_MAKE(path)}`,
    );
  }
  if (master.length < MASTER_MIN_BYTES) {
    throw new SecretFileError(
      `${path} holds a secret of ${master.length} bytes; at least ${MASTER_MIN_BYTES} are ` +
        `needed (a shorter one can be guessed): make a new file with ` +
        `\`remitnet secret new --file PATH\``,
    );
  }
  return deriveKeys(master);
}

/** The keys a secret file's text stands for; errors name `path` and never quote the text. */
export function parseSecretFile(text: string, path: string): InstallationKeys {
  const trimmed = text.trim();
  if (!trimmed.startsWith('{')) return masterKeys(trimmed, path);
  let doc: unknown;
  try {
    doc = JSON.parse(trimmed);
  } catch {
    throw new SecretFileError(
      `${path} starts with "{" but is not valid JSON; ${HOW_TO_MAKE(path)}`,
    );
  }
  const bad = (why: string) =>
    new SecretFileError(
      `${path} is not a remitnet secret file (${why}): expected {"version":1,"master":"…"} ` +
        `or {"version":1,"payout_code_secret":"…","request_hash_key":"…"}`,
    );
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw bad('not an object');
  const o = doc as Record<string, unknown>;
  if (o.version !== SECRET_FILE_VERSION) {
    throw bad(`"version" must be ${SECRET_FILE_VERSION}`);
  }
  const fields = Object.keys(o).sort().join(',');
  if (fields === 'master,version') {
    if (typeof o.master !== 'string') throw bad('"master" must be a string');
    return masterKeys(o.master.trim(), path);
  }
  if (fields === 'payout_code_secret,request_hash_key,version') {
    for (const name of [PAYOUT_CODE_SETTING, REQUEST_HASH_SETTING]) {
      const v = o[name];
      if (typeof v !== 'string' || !STORED_KEY_PATTERN.test(v)) {
        throw bad(`"${name}" must be 32 to 512 printable ASCII characters`);
      }
    }
    return {
      payoutCodeSecret: o.payout_code_secret as string,
      requestHashKey: o.request_hash_key as string,
    };
  }
  throw bad(`unexpected fields ${fields}`);
}

/**
 * Reads and checks a secret file. On POSIX a file that group or others may read (or write)
 * is refused: the point of the file is that fewer people can read it than the database.
 */
export function readSecretFile(path: string): InstallationKeys {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new SecretFileError(
        `REMITNET_SECRET_FILE names ${path}, which does not exist; ${HOW_TO_MAKE(path)}`,
        true,
      );
    }
    throw new SecretFileError(`cannot read the secret file ${path} (${code ?? String(error)})`);
  }
  try {
    // fstat on the open file: the checks apply to what is read, not to a path that could
    // be swapped in between.
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new SecretFileError(`the secret file ${path} is not a regular file`);
    if (process.platform !== 'win32' && (stat.mode & 0o077) !== 0) {
      throw new SecretFileError(
        `the secret file ${path} can be read or written by other users ` +
          `(mode ${(stat.mode & 0o777).toString(8).padStart(4, '0')}); make it private to ` +
          `the user remitnet runs as: chmod 600 ${path}`,
      );
    }
    if (stat.size > FILE_MAX_BYTES) {
      throw new SecretFileError(
        `${path} is ${stat.size} bytes, too large for a secret file; ${HOW_TO_MAKE(path)}`,
      );
    }
    return parseSecretFile(readFileSync(fd, 'utf8'), path);
  } finally {
    closeSync(fd);
  }
}

export function masterFileText(master: Buffer): string {
  return (
    JSON.stringify({ version: SECRET_FILE_VERSION, master: master.toString('base64url') }) + '\n'
  );
}

export function keysFileText(keys: { payoutCodeSecret: string; requestHashKey: string }): string {
  return (
    JSON.stringify({
      version: SECRET_FILE_VERSION,
      [PAYOUT_CODE_SETTING]: keys.payoutCodeSecret,
      [REQUEST_HASH_SETTING]: keys.requestHashKey,
    }) + '\n'
  );
}

/**
 * Creates `path` (never replacing a file) with mode 0600, writes `text`, and fsyncs the file
 * and its folder, so that what comes next (deleting the stored keys) happens only once the
 * file would survive a crash.
 */
export function writePrivateFile(path: string, text: string): void {
  let fd: number;
  try {
    fd = openSync(path, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o600);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      throw new Error(
        `${path} exists already; a secret file is never overwritten: choose a new path`,
      );
    }
    if (code === 'ENOENT') {
      throw new Error(
        `the folder ${dirname(path)} does not exist; create it first (mkdir -m 700 ${dirname(path)})`,
      );
    }
    throw new Error(`cannot create ${path} (${code ?? String(error)})`);
  }
  try {
    writeFileSync(fd, text);
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    unlinkSync(path);
    throw error;
  }
  closeSync(fd);
  if (process.platform !== 'win32') {
    const dir = openSync(dirname(path), 'r');
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
  }
}

/** Writes a new secret file holding a fresh 32-byte master secret. */
export function newSecretFile(path: string): void {
  writePrivateFile(path, masterFileText(randomBytes(MASTER_MIN_BYTES)));
}

function bytesOf(key: string | Buffer): Buffer {
  return typeof key === 'string' ? Buffer.from(key) : key;
}

function sameKey(a: string | Buffer, b: string | Buffer): boolean {
  const x = bytesOf(a);
  const y = bytesOf(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The key check value kept in the database instead of the keys (see the header). */
export function keyCheck(keys: InstallationKeys): string {
  const tag = (key: string | Buffer) =>
    createHmac('sha256', bytesOf(key)).update('remitnet key check v1').digest('hex').slice(0, 16);
  return `v1:${tag(keys.payoutCodeSecret)}:${tag(keys.requestHashKey)}`;
}

interface StoredSettings {
  payoutCodeSecret?: string;
  requestHashKey?: string;
  check?: string;
}

async function storedSettings(sql: SqlClient): Promise<StoredSettings> {
  const rows = await sql.query<{ name: string; value: string }>(
    'SELECT name, value FROM api_settings WHERE name IN ($1, $2, $3)',
    [PAYOUT_CODE_SETTING, REQUEST_HASH_SETTING, KEY_CHECK_SETTING],
  );
  const out: StoredSettings = {};
  for (const r of rows) {
    if (r.name === PAYOUT_CODE_SETTING) out.payoutCodeSecret = r.value;
    else if (r.name === REQUEST_HASH_SETTING) out.requestHashKey = r.value;
    else out.check = r.value;
  }
  return out;
}

/**
 * Where a starting runtime gets its keys (the api migrations must have run):
 * - a secret file is configured and the database holds no keys: the file's keys. The first
 *   such start records their check value; later starts refuse a file whose keys differ.
 * - a secret file is configured but the database still holds keys: refused, because codes
 *   issued so far were hashed under the stored keys; `secret move-out` moves them.
 * - no file, and the database's keys were moved out (a check value is stored): refused,
 *   because new keys would make every outstanding code fail.
 * - no file otherwise: keys kept in the database, made on first start (zero configuration).
 */
export async function installationKeys(
  sql: SqlClient,
  file: { readonly path: string; readonly keys: InstallationKeys } | undefined,
): Promise<{ keys: InstallationKeys; source: KeySource }> {
  const stored = await storedSettings(sql);
  if (file !== undefined) {
    if (stored.payoutCodeSecret !== undefined || stored.requestHashKey !== undefined) {
      throw new Error(
        `REMITNET_SECRET_FILE is set, but this database still holds its own payout-code and ` +
          `request-hash keys (it was started without a secret file): the payout codes issued ` +
          `so far only verify under those keys. Move them out first: run ` +
          `\`remitnet secret move-out --file PATH\` with a PATH that does not exist yet (it ` +
          `writes the stored keys there, then deletes them from the database), and set ` +
          `REMITNET_SECRET_FILE=PATH. (${file.path} was not used.)`,
      );
    }
    const check = keyCheck(file.keys);
    if (stored.check === undefined) {
      await sql.transaction(async (tx) => {
        const rows = await tx.query('SELECT 1 AS one FROM api_settings WHERE name = $1', [
          KEY_CHECK_SETTING,
        ]);
        if (rows.length === 0) {
          await tx.execute('INSERT INTO api_settings (name, value) VALUES ($1, $2)', [
            KEY_CHECK_SETTING,
            check,
          ]);
        }
      });
      stored.check = (await storedSettings(sql)).check;
    }
    if (stored.check !== check) {
      throw new Error(
        `the secret file ${file.path} holds other keys than the ones this database was used ` +
          `with: payout codes and codewords recorded so far would all fail to verify. Set ` +
          `REMITNET_SECRET_FILE to the file this database was used with (the one ` +
          `\`remitnet secret new\` or \`remitnet secret move-out\` made for it).`,
      );
    }
    return { keys: file.keys, source: 'file' };
  }
  if (stored.check !== undefined) {
    throw new Error(
      `this database's keys are kept in a secret file (its keys were moved out, or it was ` +
        `started with one), but REMITNET_SECRET_FILE is not set: set it to that file's path. ` +
        `Starting without it would make new keys, and every payout code issued so far would fail.`,
    );
  }
  return {
    keys: {
      payoutCodeSecret: await settingOrCreate(sql, PAYOUT_CODE_SETTING, newStoredKey),
      requestHashKey: await settingOrCreate(sql, REQUEST_HASH_SETTING, newStoredKey),
    },
    source: 'database',
  };
}

export interface MoveOutResult {
  readonly path: string;
  /** False when the file existed already with these keys (an interrupted move-out, resumed). */
  readonly wroteFile: boolean;
}

/**
 * Moves the keys stored in the database into a new secret file at `path`: writes the file
 * (mode 0600, fsynced), reads it back as start-up would, and only then, in one transaction,
 * deletes the two rows and records the key check value. Safe to run again after a crash:
 * a file that exists already and holds exactly the stored keys is kept and the move finishes.
 */
export async function moveKeysOut(sql: SqlClient, path: string): Promise<MoveOutResult> {
  const stored = await storedSettings(sql);
  if (stored.payoutCodeSecret === undefined && stored.requestHashKey === undefined) {
    throw new Error(
      stored.check !== undefined
        ? 'this database holds no keys to move: they are kept in a secret file already ' +
            '(moved out before, or started with REMITNET_SECRET_FILE)'
        : 'this database holds no keys yet; for a new installation make a secret with ' +
            '`remitnet secret new --file PATH` and set REMITNET_SECRET_FILE=PATH',
    );
  }
  // A database that never served an idempotent request may lack the request hash key; it
  // is made here as a start would have made it (no record was hashed under any key yet).
  const keys = {
    payoutCodeSecret: await settingOrCreate(sql, PAYOUT_CODE_SETTING, newStoredKey),
    requestHashKey: await settingOrCreate(sql, REQUEST_HASH_SETTING, newStoredKey),
  };
  for (const value of [keys.payoutCodeSecret, keys.requestHashKey]) {
    if (!STORED_KEY_PATTERN.test(value)) {
      throw new Error(
        'a key stored in api_settings is not in the form remitnet makes (32 to 512 printable ' +
          'ASCII characters); it was changed by hand: nothing was moved',
      );
    }
  }
  let wroteFile = false;
  let existing: InstallationKeys | undefined;
  try {
    existing = readSecretFile(path);
  } catch (error) {
    // Only "no file there" lets the move write one; any other problem with a file at that
    // path is reported as it is.
    if (!(error instanceof SecretFileError && error.missing)) throw error;
  }
  if (existing === undefined) {
    writePrivateFile(path, keysFileText(keys));
    wroteFile = true;
  }
  // Read back through the loader start-up uses: the rows go only when a file start-up
  // accepts holds exactly them.
  const loaded = readSecretFile(path);
  if (
    !sameKey(loaded.payoutCodeSecret, keys.payoutCodeSecret) ||
    !sameKey(loaded.requestHashKey, keys.requestHashKey)
  ) {
    throw new Error(
      wroteFile
        ? `${path} does not read back as written; nothing was deleted from the database`
        : `${path} exists already and holds other keys; a secret file is never overwritten: ` +
            'choose a new path',
    );
  }
  const check = keyCheck(keys);
  await sql.transaction(async (tx) => {
    // The rows must still be the ones written to the file (no one changed them meanwhile).
    const rows = await tx.query<{ name: string; value: string }>(
      'SELECT name, value FROM api_settings WHERE name IN ($1, $2)',
      [PAYOUT_CODE_SETTING, REQUEST_HASH_SETTING],
    );
    const now = new Map(rows.map((r) => [r.name, r.value]));
    if (
      now.get(PAYOUT_CODE_SETTING) !== keys.payoutCodeSecret ||
      now.get(REQUEST_HASH_SETTING) !== keys.requestHashKey
    ) {
      throw new Error('the stored keys changed while they were being moved; run it again');
    }
    await tx.execute('DELETE FROM api_settings WHERE name IN ($1, $2, $3)', [
      PAYOUT_CODE_SETTING,
      REQUEST_HASH_SETTING,
      KEY_CHECK_SETTING,
    ]);
    await tx.execute('INSERT INTO api_settings (name, value) VALUES ($1, $2)', [
      KEY_CHECK_SETTING,
      check,
    ]);
  });
  return { path, wroteFile };
}
