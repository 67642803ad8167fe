/**
 * A kube-apiserver stand-in for end-to-end tests: HTTPS on 127.0.0.1 with its own CA,
 * the wire behaviour the real kubectl relies on (discovery, Tables, watch streams, logs,
 * Status errors), an in-memory store, and the RBAC situation of Gatehouse's cluster identity:
 * only its bearer token authenticates, and that identity may do nothing but impersonate —
 * a request without `Impersonate-User` is refused, one with it runs as that user.
 *
 *   const api = await startFakeApiServer();
 *   api.store.put({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web' }, spec: {…} });
 *   … point something at api.kubeconfigPath …
 *   api.received  // every request: method, path, query, headers, body, impersonated user
 *   await api.close();
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { ServerResponse, type IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { stringify as toYaml } from 'yaml';
import { systemClock, type Clock } from '../../src/types.ts';
import { findResource, type ResourceType } from './catalogue.ts';
import {
  aggregatedContentType,
  aggregatedDocument,
  apiGroupDocument,
  apiGroupListDocument,
  apiResourceListDocument,
  apiVersionsDocument,
  versionDocument,
  type VersionInfo,
} from './discovery.ts';
import { isTrue, sendError, sendJson, type Exchange, type RequestAttributes } from './exchange.ts';
import { seedDemo } from './demo.ts';
import { serveExec, type ExecHandler } from './exec.ts';
import { shellContext, type ExecTranscript } from './shell.ts';
import { isSpdyUpgrade, serveSpdyExec, serveSpdyPortForward } from './spdy.ts';
import { handleLogs } from './logs.ts';
import { decodeProtobufBody } from './protobuf.ts';
import { negotiateDiscovery } from './negotiate.ts';
import { OPENAPI_V2_PROTOBUF, openApiV2Json, openApiV2Protobuf, openApiV3Document, openApiV3Index } from './openapi.ts';
import { handleCreate, handleDelete, handleDeleteCollection, handleGet, handleList, handlePatch, handleUpdate } from './rest.ts';
import { ApiError, badRequest, forbidden, methodNotAllowed, notFound, resourceNotFound, unauthorized } from './status.ts';
import { FakeStore } from './store.ts';
import { createTestCertificates } from './tls.ts';
import { handleWatch } from './watch.ts';
import { websocketWatchTransport } from './websocket-watch.ts';

/** Emulated cluster RBAC: a request matching every given field is refused for the impersonated user. */
export interface DenyRule {
  user?: string;
  group?: string;
  verbs?: string[];
  /** `pods`, `pods/log`, `deployments` … */
  resources?: string[];
  namespaces?: string[];
  names?: string[];
}

export interface FakeApiServerOptions {
  clock?: Clock;
  /** Kubernetes version /version reports, e.g. "1.33"; default 1.33. */
  version?: string;
  deny?: DenyRule[];
  /** The name the API server knows the stand-in's bearer token by (shown in 403s); default "gatehouse". */
  tokenUser?: string;
  /** What `kubectl exec` without stdin runs in a pod; default: the built-in shell of shell.ts. */
  exec?: ExecHandler;
  /** Seed the demo cluster of demo.ts (namespaces, Deployments, Running pods writing logs …). */
  demo?: boolean;
  /**
   * Every exec/attach connection stops being read for `ms` once `afterBytes` arrived on it, once:
   * a container whose stdin is not read for a while (a slow disk under `tar x`), so the kubelet
   * reads no more and TCP pushes back on whoever sends — what tests of bounded buffering need.
   */
  stdinStall?: { afterBytes: number; ms: number };
}

export interface ReceivedRequest {
  method: string;
  path: string;
  /** The raw query string, without "?". */
  query: string;
  headers: Record<string, string | string[] | undefined>;
  /** The headers exactly as received: [name, value, …], names as sent, repeats kept. */
  rawHeaders: string[];
  /** The body as UTF-8 text, and as received (protobuf bodies are binary). */
  body: string;
  rawBody: Buffer;
  /** Impersonate-User as received ("" without it). */
  user: string;
  /** Every Impersonate-Group value, in order. */
  groups: string[];
  /** HTTP status the stand-in answered with (set when it has answered). */
  status?: number;
}

export interface FakeApiServer {
  url: string;
  caPem: string;
  token: string;
  /** A kubeconfig (server, certificate-authority-data, token) pointing at the stand-in. */
  kubeconfigPath: string;
  received: ReceivedRequest[];
  store: FakeStore;
  /**
   * Set `accept` to answer every request as if the client had asked for that media type,
   * whatever it did ask (a misbehaving or aggregated API server): what Gatehouse must refuse.
   */
  misbehave: { accept?: string };
  /** Breaks every upgraded connection now (exec, attach, port-forward, WebSocket watches): an API server that goes away mid-session. */
  dropStreams(): void;
  /** The client-side ports of the upgraded connections open now: which process carries a session (test/support/socket-owner.ts). */
  upgradedPeerPorts(): number[];
  /** Every exec and attach the stand-in ran, with what its process read and wrote. */
  transcripts: ExecTranscript[];
  /** Files written into containers (`kubectl cp` into a pod), by "namespace/pod/container", then path. */
  writtenFiles: Map<string, Map<string, Buffer>>;
  close(): Promise<void>;
}

/** Headers that Go's http.Header joins: a repeated Impersonate-Group arrives as several values. */
function headerValues(req: IncomingMessage, name: string): string[] {
  const values: string[] = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    if (req.rawHeaders[i]?.toLowerCase() === name) values.push(req.rawHeaders[i + 1] ?? '');
  }
  return values;
}

const VERB_OF_METHOD: Record<string, string> = { POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: 'delete', GET: 'get', HEAD: 'get' };

/** k8s.io/apiserver RequestInfo, for the stand-in's own routing and authorization. */
interface RequestInfo extends RequestAttributes {
  isResource: boolean;
  /** The name authorization sees: for list/watch, the one `fieldSelector=metadata.name=` names. */
  authorizedName: string;
}

function requestAttributes(method: string, path: string, query: URLSearchParams): RequestInfo {
  const base = { group: '', version: '', resource: '', subresource: '', namespace: '', name: '', path };
  const nonResource = { ...base, verb: method.toLowerCase(), isResource: false, authorizedName: '' };
  let parts = path.split('/').filter((p) => p !== '');
  if (parts.length < 3 || (parts[0] !== 'api' && parts[0] !== 'apis')) return nonResource;
  let group = '';
  if (parts[0] === 'apis') {
    if (parts.length < 4) return nonResource;
    group = parts[1] ?? '';
    parts = parts.slice(2);
  } else parts = parts.slice(1);
  const version = parts[0] ?? '';
  parts = parts.slice(1);
  let verb = VERB_OF_METHOD[method] ?? method.toLowerCase();
  let legacyWatch = false;
  if (parts[0] === 'watch') {
    legacyWatch = true;
    parts = parts.slice(1);
  }
  let namespace = '';
  if (parts[0] === 'namespaces' && parts.length > 1) {
    namespace = parts[1] ?? '';
    if (parts.length > 2 && parts[2] !== 'status' && parts[2] !== 'finalize') parts = parts.slice(2);
  }
  const [resource = '', name = '', subresource = ''] = parts;
  if (parts.length > 3) return { ...base, group, version, resource, name, subresource, namespace, verb: 'unsupported', isResource: true, authorizedName: name };
  if (name === '') {
    if (verb === 'get') verb = legacyWatch || isTrue(query.get('watch')) ? 'watch' : 'list';
    if (verb === 'delete') verb = 'deletecollection';
  } else if (legacyWatch && verb === 'get') verb = 'watch';
  // exec/attach/portforward are authorized as create whatever the method (a WebSocket opens with GET).
  if (resource === 'pods' && ['exec', 'attach', 'portforward'].includes(subresource)) verb = 'create';
  const fieldName = /(?:^|,)metadata\.name==?([^,]*)/.exec(query.get('fieldSelector') ?? '');
  const authorizedName = name === '' && (verb === 'list' || verb === 'watch') && fieldName?.[1] !== undefined ? fieldName[1] : name;
  return { ...base, group, version, resource, subresource, namespace, name, verb, isResource: true, authorizedName };
}

function denied(rules: readonly DenyRule[], user: string, groups: string[], attrs: RequestAttributes): boolean {
  const resource = attrs.subresource === '' ? attrs.resource : `${attrs.resource}/${attrs.subresource}`;
  return rules.some(
    (r) =>
      (r.user === undefined || r.user === user) &&
      (r.group === undefined || groups.includes(r.group)) &&
      (r.verbs === undefined || r.verbs.includes(attrs.verb)) &&
      (r.resources === undefined || r.resources.includes(resource)) &&
      (r.namespaces === undefined || r.namespaces.includes(attrs.namespace)) &&
      (r.names === undefined || r.names.includes(attrs.name)),
  );
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function versionInfo(version: string): VersionInfo {
  const [major = '1', minor = '33'] = version.split('.');
  return { major, minor, gitVersion: `v${major}.${minor}.0` };
}

export async function startFakeApiServer(options: FakeApiServerOptions = {}): Promise<FakeApiServer> {
  const clock = options.clock ?? systemClock;
  const tokenUser = options.tokenUser ?? 'gatehouse';
  const version = versionInfo(options.version ?? '1.33');
  const token = randomBytes(24).toString('base64url');
  const certs = await createTestCertificates('kube-apiserver');
  const store = new FakeStore(clock);
  const received: ReceivedRequest[] = [];
  const openStreams = new Set<() => void>();
  const upgraded = new Set<Duplex>();
  const writtenFiles = new Map<string, Map<string, Buffer>>();
  const transcripts: ExecTranscript[] = [];
  const misbehave: { accept?: string } = {};
  let serverAddress = '127.0.0.1:0';

  /**
   * Non-resource URLs as kube-apiserver v1.34 serves them (test/kube/methods.test.ts compares):
   * its REST routes (/api, /api/{version}, /apis/{group}/{version}, /version) answer GET alone,
   * any other method — HEAD included — 405; the group list, a group, health and OpenAPI are
   * plain handlers that serve every method as a GET; anything else is a 404 for every method.
   */
  function serveNonResource(req: IncomingMessage, res: ServerResponse, path: string): void {
    const p = path.replace(/\/+$/, '') || '/';
    const serve = nonResourceHandler(req, p);
    if (serve === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('404 page not found\n');
      return;
    }
    const restRoute = p === '/api' || p === '/version' || /^\/api\/[^/]+$/.test(p) || /^\/apis\/[^/]+\/[^/]+$/.test(p);
    if (restRoute && req.method !== 'GET') throw methodNotAllowed();
    serve(res);
  }

  /** What answers a non-resource URL (as to a GET), or undefined when nothing serves it. */
  function nonResourceHandler(req: IncomingMessage, p: string): ((res: ServerResponse) => void) | undefined {
    if (p === '/api' || p === '/apis') {
      const asked = negotiateDiscovery(req.headers.accept);
      if (asked !== 'legacy') return (res) => sendJson(res, 200, aggregatedDocument(p === '/api' ? 'api' : 'apis', asked), aggregatedContentType(asked));
      return (res) => sendJson(res, 200, p === '/api' ? apiVersionsDocument(serverAddress) : apiGroupListDocument());
    }
    if (p === '/openapi/v2' && (req.headers.accept ?? '').includes('protobuf')) {
      return (res) => {
        const bytes = openApiV2Protobuf(version.gitVersion);
        res.writeHead(200, { 'content-type': OPENAPI_V2_PROTOBUF, 'content-length': bytes.length });
        res.end(bytes);
      };
    }
    if (p === '/healthz' || p === '/livez' || p === '/readyz') {
      return (res) => {
        res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
        res.end('ok');
      };
    }
    const apiGroup = /^\/apis\/([^/]+)$/.exec(p);
    const groupVersion = /^\/api\/(v1)$/.exec(p) ?? /^\/apis\/([^/]+\/[^/]+)$/.exec(p);
    let document: unknown;
    if (apiGroup?.[1] !== undefined) document = apiGroupDocument(apiGroup[1]);
    else if (groupVersion?.[1] !== undefined) {
      const [g, v] = groupVersion[1].includes('/') ? groupVersion[1].split('/') : ['', groupVersion[1]];
      document = apiResourceListDocument(g ?? '', v ?? '');
    } else if (p === '/version') document = versionDocument(version);
    else if (p === '/openapi/v2') document = openApiV2Json(version.gitVersion);
    else if (p === '/openapi/v3') document = openApiV3Index();
    else if (p.startsWith('/openapi/v3/')) document = openApiV3Document(p.slice('/openapi/v3/'.length));
    return document === undefined ? undefined : (res) => sendJson(res, 200, document);
  }

  /** `kubectl auth can-i`: the emulated cluster RBAC, asked about the impersonated caller. */
  function selfSubjectAccessReview(x: Exchange, user: string, groups: string[]): void {
    if (x.attrs.verb !== 'create') throw methodNotAllowed();
    const review = JSON.parse(x.body || '{}') as {
      spec?: {
        resourceAttributes?: { namespace?: string; verb?: string; group?: string; resource?: string; subresource?: string; name?: string };
        nonResourceAttributes?: { path?: string; verb?: string };
      };
    };
    const r = review.spec?.resourceAttributes;
    const n = review.spec?.nonResourceAttributes;
    const attrs: RequestAttributes = {
      verb: r?.verb ?? n?.verb ?? '',
      group: r?.group ?? '',
      version: '',
      resource: r?.resource ?? '',
      subresource: r?.subresource ?? '',
      namespace: r?.namespace ?? '',
      name: r?.name ?? '',
      path: n?.path ?? '',
    };
    const allowed = !denied(options.deny ?? [], user, groups, attrs);
    sendJson(x.res, 201, {
      kind: 'SelfSubjectAccessReview',
      apiVersion: 'authorization.k8s.io/v1',
      metadata: { creationTimestamp: null },
      spec: review.spec ?? {},
      status: allowed ? { allowed: true, reason: 'allowed by the stand-in (no deny rule matches)' } : { allowed: false, denied: true },
    });
  }

  function serveResource(exchange: Exchange): void {
    const { verb, subresource, name } = exchange.attrs;
    const method = exchange.req.method ?? 'GET';
    // kube-apiserver's REST routes (installer.go) register no HEAD on a resource, PUT and PATCH
    // only on a named object, POST only on a collection: 405 (v1.34, test/kube/methods.test.ts).
    const knownSubresource = subresource === '' || subresource === 'log' || exchange.type.subresources.some((s) => s.name === subresource);
    if (knownSubresource && subresource === '') {
      if (method === 'HEAD' || (name === '' && (method === 'PUT' || method === 'PATCH')) || (name !== '' && method === 'POST')) throw methodNotAllowed();
    } else if (knownSubresource && method === 'HEAD' && subresource !== 'proxy') throw methodNotAllowed();
    if (subresource === 'log') {
      if (verb !== 'get') throw methodNotAllowed();
      handleLogs(exchange);
      return;
    }
    if (subresource !== '' && !exchange.type.subresources.some((s) => s.name === subresource)) throw resourceNotFound();
    // A namespaced resource across all namespaces (`/api/v1/secrets`) is served for reading
    // only: kube-apiserver registers no write there and answers 405 (v1.34, checked).
    if (exchange.type.namespaced && exchange.attrs.namespace === '' && !['get', 'list', 'watch'].includes(verb)) throw methodNotAllowed();
    switch (verb) {
      case 'get':
        return handleGet(exchange);
      case 'list':
        return handleList(exchange);
      case 'watch':
        return handleWatch(exchange);
      case 'create':
        return handleCreate(exchange);
      case 'update':
        return handleUpdate(exchange);
      case 'patch':
        return handlePatch(exchange);
      case 'delete':
        return handleDelete(exchange);
      case 'deletecollection':
        return handleDeleteCollection(exchange);
      default:
        throw methodNotAllowed();
    }
  }

  function receive(req: IncomingMessage, rawBody: Buffer): { entry: ReceivedRequest; path: string; query: URLSearchParams } {
    const target = req.url ?? '/';
    const q = target.indexOf('?');
    const path = q === -1 ? target : target.slice(0, q);
    const rawQuery = q === -1 ? '' : target.slice(q + 1);
    const entry: ReceivedRequest = {
      method: req.method ?? 'GET',
      path,
      query: rawQuery,
      headers: { ...req.headers },
      rawHeaders: [...req.rawHeaders],
      body: rawBody.toString('utf8'),
      rawBody,
      user: headerValues(req, 'impersonate-user')[0] ?? '',
      groups: headerValues(req, 'impersonate-group'),
    };
    received.push(entry);
    return { entry, path, query: new URLSearchParams(rawQuery) };
  }

  /** Authentication and authorization; returns what the request asks for, or throws the refusal. */
  function admit(req: IncomingMessage, entry: ReceivedRequest, query: URLSearchParams): RequestInfo {
    if (req.headers.authorization !== `Bearer ${token}`) throw unauthorized();
    const info = requestAttributes(entry.method, entry.path, query);
    const authorized = { ...info, name: info.authorizedName };
    if (entry.user === '') throw forbidden(tokenUser, authorized);
    const groups = [...entry.groups, 'system:authenticated'];
    if (denied(options.deny ?? [], entry.user, groups, authorized)) throw forbidden(entry.user, authorized);
    return info;
  }

  function asApiError(error: unknown): ApiError {
    return error instanceof ApiError ? error : new ApiError(500, 'InternalError', `Internal error occurred: ${(error as Error).message}`);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const rawBody = await readBody(req);
    const { entry, path, query } = receive(req, rawBody);
    if (misbehave.accept !== undefined) req.headers.accept = misbehave.accept;
    res.on('finish', () => (entry.status = res.statusCode));
    try {
      const info = admit(req, entry, query);
      const isProtobuf = (req.headers['content-type'] ?? '').startsWith('application/vnd.kubernetes.protobuf');
      const body = isProtobuf && rawBody.length > 0 ? JSON.stringify(decodeProtobufBody(rawBody)) : entry.body;
      if (!info.isResource) {
        serveNonResource(req, res, path);
        return;
      }
      const type = resourceTypeOf(info);
      const exchange = exchangeFor(req, res, query, body, info, type);
      if (type.resource === 'selfsubjectaccessreviews') selfSubjectAccessReview(exchange, entry.user, [...entry.groups, 'system:authenticated']);
      else serveResource(exchange);
    } catch (error) {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      sendError(res, asApiError(error));
    }
  }

  function resourceTypeOf(info: RequestInfo): ResourceType {
    const type = findResource(info.group, info.version, info.resource);
    if (type === undefined || info.verb === 'unsupported') throw resourceNotFound();
    if (!type.namespaced && info.resource !== 'namespaces') info.namespace = '';
    return type;
  }

  function exchangeFor(req: IncomingMessage, res: ServerResponse, query: URLSearchParams, body: string, info: RequestInfo, type: ResourceType): Exchange {
    const { isResource: _isResource, authorizedName: _authorizedName, ...attrs } = info;
    return {
      req,
      res,
      query,
      body,
      attrs,
      type,
      store,
      track(close) {
        openStreams.add(close);
        return () => openStreams.delete(close);
      },
    };
  }

  /**
   * HTTP Upgrade: pods/exec and pods/attach (the container's main process is its built-in
   * shell) over WebSocket or SPDY/3.1, pods/portforward over SPDY/3.1 (a
   * WebSocket port-forward is refused, so kubectl falls back to SPDY), and any watch (over
   * WebSocket, as the API server serves every watch to a client that upgrades); refusals are
   * written as HTTP on the socket.
   */
  function handleUpgrade(req: IncomingMessage, socket: Duplex): void {
    const { entry, query } = receive(req, Buffer.alloc(0));
    if (misbehave.accept !== undefined) req.headers.accept = misbehave.accept;
    upgraded.add(socket);
    socket.once('close', () => upgraded.delete(socket));
    try {
      const info = admit(req, entry, query);
      if (info.isResource && info.verb === 'watch') {
        const transport = websocketWatchTransport(req, socket);
        handleWatch(exchangeFor(req, new ServerResponse(req), query, '', info, resourceTypeOf(info)), transport);
        entry.status = 101;
        return;
      }
      const streaming = info.isResource && info.group === '' && info.resource === 'pods' ? info.subresource : '';
      if (streaming !== 'exec' && streaming !== 'attach' && streaming !== 'portforward') throw badRequest(`the stand-in upgrades only pods/exec, pods/attach, pods/portforward and watches, not ${info.path}`);
      if (streaming === 'portforward' && !isSpdyUpgrade(req)) throw badRequest('the stand-in forwards ports over SPDY/3.1 only (kubectl falls back to it)');
      const type = findResource('', 'v1', 'pods');
      const pod = type === undefined ? undefined : store.read(type, info.namespace, info.name);
      if (pod === undefined) throw notFound({ group: '', resource: 'pods' }, info.name);
      const attach = streaming === 'attach';
      const contextFor = (container: string): ReturnType<typeof shellContext> => {
        const context = shellContext(store, pod, container);
        const key = `${info.namespace}/${info.name}/${container}`;
        const written = writtenFiles.get(key) ?? new Map<string, Buffer>();
        writtenFiles.set(key, written);
        for (const [path, content] of written) context.files.set(path, content);
        const transcript: ExecTranscript = { container, command: attach ? ['(attach)'] : query.getAll('command'), stdin: [], stdout: [], stderr: [] };
        transcripts.push(transcript);
        return { ...context, written, transcript };
      };
      if (streaming !== 'portforward' && options.stdinStall !== undefined) stallOnce(socket, options.stdinStall);
      if (streaming === 'portforward') serveSpdyPortForward(req, socket, pod);
      else if (isSpdyUpgrade(req)) serveSpdyExec(req, socket, pod, query, contextFor, options.exec, attach);
      else serveExec(req, socket, pod, query, contextFor, options.exec, attach);
      entry.status = 101;
    } catch (error) {
      const status = asApiError(error);
      entry.status = status.code;
      const text = JSON.stringify(status.toStatus());
      socket.end(`HTTP/1.1 ${status.code} ${status.reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`);
    }
  }

  const server: Server = createServer({ cert: certs.certPem, key: certs.keyPem }, (req, res) => {
    void handle(req, res);
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex) => handleUpgrade(req, socket));
  // CONNECT and method tokens Node's parser does not know (`get`, `FOO`) never reach `handle`;
  // kube-apiserver (Go) reads any token and answers them 405 on its REST routes. The stand-in
  // answers that on every path (the real one serves them as GETs on /apis, /healthz, /openapi).
  const refuseMethod = (socket: Duplex): void => {
    const text = JSON.stringify(methodNotAllowed().toStatus());
    socket.end(`HTTP/1.1 405 Method Not Allowed\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`);
  };
  server.on('connect', (_req: IncomingMessage, socket: Duplex) => refuseMethod(socket));
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    if (error.code === 'HPE_INVALID_METHOD' && socket.writable) refuseMethod(socket);
    else if (socket.writable && error.code !== 'ECONNRESET') socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  serverAddress = `127.0.0.1:${port}`;
  const url = `https://127.0.0.1:${port}`;

  const dir = mkdtempSync(join(tmpdir(), 'stand-in-apiserver-'));
  // The folder goes on every way out, a crash or process.exit included, not only close().
  const removeDir = (): void => rmSync(dir, { recursive: true, force: true });
  process.once('exit', removeDir);
  const demo = options.demo === true ? seedDemo(store) : undefined;
  const kubeconfigPath = join(dir, 'kubeconfig');
  writeFileSync(
    kubeconfigPath,
    toYaml({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'stand-in', cluster: { server: url, 'certificate-authority-data': Buffer.from(certs.caPem).toString('base64') } }],
      users: [{ name: tokenUser, user: { token } }],
      contexts: [{ name: 'stand-in', context: { cluster: 'stand-in', user: tokenUser, namespace: 'default' } }],
      'current-context': 'stand-in',
    }),
    { mode: 0o600 },
  );

  return {
    url,
    caPem: certs.caPem,
    token,
    kubeconfigPath,
    received,
    store,
    misbehave,
    writtenFiles,
    transcripts,
    upgradedPeerPorts() {
      return [...upgraded].flatMap((socket) => {
        const port = (socket as Partial<Socket>).remotePort;
        return port === undefined ? [] : [port];
      });
    },
    dropStreams() {
      for (const socket of upgraded) socket.destroy();
    },
    async close() {
      for (const close of [...openStreams]) close();
      for (const socket of upgraded) socket.destroy();
      server.closeAllConnections();
      demo?.stop();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      process.removeListener('exit', removeDir);
      removeDir();
    },
  };
}

/** Stops reading `socket` for `stall.ms` once `stall.afterBytes` arrived (see FakeApiServerOptions.stdinStall). */
function stallOnce(socket: Duplex, stall: { afterBytes: number; ms: number }): void {
  let seen = 0;
  const count = (chunk: Buffer): void => {
    seen += chunk.length;
    if (seen < stall.afterBytes) return;
    socket.off('data', count);
    socket.pause();
    setTimeout(() => socket.resume(), stall.ms);
  };
  socket.on('data', count);
}
