/**
 * The CLI's client for a running remitnet server: base URL and API key from --url/--key or
 * REMITNET_URL/REMITNET_KEY, a fresh Idempotency-Key for every POST (or the one given with
 * --idempotency-key, to retry safely), and problem+json answers turned into one clear line.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Command } from 'commander';

export interface ClientOptions {
  readonly url?: string;
  readonly key?: string;
  readonly idempotencyKey?: string;
}

export class ApiClient {
  readonly baseUrl: string;
  readonly #key: string;
  readonly #idempotencyKey: string | undefined;

  constructor(options: ClientOptions, env: NodeJS.ProcessEnv = process.env) {
    this.baseUrl = (options.url ?? env.REMITNET_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
    const key = options.key ?? env.REMITNET_KEY;
    if (key === undefined || key === '') {
      throw new Error(
        'no API key: pass --key or set REMITNET_KEY (create one with `remitnet keys create`)',
      );
    }
    this.#key = key;
    this.#idempotencyKey = options.idempotencyKey;
  }

  async get<T = unknown>(path: string): Promise<T> {
    return this.#request<T>('GET', path);
  }

  async post<T = unknown>(path: string, body: unknown): Promise<T> {
    return this.#request<T>('POST', path, body);
  }

  async #request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = {
      authorization: `Bearer ${this.#key}`,
      accept: 'application/json',
    };
    if (method === 'POST') {
      headers['content-type'] = 'application/json';
      headers['idempotency-key'] =
        this.#idempotencyKey === undefined
          ? randomUUID()
          : requestKey(this.#idempotencyKey, method, path);
    }
    let response: Response;
    try {
      response = await fetch(this.baseUrl + path, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (error) {
      // fetch says only "fetch failed": the reason is in its cause (an AggregateError when
      // a name resolves to several addresses, each refused).
      const c = (
        error as { cause?: { code?: string; message?: string; errors?: { code?: string }[] } }
      ).cause;
      const cause =
        c?.code ??
        c?.errors?.find((e) => e.code !== undefined)?.code ??
        c?.message ??
        String(error);
      throw new Error(
        `cannot reach remitnet at ${this.baseUrl} (${cause}); start it with \`remitnet serve\` or set --url/REMITNET_URL`,
      );
    }
    const text = await response.text();
    const parsed: unknown = text === '' ? null : safeJson(text);
    if (!response.ok) {
      const p = (parsed ?? {}) as { code?: string; detail?: string };
      throw new Error(`${response.status} ${p.code ?? 'error'}: ${p.detail ?? text.slice(0, 200)}`);
    }
    return parsed as T;
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Adds --url, --key and --idempotency-key to a client-side command. */
export function clientOptions(command: Command): Command {
  return command
    .option('--url <url>', 'the server (env REMITNET_URL, default http://127.0.0.1:8080)')
    .option('--key <key>', 'an API key (env REMITNET_KEY)')
    .option(
      '--idempotency-key <key>',
      'reuse to retry a POST safely: the server answers the original result',
    );
}

export function clientFor(command: Command): ApiClient {
  const o = command.optsWithGlobals<ClientOptions>();
  return new ApiClient(o);
}

/**
 * The Idempotency-Key one request of a command sends when the user gave one (`K`): a
 * command may make several POSTs (send --fund: create, then fund), and one key on two
 * different requests is refused as a misuse. Each request gets K plus a short digest of
 * its method and path, the same on every retry of the command, so retrying the whole
 * command with K replays each step instead of repeating it.
 */
export function requestKey(k: string, method: string, path: string): string {
  const digest = createHash('sha256').update(`${method} ${path}`).digest('hex').slice(0, 16);
  // Keys are at most 255 characters: a long K is folded into the digest instead.
  if (k.length <= 255 - 17) return `${k}:${digest}`;
  return `k:${createHash('sha256').update(`${k}\n${method} ${path}`).digest('hex')}`;
}
