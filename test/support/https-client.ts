/**
 * A minimal HTTPS client for tests that talk to a test server with its own CA: whole
 * answers (`request`) and line streams (`openLineStream`, for watch and `logs -f`).
 */
import { request as httpsRequest } from 'node:https';
import type { IncomingMessage } from 'node:http';

export interface RequestOptions {
  ca: string;
  method?: string;
  headers?: Record<string, string | string[]>;
  body?: string;
  /** TLS server name to verify, when a test sends a Host header other than the URL's. */
  servername?: string;
}

export interface Answer {
  status: number;
  headers: IncomingMessage['headers'];
  text: string;
  /** The body parsed as JSON (throws when it is not). */
  json<T = Record<string, unknown>>(): T;
}

function send(url: string, options: RequestOptions): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url,
      // A Content-Length always: Node sends a DELETE's body with neither length nor chunking.
      { method: options.method ?? 'GET', headers: { ...options.headers, ...(options.body === undefined ? {} : { 'content-length': String(Buffer.byteLength(options.body)) }) }, ca: options.ca, ...(options.servername === undefined ? {} : { servername: options.servername }) },
      resolve,
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

export async function request(url: string, options: RequestOptions): Promise<Answer> {
  const res = await send(url, options);
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return { status: res.statusCode ?? 0, headers: res.headers, text, json: <T>() => JSON.parse(text) as T };
}

export interface LineStream {
  status: number;
  headers: IncomingMessage['headers'];
  /** The next line (without "\n"); rejects when the stream ends first or time runs out. */
  next(timeoutMs?: number): Promise<string>;
  /** Resolves when the server ends the response. */
  ended: Promise<void>;
  close(): void;
}

export async function openLineStream(url: string, options: RequestOptions): Promise<LineStream> {
  const res = await send(url, options);
  res.setEncoding('utf8');
  const lines: string[] = [];
  let partial = '';
  let done = false;
  let wake: (() => void) | undefined;
  res.on('data', (chunk: string) => {
    partial += chunk;
    const parts = partial.split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts);
    wake?.();
  });
  const ended = new Promise<void>((resolve) => {
    res.on('close', () => {
      done = true;
      wake?.();
      resolve();
    });
  });
  return {
    status: res.statusCode ?? 0,
    headers: res.headers,
    ended,
    async next(timeoutMs = 5000) {
      let timedOut = false;
      const deadline = setTimeout(() => {
        timedOut = true;
        wake?.();
      }, timeoutMs);
      try {
        while (lines.length === 0) {
          if (done) throw new Error('the stream ended');
          if (timedOut) throw new Error(`no line within ${timeoutMs} ms`);
          await new Promise<void>((resolve) => (wake = resolve));
        }
        return lines.shift() as string;
      } finally {
        clearTimeout(deadline);
        wake = undefined;
      }
    },
    close: () => res.destroy(),
  };
}
