/**
 * A small Prometheus registry: counters, gauges and histograms with labels, rendered in the
 * text exposition format (version 0.0.4). Written here rather than adding prom-client: the
 * API needs four metric types' worth of code, and no dependency to audit.
 *
 * Owns: metric values and their rendering. Never: label values from user input other than
 * bounded ones (route patterns, methods, status codes), so cardinality stays bounded.
 */

type Labels = Readonly<Record<string, string>>;

const keyCache = new WeakMap<Labels, string>();

function labelKey(labels: Labels): string {
  const cached = keyCache.get(labels);
  if (cached !== undefined) return cached;
  const key = computeLabelKey(labels);
  if (Object.isFrozen(labels)) keyCache.set(labels, key);
  return key;
}

function computeLabelKey(labels: Labels): string {
  const keys = Object.keys(labels).sort();
  return keys.map((k) => `${k}="${escapeLabel(labels[k]!)}"`).join(',');
}

function escapeLabel(v: string): string {
  return v.replaceAll('\\', '\\\\').replaceAll('\n', '\\n').replaceAll('"', '\\"');
}

interface Metric {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  render(): string[];
}

/** Most distinct label sets per metric; past it, new sets fold into one "overflow" series. */
const SERIES_MAX = 2000;

export class Counter implements Metric {
  readonly type = 'counter';
  readonly #values = new Map<string, number>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  inc(labels: Labels = {}, by = 1): void {
    let key = labelKey(labels);
    if (!this.#values.has(key) && this.#values.size >= SERIES_MAX) key = 'overflow="true"';
    this.#values.set(key, (this.#values.get(key) ?? 0) + by);
  }

  get(labels: Labels = {}): number {
    return this.#values.get(labelKey(labels)) ?? 0;
  }

  render(): string[] {
    return [...this.#values].map(([k, v]) => `${this.name}${k === '' ? '' : `{${k}}`} ${v}`);
  }
}

export class Gauge implements Metric {
  readonly type = 'gauge';
  readonly #values = new Map<string, number | (() => number)>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  set(value: number | (() => number), labels: Labels = {}): void {
    this.#values.set(labelKey(labels), value);
  }

  render(): string[] {
    return [...this.#values].map(([k, v]) => {
      const value = typeof v === 'function' ? v() : v;
      return `${this.name}${k === '' ? '' : `{${k}}`} ${value}`;
    });
  }
}

export class Histogram implements Metric {
  readonly type = 'histogram';
  readonly #series = new Map<string, { counts: number[]; sum: number; count: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: readonly number[],
  ) {
    for (let i = 1; i < buckets.length; i++) {
      if (!(buckets[i]! > buckets[i - 1]!)) throw new Error('histogram buckets must increase');
    }
  }

  observe(value: number, labels: Labels = {}): void {
    let key = labelKey(labels);
    if (!this.#series.has(key) && this.#series.size >= SERIES_MAX) key = 'overflow="true"';
    let s = this.#series.get(key);
    if (s === undefined) {
      s = { counts: new Array<number>(this.buckets.length).fill(0), sum: 0, count: 0 };
      this.#series.set(key, s);
    }
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]!) s.counts[i]!++;
    s.sum += value;
    s.count++;
  }

  render(): string[] {
    const out: string[] = [];
    for (const [k, s] of this.#series) {
      const sep = k === '' ? '' : ',';
      this.buckets.forEach((b, i) =>
        out.push(`${this.name}_bucket{${k}${sep}le="${b}"} ${s.counts[i]}`),
      );
      out.push(`${this.name}_bucket{${k}${sep}le="+Inf"} ${s.count}`);
      out.push(`${this.name}_sum${k === '' ? '' : `{${k}}`} ${s.sum}`);
      out.push(`${this.name}_count${k === '' ? '' : `{${k}}`} ${s.count}`);
    }
    return out;
  }
}

export class Registry {
  readonly #metrics: Metric[] = [];

  counter(name: string, help: string): Counter {
    return this.#add(new Counter(name, help));
  }

  gauge(name: string, help: string): Gauge {
    return this.#add(new Gauge(name, help));
  }

  histogram(name: string, help: string, buckets: readonly number[]): Histogram {
    return this.#add(new Histogram(name, help, buckets));
  }

  #add<M extends Metric>(m: M): M {
    if (this.#metrics.some((x) => x.name === m.name)) throw new Error(`metric ${m.name} exists`);
    this.#metrics.push(m);
    return m;
  }

  render(): string {
    const lines: string[] = [];
    for (const m of this.#metrics) {
      lines.push(`# HELP ${m.name} ${m.help}`, `# TYPE ${m.name} ${m.type}`, ...m.render());
    }
    return lines.join('\n') + '\n';
  }
}

/** The metrics the API keeps. */
export interface ApiMetrics {
  readonly registry: Registry;
  readonly requests: Counter;
  readonly duration: Histogram;
  readonly ledgerBatches: Counter;
  readonly ledgerBatchEvents: Histogram;
  readonly idempotentReplays: Counter;
  /** Counts a request and its duration (label sets memoised: this runs on every request). */
  observeRequest(method: string, route: string, status: number, seconds: number): void;
}

export function createApiMetrics(): ApiMetrics {
  const registry = new Registry();
  const started_s = Date.now() / 1000;
  registry.gauge('process_start_time_seconds', 'Start time of the process').set(started_s);
  registry
    .gauge('process_resident_memory_bytes', 'Resident memory size in bytes')
    .set(() => process.memoryUsage().rss);
  registry
    .gauge('nodejs_heap_used_bytes', 'V8 heap in use, in bytes')
    .set(() => process.memoryUsage().heapUsed);
  const requests = registry.counter(
    'remitnet_http_requests_total',
    'HTTP requests answered, by method, route pattern and status',
  );
  const duration = registry.histogram(
    'remitnet_http_request_duration_seconds',
    'Time from request to response, by method and route pattern',
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  );
  const memo = new Map<string, { withStatus: Labels; route: Labels }>();
  return {
    registry,
    requests,
    duration,
    observeRequest(method, route, status, seconds) {
      const k = `${method} ${route} ${status}`;
      let labels = memo.get(k);
      if (labels === undefined) {
        labels = {
          withStatus: Object.freeze({ method, route, status: String(status) }),
          route: Object.freeze({ method, route }),
        };
        if (memo.size < SERIES_MAX) memo.set(k, labels);
      }
      requests.inc(labels.withStatus);
      duration.observe(seconds, labels.route);
    },
    ledgerBatches: registry.counter(
      'remitnet_ledger_transfer_batches_total',
      'Durable createTransfers batches the ledger store committed (group commit merges requests)',
    ),
    ledgerBatchEvents: registry.histogram(
      'remitnet_ledger_transfer_batch_events',
      'Transfers per durable ledger batch',
      [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, 8189],
    ),
    idempotentReplays: registry.counter(
      'remitnet_idempotent_replays_total',
      'POSTs answered from a stored response because their Idempotency-Key was seen before',
    ),
  };
}
