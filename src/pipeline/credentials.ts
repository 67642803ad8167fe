/**
 * Stage 5 — credentials: asks the upstream port where and as whom to send this request
 * (server, CA, Gatehouse's own token or client certificate) and leaves it in `upstream`.
 * Adapters cache; a failure here means Gatehouse cannot reach the cluster as itself, so the
 * caller gets 503 ERR_CREDENTIALS_UNAVAILABLE saying what failed (or the adapter's own
 * GatehouseError, which already does). When the cluster answers 401 — it no longer accepts
 * Gatehouse's own credentials — the adapter is told, and drops them (`Upstream.rejected`).
 */
import type { MiddlewareHandler } from 'hono';
import { GatehouseError } from '../errors.ts';
import type { Upstream } from '../ports/upstream.ts';

export function credentials(upstream: Upstream): MiddlewareHandler {
  return async function credentialsStage(c, next) {
    let connection;
    try {
      connection = await upstream.connection();
    } catch (error) {
      // An adapter that already said precisely what failed (and chose the code) is passed on as is.
      if (error instanceof GatehouseError) throw error;
      const why = error instanceof Error ? error.message : String(error);
      throw new GatehouseError('ERR_CREDENTIALS_UNAVAILABLE', `Gatehouse could not obtain its upstream credentials: ${why}`, {
        cause: error,
      });
    }
    c.set('upstream', connection);
    await next();
    // The cluster refused Gatehouse's own credentials: the next call must not reuse them.
    if (c.get('upstreamStatus') === 401) upstream.rejected?.(connection);
  };
}
