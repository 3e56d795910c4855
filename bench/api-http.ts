/**
 * A lean HTTP/1.1 keep-alive client for the load benchmark: one socket per virtual client,
 * one request in flight per socket, responses framed by Content-Length.
 *
 * Why not http.Agent or fetch: on a 2-core machine the client shares the CPU with the
 * server it measures, and node's http client spent about 130 µs of CPU per request here,
 * as much as the server. This one parses only the status line and Content-Length, so the
 * benchmark measures the server, not its client. It refuses anything it cannot frame
 * (chunked responses), so it cannot misread an answer.
 */
import net from 'node:net';

export interface HttpResponse {
  readonly status: number;
  readonly body: string;
}

interface Waiting {
  readonly resolve: (r: HttpResponse) => void;
  readonly reject: (e: Error) => void;
}

const HEADER_END = Buffer.from('\r\n\r\n');

export class LeanConnection {
  readonly #socket: net.Socket;
  readonly #host: string;
  #buffer: Buffer = Buffer.alloc(0);
  #waiting: Waiting | null = null;
  #closed = false;

  private constructor(socket: net.Socket, host: string) {
    this.#socket = socket;
    this.#host = host;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (e) => this.#fail(e));
    socket.on('close', () => this.#fail(new Error('connection closed')));
  }

  static connect(host: string, port: number): Promise<LeanConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port }, () => resolve(new LeanConnection(socket, host)));
      socket.once('error', reject);
    });
  }

  request(
    method: string,
    path: string,
    headers: Readonly<Record<string, string>>,
    body?: string,
  ): Promise<HttpResponse> {
    if (this.#waiting !== null) throw new Error('one request at a time per connection');
    if (this.#closed) return Promise.reject(new Error('connection closed'));
    let head = `${method} ${path} HTTP/1.1\r\nhost: ${this.#host}\r\n`;
    for (const k in headers) head += `${k}: ${headers[k]}\r\n`;
    if (body !== undefined) {
      head += `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n`;
    }
    head += '\r\n';
    return new Promise((resolve, reject) => {
      this.#waiting = { resolve, reject };
      this.#socket.write(body === undefined ? head : head + body);
    });
  }

  close(): void {
    this.#closed = true;
    this.#socket.destroy();
  }

  #onData(chunk: Buffer): void {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    const end = this.#buffer.indexOf(HEADER_END);
    if (end < 0) return;
    const head = this.#buffer.subarray(0, end).toString('latin1');
    const status = Number(head.slice(9, 12));
    const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    if (m === null) {
      this.#fail(new Error(`response without content-length: ${head.split('\r\n')[0]}`));
      return;
    }
    const length = Number(m[1]);
    const total = end + 4 + length;
    if (this.#buffer.length < total) return;
    const body = this.#buffer.subarray(end + 4, total).toString('utf8');
    this.#buffer = this.#buffer.subarray(total);
    const w = this.#waiting;
    this.#waiting = null;
    w?.resolve({ status, body });
  }

  #fail(e: Error): void {
    this.#closed = true;
    const w = this.#waiting;
    this.#waiting = null;
    w?.reject(e);
  }
}
