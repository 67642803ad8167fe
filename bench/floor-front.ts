/**
 * The floor under any Node front: a forwarder with none of Gatehouse's work, for
 * `npm run bench:stages` to price what the pipeline adds over the runtime itself. Each
 * request goes to the bench upstream with the caller's headers, minus Authorization, plus
 * `Impersonate-User`; the answer is read whole and sent back with its status, type and length.
 *
 * - `node`: node:http in, node:http out (a keep-alive agent) — what any Node proxy pays;
 * - `hono`: the same inside a Hono app served by @hono/node-server, the request and the
 *   answer as web Request/Response objects — what the framework adds.
 *
 * Usage: tsx bench/floor-front.ts node|hono <upstream URL>
 * Announces `{ url, pids }` when serving; exits on SIGTERM.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdaptorServer, type HttpBindings } from '@hono/node-server';
import { Hono } from 'hono';
import { announce } from './children.ts';
import { BENCH_USER } from './policy-rules.ts';

const [kind, upstreamUrl] = process.argv.slice(2);
if ((kind !== 'node' && kind !== 'hono') || upstreamUrl === undefined) {
  process.stderr.write('usage: tsx bench/floor-front.ts node|hono <upstream URL>\n');
  process.exit(2);
}
const upstream = new URL(upstreamUrl);
const agent = new http.Agent({ keepAlive: true, scheduling: 'lifo' });

interface Answer {
  status: number;
  contentType: string | undefined;
  body: Buffer;
}

/** Forwards one request and reads the answer whole. */
function forward(incoming: http.IncomingMessage): Promise<Answer> {
  const headers: http.OutgoingHttpHeaders = { ...incoming.headers, 'impersonate-user': BENCH_USER };
  delete headers.authorization;
  return new Promise((resolve, reject) => {
    const request = http.request({ agent, host: upstream.hostname, port: upstream.port, path: incoming.url, method: incoming.method, headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 502, contentType: response.headers['content-type'], body: Buffer.concat(chunks) }));
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end();
  });
}

function answerHeaders(answer: Answer): Record<string, string> {
  return { 'content-type': answer.contentType ?? 'application/octet-stream', 'content-length': String(answer.body.byteLength) };
}

let server: http.Server;
if (kind === 'node') {
  server = http.createServer((incoming, outgoing) => {
    forward(incoming).then(
      (answer) => outgoing.writeHead(answer.status, answerHeaders(answer)).end(answer.body),
      () => outgoing.writeHead(502).end(),
    );
  });
} else {
  const app = new Hono<{ Bindings: HttpBindings }>();
  app.all('*', async (c) => {
    const answer = await forward(c.env.incoming);
    return new Response(answer.body as Uint8Array<ArrayBuffer>, { status: answer.status, headers: answerHeaders(answer) });
  });
  server = createAdaptorServer({ fetch: app.fetch }) as http.Server;
}
server.listen(0, '127.0.0.1', () => announce({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, pids: [process.pid] }));
process.once('SIGTERM', () => server.close(() => process.exit(0)));
