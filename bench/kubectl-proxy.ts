/**
 * The peer front: `kubectl proxy` (the installed kubectl), a reverse proxy people already put
 * in front of the API server, on an ephemeral loopback port, to the bench upstream through a
 * kubeconfig. Its cache and config stay in the bench's scratch directory.
 */
import { execFileSync } from 'node:child_process';
import { startChild } from './children.ts';
import type { Child } from './children.ts';

const SERVING = /Starting to serve on (127\.0\.0\.1:\d+)/;

export function kubectlVersion(): string {
  try {
    const out = execFileSync('kubectl', ['version', '--client', '-o', 'json'], { encoding: 'utf8' });
    return (JSON.parse(out) as { clientVersion?: { gitVersion?: string } }).clientVersion?.gitVersion ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** `extraArgs`: e.g. `--as`/`--as-group` to impersonate a caller. */
export function startKubectlProxy(kubeconfig: string, home: string, extraArgs: string[] = []): Promise<Child<{ url: string }>> {
  return startChild(
    'kubectl proxy',
    'kubectl',
    ['proxy', '--port=0', '--address=127.0.0.1', `--kubeconfig=${kubeconfig}`, ...extraArgs],
    (line) => {
      const match = SERVING.exec(line);
      return match === null ? undefined : { url: `http://${match[1]}` };
    },
    { env: { ...process.env, HOME: home, KUBECACHEDIR: `${home}/cache` } },
  );
}
