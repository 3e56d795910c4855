/**
 * The load benchmark's client process: virtual clients that each drive complete two-hop
 * remittances through HTTP (quote -> create -> fund -> accept -> accept -> pay out), each
 * call with the key of the agent who makes it. Started by runClient (below; bench/api.ts and
 * bench/api-floor.ts) with a job on its IPC channel; reports latencies and its CPU time
 * back and exits. Bounded by time and by count.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { LeanConnection } from './api-http.ts';

export interface ClientJob {
  readonly url: string;
  readonly keys: { origin: string; intermediary: string; payout: string };
  readonly sender: string;
  readonly recipient: string;
  readonly quoteBody: unknown;
  /** Closed loop: this many virtual clients, each starting its next remittance at once. */
  readonly concurrency: number;
  /** Open loop: start remittances at this rate (per second) instead; 0 = closed loop. */
  readonly rate_per_s: number;
  readonly warmup_s: number;
  readonly measure_s: number;
  /** Hard cap on remittances started, whatever the time. */
  readonly maxRemittances: number;
}

export const KINDS = ['quote', 'create', 'fund', 'accept_1', 'accept_2', 'payout'] as const;
export type Kind = (typeof KINDS)[number];

export interface ClientReport {
  readonly remittances: number;
  readonly calls: number;
  readonly elapsed_s: number;
  readonly errors: number;
  readonly firstError: string | null;
  /** Latencies in microseconds, per kind, of calls finished inside the measured window. */
  readonly latencies_us: Record<Kind, number[]>;
  /** This process's CPU time (user + system) over the whole run, warm-up included. */
  readonly cpu_ms: number;
}

async function run(job: ClientJob): Promise<ClientReport> {
  const cpu0 = process.cpuUsage();
  const u = new URL(job.url);
  const pool: LeanConnection[] = [];
  const take = async () => pool.pop() ?? LeanConnection.connect(u.hostname, Number(u.port));
  const latencies_us = Object.fromEntries(KINDS.map((k) => [k, [] as number[]])) as Record<
    Kind,
    number[]
  >;
  let measuring = false;
  let stopped = false;
  let remittances = 0;
  let calls = 0;
  let errors = 0;
  let firstError: string | null = null;
  let started = 0;
  let seq = 0;
  const tag = `${process.pid}-${Date.now().toString(36)}`;

  const call = async (
    conn: LeanConnection,
    kind: Kind,
    key: string,
    path: string,
    body: unknown,
  ): Promise<Record<string, unknown>> => {
    const t0 = process.hrtime.bigint();
    const r = await conn.request(
      'POST',
      path,
      { authorization: `Bearer ${key}`, 'idempotency-key': `${tag}-${++seq}` },
      body === undefined ? '{}' : JSON.stringify(body),
    );
    const us = Number(process.hrtime.bigint() - t0) / 1000;
    if (r.status >= 300) throw new Error(`${kind} ${r.status} ${r.body.slice(0, 300)}`);
    if (measuring) {
      latencies_us[kind].push(us);
      calls++;
    }
    return JSON.parse(r.body) as Record<string, unknown>;
  };

  const one = async (): Promise<void> => {
    const conn = await take();
    try {
      const q = await call(conn, 'quote', job.keys.origin, '/v1/quotes', job.quoteBody);
      const quote = (q.quotes as Array<{ id: string }>)[0]!;
      const c = await call(conn, 'create', job.keys.origin, '/v1/remittances', {
        quote_id: quote.id,
        sender_id: job.sender,
        recipient_id: job.recipient,
      });
      const id = (c.remittance as { id: string }).id;
      const code = c.payout_code as string;
      await call(conn, 'fund', job.keys.origin, `/v1/remittances/${id}/fund`, undefined);
      await call(
        conn,
        'accept_1',
        job.keys.intermediary,
        `/v1/remittances/${id}/accept`,
        undefined,
      );
      await call(conn, 'accept_2', job.keys.payout, `/v1/remittances/${id}/accept`, undefined);
      const paid = await call(conn, 'payout', job.keys.payout, `/v1/remittances/${id}/payout`, {
        code,
      });
      if (paid.state !== 'paid' && paid.state !== 'completed') {
        throw new Error(`payout left the remittance ${String(paid.state)}`);
      }
      if (measuring) remittances++;
      pool.push(conn);
    } catch (error) {
      errors++;
      firstError ??= error instanceof Error ? error.message : String(error);
      conn.close();
    }
  };

  const t_start = Date.now();
  const warmEnd = t_start + job.warmup_s * 1000;
  const end = warmEnd + job.measure_s * 1000;
  const clock = setInterval(() => {
    const now = Date.now();
    if (!measuring && now >= warmEnd && now < end) measuring = true;
    if (now >= end) {
      measuring = false;
      stopped = true;
    }
  }, 5);

  if (job.rate_per_s <= 0) {
    await Promise.all(
      Array.from({ length: job.concurrency }, async () => {
        while (!stopped && started < job.maxRemittances && errors < 100) {
          started++;
          await one();
        }
      }),
    );
  } else {
    const inFlight = new Set<Promise<void>>();
    const interval_ms = 1000 / job.rate_per_s;
    const t0 = Date.now();
    while (!stopped && started < job.maxRemittances && errors < 100) {
      const due = t0 + started * interval_ms;
      const wait = due - Date.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      started++;
      const p = one().finally(() => inFlight.delete(p));
      inFlight.add(p);
      if (inFlight.size > 4 * job.rate_per_s) await Promise.race(inFlight); // bounded queue
    }
    await Promise.all(inFlight);
  }
  clearInterval(clock);
  for (const c of pool) c.close();
  const cpu = process.cpuUsage(cpu0);
  return {
    remittances,
    calls,
    elapsed_s: job.measure_s,
    errors,
    firstError,
    latencies_us,
    cpu_ms: (cpu.user + cpu.system) / 1000,
  };
}

/**
 * In the parent: starts this file as the client process, hands it `job`, and answers its
 * report. Killed, and an error, if it has not answered a minute after the job's time.
 */
export async function runClient(job: ClientJob): Promise<ClientReport> {
  const child = fork(fileURLToPath(import.meta.url), [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const limit_ms = (job.warmup_s + job.measure_s + 60) * 1000;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('the client did not finish in time'));
    }, limit_ms);
    child.once('message', (m) => {
      clearTimeout(timer);
      resolve(m as ClientReport);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`the client exited with ${code}`));
    });
    child.send(job);
  });
}

// In the client process (forked with an IPC channel by runClient): wait for the job.
process.once('message', (job: ClientJob) => {
  run(job).then(
    (report) => process.send!(report, () => process.exit(0)),
    (error: unknown) => {
      process.stderr.write(`client failed: ${String(error)}\n`);
      process.exit(1);
    },
  );
});
