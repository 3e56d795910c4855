/**
 * The process the crash test kills: `tsx crash-child.ts <store> <target>`.
 *
 * Writes batches of transfers (single-phase, pending, posts and voids of earlier pending
 * transfers, a linked chain that succeeds and one that fails) through a Ledger, forever.
 * Every transfer of a batch carries the batch's tag in userData64. Before each batch it
 * prints `send <tag> <transfers it must create>`, and after the promise resolves (the
 * batch is durable) `ack <tag>`. Stdout is a pipe, written synchronously on Linux, so a
 * line is out before the next step starts. Any unexpected result prints `bad ...` and exits.
 */
import { randomInt } from 'node:crypto';
import { IdGenerator } from '../../src/ledger/ids.ts';
import { Ledger } from '../../src/ledger/ledger.ts';
import { TransferFlags, type TransferInput } from '../../src/ledger/types.ts';
import type { CreateTransferResult } from '../../src/ledger/results.ts';
import { CRASH_STORES } from './crash-stores.ts';

const CRASH_LEDGERS = [410, 840] as const;
const CRASH_ACCOUNTS_PER_LEDGER = 6;

/** Account ids are fixed, so every run of the child finds the same accounts. */
function crashAccountId(ledger: number, k: number): bigint {
  return (BigInt(ledger) << 64n) | BigInt(k + 1);
}

const [storeName, target] = process.argv.slice(2);
const factory = CRASH_STORES[storeName ?? ''];
if (factory === undefined || target === undefined) {
  console.error('usage: crash-child.ts <store> <target>');
  process.exit(2);
}

const say = (line: string) => process.stdout.write(line + '\n');
const store = await factory.open(target);
const ledger = new Ledger(store);
const accountResults = await ledger.createAccounts(
  CRASH_LEDGERS.flatMap((l) =>
    Array.from({ length: CRASH_ACCOUNTS_PER_LEDGER }, (_v, k) => ({
      id: crashAccountId(l, k),
      ledger: l,
      code: 1,
    })),
  ),
);
if (accountResults.some((r) => r !== 'ok' && r !== 'exists')) {
  say(`bad accounts ${accountResults.join(',')}`);
  process.exit(1);
}
say('ready');

const ids = new IdGenerator();
/** Pending transfers of acknowledged batches of this run, not yet posted or voided. */
const open: { id: bigint; amount: bigint }[] = [];
const P = TransferFlags.pending;
const LINKED = TransferFlags.linked;
const tagBase = BigInt(Date.now()) * 1000n + BigInt(randomInt(1000));
let seq = 0;

function pair(): { ledger: number; dr: bigint; cr: bigint } {
  const ledgerNo = CRASH_LEDGERS[randomInt(CRASH_LEDGERS.length)]!;
  const a = randomInt(CRASH_ACCOUNTS_PER_LEDGER);
  const b = (a + 1 + randomInt(CRASH_ACCOUNTS_PER_LEDGER - 1)) % CRASH_ACCOUNTS_PER_LEDGER;
  return { ledger: ledgerNo, dr: crashAccountId(ledgerNo, a), cr: crashAccountId(ledgerNo, b) };
}

interface Planned {
  readonly tag: bigint;
  readonly events: TransferInput[];
  readonly expected: CreateTransferResult[];
  readonly pendings: { id: bigint; amount: bigint }[];
}

function plan(): Planned {
  const tag = tagBase * 1000n + BigInt(seq++);
  const events: TransferInput[] = [];
  const expected: CreateTransferResult[] = [];
  const pendings: { id: bigint; amount: bigint }[] = [];
  const add = (e: Omit<TransferInput, 'id' | 'userData64'>, result: CreateTransferResult) => {
    const id = ids.next();
    events.push({ ...e, id, userData64: tag });
    expected.push(result);
    return id;
  };
  const amount = () => BigInt(1 + randomInt(100_000));
  const plain = 1 + randomInt(40);
  for (let i = 0; i < plain; i++) {
    const p = pair();
    add(
      { debitAccountId: p.dr, creditAccountId: p.cr, amount: amount(), ledger: p.ledger, code: 1 },
      'ok',
    );
  }
  for (let i = randomInt(4); i > 0; i--) {
    const p = pair();
    const a = amount();
    const id = add(
      {
        debitAccountId: p.dr,
        creditAccountId: p.cr,
        amount: a,
        ledger: p.ledger,
        code: 1,
        flags: P,
      },
      'ok',
    );
    pendings.push({ id, amount: a });
  }
  // Resolve pending transfers of earlier acknowledged batches: post (some partially) or void.
  for (let i = Math.min(open.length, randomInt(4)); i > 0; i--) {
    const p = open.splice(randomInt(open.length), 1)[0]!;
    if (randomInt(2) === 0) {
      const posted = randomInt(2) === 0 ? p.amount : 1n + BigInt(randomInt(Number(p.amount)));
      add({ pendingId: p.id, amount: posted, flags: TransferFlags.postPending }, 'ok');
    } else {
      add({ pendingId: p.id, flags: TransferFlags.voidPending }, 'ok');
    }
  }
  // A linked chain that succeeds: a transfer, a pending one, and its post.
  {
    const p = pair();
    add(
      {
        debitAccountId: p.dr,
        creditAccountId: p.cr,
        amount: amount(),
        ledger: p.ledger,
        code: 1,
        flags: LINKED,
      },
      'ok',
    );
    const a = amount();
    const pid = add(
      {
        debitAccountId: p.cr,
        creditAccountId: p.dr,
        amount: a,
        ledger: p.ledger,
        code: 1,
        flags: P | LINKED,
      },
      'ok',
    );
    add({ pendingId: pid, amount: a, flags: TransferFlags.postPending }, 'ok');
  }
  // A linked chain that fails on its last event (an account that does not exist).
  if (randomInt(2) === 0) {
    const p = pair();
    add(
      {
        debitAccountId: p.dr,
        creditAccountId: p.cr,
        amount: amount(),
        ledger: p.ledger,
        code: 1,
        flags: LINKED,
      },
      'linked_event_failed',
    );
    add(
      { debitAccountId: p.dr, creditAccountId: 7n, amount: amount(), ledger: p.ledger, code: 1 },
      'credit_account_not_found',
    );
  }
  return { tag, events, expected, pendings };
}

async function send(b: Planned): Promise<void> {
  const created = b.expected.filter((r) => r === 'ok').length;
  say(`send ${b.tag} ${created}`);
  const results = await ledger.createTransfers(b.events);
  const wrong = results.findIndex((r, i) => r !== b.expected[i]);
  if (wrong !== -1) {
    say(`bad ${b.tag} event ${wrong}: ${results[wrong]} (expected ${b.expected[wrong]})`);
    process.exit(1);
  }
  say(`ack ${b.tag}`);
  open.push(...b.pendings);
}

for (;;) {
  // Sometimes two callers at once, so group commit merges them into one store batch.
  if (randomInt(3) === 0) await Promise.all([send(plan()), send(plan())]);
  else await send(plan());
}
