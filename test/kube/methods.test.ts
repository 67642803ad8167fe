/**
 * Unusual methods, sent as raw bytes to the REAL kube-apiserver and to the stand-in: HEAD,
 * OPTIONS, TRACE, PROPFIND, CONNECT, a lowercase `get`, and writes on the wrong path shape,
 * on collections, objects, subresources, discovery documents and health/OpenAPI handlers.
 * Both must answer alike: the same status, the same content type, the same Status body
 * (kind, status, reason, message, code, details) or 404 text, and for HEAD no body. Where the
 * stand-in, a Node server, cannot answer like Go does (Node's parser stops CONNECT and method
 * tokens it does not know before any handler sees the path), the difference is pinned below
 * with its reason: the real answer stays what the note says, or this test says so.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startFakeApiServer, type FakeApiServer } from '../stand-in/apiserver.ts';
import { rawRequest, type RawReply } from '../support/raw-https.ts';
import { realClusterSkip, startRealCluster, type RealCluster } from './cluster.ts';

const skip = realClusterSkip();
const NS = 'team-a';

const RESOURCE_PATHS = [
  `/api/v1/namespaces/${NS}/configmaps`,
  `/api/v1/namespaces/${NS}/configmaps/settings`,
  `/api/v1/namespaces/${NS}/configmaps/nope`,
  '/api/v1/configmaps',
  '/api/v1/namespaces',
  `/apis/apps/v1/namespaces/${NS}/deployments`,
  `/api/v1/namespaces/${NS}/pods/web/log`,
  `/api/v1/namespaces/${NS}/pods/web/exec`,
];
/** Served by the API server's REST routes: GET alone. */
const REST_DISCOVERY_PATHS = ['/api', '/api/v1', '/apis/apps/v1', '/version'];
/** Plain handlers that serve every method as a GET. */
const HANDLER_PATHS = ['/apis', '/apis/apps', '/healthz', '/openapi/v2'];
const UNKNOWN_PATH = '/nonsense';

/** CONNECT and `get` never reach the stand-in's routing: it answers 405 on every path. */
const PARSER_STOPPED = new Set(['CONNECT', 'get']);

interface Case {
  method: string;
  path: string;
  body?: string;
  /** The real server's answer where the stand-in cannot give it, and why. */
  realOnly?: { status: number; why: string };
}

const cases: Case[] = [
  ...['HEAD', 'OPTIONS', 'TRACE', 'PROPFIND', 'CONNECT', 'get'].flatMap((method) =>
    [...RESOURCE_PATHS, ...REST_DISCOVERY_PATHS, ...HANDLER_PATHS, UNKNOWN_PATH].map((path): Case => {
      if (PARSER_STOPPED.has(method) && (HANDLER_PATHS.includes(path) || path === UNKNOWN_PATH)) {
        return { method, path, realOnly: { status: path === UNKNOWN_PATH ? 404 : 200, why: `Node's HTTP parser stops ${method} before the stand-in sees the path` } };
      }
      return { method, path };
    }),
  ),
  { method: 'PUT', path: `/api/v1/namespaces/${NS}/configmaps`, body: '{}' },
  { method: 'PATCH', path: `/api/v1/namespaces/${NS}/configmaps`, body: '{}' },
  { method: 'POST', path: `/api/v1/namespaces/${NS}/configmaps/settings`, body: '{}' },
  { method: 'PATCH', path: '/api/v1/namespaces', body: '{}' },
  { method: 'POST', path: '/version', body: '{}' },
];

interface Answer {
  status: number;
  contentType: string;
  /** The Status object, the 404 text, or (a 200) nothing: bodies of served documents differ by design. */
  body: unknown;
  /** No body at all (what a HEAD must get). */
  empty: boolean;
}

function answerOf(reply: RawReply): Answer {
  const contentType = reply.headers['content-type'] ?? '';
  const text = reply.body.toString('utf8');
  let body: unknown;
  if (reply.status >= 400 && contentType === 'application/json' && text !== '') body = JSON.parse(text) as unknown;
  else if (reply.status >= 400) body = text;
  return { status: reply.status, contentType, body, empty: reply.body.length === 0 };
}

describe('unusual methods: the stand-in answers as the real kube-apiserver does', { skip }, () => {
  let cluster: RealCluster;
  let fake: FakeApiServer;

  before(async () => {
    [cluster, fake] = await Promise.all([startRealCluster({ namespaces: [NS] }), startFakeApiServer()]);
    await cluster.admin('POST', `/api/v1/namespaces/${NS}/configmaps`, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings' }, data: { mode: 'on' } });
    fake.store.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS }, spec: { finalizers: ['kubernetes'] }, status: { phase: 'Active' } });
    fake.store.put({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings', namespace: NS }, data: { mode: 'on' } });
  });
  after(async () => {
    await Promise.all([cluster?.close(), fake?.close()]);
  });

  async function send(url: string, ca: string, auth: string[], c: Case): Promise<Answer> {
    const body = c.body ?? '';
    const lines = [`${c.method} ${c.path} HTTP/1.1`, 'Host: kubernetes', ...auth, 'Accept: application/json', 'Connection: close'];
    if (body !== '') lines.push('Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`);
    return answerOf(await rawRequest(url, ca, lines, body, { timeoutMs: 20_000 }));
  }
  const real = (c: Case): Promise<Answer> => send(cluster.url, cluster.caPem, [`Authorization: Bearer ${cluster.adminToken}`], c);
  // The stand-in authenticates only Gatehouse's token and serves only impersonated requests.
  const standIn = (c: Case): Promise<Answer> => send(fake.url, fake.caPem, [`Authorization: Bearer ${fake.token}`, 'Impersonate-User: admin', 'Impersonate-Group: system:masters'], c);

  for (const c of cases) {
    const name = c.realOnly === undefined ? `${c.method} ${c.path}: the same answer from both` : `${c.method} ${c.path}: the real server answers ${c.realOnly.status}, the stand-in 405 (${c.realOnly.why})`;
    test(name, async () => {
      const [fromReal, fromStandIn] = await Promise.all([real(c), standIn(c)]);
      if (c.realOnly !== undefined) {
        assert.equal(fromReal.status, c.realOnly.status);
        assert.equal(fromStandIn.status, 405);
        return;
      }
      assert.deepEqual({ ...fromStandIn, empty: c.method === 'HEAD' ? fromStandIn.empty : 'not compared' }, { ...fromReal, empty: c.method === 'HEAD' ? true : 'not compared' });
    });
  }
});
