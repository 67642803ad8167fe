/** Port: how Gatehouse reaches the cluster. Adapters: kubeconfig (local), sts-eks (AWS). */
import type { UpstreamConnection } from '../types.ts';

export interface Upstream {
  /** Where and with which credentials to send the next request; cached by the adapter. */
  connection(): Promise<UpstreamConnection>;
}
