/**
 * A local Gatehouse must not forward to itself: with the README's `export KUBECONFIG=…`
 * still set, "the current kubeconfig context" is Gatehouse's own kubeconfig, and every call
 * would loop through it. Refused at start, saying so, when the upstream context
 *   - is the kubeconfig Gatehouse writes for its users (`<stateDir>/kubeconfig`),
 *   - trusts this Gatehouse's local CA (a copy of that kubeconfig), or
 *   - names this Gatehouse's own address.
 * Reads only the kubeconfig's text: no credential plugin runs for this check.
 */
import { existsSync, realpathSync } from 'node:fs';
import { GatehouseConfigError } from '../config-error.ts';
import { readKubeconfig, resolveKubeconfigPath, resolveKubeconfigRelative } from '../kubeconfig.ts';
import { readFileSync } from 'node:fs';

export interface SelfUpstreamCheck {
  /** The upstream kubeconfig as configured (undefined: $KUBECONFIG / ~/.kube/config). */
  kubeconfig: string | undefined;
  context: string | undefined;
  ownKubeconfig: string;
  ownCaPem: string;
  /** This Gatehouse's URL(s), e.g. https://127.0.0.1:8443. */
  ownUrls: string[];
}

const real = (path: string): string => (existsSync(path) ? realpathSync(path) : path);
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/** Throws a GatehouseConfigError naming why the upstream is this Gatehouse itself; returns quietly otherwise. */
export function refuseSelfUpstream(check: SelfUpstreamCheck): void {
  const path = resolveKubeconfigPath(check.kubeconfig);
  const why = 'Gatehouse would forward every call to itself. Point it at a cluster instead (--kubeconfig/--context), or unset KUBECONFIG (the one `npm start` printed) before starting it';
  if (real(path) === real(check.ownKubeconfig)) {
    throw new GatehouseConfigError(path, [`the upstream kubeconfig is this Gatehouse's own kubeconfig for its users: ${why}`]);
  }
  if (!existsSync(path)) return;
  const config = readKubeconfig(path);
  const contextName = check.context ?? config['current-context'];
  const context = config.contexts?.find((entry) => entry?.name === contextName)?.context;
  const cluster = config.clusters?.find((entry) => entry?.name === context?.cluster)?.cluster;
  if (cluster === undefined || cluster === null) return; // the upstream adapter reports what is missing
  let caPem: string | undefined;
  if (typeof cluster['certificate-authority-data'] === 'string') caPem = Buffer.from(cluster['certificate-authority-data'], 'base64').toString('utf8');
  else if (typeof cluster['certificate-authority'] === 'string') {
    try {
      caPem = readFileSync(resolveKubeconfigRelative(path, cluster['certificate-authority']), 'utf8');
    } catch {
      caPem = undefined;
    }
  }
  if (caPem !== undefined && caPem.trim() === check.ownCaPem.trim()) {
    throw new GatehouseConfigError(path, [`context "${contextName}" trusts this Gatehouse's own local CA, so it is a kubeconfig for this Gatehouse: ${why}`]);
  }
  let server: URL;
  try {
    server = new URL(cluster.server ?? '');
  } catch {
    return;
  }
  for (const own of check.ownUrls.map((u) => new URL(u))) {
    const sameHost = server.hostname === own.hostname || (LOOPBACK.has(server.hostname) && LOOPBACK.has(own.hostname));
    if (sameHost && (server.port || (server.protocol === 'https:' ? '443' : '80')) === own.port) {
      throw new GatehouseConfigError(path, [`context "${contextName}" names ${cluster.server}, this Gatehouse's own address: ${why}`]);
    }
  }
}
