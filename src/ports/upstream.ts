/** Port: how Gatehouse reaches the cluster. Adapters: kubeconfig (local), sts-eks (AWS). */
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
