/**
 * Kubeconfig files: finding the one kubectl would use, reading it, and writing the one
 * Gatehouse hands to its users. Only the fields Gatehouse needs are typed; the rest of a
 * kubeconfig passes through untouched when read.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { stringify } from 'yaml';
import { isYamlUnavailable, parseJsonOrYaml } from './json-or-yaml.ts';
import { GatehouseConfigError } from './config-error.ts';
import { replaceFileSync } from './replace-file.ts';
import { clusterServer, type ClusterRouter } from './cluster-route.ts';

export interface KubeconfigCluster {
  server?: string;
  'certificate-authority'?: string;
  'certificate-authority-data'?: string;
  'insecure-skip-tls-verify'?: boolean;
  'tls-server-name'?: string;
  'proxy-url'?: string;
}

export interface ExecConfig {
  apiVersion: string;
  command: string;
  args?: string[];
  env?: { name: string; value: string }[] | null;
  interactiveMode?: 'Never' | 'IfAvailable' | 'Always';
  provideClusterInfo?: boolean;
  /** Shown when the command is not found. */
  installHint?: string;
}

export interface KubeconfigUser {
  token?: string;
  tokenFile?: string;
  'client-certificate'?: string;
  'client-certificate-data'?: string;
  'client-key'?: string;
  'client-key-data'?: string;
  username?: string;
  password?: string;
  exec?: ExecConfig;
  'auth-provider'?: unknown;
}

export interface KubeconfigContext {
  cluster: string;
  user: string;
  namespace?: string;
}

export interface Kubeconfig {
  apiVersion?: string;
  kind?: string;
  'current-context'?: string;
  clusters?: { name: string; cluster: KubeconfigCluster }[];
  users?: { name: string; user: KubeconfigUser }[];
  contexts?: { name: string; context: KubeconfigContext }[];
}

/** The kubeconfig kubectl would read: the explicit path, else $KUBECONFIG's first entry, else ~/.kube/config. */
export function resolveKubeconfigPath(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (explicit !== undefined && explicit !== '') return explicit;
  const fromEnv = (env['KUBECONFIG'] ?? '').split(delimiter).find((entry) => entry !== '');
  if (fromEnv !== undefined) return fromEnv;
  return join(env['HOME'] ?? homedir(), '.kube', 'config');
}

/** Reads and parses a kubeconfig; a missing or unparsable file is a configuration error. */
export function readKubeconfig(path: string): Kubeconfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new GatehouseConfigError(path, [code === 'ENOENT' ? 'kubeconfig file does not exist' : `cannot read kubeconfig: ${code ?? String(error)}`]);
  }
  let doc: unknown;
  try {
    doc = parseJsonOrYaml(text);
  } catch (error) {
    if (isYamlUnavailable(error)) throw new GatehouseConfigError(path, [`kubeconfig is not in JSON form, which it must be here: ${(error as Error).message}`]);
    throw new GatehouseConfigError(path, [`kubeconfig is not valid YAML: ${(error as Error).message}`]);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new GatehouseConfigError(path, ['kubeconfig is not a YAML mapping']);
  }
  return doc as Kubeconfig;
}

/** Resolves a path in a kubeconfig relative to the kubeconfig's own folder, as kubectl does. */
export function resolveKubeconfigRelative(kubeconfigPath: string, path: string): string {
  return path.startsWith('/') ? path : join(dirname(kubeconfigPath), path);
}

export type UserAuth =
  | { kind: 'token'; token: string }
  | { kind: 'exec'; command: string; args: string[] };

export interface UserKubeconfigOptions {
  server: string;
  caPem: string;
  auth: UserAuth;
  /** Name of the cluster, user and context entries; default "gatehouse". */
  name?: string;
  /** The clusters of a Gatehouse that fronts several: one context each (`<name>-<cluster>`), the first current. */
  router?: ClusterRouter;
}

/** The kubeconfig context name of one cluster of a Gatehouse named `base` (`gatehouse-prod`); `base` itself for a single-cluster one. */
export function clusterContextName(base: string, router: ClusterRouter | undefined, cluster: string): string {
  return router?.mode === 'prefixed' ? `${base}-${cluster}` : base;
}

/**
 * The kubeconfig Gatehouse writes for its users: one user, and one cluster and context for each
 * cluster Gatehouse fronts (server `<url>/clusters/<name>`), the first current; a single-cluster
 * Gatehouse gets one context named `name` with the URL itself.
 */
export function userKubeconfig(options: UserKubeconfigOptions): Kubeconfig {
  const name = options.name ?? 'gatehouse';
  const user: KubeconfigUser =
    options.auth.kind === 'token'
      ? { token: options.auth.token }
      : {
          exec: {
            apiVersion: 'client.authentication.k8s.io/v1',
            command: options.auth.command,
            args: options.auth.args,
            env: null,
            interactiveMode: 'Never',
            provideClusterInfo: false,
          },
        };
  const router = options.router;
  const entries = (router?.mode === 'prefixed' ? [...router.names] : ['']).map((cluster) => ({
    context: clusterContextName(name, router, cluster),
    server: router === undefined ? options.server : clusterServer(options.server, router, cluster),
  }));
  const caData = Buffer.from(options.caPem).toString('base64');
  return {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: entries.map(({ context, server }) => ({ name: context, cluster: { server, 'certificate-authority-data': caData } })),
    users: [{ name, user }],
    contexts: entries.map(({ context }) => ({ name: context, context: { cluster: context, user: name } })),
    'current-context': entries[0]?.context ?? name,
  };
}

/** A kubeconfig as YAML; multi-line values (the exec fast path's script) as literal blocks, never folded. */
export function kubeconfigYaml(config: object): string {
  return stringify(config, { blockQuote: 'literal', lineWidth: 0 });
}

/** Writes a kubeconfig readable by its owner only (it may hold a token), atomically (replace-file.ts). */
export function writeKubeconfig(path: string, config: Kubeconfig): void {
  replaceFileSync(path, kubeconfigYaml(config), { mode: 0o600 });
}
