/**
 * A child process for the PostgreSQL multi-process tests (not a test file itself): it
 * writes to the ledger through a PostgresStore and reports every acknowledged batch on
 * stdout, one JSON line each, so the parent can check them against the final state.
 *
 *   node --import tsx test/stores/postgres-worker.ts <mode> <json config>
 *
 * mode `writers`: conflicting traffic on a few hot accounts (plain, pending, post, void,
 *   linked chains, shared ids every worker submits, pendings every worker races to post or
 *   void), several calls in flight at once so group commit merges them.
 * (The crash test on PostgreSQL is test/ledger/crash.test.ts, through crash-stores.ts.)
 */
import { pathToFileURL } from 'node:url';
import { Ledger, TransferFlags, type TransferInput } from '../../src/ledger/index.ts';
import { PostgresStore } from '../../src/stores/postgres/postgres-store.ts';

export interface WritersConfig {
  readonly url: string;
  readonly schema?: string;
  readonly worker: number;
  readonly rounds: number;
  readonly inFlight: number;
  readonly ledger: number;
  readonly bank: string;
  readonly hot: readonly string[];
  /** Transfers every worker submits with the same id and fields: exactly one may be `ok`. */
  readonly shared: readonly SerializedTransfer[];
  /** Pending transfers made by the parent that every worker tries to post or void. */
  readonly contested: readonly string[];
  readonly seed: number;
}

export type SerializedTransfer = Record<string, string | number>;

/** One acknowledged call: what was sent, and the results that came back. */
export interface AckLine {
  readonly worker: number;
  readonly events: readonly SerializedTransfer[];
  readonly results: readonly string[];
}

export function serialize(t: TransferInput): SerializedTransfer {
  const out: SerializedTransfer = {};
  for (const [k, v] of Object.entries(t)) out[k] = typeof v === 'bigint' ? `${v}n` : (v as number);
  return out;
}

export function deserialize(s: SerializedTransfer): TransferInput {
  const out: Record<string, bigint | number> = {};
  for (const [k, v] of Object.entries(s)) {
    out[k] = typeof v === 'string' && v.endsWith('n') ? BigInt(v.slice(0, -1)) : (v as number);
  }
  return out as unknown as TransferInput;
}

/** A small seeded generator (mulberry32), so a failing run can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function writers(cfg: WritersConfig): Promise<void> {
  const store = await PostgresStore.open({
    connectionString: cfg.url,
    schema: cfg.schema,
    migrate: false,
    // Small intervals: the processes add history stretches and fold each other's journal
    // rows while they race (the checks then verify both).
    historyIndexEvery: 13,
    journalFoldEvery: 17,
    journalRowsMax: 5,
  });
  const ledger = new Ledger(store);
  const random = rng(cfg.seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const hot = cfg.hot.map(BigInt);
  const bank = BigInt(cfg.bank);
  const shared = cfg.shared.map(deserialize);
  const contested = cfg.contested.map(BigInt);
  // Ids of this worker: worker number in the top bits, so workers never collide by accident.
  let next = (BigInt(cfg.worker + 1) << 100n) + 1n;
  const id = () => next++;
  const myPending: bigint[] = [];
  let sharedAt = 0;

  const makeCall = (): TransferInput[] => {
    const events: TransferInput[] = [];
    const n = 1 + Math.floor(random() * 12);
    for (let k = 0; k < n; k++) {
      const r = random();
      const dr = pick(hot);
      let cr = pick([...hot, bank]);
      if (cr === dr) cr = bank;
      const amount = BigInt(1 + Math.floor(random() * 400));
      const base = { ledger: cfg.ledger, code: 1 };
      if (r < 0.3) {
        events.push({ id: id(), debitAccountId: dr, creditAccountId: cr, amount, ...base });
      } else if (r < 0.5) {
        const pid = id();
        myPending.push(pid);
        events.push({
          id: pid,
          debitAccountId: dr,
          creditAccountId: cr,
          amount,
          ...base,
          flags: TransferFlags.pending,
          timeout: random() < 0.2 ? 1 : 0,
        });
      } else if (r < 0.65 && myPending.length > 0) {
        const pid = myPending.splice(Math.floor(random() * myPending.length), 1)[0]!;
        events.push(
          random() < 0.6
            ? { id: id(), pendingId: pid, flags: TransferFlags.postPending }
            : { id: id(), pendingId: pid, flags: TransferFlags.voidPending },
        );
      } else if (r < 0.75) {
        const pid = pick(contested);
        events.push(
          random() < 0.5
            ? { id: id(), pendingId: pid, flags: TransferFlags.postPending }
            : { id: id(), pendingId: pid, flags: TransferFlags.voidPending },
        );
      } else if (r < 0.85 && sharedAt < shared.length) {
        events.push(shared[sharedAt++]!);
      } else {
        // A linked pair: the second leg may fail (exceeds_credits), taking the first with it.
        events.push({
          id: id(),
          debitAccountId: dr,
          creditAccountId: cr,
          amount,
          ...base,
          flags: TransferFlags.linked,
        });
        events.push({
          id: id(),
          debitAccountId: cr === bank ? pick(hot) : cr,
          creditAccountId: dr,
          amount: amount * 3n,
          ...base,
        });
      }
    }
    return events;
  };

  const lines: string[] = [];
  for (let round = 0; round < cfg.rounds; round++) {
    const calls = Array.from({ length: cfg.inFlight }, makeCall);
    const results = await Promise.all(calls.map((c) => ledger.createTransfers(c)));
    for (let i = 0; i < calls.length; i++) {
      const line: AckLine = {
        worker: cfg.worker,
        events: calls[i]!.map(serialize),
        results: results[i]!,
      };
      lines.push(JSON.stringify(line));
    }
  }
  // Whatever shared transfers this worker has not sent yet, it sends now.
  if (sharedAt < shared.length) {
    const rest = shared.slice(sharedAt);
    const results = await ledger.createTransfers(rest);
    lines.push(JSON.stringify({ worker: cfg.worker, events: rest.map(serialize), results }));
  }
  process.stdout.write(lines.join('\n') + '\n');
  await ledger.close();
}

const [mode, json] = process.argv.slice(2);
// Only when run as a process: the tests import the helpers above.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}

async function main(): Promise<void> {
  try {
    if (mode === 'writers') await writers(JSON.parse(json!) as WritersConfig);
    else throw new Error(`unknown mode ${mode}`);
  } catch (error) {
    process.stderr.write(
      `worker failed: ${error instanceof Error ? error.stack : String(error)}\n`,
    );
    process.exit(1);
  }
}
