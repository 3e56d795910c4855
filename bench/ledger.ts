/**
 * The ledger benchmark: `npm run bench [-- --store sqlite|postgres] [--transfers N ...]`.
 *
 * Workload (defaults): 10,000 accounts in one currency (KRW, ledger 410), then transfers
 * between uniformly random pairs of them, with time-ordered ids (IdGenerator), every
 * commit durable:
 *   1. --transfers 1,000,000 in batches of --batch 8189 (one createTransfers call each);
 *   2. --transfers100 1,000,000 in batches of 100;
 *   3. --singles 10,000 one transfer per createTransfers call, each awaited;
 *   4. --two-phase 1,000,000 as remittances book them, in batches of --batch: a batch of
 *      reservations (pending), then a batch posting each of them, and so on.
 * Each phase runs on a fresh store, through the Ledger (normalization and group commit
 * included). Only the awaited createTransfers calls are timed; building the inputs (the
 * client's work) is not. Outside the timed part: a smaller run with random (not
 * time-ordered) ids checks that results stay correct (--random-check), and the store's own
 * limit is measured (--limit-rows plain multi-row INSERT rows, one transaction per batch),
 * and so is the engine alone (phase `engine`: the CPU a transfer costs with no store).
 * After each phase the invariants are checked against the database; any break exits 1.
 *
 * Output: a human table, then as the last line one JSON object.
 * Adding a store: write bench/stores/<name>.ts implementing BenchStore (bench/stores/types.ts)
 * and add it to STORES below.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { executeTransfers, type LedgerView } from '../src/ledger/engine.ts';
import { IdGenerator } from '../src/ledger/ids.ts';
import { Ledger } from '../src/ledger/ledger.ts';
import { normalizeTransfers } from '../src/ledger/normalize.ts';
import type { LedgerStore } from '../src/ledger/store.ts';
import { BATCH_MAX, TransferFlags, type Account, type TransferInput } from '../src/ledger/types.ts';
import type { BenchStore, BenchStoreHandle } from './stores/types.ts';
import { cpuTimes, mainThreadShare, processTicks, stealPercent } from './host.ts';

/** The registry: --store <key>. Imported lazily so one store's driver never loads another's. */
const STORES: Record<string, () => Promise<BenchStore>> = {
  sqlite: async () => (await import('./stores/sqlite.ts')).sqliteBenchStore(),
  postgres: async () => (await import('./stores/postgres.ts')).postgresBenchStore(),
};

const LEDGER_KRW = 410;
const ACCOUNT_CODE = 1;
const TRANSFER_CODE = 1;

const { values: args } = parseArgs({
  options: {
    store: { type: 'string', default: 'sqlite' },
    accounts: { type: 'string', default: '10000' },
    transfers: { type: 'string', default: '1000000' },
    batch: { type: 'string', default: String(BATCH_MAX) },
    transfers100: { type: 'string', default: '1000000' },
    singles: { type: 'string', default: '10000' },
    'limit-rows': { type: 'string', default: '1000000' },
    'random-check': { type: 'string', default: '50000' },
    'two-phase': { type: 'string', default: '1000000' },
    phases: { type: 'string', default: 'batch,batch100,singles,twophase,random,limit,engine' },
  },
  strict: true,
});

function int(name: keyof typeof args): number {
  const v = Number(args[name]);
  if (!Number.isInteger(v) || v < 0) throw new Error(`--${name} must be a whole number`);
  return v;
}

const opts = {
  accounts: int('accounts'),
  transfers: int('transfers'),
  batch: int('batch'),
  transfers100: int('transfers100'),
  singles: int('singles'),
  limitRows: int('limit-rows'),
  randomCheck: int('random-check'),
  twoPhase: int('two-phase'),
  phases: new Set(String(args.phases).split(',')),
};
if (opts.batch < 1 || opts.batch > BATCH_MAX) throw new Error(`--batch must be 1..${BATCH_MAX}`);
if (opts.accounts < 2) throw new Error('--accounts must be at least 2');

/** A fresh store with the accounts, plus what the run expects to find in it. */
interface World {
  readonly handle: BenchStoreHandle;
  readonly ledger: Ledger;
  readonly accountIds: bigint[];
  /** Expected balances, by account index. */
  readonly debits: bigint[];
  readonly credits: bigint[];
  transfers: number;
}

async function openWorld(bench: BenchStore, accounts: number): Promise<World> {
  const handle = await bench.open();
  const ledger = new Ledger(handle.store);
  const gen = new IdGenerator();
  const accountIds: bigint[] = [];
  for (let i = 0; i < accounts; i++) accountIds.push(gen.next());
  for (let i = 0; i < accounts; i += BATCH_MAX) {
    const slice = accountIds.slice(i, i + BATCH_MAX);
    const results = await ledger.createAccounts(
      slice.map((id) => ({ id, ledger: LEDGER_KRW, code: ACCOUNT_CODE })),
    );
    const bad = results.findIndex((r) => r !== 'ok');
    if (bad !== -1) fail(`account ${i + bad} was not created: ${results[bad]}`);
  }
  return {
    handle,
    ledger,
    accountIds,
    debits: new Array<bigint>(accounts).fill(0n),
    credits: new Array<bigint>(accounts).fill(0n),
    transfers: 0,
  };
}

/** n transfers between uniformly random pairs; updates the expected balances. */
function makeBatch(
  w: Pick<World, 'accountIds' | 'debits' | 'credits'>,
  n: number,
  nextId: () => bigint,
): TransferInput[] {
  const out = new Array<TransferInput>(n);
  const count = w.accountIds.length;
  for (let k = 0; k < n; k++) {
    const dr = Math.floor(Math.random() * count);
    let cr = Math.floor(Math.random() * (count - 1));
    if (cr >= dr) cr++;
    const amount = BigInt(1 + Math.floor(Math.random() * 1_000_000));
    w.debits[dr]! += amount;
    w.credits[cr]! += amount;
    out[k] = {
      id: nextId(),
      debitAccountId: w.accountIds[dr]!,
      creditAccountId: w.accountIds[cr]!,
      amount,
      ledger: LEDGER_KRW,
      code: TRANSFER_CODE,
    };
  }
  return out;
}

/**
 * Two-phase transfers, as remittances book them: a batch of reservations (pending, with a
 * timeout), then a batch that posts each of them in full; and so on. Updates the expected
 * balances when it reserves (every reservation is posted).
 */
function twoPhaseBatches(w: World, nextId: () => bigint): (n: number) => TransferInput[] {
  let reserved: TransferInput[] = [];
  return (n) => {
    if (reserved.length === 0) {
      reserved = makeBatch(w, n, nextId).map((t) => ({
        ...t,
        flags: TransferFlags.pending,
        timeout: 3600,
      }));
      return reserved;
    }
    const posts = reserved.map((t) => ({
      id: nextId(),
      pendingId: t.id,
      flags: TransferFlags.postPending,
    }));
    reserved = [];
    return posts;
  };
}

interface PhaseResult {
  readonly name: string;
  readonly transfers: number;
  readonly batch: number;
  readonly seconds: number;
  readonly perS: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  /** CPU seconds (user + system) this process spent in the phase: less noisy than wall time. */
  readonly cpu: number;
  /** Of `cpu`, what the main thread spent (null where /proc cannot tell): the engine and
   * SQLite's inserts run there; the checkpointer and WAL syncs on other threads. */
  readonly mainCpu: number | null;
  /** Percent of the machine's CPU time the host stole during the phase (bench/host.ts). */
  readonly steal: number | null;
}

/**
 * The engine alone: `total` transfers of the batch phase's kind, in batches of `batch`,
 * normalized and executed (engine.ts) over accounts held in a Map, with no store, no
 * group commit and no SQL. Returns the CPU microseconds a transfer took: what no storage
 * design can take off a transfer's cost (building the inputs is not counted).
 */
function measureEngine(accounts: number, total: number, batch: number): number {
  const ids = new IdGenerator();
  const held = new Map<bigint, Account>();
  const accountIds: bigint[] = [];
  for (let i = 0; i < accounts; i++) {
    const id = ids.next();
    accountIds.push(id);
    held.set(id, {
      id,
      ledger: LEDGER_KRW,
      code: ACCOUNT_CODE,
      flags: 0,
      userData128: 0n,
      userData64: 0n,
      userData32: 0,
      debitsPending: 0n,
      debitsPosted: 0n,
      creditsPending: 0n,
      creditsPosted: 0n,
      closed: false,
      timestamp: BigInt(i + 1),
    });
  }
  const view: LedgerView = {
    account: (id) => held.get(id),
    transfer: () => undefined,
    existing: () => undefined,
  };
  const w = {
    accountIds,
    debits: new Array<bigint>(accounts).fill(0n),
    credits: new Array<bigint>(accounts).fill(0n),
  };
  let timestamp = BigInt(accounts + 1);
  let cpu_us = 0;
  for (let done = 0; done < total;) {
    const n = Math.min(batch, total - done);
    const input = makeBatch(w, n, () => ids.next());
    const c0 = process.cpuUsage();
    const outcome = executeTransfers(view, normalizeTransfers(input), timestamp);
    for (const a of outcome.accounts) held.set(a.id, a);
    const c = process.cpuUsage(c0);
    cpu_us += c.user + c.system;
    if (outcome.results.some((r) => r !== 'ok')) fail('engine: a transfer failed');
    timestamp += BigInt(n);
    done += n;
  }
  return cpu_us / total;
}

/** Runs `total` transfers in calls of `batch`, each awaited; times only the calls. */
async function runPhase(
  name: string,
  w: World,
  total: number,
  batch: number,
  nextId: () => bigint,
  make: (n: number) => TransferInput[] = (n) => makeBatch(w, n, nextId),
): Promise<PhaseResult> {
  const times: number[] = [];
  const cpuStart = process.cpuUsage();
  const hostStart = cpuTimes();
  const ticksStart = processTicks();
  let elapsed = 0;
  let done = 0;
  while (done < total) {
    const n = Math.min(batch, total - done);
    const input = make(n);
    const start = performance.now();
    const results = await w.ledger.createTransfers(input);
    const ms = performance.now() - start;
    elapsed += ms;
    times.push(ms);
    for (let i = 0; i < results.length; i++) {
      if (results[i] !== 'ok') fail(`${name}: transfer ${done + i} failed: ${results[i]}`);
    }
    done += n;
    w.transfers += n;
  }
  times.sort((a, b) => a - b);
  const cpu = process.cpuUsage(cpuStart);
  const cpuS = (cpu.user + cpu.system) / 1e6;
  return {
    cpu: cpuS,
    mainCpu: mainThreadShare(cpuS, ticksStart, processTicks()),
    steal: stealPercent(hostStart, cpuTimes()),
    name,
    transfers: done,
    batch,
    seconds: elapsed / 1000,
    perS: done / (elapsed / 1000),
    p50: quantile(times, 0.5),
    p99: quantile(times, 0.99),
    max: times[times.length - 1] ?? 0,
  };
}

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

/** Checks the store against what the run did; exits 1 on any difference. */
async function verify(label: string, w: World): Promise<void> {
  const count = await w.handle.countTransfers();
  if (count !== w.transfers) fail(`${label}: ${count} transfers stored, ${w.transfers} made`);
  const index = new Map<bigint, number>();
  w.accountIds.forEach((id, i) => index.set(id, i));
  const accounts = await scanAll(w.handle.store);
  if (accounts.length !== w.accountIds.length) {
    fail(`${label}: ${accounts.length} accounts stored, ${w.accountIds.length} made`);
  }
  let debits = 0n;
  let credits = 0n;
  let expected = 0n;
  for (const a of accounts) {
    const i = index.get(a.id);
    if (i === undefined) fail(`${label}: unknown account ${a.id}`);
    if (a.debitsPosted !== w.debits[i] || a.creditsPosted !== w.credits[i]) {
      fail(`${label}: account ${i} balances differ from the transfers made`);
    }
    if (a.debitsPending !== 0n || a.creditsPending !== 0n) fail(`${label}: pending balance`);
    debits += a.debitsPosted;
    credits += a.creditsPosted;
    expected += w.debits[i]!;
  }
  if (debits !== credits) fail(`${label}: sum of debits ${debits} != sum of credits ${credits}`);
  if (debits !== expected) fail(`${label}: sum of debits ${debits} != amounts made ${expected}`);
}

async function scanAll(store: LedgerStore) {
  const out = [];
  let after = -1n;
  for (;;) {
    const page = await store.scanAccounts(after, BATCH_MAX);
    out.push(...page);
    if (page.length < BATCH_MAX) return out;
    after = page[page.length - 1]!.timestamp;
  }
}

/** Random 128-bit ids (not time-ordered): results must be as correct, only slower. */
async function randomIdCheck(bench: BenchStore, total: number): Promise<number> {
  const w = await openWorld(bench, opts.accounts);
  try {
    const randomId = () => BigInt('0x' + randomBytes(16).toString('hex')) || 1n;
    const start = performance.now();
    await runPhase('random ids', w, total - (total >> 2), BATCH_MAX, randomId);
    await runPhase('random ids', w, total >> 2, 100, randomId);
    // Resubmitting a batch answers `exists` and changes nothing; a mixed batch creates
    // only its new transfers.
    const again = makeBatch(w, 1000, randomId);
    const first = await w.ledger.createTransfers(again);
    if (first.some((r) => r !== 'ok')) fail('random ids: a fresh batch failed');
    w.transfers += again.length;
    const repeat = await w.ledger.createTransfers(again);
    if (repeat.some((r) => r !== 'exists')) fail('random ids: a repeated batch was not `exists`');
    const fresh = makeBatch(w, 500, randomId);
    const mixed = await w.ledger.createTransfers([...again.slice(0, 500), ...fresh]);
    if (mixed.slice(0, 500).some((r) => r !== 'exists') || mixed.slice(500).some((r) => r !== 'ok'))
      fail('random ids: a mixed batch gave wrong results');
    w.transfers += fresh.length;
    const seconds = (performance.now() - start) / 1000;
    await verify('random ids', w);
    return seconds;
  } finally {
    await w.handle.close();
  }
}

function fail(message: string): never {
  console.error(`INVARIANT BROKEN: ${message}`);
  process.exit(1);
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', {
    maximumFractionDigits: digits,
    minimumFractionDigits: digits,
  });
}

async function main(): Promise<void> {
  const make = STORES[String(args.store)];
  if (make === undefined) {
    throw new Error(`--store must be one of: ${Object.keys(STORES).join(', ')}`);
  }
  const bench = await make();
  const phases: PhaseResult[] = [];
  let limit = Number.NaN;
  let randomSeconds = Number.NaN;
  let limitCpu: { cpu: number; mainCpu: number | null } | undefined;
  let engineUs = Number.NaN;
  try {
    const ids = new IdGenerator();
    const next = () => ids.next();
    const phase = async (
      key: string,
      name: string,
      total: number,
      batch: number,
      twoPhase = false,
    ) => {
      if (!opts.phases.has(key) || total === 0) return undefined;
      const w = await openWorld(bench, opts.accounts);
      try {
        const make = twoPhase ? twoPhaseBatches(w, next) : undefined;
        const r = await runPhase(name, w, total, batch, next, make);
        await verify(name, w);
        phases.push(r);
        return r;
      } finally {
        await w.handle.close();
      }
    };
    await phase('batch', `batch ${opts.batch}`, opts.transfers, opts.batch);
    await phase('batch100', 'batch 100', opts.transfers100, 100);
    await phase('singles', 'single (1/commit)', opts.singles, 1);
    // Whole pairs of batches, so every reservation is posted before the invariants are read.
    const pairs = Math.ceil(opts.twoPhase / (2 * opts.batch));
    await phase('twophase', 'two-phase', pairs * 2 * opts.batch, opts.batch, true);
    if (opts.phases.has('random') && opts.randomCheck > 0) {
      randomSeconds = await randomIdCheck(bench, opts.randomCheck);
    }
    if (opts.phases.has('limit') && opts.limitRows > 0) {
      const gen = new IdGenerator();
      const accountIds = Array.from({ length: opts.accounts }, () => gen.next());
      const cpu0 = process.cpuUsage();
      const ticks0 = processTicks();
      limit = await bench.measureLimit({
        rows: opts.limitRows,
        batch: opts.batch,
        accountIds,
        ledger: LEDGER_KRW,
      });
      const cpu = process.cpuUsage(cpu0);
      const cpuS = (cpu.user + cpu.system) / 1e6;
      limitCpu = { cpu: cpuS, mainCpu: mainThreadShare(cpuS, ticks0, processTicks()) };
    }
    if (opts.phases.has('engine') && opts.transfers > 0) {
      engineUs = measureEngine(opts.accounts, opts.transfers, opts.batch);
    }
    const extra = await bench.extra();

    const main = phases.find((p) => p.name === `batch ${opts.batch}`);
    const b100 = phases.find((p) => p.name === 'batch 100');
    const single = phases.find((p) => p.batch === 1);
    const twoPhase = phases.find((p) => p.name === 'two-phase');
    console.log(`\nremitnet ledger benchmark, store ${bench.name}`, bench.durability);
    console.log(
      `${'phase'.padEnd(20)}${'transfers'.padStart(12)}${'seconds'.padStart(10)}${'transfers/s'.padStart(14)}${'call p50 ms'.padStart(13)}${'call p99 ms'.padStart(13)}${'max ms'.padStart(10)}${'cpu s*'.padStart(9)}${'main s*'.padStart(9)}${'steal %'.padStart(9)}`,
    );
    for (const p of phases) {
      console.log(
        `${p.name.padEnd(20)}${fmt(p.transfers).padStart(12)}${fmt(p.seconds, 2).padStart(10)}${fmt(p.perS).padStart(14)}${fmt(p.p50, 3).padStart(13)}${fmt(p.p99, 3).padStart(13)}${fmt(p.max, 1).padStart(10)}${fmt(p.cpu, 1).padStart(9)}${(p.mainCpu === null ? '-' : fmt(p.mainCpu, 1)).padStart(9)}${(p.steal === null ? '-' : fmt(p.steal, 1)).padStart(9)}`,
      );
    }
    console.log(
      "* cpu s: CPU seconds (user + system) of this process in the phase, making the inputs included; main s: of those, the main thread's (the rest: checkpointer, WAL syncs); steal %: share of the machine's CPU time the host took (a virtual machine's neighbours)",
    );
    if (!Number.isNaN(limit)) {
      const perRow = (s: number | null | undefined) =>
        s === null || s === undefined ? '-' : fmt((s * 1e6) / opts.limitRows, 2);
      console.log(
        `store limit: ${fmt(limit)} rows/s (plain multi-row INSERT, ${opts.batch} rows a commit; CPU ${perRow(limitCpu?.cpu)} µs a row, main thread ${perRow(limitCpu?.mainCpu)} µs, making the parameters included)`,
      );
      if (main !== undefined) console.log(`ratio: ${fmt(main.perS / limit, 3)}`);
    }
    if (!Number.isNaN(engineUs)) {
      console.log(
        `engine alone: ${fmt(engineUs, 2)} µs of CPU a transfer (normalize + execute over accounts in memory, batches of ${opts.batch}, no store), at most ${fmt(1e6 / engineUs)} transfers/s on one core`,
      );
    }
    if (!Number.isNaN(randomSeconds)) {
      console.log(
        `random ids: ${fmt(opts.randomCheck)} transfers correct (${fmt(randomSeconds, 2)} s, untimed)`,
      );
    }
    console.log(
      'invariants: ok (sum of debits == sum of credits == amounts made, per-account balances, transfer counts)',
    );

    const round = (n: number | undefined, d = 0) =>
      n === undefined || Number.isNaN(n) ? null : Math.round(n * 10 ** d) / 10 ** d;
    console.log(
      JSON.stringify({
        bench: 'ledger',
        store: bench.name,
        ...bench.durability,
        batch: opts.batch,
        transfers: main?.transfers ?? 0,
        transfers_per_s: round(main?.perS),
        limit_rows_per_s: round(limit),
        ratio: main === undefined ? null : round(main.perS / limit, 3),
        batch_ms_p99: round(main?.p99, 2),
        single_commit_ms_p99: round(single?.p99, 3),
        host_steal_pct: main?.steal ?? null,
        batch100_transfers_per_s: round(b100?.perS),
        batch100_ms_p99: round(b100?.p99, 3),
        single_commit_ms_p50: round(single?.p50, 3),
        single_commits_per_s: round(single?.perS),
        two_phase_transfers_per_s: round(twoPhase?.perS),
        two_phase_ms_p99: round(twoPhase?.p99, 2),
        engine_only_us_per_transfer: round(engineUs, 2),
        random_id_check_transfers: opts.phases.has('random') ? opts.randomCheck : 0,
        accounts: opts.accounts,
        node: process.version,
        ...extra,
      }),
    );
  } finally {
    await bench.cleanup();
  }
}

await main();
