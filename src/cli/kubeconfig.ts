/**
 * `gatehouse kubeconfig`: writes or merges a context for a Gatehouse deployment into a
 * kubeconfig (default $KUBECONFIG's first file, else ~/.kube/config), with an exec section
 * that calls `gatehouse credential` behind the shell fast path (login/fast-path-exec.ts): while
 * the cached token is valid kubectl never starts Node. Other contexts are left untouched. For a
 * Gatehouse that fronts several clusters, `--cluster` (repeatable) writes one context per
 * cluster, named `<name>-<cluster>`, with server `<server>/clusters/<cluster>`; the first
 * becomes current.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { addCommand } from './commands.ts';
import { parse } from 'yaml';
import { clusterContextName, kubeconfigYaml, resolveKubeconfigPath } from '../kubeconfig.ts';
import { fastPathExec } from '../login/fast-path-exec.ts';
import { CLUSTER_NAME, clusterServer, type ClusterRouter } from '../cluster-route.ts';
import { InvalidArgumentError } from 'commander';
import { mergeKubeconfigEntry, type Kubeconfig } from '../login/kubeconfig-entry.ts';
import { cachePath, configDir, credentialCachePath } from '../login/token-cache.ts';
import { readTextIfExists } from '../read-if-exists.ts';
import { replaceFileSync } from '../replace-file.ts';

interface KubeconfigFlags {
  server: string;
  issuer?: string;
  clientId?: string;
  tokenFile?: string;
  clientSecret?: string;
  name: string;
  caFile?: string;
  kubeconfig?: string;
  setCurrent: boolean;
  execCommand?: string;
  configDir?: string;
  scope: string[];
  cluster: string[];
}

/** The gatehouse program itself, so kubectl calls the same installation that wrote the entry. */
function defaultExecCommand(): string {
  return fileURLToPath(new URL('../../bin/gatehouse.mjs', import.meta.url));
}

async function readKubeconfig(path: string): Promise<Kubeconfig | undefined> {
  const text = await readTextIfExists(path);
  if (text === undefined) return undefined;
  const parsed: unknown = parse(text);
  if (parsed === null || parsed === undefined) return undefined;
  if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error(`${path} is not a kubeconfig (not a YAML mapping)`);
  return parsed as Kubeconfig;
}

export function registerKubeconfig(program: Command): void {
  addCommand(program, 'kubeconfig')
    .requiredOption('--server <url>', 'Gatehouse URL (the Function URL, or https://127.0.0.1:8443 locally)')
    .option('--issuer <url>', 'OIDC issuer URL (people: browser sign-in)', process.env.GATEHOUSE_OIDC_ISSUER)
    .option('--client-id <id>', 'OAuth client id for kubectl sign-in (people)', process.env.GATEHOUSE_OIDC_CLIENT_ID)
    .option('--token-file <path>', 'pipelines: the file the job writes its OIDC token to; kubectl reads it (no browser, no refresh token, no plugin)')
    .option('--client-secret <secret>', 'client secret, for providers that require one')
    .option('--scope <scope...>', 'extra scopes to ask for', [])
    .option('--name <name>', 'name of the cluster, user and context entries (with --cluster: their prefix, <name>-<cluster>)', 'gatehouse')
    .option('--cluster <name>', 'a cluster of a Gatehouse that fronts several (repeatable): one context each, server <server>/clusters/<name>', collectClusters, [])
    .option('--ca-file <file>', 'PEM CA of the Gatehouse certificate (not needed for a Function URL)')
    .option('--kubeconfig <file>', 'kubeconfig to write (default: $KUBECONFIG or ~/.kube/config)')
    .option('--no-set-current', 'do not make the new context the current one')
    .option('--exec-command <command>', 'command kubectl runs for credentials (default: this gatehouse program)')
    .option('--config-dir <dir>', 'where `gatehouse credential` caches tokens (default: $GATEHOUSE_CONFIG_DIR or ~/.config/gatehouse)')
    .action(async (flags: KubeconfigFlags) => {
      const path = resolve(resolveKubeconfigPath(flags.kubeconfig));
      let server: URL;
      try {
        server = new URL(flags.server);
      } catch {
        process.stderr.write(`gatehouse: --server "${flags.server}" is not a URL\n`);
        process.exit(2);
      }
      if (server.protocol !== 'https:') {
        process.stderr.write('gatehouse: --server must be https:// (kubectl sends tokens only over TLS)\n');
        process.exit(2);
      }
      // A pipeline's token file, or the browser sign-in's plugin behind the credential fast path.
      const credential: { tokenFile: string } | { exec: ReturnType<typeof fastPathExec> } = (() => {
        if (flags.tokenFile !== undefined) return { tokenFile: resolve(flags.tokenFile) };
        if (flags.issuer !== undefined && flags.clientId !== undefined) {
          // The cache directory is spelled out, so the fast path and the plugin look in the same place.
          const tokensDir = resolve(flags.configDir ?? configDir());
          const args = ['credential', '--issuer', flags.issuer, '--client-id', flags.clientId, '--config-dir', tokensDir];
          if (flags.clientSecret !== undefined) args.push('--client-secret', flags.clientSecret);
          for (const scope of flags.scope) args.push('--scope', scope);
          const plugin = { command: flags.execCommand ?? defaultExecCommand(), args };
          return { exec: fastPathExec(plugin, credentialCachePath(cachePath(tokensDir, flags.issuer, flags.clientId))) };
        }
        process.stderr.write("gatehouse: give --issuer and --client-id (people sign in with a browser), or --token-file (a pipeline's OIDC token)\n");
        process.exit(2);
      })();
      const base = server.href.replace(/\/$/, '');
      const router: ClusterRouter | undefined = flags.cluster.length === 0 ? undefined : { mode: 'prefixed', names: new Set(flags.cluster) };
      const caPem = flags.caFile === undefined ? undefined : await readFile(flags.caFile, 'utf8');
      // One sign-in (one token cache, or one token file) serves every cluster's context.
      const entries = (router === undefined ? [''] : flags.cluster).map((cluster) => {
        const entry: Parameters<typeof mergeKubeconfigEntry>[1] = {
          name: clusterContextName(flags.name, router, cluster),
          server: router === undefined ? base : clusterServer(base, router, cluster),
          ...credential,
        };
        if (caPem !== undefined) entry.caPem = caPem;
        return entry;
      });

      // The first context becomes current (when asked); the others never take it over.
      const existing = await readKubeconfig(path);
      const merged = entries.reduce<Kubeconfig | undefined>((config, entry, index) => mergeKubeconfigEntry(config, entry, flags.setCurrent && index === 0), existing) ?? {};
      // An existing kubeconfig keeps its mode; a new one is the owner's alone.
      replaceFileSync(path, kubeconfigYaml(merged), { newFileMode: 0o600 });
      const first = entries[0] as (typeof entries)[number];
      process.stderr.write(
        entries.map((entry) => `Context "${entry.name}" for ${entry.server} written to ${path}`).join('\n') +
          (flags.setCurrent ? `; "${first.name}" made current.\n` : '.\n') +
          `Try: kubectl --context ${first.name} get namespaces\n`,
      );
    });
}

/** `--cluster` values, each a cluster name as the Gatehouse configuration spells it. */
function collectClusters(value: string, previous: string[]): string[] {
  if (!CLUSTER_NAME.test(value)) throw new InvalidArgumentError(`not a cluster name (letters, digits, "-" and "_"): ${JSON.stringify(value)}`);
  if (previous.includes(value)) throw new InvalidArgumentError(`--cluster ${value} is given twice`);
  return [...previous, value];
}
