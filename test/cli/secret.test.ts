/**
 * `remitnet secret new|move-out` run as a person would: a new file is private and never
 * overwritten; move-out takes an installation's keys out of its database, after which the
 * commands that open the database need REMITNET_SECRET_FILE, and refuse another file or a
 * file others can read, each with one line saying what to change.
 */
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'remitnet-cli-secret-'));
const db = join(dir, 'r.db');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function cli(args: string[], env: Record<string, string> = {}) {
  try {
    const r = await run('npx', ['tsx', 'src/cli/main.ts', ...args], {
      env: { ...process.env, REMITNET_DB: db, DATABASE_URL: '', REMITNET_SECRET_FILE: '', ...env },
      timeout: 60_000,
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: err.code ?? 1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

describe('remitnet secret', () => {
  it('new writes a private file once', async () => {
    const file = join(dir, 'new-secret');
    const made = await cli(['--json', 'secret', 'new', '--file', file]);
    expect(made.code, made.stderr).toBe(0);
    expect(JSON.parse(made.stdout)).toEqual({ file, written: true });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const before = readFileSync(file, 'utf8');
    const again = await cli(['secret', 'new', '--file', file]);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/^remitnet: .*exists already; a secret file is never overwritten/);
    expect(readFileSync(file, 'utf8')).toBe(before);
  }, 60_000);

  it('move-out takes the keys out of the database; later commands need the file', async () => {
    const nowhere = await cli(['secret', 'move-out', '--file', join(dir, 'x')], {
      REMITNET_DB: join(dir, 'missing.db'),
    });
    expect(nowhere.stderr).toMatch(
      /^remitnet: there is no database at .*missing\.db; set REMITNET_DB/,
    );

    const init = await cli(['--json', 'init']);
    expect(init.code, init.stderr).toBe(0);
    const file = join(dir, 'moved-secret');
    const moved = await cli(['--json', 'secret', 'move-out', '--file', file]);
    expect(moved.code, moved.stderr).toBe(0);
    expect(JSON.parse(moved.stdout)).toMatchObject({ file, moved: true, wrote_file: true });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(Object.keys(JSON.parse(readFileSync(file, 'utf8'))).sort()).toEqual([
      'payout_code_secret',
      'request_hash_key',
      'version',
    ]);

    const without = await cli(['keys', 'list']);
    expect(without.code).not.toBe(0);
    expect(without.stderr).toMatch(/REMITNET_SECRET_FILE is not set: set it to that file's path/);
    const other = await cli(['keys', 'list'], { REMITNET_SECRET_FILE: join(dir, 'new-secret') });
    expect(other.stderr).toMatch(/holds other keys than the ones this database was used with/);
    const ok = await cli(['--json', 'keys', 'list'], { REMITNET_SECRET_FILE: file });
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)[0].role).toBe('operator');

    chmodSync(file, 0o644);
    const loose = await cli(['keys', 'list'], { REMITNET_SECRET_FILE: file });
    expect(loose.code).not.toBe(0);
    expect(loose.stderr).toContain(`chmod 600 ${file}`);
  }, 120_000);
});
