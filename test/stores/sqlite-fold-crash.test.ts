/**
 * Crash safety of the SQLite balance journal and its folds: a child process
 * (sqlite-fold-child.ts) writes batches through a store that folds every few batches and
 * is killed with SIGKILL at random moments, again and again, on the same file. After every
 * kill a fresh connection checks that every acknowledged batch is present, every batch is
 * whole or absent, and every account's balances (accounts table plus journal) equal the
 * sums of its transfers.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { u128ToBytes } from '../../src/stores/codec.ts';
import { SqliteStore } from '../../src/stores/sqlite/sqlite-store.ts';

const KILLS = 12;
/** The accounts sqlite-fold-child.ts writes to (FOLD_ACCOUNTS there). */
const FOLD_ACCOUNTS = [0xf1n, 0xf2n, 0xf3n, 0xf4n, 0xf5n];
const here = dirname(fileURLToPath(import.meta.url));
const child = join(here, 'sqlite-fold-child.ts');
const dir = mkdtempSync(join(tmpdir(), 'remitnet-sqlite-fold-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function runAndKill(path: string, sent: Map<bigint, number>, acked: Set<bigint>) {
  return new Promise<string[]>((resolve, reject) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', child, path], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const bad: string[] = [];
    let buffered = '';
    let stderr = '';
    let timer: NodeJS.Timeout | undefined;
    proc.stdout.setEncoding('utf8');
    proc.stdout.on('data', (chunk: string) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        const [word, tag, n] = line.split(' ');
        if (word === 'ready') {
          timer ??= setTimeout(() => proc.kill('SIGKILL'), 50 + Math.random() * 400);
        } else if (word === 'send') sent.set(BigInt(tag!), Number(n));
        else if (word === 'ack') acked.add(BigInt(tag!));
        else bad.push(line);
      }
    });
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (chunk: string) => (stderr += chunk));
    proc.on('error', reject);
    proc.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (signal !== 'SIGKILL') bad.push(`child exited on its own: ${code} ${stderr}`);
      resolve(bad);
    });
  });
}

describe('SQLite balance journal under SIGKILL', () => {
  it('keeps every acknowledged batch, whole, and balances equal to the transfers, across folds', async () => {
    const path = join(dir, 'fold.sqlite');
    const sent = new Map<bigint, number>();
    const acked = new Set<bigint>();
    let folded = 0;
    for (let run = 0; run < KILLS; run++) {
      expect(await runAndKill(path, sent, acked)).toEqual([]);
      const store = await SqliteStore.open({ path, checkpoint: 'inline' });
      try {
        const db = store.db;
        const perTag = new Map<bigint, number>();
        for (const [tag, n] of db
          .prepare('SELECT user_data_64, count(*) FROM transfers GROUP BY user_data_64')
          .raw()
          .all() as [bigint, bigint][]) {
          perTag.set(tag, Number(n));
        }
        for (const [tag, n] of perTag) expect(sent.get(tag)).toBe(n); // whole batches only
        for (const tag of acked) expect(perTag.get(tag)).toBe(sent.get(tag));
        const accounts = await store.lookupAccounts(FOLD_ACCOUNTS);
        expect(accounts.length).toBe(FOLD_ACCOUNTS.length);
        let debits = 0n;
        let credits = 0n;
        for (const a of accounts) {
          const id = u128ToBytes(a.id);
          const [dr, cr] = db
            .prepare(
              `SELECT coalesce((SELECT sum(amount) FROM transfers WHERE debit_account_id = ?), 0),
                      coalesce((SELECT sum(amount) FROM transfers WHERE credit_account_id = ?), 0)`,
            )
            .raw()
            .get(id, id) as [bigint, bigint];
          expect([a.debitsPosted, a.creditsPosted, a.debitsPending, a.creditsPending]).toEqual([
            dr,
            cr,
            0n,
            0n,
          ]);
          debits += a.debitsPosted;
          credits += a.creditsPosted;
        }
        expect(debits).toBe(credits);
        // A fold wrote balances into the accounts table itself.
        if (db.prepare('SELECT 1 FROM accounts WHERE debits_posted > 0').get() !== undefined) {
          folded++;
        }
      } finally {
        await store.close();
      }
    }
    expect(acked.size).toBeGreaterThan(KILLS);
    expect(folded).toBeGreaterThan(0);
  }, 120_000);
});
