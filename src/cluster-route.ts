/**
 * Which cluster a request is for, read from its raw path — pure: no I/O, no clock.
 *
 * One deployment fronts either ONE cluster at the root (the single-cluster form, the URLs
 * Gatehouse always had: `https://gatehouse.example/api/v1/…`) or SEVERAL, each under its own
 * prefix `/clusters/<name>` (`https://gatehouse.example/clusters/prod/api/v1/…`; kubectl keeps a
 * path in `server:`). The cluster comes from the configured names matched against the raw path,
 * never from a header or the Host.
 *
 * Contract: `routeRequest(router, rawPath)` returns the cluster and the path the API server is
 * to see (the prefix stripped, nothing else touched: classify, forward, approvals and records all
 * read that path as if it had come straight to the API server), or a refusal naming what was
 * asked. The name segment is compared byte for byte with the configured names, before any
 * decoding: `%64ev`, `dev%2F..`, `.`, `..` and `""` name no cluster (names are letters, digits,
 * `-` and `_`, which need no encoding), so no spelling of a path reaches a cluster it does not
 * name. What follows the name is left for classify, which refuses dot segments, `//` and
 * encoded slashes as the API server could read them differently.
 */

/** The path segment under which each cluster is served when a deployment fronts several. */
export const CLUSTERS_SEGMENT = 'clusters';
export const CLUSTERS_PREFIX = `/${CLUSTERS_SEGMENT}/`;

/**
 * A cluster name: what its URL, records partition, policy rules and kubeconfig context say.
 * EKS's own rule for cluster names (letters, digits, `-`, `_`; a letter or digit first; at most
 * 100), so an EKS cluster's name is usable as is — and nothing in it needs URL encoding.
 */
export const CLUSTER_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$/;

export type ClusterRouter =
  | { readonly mode: 'root'; readonly name: string }
  | { readonly mode: 'prefixed'; readonly names: ReadonlySet<string> };

/** The name of the one cluster of a single-cluster deployment that names it nothing else. */
export const DEFAULT_CLUSTER = 'default';
/** One cluster, at the root, named "default". */
export const DEFAULT_ROUTER: ClusterRouter = Object.freeze({ mode: 'root', name: DEFAULT_CLUSTER });

export type Routed =
  | { readonly cluster: string; readonly path: string }
  | { readonly cluster: undefined; readonly refusal: string };

export function routeRequest(router: ClusterRouter, rawPath: string): Routed {
  if (router.mode === 'root') return { cluster: router.name, path: rawPath };
  if (!rawPath.startsWith(CLUSTERS_PREFIX)) {
    return {
      cluster: undefined,
      refusal: `request path ${quote(rawPath)} names no cluster: this Gatehouse fronts several clusters, each under ${CLUSTERS_PREFIX}<name> (the server of its kubeconfig context)`,
    };
  }
  const afterPrefix = rawPath.slice(CLUSTERS_PREFIX.length);
  const slash = afterPrefix.indexOf('/');
  const segment = slash === -1 ? afterPrefix : afterPrefix.slice(0, slash);
  if (!router.names.has(segment)) {
    return {
      cluster: undefined,
      refusal: `cluster ${quote(segment)} is not one this Gatehouse fronts (request path ${quote(rawPath)}); names are matched exactly as configured, never decoded`,
    };
  }
  return { cluster: segment, path: slash === -1 ? '/' : afterPrefix.slice(slash) };
}

/** The base URL of one cluster on a Gatehouse at `base` (a kubeconfig `server:`). */
export function clusterServer(base: string, router: ClusterRouter, name: string): string {
  const root = base.replace(/\/+$/, '');
  return router.mode === 'root' ? root : `${root}${CLUSTERS_PREFIX}${name}`;
}

function quote(text: string): string {
  return JSON.stringify(text.length > 200 ? `${text.slice(0, 200)}…` : text);
}
