/**
 * Stage 2 — classify: method + raw path + query → KubeRequest, read exactly as the API
 * server's RequestInfo reads it. The raw request target comes from the runtime (Node's
 * `incoming.url`, Lambda's `rawPath`/`rawQueryString`), never from a re-parsed URL, because
 * WHATWG URL parsing normalises `..` and would let a path mean one thing here and another
 * upstream.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { classifyRequest } from '../request-info.ts';
import { GatehouseError } from '../errors.ts';
import type { KubeRequest } from '../types.ts';

export interface RawTarget {
  path: string;
  query: string;
}

/** The request target exactly as the client sent it. */
export function rawTarget(c: Context): RawTarget {
  const env = c.env as { incoming?: { url?: string }; event?: { rawPath?: string; rawQueryString?: string } } | undefined;
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
    const target = rawTarget(c);
    const request = classifyRequest(c.req.method, target.path, target.query, options);
    c.set('kubeRequest', request);
    if (options.runtime === 'lambda') refuseUpgradeOnLambda(c, request);
    return next();
  };
}

/**
 * A Lambda Function URL cannot carry an HTTP Upgrade. classifyRequest already refuses the pod
 * subresources that need one (exec, attach, portforward); this catches an Upgrade on any
 * other path (a websocket through `proxy`, say), which would otherwise fail obscurely.
 */
function refuseUpgradeOnLambda(c: Context, request: KubeRequest): void {
  const upgrade = c.req.header('upgrade');
  if (upgrade === undefined) return;
  throw new GatehouseError(
    'ERR_UPGRADE_UNSUPPORTED',
    `user "${c.get('identity').user}" asked for an HTTP Upgrade to "${upgrade}" for ${request.path}, which a Lambda function URL cannot carry; use a Gatehouse running on the Node runtime for upgraded connections`,
  );
}
