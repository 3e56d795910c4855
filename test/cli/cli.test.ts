/**
 * The command line, run as a person would: `init` prints a key once, `keys` manage keys on
 * the database, and the client commands work against a running server over HTTP, with
 * `--json` output a script can parse and one clear line on errors.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { startService, type Service } from '../../src/api/service.ts';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'remitnet-cli-'));
const db = join(dir, 'r.db');
let service: Service | undefined;
let operatorKey = '';

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

beforeAll(async () => {
  const init = await cli(['--json', 'init', '--demo']);
  expect(init.code, init.stderr).toBe(0);
  operatorKey = JSON.parse(init.stdout).operator_key;
  service = await startService({
    config: loadConfig({ REMITNET_DB: db }),
    host: '127.0.0.1',
    port: 0,
    logLevel: 'silent',
  });
}, 120_000);
afterAll(async () => {
  await service?.server.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('remitnet CLI', () => {
  it('init made an operator key once; keys list shows it without the key', async () => {
    expect(operatorKey).toMatch(/^rnk_/);
    const again = await cli(['--json', 'init']);
    expect(JSON.parse(again.stdout).operator_key).toBeNull();
    const list = await cli(['--json', 'keys', 'list']);
    expect(list.stdout).not.toContain(operatorKey);
    expect(JSON.parse(list.stdout)[0].role).toBe('operator');
  });

  it('quotes, sends, shows status and exports CSV over HTTP', async () => {
    const env = { REMITNET_URL: service!.server.url, REMITNET_KEY: operatorKey };
    const agents = JSON.parse((await cli(['--json', 'agents'], env)).stdout) as Array<{
      id: string;
      location: { country: string };
      roles: string[];
    }>;
    const origin = agents.find((a) => a.location.country === 'KR' && a.roles.includes('origin'))!;
    const q = await cli(
      [
        '--json',
        'quote',
        '--to',
        'KP/Ryanggang',
        '--currency',
        'CNY',
        '--send',
        '500000 KRW',
        '--from',
        origin.id,
      ],
      env,
    );
    expect(q.code, q.stderr).toBe(0);
    const quote = JSON.parse(q.stdout).quotes[0];
    expect(quote.send).toEqual({ amount: '500000', currency: 'KRW' });

    const exported = await cli(['export', 'remittances'], env);
    expect(exported.code, exported.stderr).toBe(0);
    const lines = exported.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^id,created_at,state,/);
    expect(lines.length).toBeGreaterThan(1);
    const someId = lines[1]!.split(',')[0]!;
    const status = await cli(['status', someId], env);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toContain(someId);

    const wrongKey = await cli(['status', someId], { ...env, REMITNET_KEY: 'rnk_nope' });
    expect(wrongKey.code).not.toBe(0);
    expect(wrongKey.stderr).toMatch(/^remitnet: 401 unauthenticated/);
  }, 120_000);

  it('--help teaches', async () => {
    const help = await cli(['quote', '--help']);
    expect(help.stdout).toContain('Example');
    expect(help.stdout).toContain('--send');
    expect(readFileSync('docs/cli.md', 'utf8')).toContain('Why the client commands');
  });
});
