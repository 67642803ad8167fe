/**
 * Upstream credentials from a kubeconfig exec plugin (`aws eks get-token`,
 * `gke-gcloud-auth-plugin`, `kubelogin` …), run the way client-go runs it:
 *
 * - `apiVersion` client.authentication.k8s.io/v1 or v1beta1; the plugin must answer with the
 *   same apiVersion and kind ExecCredential, with `status.token` or a client certificate
 *   (`clientCertificateData` + `clientKeyData`);
 * - the command gets Gatehouse's environment plus the kubeconfig's `env`, its `args`, and
 *   `KUBERNETES_EXEC_INFO` (`spec.interactive: false` — a server has nobody to ask; with
 *   `provideClusterInfo`, `spec.cluster` too); a relative command with a slash is relative to
 *   the kubeconfig's folder;
 * - `interactiveMode: Always` cannot work in a server and is refused at start-up; v1 requires
 *   `interactiveMode` to be set, as client-go does;
 * - the credential is cached until `status.expirationTimestamp` (for ever without one), run
 *   again when the cluster answers 401 to it, and one run serves every concurrent caller;
 * - a failing plugin is reported with its command, exit status and stderr (and the
 *   kubeconfig's `installHint` when the command is missing).
 */
import { execFile } from 'node:child_process';
import { dirname, isAbsolute, resolve } from 'node:path';
import { GatehouseError } from '../errors.ts';
import type { ExecConfig } from '../kubeconfig.ts';
import type { Clock } from '../types.ts';

export const EXEC_API_VERSIONS = ['client.authentication.k8s.io/v1', 'client.authentication.k8s.io/v1beta1'] as const;

export interface ExecPluginCredential {
  token?: string;
  cert?: string;
  key?: string;
}

export interface ExecPlugin {
  /** The current credential: cached, or from a fresh run of the plugin. */
  credential(): Promise<ExecPluginCredential>;
  /** The cluster refused this credential (401): the next call runs the plugin again. */
  rejected(credential: ExecPluginCredential): void;
}

export interface ExecPluginOptions {
  exec: ExecConfig;
  kubeconfigPath: string;
  /** For `provideClusterInfo`: the cluster as client-go hands it over. */
  cluster: { server: string; 'certificate-authority-data'?: string; 'tls-server-name'?: string };
  clock: Clock;
  /** Longest a plugin may run; default 60 s. */
  timeoutMs?: number;
}

/** Problems with the exec stanza itself, found at start-up (without running anything). */
export function execConfigProblems(exec: ExecConfig, who: string): string[] {
  const problems: string[] = [];
  if (typeof exec.command !== 'string' || exec.command === '') problems.push(`${who}: exec plugin has no command`);
  if (!(EXEC_API_VERSIONS as readonly string[]).includes(exec.apiVersion)) {
    problems.push(`${who}: exec plugin apiVersion ${JSON.stringify(exec.apiVersion)} is not supported (use ${EXEC_API_VERSIONS.join(' or ')})`);
  }
  if (exec.apiVersion === EXEC_API_VERSIONS[0] && exec.interactiveMode === undefined) {
    problems.push(`${who}: exec plugin interactiveMode must be set for ${EXEC_API_VERSIONS[0]} (Never or IfAvailable)`);
  }
  if (exec.interactiveMode === 'Always') {
    problems.push(`${who}: exec plugin ${exec.command} has interactiveMode Always, but Gatehouse is a server with no terminal to ask anyone in; use a plugin mode that runs unattended (Never or IfAvailable)`);
  } else if (exec.interactiveMode !== undefined && exec.interactiveMode !== 'Never' && exec.interactiveMode !== 'IfAvailable') {
    problems.push(`${who}: exec plugin interactiveMode ${JSON.stringify(exec.interactiveMode)} is not one of Never, IfAvailable, Always`);
  }
  for (const entry of exec.env ?? []) {
    if (typeof entry?.name !== 'string' || typeof entry.value !== 'string') problems.push(`${who}: exec plugin env entries need a name and a value`);
  }
  return problems;
}

interface Cached {
  credential: ExecPluginCredential;
  /** Epoch ms; Infinity without an expirationTimestamp. */
  expiresAt: number;
}

export function createExecPlugin(options: ExecPluginOptions): ExecPlugin {
  const { exec, clock } = options;
  const command = exec.command.includes('/') && !isAbsolute(exec.command) ? resolve(dirname(options.kubeconfigPath), exec.command) : exec.command;
  const name = `upstream credential plugin ${JSON.stringify(exec.command)}`;
  let cached: Cached | undefined;
  let running: Promise<Cached> | undefined;

  function run(): Promise<Cached> {
    const info = {
      apiVersion: exec.apiVersion,
      kind: 'ExecCredential',
      spec: {
        interactive: false,
        ...(exec.provideClusterInfo === true
          ? {
              cluster: {
                server: options.cluster.server,
                ...(options.cluster['certificate-authority-data'] === undefined ? {} : { 'certificate-authority-data': options.cluster['certificate-authority-data'] }),
                ...(options.cluster['tls-server-name'] === undefined ? {} : { 'tls-server-name': options.cluster['tls-server-name'] }),
              },
            }
          : {}),
      },
    };
    const env: NodeJS.ProcessEnv = { ...process.env, KUBERNETES_EXEC_INFO: JSON.stringify(info) };
    for (const entry of exec.env ?? []) env[entry.name] = entry.value;
    return new Promise((resolvePromise, reject) => {
      const child = execFile(command, exec.args ?? [], { env, timeout: options.timeoutMs ?? 60_000, maxBuffer: 1 << 20, encoding: 'utf8' }, (error, stdout, stderr) => {
        if (error !== null) {
          const code = (error as NodeJS.ErrnoException).code;
          const why =
            code === 'ENOENT'
              ? `command not found${exec.installHint === undefined ? '' : ` (${exec.installHint.trim()})`}`
              : error.killed === true
                ? `did not finish in ${(options.timeoutMs ?? 60_000) / 1000} seconds`
                : `exit status ${String(error.code ?? error.signal ?? '?')}`;
          const said = stderr.trim() === '' ? '' : `: ${stderr.trim().slice(0, 1000)}`;
          reject(new GatehouseError('ERR_CREDENTIALS_UNAVAILABLE', `${name} failed: ${why}${said}`));
          return;
        }
        try {
          resolvePromise(parseOutput(stdout));
        } catch (problem) {
          reject(new GatehouseError('ERR_CREDENTIALS_UNAVAILABLE', `${name} answered badly: ${(problem as Error).message}`));
        }
      });
      child.stdin?.end();
    });
  }

  function parseOutput(stdout: string): Cached {
    let parsed: unknown;
    try {
      parsed = JSON.parse(stdout);
    } catch {
      throw new Error('its output is not JSON (an ExecCredential was expected)');
    }
    const doc = parsed as { apiVersion?: unknown; kind?: unknown; status?: Record<string, unknown> };
    if (doc.kind !== 'ExecCredential') throw new Error(`kind is ${JSON.stringify(doc.kind)}, not "ExecCredential"`);
    if (doc.apiVersion !== exec.apiVersion) throw new Error(`apiVersion is ${JSON.stringify(doc.apiVersion)}, but the kubeconfig asked for ${exec.apiVersion}`);
    const status = doc.status ?? {};
    const text = (key: string): string | undefined => (typeof status[key] === 'string' && status[key] !== '' ? (status[key] as string) : undefined);
    const credential: ExecPluginCredential = {};
    const token = text('token');
    const cert = text('clientCertificateData');
    const key = text('clientKeyData');
    if (token !== undefined) credential.token = token;
    if ((cert === undefined) !== (key === undefined)) throw new Error('status has only one of clientCertificateData and clientKeyData');
    if (cert !== undefined && key !== undefined) {
      credential.cert = cert;
      credential.key = key;
    }
    if (token === undefined && cert === undefined) throw new Error('status has neither a token nor a client certificate');
    if (token !== undefined && /[\r\n]/.test(token)) throw new Error('the token contains a line break');
    const expiry = text('expirationTimestamp');
    let expiresAt = Number.POSITIVE_INFINITY;
    if (expiry !== undefined) {
      expiresAt = Date.parse(expiry);
      if (Number.isNaN(expiresAt)) throw new Error(`expirationTimestamp ${JSON.stringify(expiry)} is not an RFC 3339 time`);
    }
    return { credential, expiresAt };
  }

  return {
    async credential() {
      if (cached !== undefined && clock.now() < cached.expiresAt) return cached.credential;
      running ??= run().finally(() => {
        running = undefined;
      });
      cached = await running;
      return cached.credential;
    },
    rejected(credential) {
      if (cached?.credential === credential) cached = undefined;
    },
  };
}
