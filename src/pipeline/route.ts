/**
 * Stage 0 — route: which of the deployment's clusters a request is for (cluster-route.ts), from
 * the raw path matched against the configured names — never from a header or the Host.
 *
 * `route` runs first and never refuses: it sets `cluster` and the target without the prefix
 * (`target`, read by every later stage through `rawTarget`), so the record stage, outermost of
 * the stages that can refuse, records every call under its cluster with the path the API server
 * sees. `requireCluster` runs after authentication and refuses (404 ERR_CLUSTER_UNKNOWN, naming
 * what was asked) a path that names no configured cluster: callers without a valid token learn
 * nothing about which clusters exist.
 */
import type { MiddlewareHandler } from 'hono';
import type { GatehouseContext } from '../context.ts';
import { routeRequest, type ClusterRouter } from '../cluster-route.ts';
import { GatehouseError } from '../errors.ts';
import { receivedTarget } from './classify.ts';

export function route(router: ClusterRouter): MiddlewareHandler {
  return function routeStage(c, next) {
    const received = receivedTarget(c);
    const routed = routeRequest(router, received.path);
    if (routed.cluster !== undefined) {
      c.set('cluster', routed.cluster);
      if (routed.path !== received.path) c.set('target', { path: routed.path, query: received.query });
    }
    return next();
  };
}

export function requireCluster(router: ClusterRouter): MiddlewareHandler {
  return function requireClusterStage(c, next) {
    if ((c.get('cluster') as string | undefined) === undefined) throw unknownCluster(c, router);
    return next();
  };
}

function unknownCluster(c: GatehouseContext, router: ClusterRouter): GatehouseError {
  const routed = routeRequest(router, receivedTarget(c).path);
  return new GatehouseError('ERR_CLUSTER_UNKNOWN', routed.cluster === undefined ? routed.refusal : 'the request names no cluster');
}
