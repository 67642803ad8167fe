/** Port: how Gatehouse reaches the cluster. Adapters: kubeconfig (local), sts-eks (AWS). */
import type { ClusterRouter } from '../cluster-route.ts';
import type { UpstreamConnection } from '../types.ts';

export interface Upstream {
  /** Where and with which credentials to send the next request; cached by the adapter. */
  connection(): Promise<UpstreamConnection>;
  /**
   * The cluster answered 401 to a request sent with `connection`: its credentials are no
   * longer accepted (a revoked role session, a token the cluster will not take, an exec
   * plugin's expired token). The adapter drops what it cached for them, so the next
   * `connection()` builds new ones (an exec plugin runs again).
   */
  rejected?(connection: UpstreamConnection): void;
}

/** One cluster a deployment fronts: its configured name and how to reach it. */
export interface ClusterUpstream {
  name: string;
  upstream: Upstream;
}

/** Every cluster a deployment fronts, and how a request's path picks one (cluster-route.ts). */
export interface ClusterSet {
  router: ClusterRouter;
  upstreams: readonly ClusterUpstream[];
}
