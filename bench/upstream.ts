/**
 * The bench upstream: a lean kube-apiserver stand-in over plain HTTP on loopback, run as its
 * own process so its CPU is not any front's. Every front (direct, kubectl proxy, Gatehouse)
 * talks to this same process. It answers from pre-serialised bytes, so what is measured is
 * the fronts, not the upstream:
 *
 * - GET  POD_PATH                 → one ~2 KB Pod (Content-Length, like the API server for small objects)
 * - GET  listPath(n)              → a SecretList of n Secrets, chunked in 64 KB writes (like a big list)
 * - GET  WATCH_PATH               → a watch stream; events are sent by:
 * - POST /_bench/watch?count&intervalMs → writes `count` events to every open watch, one per interval
 * - GET  /_bench/stats            → requests seen, and how many carried Impersonate-User
 *
 * Usage: tsx bench/upstream.ts   (announces `{ url }`)
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { announce } from './children.ts';
import { LIST_SIZES, POD_PATH, WATCH_PATH, listPath, pod, secretList, watchEvent } from './fixtures.ts';
import { drainedOrClosed } from '../src/runtime/drained.ts';

const POD_BYTES = Buffer.from(JSON.stringify(pod()), 'utf8');
const LIST_PATHS = new Map<string, number>(LIST_SIZES.map((size) => [listPath(size), size]));
const lists = new Map<number, Buffer>();
const watchers = new Set<http.ServerResponse>();
const WRITE_SLICE = 64 * 1024;
const stats = { requests: 0, impersonated: 0, lists: 0, watches: 0 };

/** Headers the API server sends with every answer (sizes matter for a 2 KB GET). */
function apiHeaders(extra: Record<string, string | number> = {}): Record<string, string | number> {
  return {
    'audit-id': '9b0c1d2e-3f40-4152-8364-758697a8b9ca',
    'cache-control': 'no-cache, private',
    'content-type': 'application/json',
    'x-kubernetes-pf-flowschema-uid': '1f0e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b',
    'x-kubernetes-pf-prioritylevel-uid': '5b4a3f2e-1d0c-9b8a-7968-5a4b3c2d1e0f',
    ...extra,
  };
}

function notFound(response: http.ServerResponse, path: string): void {
  const body = JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `the bench upstream serves nothing at ${path}`, reason: 'NotFound', code: 404 });
  response.writeHead(404, apiHeaders({ 'content-length': Buffer.byteLength(body) })).end(body);
}

/** Writes `bytes` in slices, waiting for the socket to drain, as a server streaming a big list does. */
async function writeSliced(response: http.ServerResponse, bytes: Buffer): Promise<void> {
  for (let offset = 0; offset < bytes.length && !response.destroyed; offset += WRITE_SLICE) {
    if (!response.write(bytes.subarray(offset, offset + WRITE_SLICE))) await drainedOrClosed(response);
  }
  response.end();
}

async function emitWatchEvents(count: number, intervalMs: number): Promise<number> {
  let sent = 0;
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    // Paced against the start, so a late timer does not stretch the whole run.
    const due = start + i * intervalMs - performance.now();
    if (due > 0) await new Promise((resolve) => setTimeout(resolve, due));
    const event = watchEvent(200000 + i);
    for (const watcher of watchers) watcher.write(event);
    sent++;
  }
  return sent;
}

const server = http.createServer({ keepAliveTimeout: 60_000 }, (request, response) => {
  const url = request.url ?? '/';
  if (url.startsWith('/_bench/')) {
    if (url === '/_bench/stats') {
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(stats));
      return;
    }
    if (url.startsWith('/_bench/watch?') && request.method === 'POST') {
      const query = new URLSearchParams(url.slice(url.indexOf('?') + 1));
      void emitWatchEvents(Number(query.get('count') ?? 100), Number(query.get('intervalMs') ?? 5)).then((sent) => {
        response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ sent, watchers: watchers.size }));
      });
      return;
    }
    notFound(response, url);
    return;
  }
  stats.requests++;
  if (request.headers['impersonate-user'] !== undefined) stats.impersonated++;
  if (request.method !== 'GET') {
    notFound(response, url);
    return;
  }
  if (url === POD_PATH) {
    response.writeHead(200, apiHeaders({ 'content-length': POD_BYTES.length })).end(POD_BYTES);
    return;
  }
  const size = LIST_PATHS.get(url);
  if (size !== undefined) {
    stats.lists++;
    let list = lists.get(size);
    if (list === undefined) {
      list = secretList(size);
      lists.set(size, list);
    }
    response.writeHead(200, apiHeaders());
    void writeSliced(response, list);
    return;
  }
  if (url === WATCH_PATH) {
    stats.watches++;
    response.writeHead(200, apiHeaders({ 'content-type': 'application/json' }));
    response.flushHeaders();
    watchers.add(response);
    response.once('close', () => watchers.delete(response));
    return;
  }
  notFound(response, url);
});

server.listen(0, '127.0.0.1', () => {
  // Lists are built before the bench starts, so no front pays for building them.
  for (const size of LIST_SIZES) lists.set(size, secretList(size));
  announce({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, podBytes: POD_BYTES.length, listBytes: Object.fromEntries([...lists].map(([size, bytes]) => [size, bytes.length])) });
});

process.on('SIGTERM', () => {
  for (const watcher of watchers) watcher.destroy();
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
