/**
 * Crash safety: a child process (crash-child.ts) writes batches through a durable store
 * and is killed with SIGKILL at random moments, again and again, on the same database.
 * After every kill the parent reopens the store and checks:
 * - every batch is wholly present or wholly absent (transfers carry their batch's tag);
 * - every batch the child acknowledged (its promise resolved) is present;
 * - per ledger, total debits == total credits, for pending and posted balances separately;
 * - every account's balances equal the sums rebuilt from its transfers and pending states.
 * Runs for each store in CRASH_STORES (crash-stores.ts): SQLite, and PostgreSQL when reachable.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it, onTestFinished } from 'vitest';
import type { LedgerStore } from '../../src/ledger/store.ts';
import {
  BATCH_MAX,
  TransferFlags,
  type Account,
  type PendingState,
  type Transfer,
} from '../../src/ledger/types.ts';
import { CRASH_STORES, type CrashStoreFactory } from './crash-stores.ts';

const KILLS = 20;
const here = dirname(fileURLToPath(import.meta.url));
const child = join(here, 'crash-child.ts');

interface Log {
  /** Tag -> transfers the batch creates, for every batch the child started to send. */
  readonly sent: Map<bigint, number>;
  readonly acked: Set<bigint>;
}

/** Runs the child once and kills it at a random moment; returns what it printed. */
function runAndKill(factory: CrashStoreFactory, target: string, log: Log, run: number) {
  return new Promise<{ acks: number; bad: string[] }>((resolve, reject) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', child, factory.name, target], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let buffered = '';
    let acks = 0;
    let stderr = '';
    const bad: string[] = [];
    let timer: NodeJS.Timeout | undefined;
    const kill = () => proc.kill('SIGKILL');
    // Every fourth run is killed blind, possibly while opening or migrating.
    if (run % 4 === 3) timer = setTimeout(kill, Math.random() * 600);
    proc.stdout.setEncoding('utf8');
    proc.stdout.on('data', (chunk: string) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop()!; // an incomplete line: the process may die before its end
      for (const line of lines) {
        const [word, tag, n] = line.split(' ');
        if (word === 'ready') {
          // A blind kill (every fourth run) may come after ready: then ready is no news.
          timer ??= setTimeout(kill, 20 + Math.random() * 400);
        } else if (word === 'send') {
          log.sent.set(BigInt(tag!), Number(n));
        } else if (word === 'ack') {
          log.acked.add(BigInt(tag!));
          acks++;
        } else {
          bad.push(line);
        }
      }
    });
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (chunk: string) => (stderr += chunk));
    proc.on('error', reject);
    proc.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (signal !== 'SIGKILL') bad.push(`child exited on its own: ${code} ${stderr}`);
      resolve({ acks, bad });
    });
  });
}

async function allAccounts(store: LedgerStore): Promise<Account[]> {
  const out: Account[] = [];
  let after = -1n;
  for (;;) {
    const page = await store.scanAccounts(after, BATCH_MAX);
    out.push(...page);
    if (page.length < BATCH_MAX) return out;
    after = page[page.length - 1]!.timestamp;
  }
}

/** Every transfer, each once (read from its debit side), through the store's own API. */
async function allTransfers(store: LedgerStore, accounts: readonly Account[]): Promise<Transfer[]> {
  const out: Transfer[] = [];
  for (const a of accounts) {
    let cursor: string | undefined;
    do {
      const page = await store.getAccountTransfers({
        accountId: a.id,
        side: 'debits',
        limit: BATCH_MAX,
        ...(cursor === undefined ? {} : { cursor }),
      });
      out.push(...page.transfers);
      cursor = page.nextCursor;
    } while (cursor !== undefined);
  }
  return out;
}

/** Checks the store after a kill; returns how many batches it holds. */
async function check(store: LedgerStore, log: Log): Promise<number> {
  const accounts = await allAccounts(store);
  const transfers = await allTransfers(store, accounts);

  // Atomicity and durability of batches.
  const byTag = new Map<bigint, number>();
  for (const t of transfers) byTag.set(t.userData64, (byTag.get(t.userData64) ?? 0) + 1);
  for (const [tag, count] of byTag) {
    expect(log.sent.has(tag), `transfers of a batch never sent (tag ${tag})`).toBe(true);
    expect(count, `batch ${tag} is partly present`).toBe(log.sent.get(tag));
  }
  for (const tag of log.acked) {
    expect(byTag.get(tag), `acknowledged batch ${tag} is missing`).toBe(log.sent.get(tag));
  }

  // Balances rebuilt from transfers and pending states.
  const pendingIds = transfers
    .filter((t) => (t.flags & TransferFlags.pending) !== 0)
    .map((t) => t.id);
  const states = new Map<bigint, PendingState>();
  for (let i = 0; i < pendingIds.length; i += BATCH_MAX) {
    for (const [id, s] of await store.lookupPending(pendingIds.slice(i, i + BATCH_MAX))) {
      states.set(id, s);
    }
  }
  const zero = () => ({ dp: 0n, dP: 0n, cp: 0n, cP: 0n });
  const rebuilt = new Map(accounts.map((a) => [a.id, zero()]));
  for (const t of transfers) {
    const dr = rebuilt.get(t.debitAccountId)!;
    const cr = rebuilt.get(t.creditAccountId)!;
    if ((t.flags & TransferFlags.pending) !== 0) {
      const s = states.get(t.id);
      expect(s, `pending transfer ${t.id} has no state`).toBeDefined();
      if (s?.status === 'pending') {
        dr.dp += t.amount;
        cr.cp += t.amount;
      }
    } else if ((t.flags & TransferFlags.voidPending) === 0) {
      dr.dP += t.amount; // single-phase transfers and posts
      cr.cP += t.amount;
    }
  }
  const perLedger = new Map<number, ReturnType<typeof zero>>();
  for (const a of accounts) {
    const r = rebuilt.get(a.id)!;
    expect(
      [a.debitsPending, a.debitsPosted, a.creditsPending, a.creditsPosted],
      `account ${a.id} balances`,
    ).toEqual([r.dp, r.dP, r.cp, r.cP]);
    const l = perLedger.get(a.ledger) ?? zero();
    l.dp += a.debitsPending;
    l.dP += a.debitsPosted;
    l.cp += a.creditsPending;
    l.cP += a.creditsPosted;
    perLedger.set(a.ledger, l);
  }
  for (const [ledger, l] of perLedger) {
    expect(l.dp, `ledger ${ledger}: pending debits == pending credits`).toBe(l.cp);
    expect(l.dP, `ledger ${ledger}: posted debits == posted credits`).toBe(l.cP);
  }
  return byTag.size;
}

const tested: CrashStoreFactory[] = [];
for (const f of Object.values(CRASH_STORES)) if ((await f.available?.()) ?? true) tested.push(f);

describe.each(tested.map((f) => [f.name, f] as const))('crash safety on %s', (_name, factory) => {
  const dir = mkdtempSync(join(tmpdir(), 'remitnet-crash-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it(`keeps every batch whole and every acknowledged batch across ${KILLS} SIGKILLs`, async () => {
    const target = await factory.newTarget(dir);
    onTestFinished(() => factory.dispose?.(target));
    const log: Log = { sent: new Map(), acked: new Set() };
    let present = 0;
    for (let run = 0; run < KILLS; run++) {
      const { bad } = await runAndKill(factory, target, log, run);
      expect(bad, `child ${run} reported`).toEqual([]);
      const store = await factory.open(target);
      try {
        present = await check(store, log);
      } finally {
        await store.close();
      }
    }
    // The kills must have landed while batches were being written, not only before.
    expect(log.acked.size).toBeGreaterThan(KILLS);
    expect(log.sent.size).toBeGreaterThan(log.acked.size);
    expect(present).toBeGreaterThanOrEqual(log.acked.size);
  });
});
