/**
 * The process sqlite-fold-crash.test.ts kills: `tsx sqlite-fold-child.ts <path>`.
 *
 * Writes batches of transfers among a few accounts, forever, through a store that folds
 * its balance journal every few batches and indexes history every few dozen transfers, so
 * kills land before, during and after folds and index runs. Prints `send <tag> <n>` before
 * each batch and `ack <tag>` once it is durable; every transfer carries its batch's tag in
 * userData64.
 */
import { randomInt } from 'node:crypto';
import { IdGenerator } from '../../src/ledger/ids.ts';
import { Ledger } from '../../src/ledger/ledger.ts';
import { SqliteStore } from '../../src/stores/sqlite/sqlite-store.ts';

/** The test (sqlite-fold-crash.test.ts) reads these accounts back. */
const FOLD_ACCOUNTS = [0xf1n, 0xf2n, 0xf3n, 0xf4n, 0xf5n];
const FOLD_LEDGER = 978;

const path = process.argv[2];
if (path === undefined) {
  console.error('usage: sqlite-fold-child.ts <path>');
  process.exit(2);
}
const say = (line: string) => process.stdout.write(line + '\n');
const store = await SqliteStore.open({
  path,
  synchronous: 'FULL',
  balanceFoldEvery: 6,
  historyIndexEvery: 25,
});
const ledger = new Ledger(store);
const made = await ledger.createAccounts(
  FOLD_ACCOUNTS.map((id) => ({ id, ledger: FOLD_LEDGER, code: 1 })),
);
if (made.some((r) => r !== 'ok' && r !== 'exists')) {
  say(`bad accounts ${made.join(',')}`);
  process.exit(1);
}
say('ready');
const ids = new IdGenerator();
// Runs follow one another, each longer than a millisecond: tags never repeat.
const tagBase = BigInt(Date.now()) * 1_000_000n;
for (let seq = 0n; ; seq++) {
  const tag = tagBase + seq;
  const n = 1 + randomInt(6);
  const batch = Array.from({ length: n }, () => {
    const a = randomInt(FOLD_ACCOUNTS.length);
    const b = (a + 1 + randomInt(FOLD_ACCOUNTS.length - 1)) % FOLD_ACCOUNTS.length;
    return {
      id: ids.next(),
      debitAccountId: FOLD_ACCOUNTS[a]!,
      creditAccountId: FOLD_ACCOUNTS[b]!,
      amount: BigInt(1 + randomInt(1000)),
      ledger: FOLD_LEDGER,
      code: 1,
      userData64: tag,
    };
  });
  say(`send ${tag} ${n}`);
  const results = await ledger.createTransfers(batch);
  if (results.some((r) => r !== 'ok')) {
    say(`bad results ${results.join(',')}`);
    process.exit(1);
  }
  say(`ack ${tag}`);
}
