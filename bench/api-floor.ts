/**
 * `npm run bench:api:floor`: what HTTP alone costs the machine for bench:api's workload.
 *
 * The same client process (bench/api-client.ts) drives the same six calls per remittance
 * (quote, create, fund, accept, accept, pay out), with the same headers and bodies, over
 * the same keep-alive connections; but the server is a bare Fastify 5 that answers each
 * route at once with a canned body of the real answer's size: no authentication, no
 * validation, no database, no ledger. So its CPU per remittance is a floor under any
 * server on this stack, and the client's is what bench:api's client costs the machine.
 *
 * What it is for: bench:api's target is a rate R on a machine with C cores, a budget of
 * C / R of CPU per remittance for server and client together. Take the floor off that
 * budget and what is left is all remitnet's own work may cost (authentication,
 * idempotency records, validation, the remittance's durable steps, the ledger).
 *
 * Environment: BENCH_CONCURRENCY (default 64), BENCH_SECONDS (default 15),
 * BENCH_WARMUP_SECONDS (default 3); BENCH_FLOOR_SERVER=node puts node:http alone in
 * Fastify's place (the floor of Node itself). Last line: one JSON object.
 */
import Fastify from 'fastify';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus } from 'node:os';
import { runClient, type ClientJob } from './api-client.ts';
import { QUOTE_BODY } from './api-network.ts';
import { mainThreadShare, processTicks } from './host.ts';

const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 64);
const measure_s = Number(process.env.BENCH_SECONDS ?? 15);
const warmup_s = Number(process.env.BENCH_WARMUP_SECONDS ?? 3);

const ID = '01a223ebc11e125e04fbec1d104f94b0';
const money = (minor: string, currency: string) => ({ amount: minor, currency });
/** One hop of a route as the API shows it (about the size of a real one). */
const leg = (index: number) => ({
  index,
  agent_id: ID,
  agent_name: 'Yanji broker',
  city: 'Yanji',
  link_id: ID,
  amount_in: money('4900.00', 'KRW'),
  commission: money('98.00', 'KRW'),
  amount_out: money('2401.00', 'CNY'),
  rate: { from: 'KRW', to: 'CNY', reference_rate: '0.0053', agent_rate: '0.0050' },
  accepted_at: '2026-11-28T20:48:00.058Z',
});
/** A remittance as the API shows it: about 2 KB of JSON, as bench:api's answers are. */
const remittance = (state: string) => ({
  id: ID,
  state,
  version: 5,
  corridor: 'KR-KP',
  quote_id: ID,
  sender_id: ID,
  recipient_id: ID,
  origin_agent_id: ID,
  payout_agent_id: ID,
  send: money('500000', 'KRW'),
  deliver: money('2352.98', 'CNY'),
  legs: [leg(0), leg(1), leg(2)],
  attempt: 0,
  accepted_hops: 2,
  excluded_agent_ids: [],
  payout_code_locked: false,
  payout_code_attempts: 0,
  quote_expires_at: '2026-11-28T21:03:00.058Z',
  payout_deadline: '2026-12-05T20:48:00.058Z',
  created_at: '2026-11-28T20:48:00.058Z',
  updated_at: '2026-11-28T20:48:00.058Z',
  timeline: [
    { at: '2026-11-28T20:48:00.058Z', event: 'created', state: 'created' },
    { at: '2026-11-28T20:48:00.058Z', event: 'funded', state: 'funded' },
  ],
});

const quoteAnswer = () => ({
  quotes: [
    {
      id: ID,
      send: money('500000', 'KRW'),
      deliver: money('2352.98', 'CNY'),
      legs: [leg(0), leg(1), leg(2)],
      expires_at: '2026-11-28T21:03:00.058Z',
    },
  ],
});
const createAnswer = () => ({ remittance: remittance('created'), payout_code: '123456789012' });
const stepAnswer = (step: string) => remittance(step === 'payout' ? 'completed' : 'funded');

interface FloorServer {
  readonly port: number;
  close(): Promise<void>;
}

/** Fastify 5, as the real server: its router, body parser and reply path, nothing else. */
async function fastifyServer(): Promise<FloorServer> {
  const app = Fastify({ logger: false });
  app.post('/v1/quotes', async () => quoteAnswer());
  app.post('/v1/remittances', async () => createAnswer());
  app.post('/v1/remittances/:id/:step', async (req) =>
    stepAnswer((req.params as { step: string }).step),
  );
  await app.listen({ host: '127.0.0.1', port: 0 });
  return { port: (app.server.address() as AddressInfo).port, close: () => app.close() };
}

/** node:http alone (BENCH_FLOOR_SERVER=node): read the body, parse it, route, answer. */
async function nodeServer(): Promise<FloorServer> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      JSON.parse(Buffer.concat(chunks).toString('utf8'));
      const url = req.url ?? '';
      const answer =
        url === '/v1/quotes'
          ? quoteAnswer()
          : url === '/v1/remittances'
            ? createAnswer()
            : stepAnswer(url.slice(url.lastIndexOf('/') + 1));
      const body = JSON.stringify(answer);
      res.writeHead(200, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': Buffer.byteLength(body),
      });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const stack = process.env.BENCH_FLOOR_SERVER === 'node' ? 'node:http' : 'Fastify';
const server = stack === 'node:http' ? await nodeServer() : await fastifyServer();
const port = server.port;

const job: ClientJob = {
  url: `http://127.0.0.1:${port}`,
  keys: { origin: 'k'.repeat(48), intermediary: 'k'.repeat(48), payout: 'k'.repeat(48) },
  sender: ID,
  recipient: ID,
  quoteBody: QUOTE_BODY,
  concurrency,
  rate_per_s: 0,
  warmup_s,
  measure_s,
  maxRemittances: 10_000_000,
};

try {
  const cpu0 = process.cpuUsage();
  const ticks0 = processTicks();
  const report = await runClient(job);
  const cpu = process.cpuUsage(cpu0);
  const ticks1 = processTicks();
  if (report.errors > 0) throw new Error(`the client saw errors: ${report.firstError}`);
  // CPU is counted over warm-up and measurement alike; so are the remittances started.
  const started = report.remittances * ((warmup_s + measure_s) / measure_s);
  const server_ms = (cpu.user + cpu.system) / 1000 / started;
  const main_ms = mainThreadShare(server_ms, ticks0, ticks1);
  const client_ms = report.cpu_ms / started;
  const round = (x: number) => Math.round(x * 1000) / 1000;
  console.log(
    `bench:api:floor  bare ${stack}, canned answers, ${concurrency} keep-alive connections: ${Math.round(report.remittances / report.elapsed_s)} remittances/s (${Math.round(report.calls / report.elapsed_s)} calls/s)`,
  );
  console.log(
    `  CPU per remittance (6 calls): server ${server_ms.toFixed(3)} ms (main thread ${main_ms === null ? '-' : main_ms.toFixed(3)} ms), client ${client_ms.toFixed(3)} ms; this machine has ${cpus().length} cores`,
  );
  console.log(
    JSON.stringify({
      bench: 'api_floor',
      server: stack,
      remittances_per_s: Math.round(report.remittances / report.elapsed_s),
      server_cpu_ms_per_remittance: round(server_ms),
      server_main_thread_ms_per_remittance: main_ms === null ? null : round(main_ms),
      client_cpu_ms_per_remittance: round(client_ms),
      cores: cpus().length,
    }),
  );
} finally {
  await server.close();
}
