/**
 * Stage 2 — classify: method + raw path + query → KubeRequest, read exactly as the API
 * server's RequestInfo reads it. The raw request target comes from the runtime (Node's
 * `incoming.url`, Lambda's `rawPath`/`rawQueryString`), never from a re-parsed URL, because
 * WHATWG URL parsing normalises `..` and would let a path mean one thing here and another
 * upstream.
 */
import type { Context, MiddlewareHandler } from 'hono';
import type { GatehouseBindings, GatehouseContext } from '../context.ts';
import { classifyRequest } from '../request-info.ts';
import { GatehouseError } from '../errors.ts';
import type { KubeRequest } from '../types.ts';
import { clientHeaderPairs } from './request-headers.ts';

export interface RawTarget {
  path: string;
  query: string;
}

/**
 * The request target as the API server is to see it: exactly as the client sent it, minus the
 * cluster prefix the route stage matched (`/clusters/<name>`), nothing else changed.
 */
export function rawTarget(c: GatehouseContext): RawTarget {
  return (c.get('target') as RawTarget | undefined) ?? receivedTarget(c);
}

/** The request target exactly as the client sent it (the cluster prefix included). */
export function receivedTarget(c: GatehouseContext): RawTarget {
  const env = c.env as GatehouseBindings | undefined; // undefined for in-process callers
  const nodeUrl = env?.incoming?.url;
  if (typeof nodeUrl === 'string') {
    const q = nodeUrl.indexOf('?');
    return q === -1 ? { path: nodeUrl, query: '' } : { path: nodeUrl.slice(0, q), query: nodeUrl.slice(q + 1) };
  }
  const event = env?.event;
  if (event !== undefined && typeof event.rawPath === 'string') {
    return { path: event.rawPath, query: event.rawQueryString ?? '' };
  }
  // In-process callers (app.request in tests) have no raw target; the URL is the best we have.
  const url = c.req.url;
  const afterHost = url.indexOf('/', url.indexOf('//') + 2);
  const target = afterHost === -1 ? '/' : url.slice(afterHost);
  const q = target.indexOf('?');
  return q === -1 ? { path: target, query: '' } : { path: target.slice(0, q), query: target.slice(q + 1) };
}

export function classify(options: { runtime: 'node' | 'lambda' }): MiddlewareHandler {
  // Synchronous: no await of its own, so no promise of its own on every call.
  return function classifyStage(c, next) {
    refuseUnknownMethod(c);
    const target = rawTarget(c);
    const request = classifyRequest(c.req.method, target.path, target.query, { runtime: options.runtime, cluster: c.get('cluster') });
    c.set('kubeRequest', request);
    refuseUnservedShape(c.req.method, request);
    refuseUnroutedHead(c.req.method, request);
    refuseUpgrade(c, request, options.runtime);
    return next();
  };
}

/** The methods kube-apiserver serves (RequestInfo maps each to a verb); anything else is refused. */
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']);

function refuseUnknownMethod(c: Context): void {
  const method = c.req.method;
  if (METHODS.has(method)) return;
  throw unknownMethodError(method);
}

/** The refusal of a method Gatehouse does not forward (also what the Node runtime answers to those its HTTP parser stops). */
export function unknownMethodError(method: string): GatehouseError {
  return new GatehouseError('ERR_METHOD_NOT_ALLOWED', `method ${JSON.stringify(method)} is not one Gatehouse forwards (GET, HEAD, POST, PUT, PATCH, DELETE)`);
}

/**
 * A method on a path shape the API server registers no handler for (staging/src/k8s.io/apiserver/
 * pkg/endpoints/installer.go, registerResourceHandlers): on a resource's collection it serves
 * GET (list, watch), POST (create) and DELETE (deletecollection); on a named object GET, PUT,
 * PATCH and DELETE; under the legacy `/watch/` prefix GET only. Anything else — a PUT or PATCH
 * with no name, a POST to a named object, a write under `/watch/` — has no object for policy to
 * match and only a 405 upstream, so it is refused here, before policy. Subresource paths
 * (`…/{name}/{subresource}`) are left to the API server: each subresource registers its own
 * methods (eviction and token take POST, status and scale PUT/PATCH, proxy every method,
 * aggregated APIs their own), and policy matches them by name and subresource.
 */
function refuseUnservedShape(method: string, request: KubeRequest): void {
  if (!request.isResourceRequest || request.verb === 'proxy' || request.subresource !== '') return;
  const what = `${method} ${request.path}`;
  if (request.verb === 'watch' && method !== 'GET' && method !== 'HEAD') {
    throw new GatehouseError('ERR_METHOD_NOT_ALLOWED', `${what} is not served: the API server serves only GET under the legacy /watch/ prefix, so Gatehouse forwards nothing else there`);
  }
  if (request.name === '' && (method === 'PUT' || method === 'PATCH')) {
    throw new GatehouseError(
      'ERR_METHOD_NOT_ALLOWED',
      `${what} names no object: the API server serves ${method} only on a named object (${request.path.replace(/\/+$/, '')}/{name}), so Gatehouse forwards none`,
    );
  }
  if (request.name !== '' && method === 'POST') {
    throw new GatehouseError(
      'ERR_METHOD_NOT_ALLOWED',
      `${what} names an object: the API server creates only on a collection (POST …/${request.resource}) or through a subresource, so Gatehouse forwards none`,
    );
  }
}

/** Non-resource paths the API server serves through its REST routes (go-restful): GET alone. */
const REST_DISCOVERY_PATHS = [/^\/api\/?$/, /^\/api\/[^/]+\/?$/, /^\/apis\/[^/]+\/[^/]+\/?$/, /^\/version\/?$/];

/**
 * HEAD: RequestInfo reads it as `get`, but kube-apiserver's REST routes register GET and no
 * HEAD — on every resource path (collections, objects and their subresources, `log` and
 * `exec` included) and on the discovery documents /api, /api/{version},
 * /apis/{group}/{version} and /version — so a HEAD there has only a 405 upstream (v1.34,
 * compared side by side in test/kube/methods.test.ts). It is refused here, before policy,
 * naming the method. Left to policy (verb `get` or `head`) and forwarded: the proxy
 * subresources and the legacy `/proxy/` prefix (the API server routes every method there) and
 * the other non-resource URLs (/apis, /apis/{group}, /healthz, /openapi/…: served to any method).
 */
function refuseUnroutedHead(method: string, request: KubeRequest): void {
  if (method !== 'HEAD') return;
  const routed = request.isResourceRequest
    ? request.verb !== 'proxy' && request.subresource !== 'proxy'
    : REST_DISCOVERY_PATHS.some((pattern) => pattern.test(request.path));
  if (!routed) return;
  throw new GatehouseError(
    'ERR_METHOD_NOT_ALLOWED',
    `HEAD ${request.path} is not served: the API server routes no HEAD to ${request.isResourceRequest ? 'a resource' : 'this discovery document'} (it answers 405); use GET`,
  );
}

/** What kubectl upgrades to: WebSocket (1.30+) or SPDY/3.1 (older, and the fallback). */
const UPGRADE_PROTOCOLS = /^\s*(websocket|SPDY\/3\.1)\s*$/i;

/** Subresources of core pods that open an upgraded connection (kubectl exec, attach, cp, port-forward). */
const UPGRADABLE = new Set(['exec', 'attach', 'portforward']);

/**
 * Only pods/exec, attach and portforward may upgrade, and only on the Node runtime: any other
 * request that asks to (an `Upgrade` header, or `upgrade` among its Connection options) is
 * refused here, before policy — never answered 101, never tried upstream. The API server would
 * serve any watch over WebSocket, and Gatehouse masks HTTP bodies, not frames: refusing is the
 * fail-closed choice (kubectl and client-go watch over plain HTTP streaming).
 */
function refuseUpgrade(c: Context, request: KubeRequest, runtime: 'node' | 'lambda'): void {
  const pairs = clientHeaderPairs(c);
  let upgrade: string | undefined;
  for (let i = 0; i + 1 < pairs.length; i += 2) {
    const name = (pairs[i] as string).toLowerCase();
    const value = pairs[i + 1] as string;
    if (name === 'upgrade') upgrade = value;
    else if (name === 'connection' && upgrade === undefined && /(^|,)\s*upgrade\s*(,|$)/i.test(value)) upgrade ??= '';
  }
  if (upgrade === undefined) return;
  const asked = upgrade === '' ? 'an HTTP Upgrade (Connection: upgrade)' : `an HTTP Upgrade to ${JSON.stringify(upgrade)}`;
  if (runtime === 'lambda') {
    throw new GatehouseError(
      'ERR_UPGRADE_UNSUPPORTED',
      `user "${c.get('identity').user}" asked for ${asked} for ${request.path}, which a Lambda function URL cannot carry; use a Gatehouse running on the Node runtime for upgraded connections`,
    );
  }
  const allowed = request.isResourceRequest && request.apiGroup === '' && request.resource === 'pods' && UPGRADABLE.has(request.subresource);
  if (allowed && UPGRADE_PROTOCOLS.test(upgrade)) return;
  throw new GatehouseError(
    'ERR_UPGRADE_UNSUPPORTED',
    `user "${c.get('identity').user}" asked for ${asked} for ${request.path}; Gatehouse upgrades only pods/exec, pods/attach and pods/portforward, to websocket or SPDY/3.1 (a watch is served over plain HTTP streaming, where every object is masked)`,
  );
}
