/**
 * Operability review: each test here reproduces a defect an operator could hit with the
 * `remitnet` command line or its configuration; each failed on the code it was written
 * against and passes since the fix.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { startService } from '../../src/api/service.ts';
import { openRuntime } from '../../src/api/runtime.ts';
import { loadDemo } from '../../src/demo/index.ts';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'remitnet-review-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const CLI = ['--import', 'tsx', 'src/cli/main.ts'];

function envFor(db: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    REMITNET_DB: db,
    DATABASE_URL: '',
    REMITNET_SECRET_FILE: '',
    ...extra,
  };
}

async function cli(db: string, args: string[], env: Record<string, string> = {}) {
  try {
    const r = await run(process.execPath, [...CLI, ...args], {
      env: envFor(db, env),
      timeout: 60_000,
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: err.code ?? 1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

/** Runs `serve` until `ready(stdout, stderr)` holds, then sends SIGTERM and waits for exit. */
async function serveUntil(
  db: string,
  args: string[],
  ready: (stdout: string, stderr: string) => boolean,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [...CLI, ...args], { env: envFor(db) });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  const deadline = Date.now() + 60_000;
  while (!ready(stdout, stderr) && child.exitCode === null && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGTERM');
  const code = await exited;
  return { code, stdout, stderr };
}

describe('operability review', () => {
  it('serve --demo that cannot listen (port taken) on a fresh database does not leave behind an operator key nobody was shown', async () => {
    const db = join(dir, 'port-taken.db');
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as { port: number }).port;
    let failed: Awaited<ReturnType<typeof cli>>;
    try {
      failed = await cli(db, ['serve', '--demo', '--port', String(port), '--log-level', 'silent']);
    } finally {
      await new Promise<void>((r) => blocker.close(() => r()));
    }
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('EADDRINUSE');
    const shown = /rnk_[A-Za-z0-9_-]+/.exec(failed.stdout + failed.stderr);
    // The failed start created (and committed) an operator key but never printed it; every
    // later `serve --demo` then says "an operator key was created on an earlier start".
    const list = await cli(db, ['--json', 'keys', 'list']);
    expect(list.code, list.stderr).toBe(0);
    const operators = (
      JSON.parse(list.stdout) as Array<{ role: string; revokedAt: unknown }>
    ).filter((k) => k.role === 'operator');
    expect(
      shown !== null || operators.length === 0,
      `an operator key exists (${operators.length}) but the failed start never printed it`,
    ).toBe(true);
  }, 120_000);

  it('--json serve keeps stdout one JSON object per line and the operator key out of the logs (the banner is one JSON line on stderr)', async () => {
    const db = join(dir, 'json-serve.db');
    const r = await serveUntil(
      db,
      ['--json', 'serve', '--demo', '--port', '0', '--log-level', 'info'],
      (out, err) => out.includes('Server listening') && err.includes('operator_key'),
    );
    // The banner, key included, is one JSON line on stderr; stdout is only log lines.
    const banner = r.stderr.split('\n').find((l) => l.includes('operator_key'))!;
    expect(JSON.parse(banner).operator_key).toMatch(/^rnk_/);
    expect(r.stdout).not.toContain('operator_key');
    const lines = r.stdout.split('\n').filter((l) => l.trim() !== '');
    const bad = lines.filter((l) => {
      try {
        return typeof JSON.parse(l) !== 'object';
      } catch {
        return true;
      }
    });
    expect(bad, 'stdout lines that are not a JSON object').toEqual([]);
  }, 120_000);

  it('HOST set but empty (HOST=) keeps the default 127.0.0.1 instead of listening on every interface', () => {
    // DATABASE_URL= and REMITNET_SECRET_FILE= count as unset; HOST= becomes '' and
    // Fastify then binds [::] (all interfaces): `HOST= remitnet serve` prints http://[::]:8080.
    let host: string;
    try {
      host = loadConfig({ HOST: '' }).host;
    } catch {
      host = 'rejected';
    }
    expect(host).not.toBe('');
  });

  it('PORT set but empty (PORT=) is not silently taken as port 0 (a random port)', () => {
    let port: number | string;
    try {
      port = loadConfig({ PORT: '' }).port;
    } catch {
      port = 'rejected';
    }
    expect(port).not.toBe(0);
  });

  it('serve --port "" is refused rather than listening on a random port', async () => {
    const db = join(dir, 'empty-port.db');
    const r = await serveUntil(
      db,
      ['serve', '--port', '', '--log-level', 'silent'],
      (_out, err) => err.includes('remitnet is running at') || err.includes('remitnet:'),
    );
    expect(r.stderr).not.toContain('remitnet is running at');
    expect(r.stderr).toMatch(/^remitnet: .*port/m);
  }, 120_000);

  it('export --out to a path that cannot be opened fails with one line, not an unhandled error event and a stack', async () => {
    const db = join(dir, 'export.db');
    const init = await cli(db, ['--json', 'init']);
    expect(init.code, init.stderr).toBe(0);
    const key = (JSON.parse(init.stdout) as { operator_key: string }).operator_key;
    const service = await startService({
      config: loadConfig({ REMITNET_DB: db }),
      host: '127.0.0.1',
      port: 0,
      logLevel: 'silent',
    });
    let r: Awaited<ReturnType<typeof cli>>;
    try {
      r = await cli(db, [
        'export',
        '--key',
        key,
        '--url',
        service.server.url,
        '--out',
        join(dir, 'no-such-dir', 'out.csv'),
      ]);
    } finally {
      await service.server.close();
    }
    expect(r.code).not.toBe(0);
    expect(r.stderr).not.toContain("Unhandled 'error' event");
    expect(r.stderr).not.toMatch(/^\s+at /m);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^remitnet: /);
  }, 60_000);
  it('a demo load that was interrupted (Ctrl-C during the first `npm start`) is refused with what to do, not reported as "already present" half-made', async () => {
    // By hand: `remitnet serve --demo` on a fresh database, Ctrl-C about 0.9 s in (before
    // the signal handlers exist); every later `remitnet demo` / `serve --demo` then says the
    // network is already present, with 9 agents, 10 links and 5 of the 7 remittances.
    // Here the interruption is made deterministic: the third link fails to be created.
    const db = join(dir, 'demo-interrupted.db');
    const runtime = await openRuntime(loadConfig({ REMITNET_DB: db }), { expiryInterval_ms: 0 });
    try {
      const rn = runtime.remitnet;
      let links = 0;
      const network = new Proxy(rn.network, {
        get(target, prop) {
          const value = Reflect.get(target, prop, target) as unknown;
          if (prop === 'createLink') {
            return async (...args: unknown[]) => {
              if (++links > 2) throw new Error('interrupted');
              return (value as (...a: unknown[]) => unknown).apply(target, args);
            };
          }
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
      await expect(loadDemo({ ...rn, network } as typeof rn)).rejects.toThrow('interrupted');
      // It cannot be resumed (the payout codes were shown only to the process that died):
      // the next start says so and what to do, instead of "already present".
      await expect(loadDemo(rn)).rejects.toThrow(
        /only partly loaded .*2 of 10 links.*remove the database file/,
      );
    } finally {
      await runtime.close();
    }
  }, 60_000);
  it('a reader that closes the pipe early (`remitnet --json keys list | head -c 0`) does not crash the CLI with an unhandled EPIPE stack trace', async () => {
    const db = join(dir, 'epipe.db');
    const init = await cli(db, ['init']);
    expect(init.code, init.stderr).toBe(0);
    const child = spawn(process.execPath, [...CLI, '--json', 'keys', 'list'], {
      env: envFor(db),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.destroy(); // the reader went away before the command printed anything
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    await new Promise<void>((resolve) => child.on('close', () => resolve()));
    expect(stderr).not.toContain("Unhandled 'error' event");
    expect(stderr).not.toMatch(/^\s+at /m);
  }, 60_000);
  it('REMITNET_DB set but empty is treated as unset (or refused by name), not resolved to the working directory', async () => {
    // loadConfig resolves '' to process.cwd(), a directory; every command then fails with
    // "remitnet: unable to open database file", naming neither the path nor the variable.
    let path: string;
    try {
      path = loadConfig({ REMITNET_DB: '' }).sqlitePath;
    } catch (error) {
      path = String(error);
    }
    expect(path).not.toBe(process.cwd());
    const r = await cli(join(dir, 'unused.db'), ['--json', 'keys', 'list'], { REMITNET_DB: '' });
    if (r.code !== 0) expect(r.stderr).toContain('REMITNET_DB');
  }, 60_000);

  it("a LOG_LEVEL pino does not know is refused by name, not with pino's internal message", async () => {
    // LOG_LEVEL is not checked by loadConfig; `serve` then fails with
    // "remitnet: default level:verbose must be included in custom levels".
    const r = await cli(join(dir, 'log-level.db'), ['serve', '--port', '0'], {
      LOG_LEVEL: 'verbose',
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^remitnet: .*LOG_LEVEL/m);
  }, 60_000);
});
