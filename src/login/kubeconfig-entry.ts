/**
 * Merging one Gatehouse context into a kubeconfig, the way `aws eks update-kubeconfig` does:
 * the cluster, user and context named `name` are added or replaced, every other entry and
 * field is kept as it was, and current-context moves to the new context unless asked not to.
 */

export interface KubeconfigEntry {
  name: string;
  server: string;
  /** PEM of the CA that signs Gatehouse's certificate; undefined: the system store (Function URLs). */
  caPem?: string;
  /** People: kubectl runs this credential plugin (browser sign-in, refresh). */
  exec?: { command: string; args: string[]; env?: { name: string; value: string }[] };
  /**
   * Pipelines: the file the job writes its OIDC token to (GitHub Actions, GitLab CI); kubectl
   * reads it for every request (client-go re-reads it), so no browser, no refresh token, no plugin.
   */
  tokenFile?: string;
}

type Named = { name?: unknown } & Record<string, unknown>;
export type Kubeconfig = Record<string, unknown>;

export function mergeKubeconfigEntry(existing: Kubeconfig | null | undefined, entry: KubeconfigEntry, setCurrent: boolean): Kubeconfig {
  const config: Kubeconfig = { apiVersion: 'v1', kind: 'Config', preferences: {}, ...(existing ?? {}) };
  const cluster: Record<string, unknown> = { server: entry.server };
  if (entry.caPem !== undefined) cluster['certificate-authority-data'] = Buffer.from(entry.caPem).toString('base64');
  config.clusters = upsert(config.clusters, { name: entry.name, cluster }, entry.name);
  config.users = upsert(config.users, { name: entry.name, user: userOf(entry) }, entry.name);
  config.contexts = upsert(config.contexts, { name: entry.name, context: { cluster: entry.name, user: entry.name } }, entry.name);
  if (setCurrent || typeof config['current-context'] !== 'string' || config['current-context'] === '') {
    config['current-context'] = entry.name;
  }
  return config;
}

function upsert(list: unknown, item: Named, name: string): Named[] {
  const items = Array.isArray(list) ? (list as Named[]) : [];
  const index = items.findIndex((existing) => existing?.name === name);
  if (index === -1) return [...items, item];
  return items.map((existing, i) => (i === index ? item : existing));
}

/** The user entry: a token file for pipelines, or the exec credential plugin for people. */
function userOf(entry: KubeconfigEntry): Record<string, unknown> {
  if (entry.tokenFile !== undefined) return { tokenFile: entry.tokenFile };
  if (entry.exec === undefined) throw new Error('a kubeconfig entry needs an exec plugin or a token file');
  const exec: Record<string, unknown> = {
    apiVersion: 'client.authentication.k8s.io/v1',
    command: entry.exec.command,
    args: entry.exec.args,
    interactiveMode: 'IfAvailable',
    provideClusterInfo: false,
  };
  if (entry.exec.env !== undefined) exec.env = entry.exec.env;
  return { exec };
}
