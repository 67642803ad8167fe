/**
 * Stage 5 — credentials: asks the request's cluster's upstream port where and as whom to send this request
 * (server, CA, Gatehouse's own token or client certificate) and leaves it in `upstream`.
 * Adapters cache; a failure here means Gatehouse cannot reach the cluster as itself, so the
 * caller gets 503 ERR_CREDENTIALS_UNAVAILABLE with Retry-After (or the adapter's own
 * GatehouseError, which says what failed); an unexpected failure is logged, not told. When the
 * cluster answers 401 — it no longer accepts Gatehouse's own credentials — the adapter is told,
 * and drops them (`Upstream.rejected`).
 */
import type { MiddlewareHandler } from 'hono';
import { GatehouseError } from '../errors.ts';
import type { ClusterUpstream, Upstream } from '../ports/upstream.ts';

/** `upstreams`: one per cluster; the route stage named the request's. */
export function credentials(upstreams: readonly ClusterUpstream[]): MiddlewareHandler {
  const byName = new Map<string, Upstream>(upstreams.map((cluster) => [cluster.name, cluster.upstream]));
  return async function credentialsStage(c, next) {
    const upstream = byName.get(c.get('cluster'));
    // Unreachable (requireCluster ran), but a request never goes to a cluster it did not name.
    if (upstream === undefined) throw new GatehouseError('ERR_CLUSTER_UNKNOWN', `cluster ${JSON.stringify(c.get('cluster'))} is not one this Gatehouse fronts`);
    let connection;
    try {
      connection = await upstream.connection();
    } catch (error) {
      // An adapter that already said precisely what failed (and chose the code) is passed on as is.
      if (error instanceof GatehouseError) throw error;
      // Anything else may name how Gatehouse reaches the cluster (role ARNs, accounts): the log only.
      console.error(JSON.stringify({ message: 'gatehouse credentials: the upstream port failed', error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) }));
      throw new GatehouseError('ERR_CREDENTIALS_UNAVAILABLE', "Gatehouse could not obtain its upstream credentials; the details are in Gatehouse's log", {
        cause: error,
      });
    }
    c.set('upstream', connection);
    await next();
    // The cluster refused Gatehouse's own credentials: the next call must not reuse them.
    if (c.get('upstreamStatus') === 401) upstream.rejected?.(connection);
  };
}
