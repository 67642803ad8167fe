/**
 * The Node runtime: serves the Gatehouse app over HTTPS (or plain HTTP behind a
 * TLS-terminating load balancer, and for benchmarks) with @hono/node-server.
 *
 * An answer given before the request's body arrived whole closes the connection after it
 * (`Connection: close`): nothing waits for a body that may never come, and no byte of it is
 * read as a next request.
 *
 * HTTP Upgrade requests (kubectl exec/attach/port-forward, websocket or SPDY) run through
 * the SAME Hono pipeline: the client socket rides in `env.upgrade`; forward takes it over
 * when the upstream switches protocols. Whatever else comes back — a refusal from any stage,
 * or an upstream that declined to switch — is written to the socket as an HTTP response,
 * its body streamed (never read whole first), and the socket is closed.
 *
 * Two methods never reach the app, because Node's HTTP parser stops them first: CONNECT (a
 * proxy tunnel, which Node hands to a 'connect' listener or drops) and a method token it does
 * not know (`get`, `FOO`: Node would answer a bare 400). Both are answered here, on the socket,
 * with the 405 Status the pipeline gives any other method it does not forward, naming the
 * method; then the connection closes. Nothing was authenticated or forwarded, and no session
 * record is written (the request never became one).
 *
 * close() stops listening and ends every connection, keep-alive and tunnels included.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createAdaptorServer } from '@hono/node-server';
import type { Hono } from 'hono';
import { asGatehouseError, GatehouseError, statusResponse } from '../errors.ts';
import type { UpgradeBinding } from '../context.ts';
import { unknownMethodError } from '../pipeline/classify.ts';
import { drainedOrClosed } from './drained.ts';

/** OIDC tokens with many groups are large; Node's default (16 KiB) would refuse some. */
const MAX_HEADER_BYTES = 64 * 1024;

export interface NodeServerOptions {
  app: Hono;
  host: string;
  /** 0 picks an ephemeral port; the real one is reported. */
  port: number;
  /** PEM certificate chain and key; without them the server speaks plain HTTP. */
  tls?: { cert: string; key: string };
}

export interface NodeServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function startNodeServer(options: NodeServerOptions): Promise<NodeServer> {
  const { app, host, tls } = options;
  const fetch = async (request: Request, env: { incoming: { complete: boolean } }): Promise<Response> => closeIfBodyUnread(await app.fetch(request, env), env.incoming);
  const server = (
    tls === undefined
      ? createAdaptorServer({ fetch, hostname: host, serverOptions: { maxHeaderSize: MAX_HEADER_BYTES } })
      : createAdaptorServer({
          fetch,
          hostname: host,
          createServer: https.createServer,
          serverOptions: { cert: tls.cert, key: tls.key, maxHeaderSize: MAX_HEADER_BYTES },
        })
  ) as http.Server;
  // Idle keep-alive connections outlive a load balancer's idle timeout (60 s on AWS), so the
  // balancer, not Gatehouse, closes them and never sends a request into a closing socket.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;

  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('upgrade', (incoming: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    void serveUpgrade(app, incoming, socket, head, tls === undefined ? 'http' : 'https');
  });
  server.on('connect', (_incoming: http.IncomingMessage, socket: Duplex) => refuseMethodAtSocket(socket, 'CONNECT'));
  server.on('clientError', (error: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Duplex) => answerClientError(error, socket));

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const hostInUrl = host.includes(':') ? `[${host}]` : host;
  const url = `${tls === undefined ? 'http' : 'https'}://${hostInUrl}:${port}`;

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
      return closing;
    },
  };
}

/**
 * An answer given before the request's body arrived whole (a refusal from the headers alone —
 * 401, 405, 413 by Content-Length, a GET announcing a body — or a 413 part-way through a
 * stream) closes the connection after it: the client is told (`Connection: close`), and no
 * byte of that body can be read as a next request on the connection.
 */
function closeIfBodyUnread(response: Response, incoming: { complete: boolean }): Response {
  if (incoming.complete) return response;
  try {
    response.headers.set('connection', 'close');
    return response;
  } catch {
    // Immutable headers (a fetched Response): copy them.
    const headers = new Headers(response.headers);
    headers.set('connection', 'close');
    return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
  }
}

/** The 405 Status for a method that never became a request, written to its socket, which then closes. */
function refuseMethodAtSocket(socket: Duplex, method: string): void {
  socket.on('error', () => socket.destroy());
  void writeResponse(socket, statusResponse(unknownMethodError(method)));
}

/** The method token at the start of what the parser refused (at most 32 characters, printable ASCII), or undefined. */
function methodToken(packet: Buffer | undefined): string | undefined {
  if (packet === undefined) return undefined;
  const token = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,32}(?= )/.exec(packet.subarray(0, 40).toString('latin1'));
  return token?.[0];
}

/**
 * What Node's HTTP parser could not read. A method it does not know gets the Status naming it;
 * everything else is answered as Node answers it without a listener (431 for headers too
 * large, 408 for a request that took too long, else 400) and the socket is destroyed.
 */
function answerClientError(error: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Duplex): void {
  const method = error.code === 'HPE_INVALID_METHOD' ? methodToken(error.rawPacket) : undefined;
  if (method !== undefined && socket.writable) {
    refuseMethodAtSocket(socket, method);
    return;
  }
  if (socket.writable && error.code !== 'ECONNRESET') {
    const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    socket.write(`HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\nConnection: close\r\n\r\n`);
  }
  socket.destroy(error);
}

/** Runs an Upgrade request through the app; writes the answer unless forward took the socket. */
async function serveUpgrade(
  app: Hono,
  incoming: http.IncomingMessage,
  socket: Duplex,
  head: Buffer,
  scheme: 'http' | 'https',
): Promise<void> {
  socket.on('error', () => socket.destroy());
  const binding: UpgradeBinding = { socket, head, taken: false };
  let response: Response;
  try {
    response = await app.fetch(upgradeRequest(incoming, scheme), { incoming, upgrade: binding });
  } catch (error) {
    response = statusResponse(asGatehouseError(error));
  }
  if (binding.taken || socket.destroyed) return;
  await writeResponse(socket, response);
}

/** A fetch Request for the upgrade; the raw target stays on `incoming.url` for classify. */
function upgradeRequest(incoming: http.IncomingMessage, scheme: string): Request {
  const headers = new Headers();
  const raw = incoming.rawHeaders;
  try {
    for (let i = 0; i + 1 < raw.length; i += 2) headers.append(raw[i] as string, raw[i + 1] as string);
  } catch (error) {
    throw new GatehouseError('ERR_REQUEST_INVALID', 'upgrade request carries a header that is not valid HTTP', { cause: error });
  }
  const target = incoming.url ?? '/';
  let url: URL;
  try {
    url = new URL(`${scheme}://gatehouse.invalid${target.startsWith('/') ? target : `/${target}`}`);
  } catch (error) {
    throw new GatehouseError('ERR_REQUEST_PATH', `upgrade request target ${JSON.stringify(target)} is not a path`, { cause: error });
  }
  return new Request(url, { method: incoming.method ?? 'GET', headers });
}

/**
 * Writes a fetch Response to a raw socket as HTTP/1.1 and closes the socket. The body streams
 * (an upstream that declined to upgrade may answer with anything, of any size): no length,
 * `Connection: close`, so the end of the connection ends the body.
 */
async function writeResponse(socket: Duplex, response: Response): Promise<void> {
  const lines = [`HTTP/1.1 ${response.status} ${http.STATUS_CODES[response.status] ?? ''}`];
  for (const [name, value] of response.headers) {
    if (name === 'connection' || name === 'content-length' || name === 'transfer-encoding' || name === 'keep-alive') continue;
    if (/[\r\n]/.test(value)) continue;
    lines.push(`${name}: ${value}`);
  }
  const body = response.body;
  lines.push(...(body === null ? ['content-length: 0'] : []), 'connection: close');
  socket.write(Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'));
  if (body === null) {
    socket.end();
    return;
  }
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (socket.destroyed) throw new Error('client went away');
      if (!socket.write(value)) await drainedOrClosed(socket);
    }
    socket.end();
  } catch {
    await reader.cancel().catch(() => undefined);
    socket.destroy();
  }
}
