/**
 * Which calls are long streams — held open for as long as the client (or the cluster) keeps
 * them: a watch, `kubectl logs -f`, and the exec / attach / port-forward tunnels. These are the
 * calls the per-user cap counts (src/streams/stream-limit.ts); everything else answers and ends.
 * Pure: no clock, no I/O.
 */
import type { KubeRequest } from '../types.ts';

export type LongStreamKind = 'watch' | 'logs -f' | 'exec' | 'attach' | 'port-forward';

const TUNNELS: Readonly<Record<string, LongStreamKind>> = { exec: 'exec', attach: 'attach', portforward: 'port-forward' };

/** Go's strconv.ParseBool true values: how the API server reads `follow`. */
const TRUE_VALUES = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);

/** The kind of long stream this call opens, or undefined for a call that answers and ends. */
export function longStreamKind(request: KubeRequest, query: string): LongStreamKind | undefined {
  if (request.verb === 'watch') return 'watch';
  if (!request.isResourceRequest || request.apiGroup !== '' || request.resource !== 'pods') return undefined;
  const tunnel = TUNNELS[request.subresource];
  if (tunnel !== undefined) return tunnel;
  // Every `follow` counts, so `follow=false&follow=true` cannot slip a stream past the cap.
  if (request.subresource === 'log' && new URLSearchParams(query).getAll('follow').some((value) => TRUE_VALUES.has(value))) return 'logs -f';
  return undefined;
}

/** The stream in words, for messages and the lease table: `watch pods in namespace "dev"`. */
export function describeStream(kind: LongStreamKind, request: KubeRequest): string {
  const resource = request.resource === '' ? request.path : request.resource;
  const name = request.name === '' ? '' : ` "${request.name}"`;
  const namespace = request.namespace === '' ? '' : ` in namespace "${request.namespace}"`;
  return `${kind} ${kind === 'watch' ? resource : 'pod'}${name}${namespace}`;
}
