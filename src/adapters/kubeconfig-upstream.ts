/**
 * Upstream adapter: a context of a kubeconfig file (local use, self-hosting next to a
 * cluster). Everything is read and checked when the adapter is created — a context that
 * cannot be used fails start-up with every problem listed, never the first request.
 *
 * Supported: server (https; plain http only to a loopback address), CA from
 * `certificate-authority-data` or a `certificate-authority` file, `tls-server-name`, user
 * `token` / `tokenFile` (re-read every minute, since projected tokens rotate) and client
 * certificates (`client-certificate(-data)`, `client-key(-data)`). Refused, saying why:
 * `insecure-skip-tls-verify` (Gatehouse verifies the cluster or does not talk to it),
 * `proxy-url`, basic auth, and `auth-provider` users (deprecated in kubectl too). `exec` users
 * run their credential plugin as client-go does (exec-plugin.ts): when first needed, again
 * when the credential expires or the cluster answers 401.
 */
import { readFileSync } from 'node:fs';
import { GatehouseConfigError } from '../config-error.ts';
import { isLoopbackHost } from '../auth/loopback.ts';
import { readKubeconfig, resolveKubeconfigPath, resolveKubeconfigRelative } from '../kubeconfig.ts';
import type { Kubeconfig, KubeconfigUser } from '../kubeconfig.ts';
import type { Upstream } from '../ports/upstream.ts';
import type { Clock, UpstreamConnection } from '../types.ts';
import { systemClock } from '../types.ts';
import { createExecPlugin, execConfigProblems, type ExecPluginCredential } from './exec-plugin.ts';

export interface KubeconfigUpstreamOptions {
  /** Path of the kubeconfig; default $KUBECONFIG's first entry, else ~/.kube/config. */
  kubeconfig?: string;
  /** Context to use; default the kubeconfig's current-context. */
  context?: string;
  /** Seconds a tokenFile's content is reused before it is read again. */
  tokenFileRefreshSeconds?: number;
  /** Decides when an exec plugin's credential has expired. */
  clock?: Clock;
}

export interface KubeconfigUpstream extends Upstream {
  /** Human-readable origin, e.g. `context "kind-dev" (https://127.0.0.1:6443) from /home/me/.kube/config`. */
  readonly description: string;
}

export function createKubeconfigUpstream(options: KubeconfigUpstreamOptions = {}): KubeconfigUpstream {
  const path = resolveKubeconfigPath(options.kubeconfig);
  const loaded = loadContext(path, readKubeconfig(path), options.context);
  const refreshMs = (options.tokenFileRefreshSeconds ?? 60) * 1000;
  const description = `context "${loaded.contextName}" (${loaded.connection.server.href.replace(/\/$/, '')}) from ${path}`;

  if (loaded.exec !== undefined) {
    const plugin = createExecPlugin({ exec: loaded.exec, kubeconfigPath: path, cluster: loaded.cluster, clock: options.clock ?? systemClock });
    const base = loaded.connection;
    let last: { credential: ExecPluginCredential; connection: UpstreamConnection } | undefined;
    return {
      description,
      async connection() {
        const credential = await plugin.credential();
        // The same connection object while the credential lasts: forward keeps its TLS agents per connection.
        if (last?.credential !== credential) last = { credential, connection: { ...base, ...credential } };
        return last.connection;
      },
      rejected(connection) {
        if (last !== undefined && last.connection === connection) plugin.rejected(last.credential);
      },
    };
  }
  if (loaded.tokenFile === undefined) {
    const connection = loaded.connection;
    return { description, connection: async () => connection };
  }
  const tokenFile = loaded.tokenFile;
  let current = loaded.connection;
  let readAt = Date.now();
  return {
    description,
    async connection() {
      if (Date.now() - readAt < refreshMs) return current;
      const token = readFileSync(tokenFile, 'utf8').trim();
      readAt = Date.now();
      if (token !== current.token) current = { ...current, token };
      return current;
    },
  };
}

interface LoadedContext {
  contextName: string;
  connection: UpstreamConnection;
  tokenFile?: string;
  exec?: NonNullable<KubeconfigUser['exec']>;
  cluster: { server: string; 'certificate-authority-data'?: string; 'tls-server-name'?: string };
}

/** Resolves one context into a connection, collecting every problem before failing. */
function loadContext(path: string, config: Kubeconfig, requested: string | undefined): LoadedContext {
  const problems: string[] = [];
  const fail = (): never => {
    throw new GatehouseConfigError(path, problems);
  };

  const contextName = requested ?? config['current-context'];
  if (contextName === undefined || contextName === '') {
    problems.push('no context given and the kubeconfig has no current-context');
    return fail();
  }
  const context = config.contexts?.find((entry) => entry?.name === contextName)?.context;
  if (context === undefined || context === null) {
    const known = (config.contexts ?? []).map((entry) => `"${entry?.name}"`).join(', ') || 'none';
    problems.push(`context "${contextName}" not found (contexts: ${known})`);
    return fail();
  }
  const cluster = config.clusters?.find((entry) => entry?.name === context.cluster)?.cluster;
  if (cluster === undefined || cluster === null) problems.push(`context "${contextName}": cluster "${context.cluster}" not found`);
  const userName = context.user;
  const user: KubeconfigUser | undefined =
    userName === undefined || userName === '' ? {} : (config.users?.find((entry) => entry?.name === userName)?.user ?? undefined);
  if (user === undefined) problems.push(`context "${contextName}": user "${userName}" not found`);
  if (cluster === undefined || cluster === null || user === undefined) return fail();

  const where = `cluster "${context.cluster}"`;
  let server: URL | undefined;
  if (typeof cluster.server !== 'string' || cluster.server === '') {
    problems.push(`${where}: no server`);
  } else {
    try {
      server = new URL(cluster.server);
      if (server.protocol === 'http:' && !isLoopbackHost(server.hostname)) {
        problems.push(`${where}: server ${cluster.server} is plain http to a non-loopback host; credentials and caller identities would travel in clear`);
      } else if (server.protocol !== 'https:' && server.protocol !== 'http:') {
        problems.push(`${where}: server ${cluster.server} must be an https URL`);
      }
    } catch {
      problems.push(`${where}: server ${JSON.stringify(cluster.server)} is not a URL`);
    }
  }
  if (cluster['insecure-skip-tls-verify'] === true) {
    problems.push(`${where}: insecure-skip-tls-verify is set; Gatehouse only talks to a cluster whose certificate it can verify (give certificate-authority-data)`);
  }
  if (cluster['proxy-url'] !== undefined) problems.push(`${where}: proxy-url is not supported for the upstream`);
  const ca = pemFrom(cluster['certificate-authority-data'], cluster['certificate-authority'], path, `${where}: certificate-authority`, problems);

  const who = `user "${userName}"`;
  if (user.exec !== undefined) problems.push(...execConfigProblems(user.exec, who));
  if (user['auth-provider'] !== undefined) {
    problems.push(`${who}: auth-provider is not supported for the upstream in this version; use a token, tokenFile or client certificate`);
  }
  if (user.username !== undefined || user.password !== undefined) {
    problems.push(`${who}: basic authentication (username/password) is not supported; use a token or client certificate`);
  }
  const cert = pemFrom(user['client-certificate-data'], user['client-certificate'], path, `${who}: client-certificate`, problems);
  const key = pemFrom(user['client-key-data'], user['client-key'], path, `${who}: client-key`, problems);
  if ((cert === undefined) !== (key === undefined)) {
    problems.push(`${who}: a client certificate needs both client-certificate and client-key`);
  }
  let token = typeof user.token === 'string' && user.token !== '' ? user.token : undefined;
  let tokenFile: string | undefined;
  if (token === undefined && typeof user.tokenFile === 'string' && user.tokenFile !== '') {
    tokenFile = resolveKubeconfigRelative(path, user.tokenFile);
    try {
      token = readFileSync(tokenFile, 'utf8').trim();
      if (token === '') problems.push(`${who}: tokenFile ${tokenFile} is empty`);
    } catch (error) {
      problems.push(`${who}: cannot read tokenFile ${tokenFile}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
    }
  }
  if (token !== undefined && /[\r\n]/.test(token)) problems.push(`${who}: token contains a line break`);

  if (problems.length > 0 || server === undefined) return fail();
  const connection: UpstreamConnection = { server };
  if (ca !== undefined) connection.ca = ca;
  if (cert !== undefined) connection.cert = cert;
  if (key !== undefined) connection.key = key;
  if (token !== undefined) connection.token = token;
  const serverName = cluster['tls-server-name'];
  if (typeof serverName === 'string' && serverName !== '') connection.tlsServerName = serverName;
  const loaded: LoadedContext = { contextName, connection, cluster: { server: server.href.replace(/\/$/, '') } };
  if (ca !== undefined) loaded.cluster['certificate-authority-data'] = Buffer.from(ca).toString('base64');
  if (typeof serverName === 'string' && serverName !== '') loaded.cluster['tls-server-name'] = serverName;
  if (user.exec !== undefined) {
    if (token !== undefined || cert !== undefined) throw new GatehouseConfigError(path, [`${who}: give either an exec plugin or a token/client certificate, not both`]);
    loaded.exec = user.exec;
  }
  if (tokenFile !== undefined) loaded.tokenFile = tokenFile;
  return loaded;
}

/** PEM text from inline base64 `data` (preferred, as kubectl does) or a file; problems recorded, not thrown. */
function pemFrom(data: unknown, file: unknown, kubeconfigPath: string, what: string, problems: string[]): string | undefined {
  let pem: string | undefined;
  if (typeof data === 'string' && data !== '') {
    pem = Buffer.from(data, 'base64').toString('utf8');
    if (!pem.includes('-----BEGIN')) {
      problems.push(`${what}-data is not base64 of a PEM block`);
      return undefined;
    }
    return pem;
  }
  if (typeof file === 'string' && file !== '') {
    const resolved = resolveKubeconfigRelative(kubeconfigPath, file);
    try {
      pem = readFileSync(resolved, 'utf8');
    } catch (error) {
      problems.push(`${what} file ${resolved} cannot be read: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
      return undefined;
    }
    if (!pem.includes('-----BEGIN')) {
      problems.push(`${what} file ${resolved} is not PEM`);
      return undefined;
    }
    return pem;
  }
  return undefined;
}
