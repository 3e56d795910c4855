/**
 * `npm run bench:api`: the HTTP API under load, as the issue defines it.
 *
 * This process runs the server (embedded SQLite, synchronous=FULL, a fresh temp database)
 * and builds a two-hop corridor through the API; a separate client process (bench/
 * api-client.ts) drives complete remittances over loopback with keep-alive connections.
 * Phase 1, closed loop: as fast as the server answers. Phase 2, open loop: remittances
 * offered at half the rate phase 1 reached, to measure latency at a sustainable load.
 * Prints per-call p50/p99 and, last, one JSON line. Everything is bounded in time.
 *
 * Environment: BENCH_CONCURRENCY (default 64), BENCH_SECONDS (default 15),
 * BENCH_WARMUP_SECONDS (default 3).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config.ts';
import { startService } from '../src/api/service.ts';
import { buildCorridor, customers, QUOTE_BODY, type Caller } from './api-network.ts';
import { KINDS, runClient, type ClientJob, type ClientReport, type Kind } from './api-client.ts';
import { cpuTimes, mainThreadShare, processTicks, stealPercent } from './host.ts';

const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 64);
const measure_s = Number(process.env.BENCH_SECONDS ?? 15);
const warmup_s = Number(process.env.BENCH_WARMUP_SECONDS ?? 3);

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const ms = (us: number) => Math.round(us / 10) / 100;

function summarize(label: string, r: ClientReport) {
  const all: number[] = [];
  const lines: string[] = [];
  for (const k of KINDS) {
    const xs = [...r.latencies_us[k as Kind]].sort((a, b) => a - b);
    all.push(...xs);
    lines.push(
      `  ${k.padEnd(9)} n=${String(xs.length).padStart(6)}  p50 ${ms(percentile(xs, 50)).toFixed(2).padStart(7)} ms  p99 ${ms(percentile(xs, 99)).toFixed(2).padStart(7)} ms`,
    );
  }
  all.sort((a, b) => a - b);
  const rps = r.remittances / r.elapsed_s;
  const cps = r.calls / r.elapsed_s;
  console.log(
    `${label}: ${rps.toFixed(0)} remittances/s, ${cps.toFixed(0)} calls/s over ${r.elapsed_s} s (errors ${r.errors}${r.firstError === null ? '' : `: ${r.firstError}`})`,
  );
  for (const l of lines) console.log(l);
  console.log(
    `  all calls p50 ${ms(percentile(all, 50)).toFixed(2)} ms  p99 ${ms(percentile(all, 99)).toFixed(2)} ms`,
  );
  return { rps, cps, p50: ms(percentile(all, 50)), p99: ms(percentile(all, 99)) };
}

const dir = mkdtempSync(join(tmpdir(), 'remitnet-bench-api-'));
// The embedded store, always (DATABASE_URL is ignored); REMITNET_SQLITE_SYNCHRONOUS may be
// set to compare durability levels, but the figures that count are at the default, FULL.
const config = loadConfig({
  REMITNET_DB: join(dir, 'bench.db'),
  ...(process.env.REMITNET_SQLITE_SYNCHRONOUS === undefined
    ? {}
    : { REMITNET_SQLITE_SYNCHRONOUS: process.env.REMITNET_SQLITE_SYNCHRONOUS }),
});
const service = await startService({
  config,
  host: '127.0.0.1',
  port: 0,
  logLevel: 'warn',
});
try {
  const { app, url } = service.server;
  const operatorKey = (await app.remitnet.keys.create({ role: 'operator', label: 'bench' })).key;
  const caller =
    (key: string): Caller =>
    async (method, path, body) => {
      const r = await app.inject({
        method,
        url: path,
        headers: {
          authorization: `Bearer ${key}`,
          ...(method === 'POST' ? { 'idempotency-key': `setup-${Math.random()}` } : {}),
        },
        ...(body === undefined ? {} : { payload: body as object }),
      });
      return { status: r.statusCode, json: r.body === '' ? null : r.json() };
    };
  const corridor = await buildCorridor(caller(operatorKey));
  const people = await customers(caller(operatorKey));
  const agentKey = async (agentId: string) =>
    (await app.remitnet.keys.create({ role: 'agent', agentId, label: 'bench' })).key;
  const keys = {
    origin: await agentKey(corridor.origin),
    intermediary: await agentKey(corridor.intermediary),
    payout: await agentKey(corridor.payout),
  };
  const job: ClientJob = {
    url,
    keys,
    sender: people.sender,
    recipient: people.recipient,
    quoteBody: QUOTE_BODY,
    concurrency,
    rate_per_s: 0,
    warmup_s,
    measure_s,
    maxRemittances: 2_000_000,
  };
  console.log(
    `bench:api  server ${url} (SQLite synchronous=${config.sqliteSynchronous}, ${config.sqlitePath}), client: separate process, ${concurrency} keep-alive connections`,
  );
  const cpu0 = process.cpuUsage();
  const host0 = cpuTimes();
  const ticks0 = processTicks();
  const wall0 = performance.now();
  const phase1 = await runClient(job);
  const wall_ms = performance.now() - wall0;
  const cpu1 = process.cpuUsage(cpu0);
  const ticks1 = processTicks();
  const steal1 = stealPercent(host0, cpuTimes());
  const full = summarize('phase 1, closed loop', phase1);
  // CPU time is what a loaded machine cannot hide: it says what one core could do alone.
  const serverCpu_ms = (cpu1.user + cpu1.system) / 1000;
  const started = phase1.remittances * ((warmup_s + measure_s) / measure_s);
  if (started > 0) {
    console.log(
      `  server CPU ${(serverCpu_ms / started).toFixed(2)} ms per remittance (${(serverCpu_ms / started / 6).toFixed(2)} ms per call), so one core alone would serve about ${Math.round(1000 / (serverCpu_ms / started))} remittances/s`,
    );
    // The main thread runs every request, so it is the server's ceiling: when it is busy
    // nearly all the time, the rate is 1 / its CPU per remittance.
    const mainMs = mainThreadShare(serverCpu_ms, ticks0, ticks1);
    if (mainMs !== null) {
      console.log(
        `  server main thread ${(mainMs / started).toFixed(2)} ms per remittance, busy ${Math.round((100 * mainMs) / wall_ms)}% of the phase; other threads ${((serverCpu_ms - mainMs) / started).toFixed(2)} ms`,
      );
    }
    // The client shares the machine's cores: what it spends, the server cannot have.
    console.log(
      `  client CPU ${(phase1.cpu_ms / started).toFixed(2)} ms per remittance (${Math.round((100 * phase1.cpu_ms) / wall_ms)}% of a core)`,
    );
  }
  const half = Math.max(1, Math.floor(full.rps / 2));
  const host1 = cpuTimes();
  const phase2 = await runClient({ ...job, rate_per_s: half });
  const steal2 = stealPercent(host1, cpuTimes());
  const halfReport = summarize(`phase 2, open loop at ${half} remittances/s`, phase2);
  // A phase the host starved is slow through no fault of the code (bench/host.ts).
  console.log(`host steal: ${steal1 ?? '-'}% of CPU time in phase 1, ${steal2 ?? '-'}% in phase 2`);
  const batches = service.server.app.remitnet.metrics.ledgerBatches.get();
  console.log(`ledger: ${batches} durable transfer batches in total (group commit)`);
  console.log(
    JSON.stringify({
      bench: 'api',
      remittances_per_s: Math.round(full.rps),
      calls_per_s: Math.round(full.cps),
      p50_ms: full.p50,
      p99_ms: full.p99,
      p99_ms_half_rate: halfReport.p99,
      host_steal_pct: steal1,
      host_steal_pct_half_rate: steal2,
    }),
  );
} finally {
  await service.server.close();
  // bench/wal-frames.ts, when preloaded, reports from the database before it goes.
  (globalThis as { walFramesReport?: () => void }).walFramesReport?.();
  rmSync(dir, { recursive: true, force: true });
}
