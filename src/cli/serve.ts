/**
 * `gatehouse serve`: runs Gatehouse as a Node HTTPS server.
 *
 * Without --config it starts the local runtime (runtime/local.ts): loopback, a local CA,
 * the development issuer, the default policy, upstream = the current kubeconfig context —
 * or, on a machine with no kubeconfig at all, the embedded demo cluster. With --config it
 * serves a self-hosted deployment: OIDC, policy and upstream from the YAML file (flags
 * override), TLS from --tls-cert/--tls-key (else the local CA's certificate), or plain
 * HTTP only behind a TLS-terminating load balancer (--plain-http-port).
 *
 * With --config, --workers N serves from N processes sharing the ports (runtime/workers.ts).
 *
 * Exit codes: 2 for bad configuration (every problem listed), 1 for other start failures.
 * SIGINT/SIGTERM close listeners and local services, then exit 0.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { InvalidArgumentError, Option } from 'commander';
import type { Command } from 'commander';
import { addCommand } from './commands.ts';
import { parse } from 'yaml';
import { createApp } from '../app.ts';
import { createDepsFromConfig } from '../compose.ts';
import { addConfiguredRecordings } from '../recordings/from-config.ts';
import { configuredClusters, parseConfig } from '../config.ts';
import type { GatehouseConfig } from '../config.ts';
import { GatehouseConfigError } from '../config-error.ts';
import { resolveKubeconfigPath } from '../kubeconfig.ts';
import { CLUSTER_NAME, CLUSTERS_PREFIX } from '../cluster-route.ts';
import { ensureLocalTls } from '../local/tls.ts';
import { InstanceRunningError } from '../local/instance-lock.ts';
import { startNodeServer } from '../runtime/node-server.ts';
import { createNodeStreams } from '../streams/stream-upgrade.ts';
import type { NodeServer } from '../runtime/node-server.ts';
import { DEFAULT_STATE_DIR, DEFAULT_USER, DEFAULT_GROUPS, startLocalGatehouse, writeDevKubeconfig } from '../runtime/local.ts';
import { assertDevIssuerAllowed, DEV_AUDIENCE, DEV_ISSUER, loadDevIssuer } from '../auth/dev-issuer.ts';
import { isWorker, onShutdown, runPrimary, workerNumber, workerReady } from '../runtime/workers.ts';
import { workerSessionControl } from '../runtime/worker-sessions.ts';

interface ServeFlags {
  config?: string;
  host: string;
  port: number;
  stateDir: string;
  kubeconfig?: string;
  context?: string;
  policy?: string;
  name?: string;
  user: string;
  group?: string[];
  plainHttpPort?: number;
  tlsCert?: string;
  tlsKey?: string;
  auth: 'exec' | 'token';
  workers: number;
  devIssuer?: boolean;
  demoClusters?: string[];
}

/** What `serve` started, closed on a signal. */
interface Running {
  close(): Promise<void>;
}

export function registerServe(program: Command): void {
  addCommand(program, 'serve')
    .option('--config <file>', 'self-hosting configuration (YAML); without it, local defaults and the development issuer')
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'HTTPS port (0 = any free port)', parsePort, 8443)
    .option('--state-dir <dir>', 'where certificates, the dev issuer key and the users\' kubeconfig live', DEFAULT_STATE_DIR)
    .option('--kubeconfig <file>', 'kubeconfig of the upstream cluster (default $KUBECONFIG, else ~/.kube/config)')
    .option('--context <name>', 'context of that kubeconfig (default its current-context)')
    .option('--policy <file>', 'policy file (default policy/default.yaml)')
    .option('--demo-clusters <names>', 'front several embedded demo clusters, each under /clusters/<name>: comma-separated names (local mode)', parseClusterNames)
    .option('--name <name>', 'which Gatehouse or cluster this is, shown to approvers (local mode; with --config: approvals.name)')
    .option('--user <name>', 'user the generated kubeconfig authenticates as (local mode)', DEFAULT_USER)
    .option('--group <group...>', `groups of that user, repeatable (local mode; default ${DEFAULT_GROUPS.join(', ')})`)
    .option('--plain-http-port <port>', 'also listen in plain HTTP (behind a TLS-terminating load balancer, or for benchmarks)', parsePort)
    .option('--tls-cert <file>', 'PEM certificate chain to serve (with --config)')
    .option('--tls-key <file>', 'PEM private key to serve (with --config)')
    .addOption(new Option('--auth <kind>', 'how the generated kubeconfig gets tokens (local mode)').choices(['exec', 'token']).default('exec'))
    .option('--workers <count>', 'serve from this many processes, to use every core (with --config)', parseWorkers, 1)
    .option('--dev-issuer', "with --config: callers sign in with the local development issuer instead of the file's oidc (loopback only; writes <state-dir>/kubeconfig for --user/--group)")
    .action(async (flags: ServeFlags) => {
      if (flags.devIssuer === true) {
        const problems = [
          ...(flags.config === undefined ? ['--dev-issuer goes with --config (without --config the development issuer is on anyway)'] : []),
          ...(flags.workers > 1 ? ['--dev-issuer runs in one process: leave out --workers'] : []),
          ...(flags.tlsCert !== undefined ? ['--dev-issuer serves with the local CA (its kubeconfig trusts that CA): leave out --tls-cert/--tls-key'] : []),
        ];
        if (problems.length > 0) process.exit(reportStartFailure(new GatehouseConfigError('command line', problems)));
      }
      if (flags.workers > 1 && !isWorker()) {
        if (flags.config === undefined) {
          process.exit(
            reportStartFailure(
              new GatehouseConfigError('command line', [
                '--workers needs --config: the local defaults (development issuer, embedded stand-ins, demo cluster) run in one process',
              ]),
            ),
          );
        }
        try {
          // Checked once here, so a bad file is reported once, and the local certificate (if
          // used) is created before N processes could race to create it.
          readConfigFile(flags.config, flags);
          await serverTls(flags);
        } catch (error) {
          process.exit(reportStartFailure(error));
        }
        process.exit(await runPrimary(flags.workers));
      }
      // Signal handlers first: a SIGTERM that arrives while Gatehouse starts (or right after
      // it printed where it listens) must close it cleanly, not kill it half-started.
      let running: Running | undefined;
      let stopping: string | undefined;
      const closeAndExit = (target: Running): void => {
        target.close().then(
          () => process.exit(0),
          (error: unknown) => {
            console.error(`closing failed: ${error instanceof Error ? error.message : String(error)}`);
            process.exit(1);
          },
        );
      };
      const stop = (signal: string): void => {
        if (stopping !== undefined) return;
        stopping = signal;
        if (workerNumber() === 1) console.log(`\n${signal}: closing Gatehouse`);
        if (running !== undefined) closeAndExit(running);
      };
      process.once('SIGINT', () => stop('SIGINT'));
      process.once('SIGTERM', () => stop('SIGTERM'));
      try {
        running = flags.config === undefined ? await serveLocal(flags) : await serveConfigured(flags, flags.config);
      } catch (error) {
        // Exit at once: a half-started service must not keep the process alive.
        process.exit(reportStartFailure(error));
      }
      if (stopping !== undefined) {
        closeAndExit(running);
        return;
      }
      if (isWorker()) {
        onShutdown(() => stop('shutdown'));
        workerReady();
      }
    });
}

async function serveLocal(flags: ServeFlags): Promise<Running> {
  if (flags.demoClusters !== undefined && (flags.kubeconfig !== undefined || flags.context !== undefined)) {
    throw new GatehouseConfigError('command line', ['--demo-clusters fronts embedded demo clusters: leave out --kubeconfig and --context']);
  }
  // No kubeconfig at all: the embedded demo cluster, said plainly below.
  const demoCluster = flags.demoClusters === undefined && flags.kubeconfig === undefined && flags.context === undefined && !existsSync(resolveKubeconfigPath());
  const local = await startLocalGatehouse({
    stateDir: flags.stateDir,
    host: flags.host,
    port: flags.port,
    ...(flags.plainHttpPort === undefined ? {} : { plainHttpPort: flags.plainHttpPort }),
    ...(flags.kubeconfig === undefined ? {} : { upstreamKubeconfig: flags.kubeconfig }),
    ...(flags.context === undefined ? {} : { upstreamContext: flags.context }),
    ...(flags.policy === undefined ? {} : { policyFile: flags.policy }),
    demoCluster,
    ...(flags.demoClusters === undefined ? {} : { demoClusters: flags.demoClusters }),
    ...(flags.name === undefined ? {} : { name: flags.name }),
    user: flags.user,
    groups: flags.group ?? [...DEFAULT_GROUPS],
    auth: flags.auth,
  });
  const lines = [
    `Gatehouse is listening on ${local.url}`,
    ...(local.plainUrl === undefined ? [] : [`  plain HTTP (no kubectl tokens over it): ${local.plainUrl}`]),
    `  kubeconfig for users: ${local.kubeconfigPath}  (user "${local.user}", groups: ${local.groups.join(', ') || 'none'})`,
    `      export KUBECONFIG=${local.kubeconfigPath}`,
    ...(local.contexts.length > 1 ? [`      contexts, one per cluster: ${local.contexts.join(', ')}  (kubectl --context …)`] : []),
    `  policy:   ${local.policyFile}`,
    `  upstream: ${local.upstreamDescription}`,
    ...(local.mail === undefined ? [] : [`  approval mail (local inbox): ${local.mail.inboxUrl}`]),
  ];
  if (local.demoClusters !== undefined) {
    lines.push(
      `  NOTE: the clusters are EMBEDDED DEMO CLUSTERS (${local.demoClusters.map(({ name, url }) => `${name} at ${url}`).join(', ')})`,
      '        (in-memory stand-ins for kube-apiserver, each seeded with namespaces dev, staging and prod; nothing you do reaches a real cluster).',
    );
  }
  if (local.demo !== undefined) {
    lines.push(
      `  NOTE: no kubeconfig found (${resolveKubeconfigPath()}), so Gatehouse forwards to the EMBEDDED DEMO CLUSTER at ${local.demo.url}`,
      '        (an in-memory stand-in for kube-apiserver, seeded with namespaces dev, staging and prod; nothing you do reaches a real cluster).',
    );
  }
  lines.push(
    `  WARNING: the LOCAL DEVELOPMENT ISSUER is on — anyone who can read ${resolve(flags.stateDir, 'dev-issuer.jwk')}`,
    '           can act as any user. It is loopback-only; configure OIDC (--config) for anything else.',
    'Press Ctrl-C to stop.',
  );
  console.log(lines.join('\n'));
  return local;
}

async function serveConfigured(flags: ServeFlags, configPath: string): Promise<Running> {
  const config = readConfigFile(configPath, flags);
  // The development issuer: loopback only, refused before anything starts.
  if (flags.devIssuer === true) assertDevIssuerAllowed('node', flags.host);
  const devIssuer = flags.devIssuer === true ? await loadDevIssuer(resolve(flags.stateDir)) : undefined;
  const deps = await createDepsFromConfig(config, devIssuer === undefined ? {} : { authenticator: devIssuer.authenticator });
  addConfiguredRecordings(deps, config);
  // One of several processes: a client's answer to "wait for the approval?" may reach a sibling, never the waiting call.
  if (isWorker()) delete deps.mcpApprovalWaitSeconds;
  // The Node runtime carries exec/attach/cp/port-forward, recorded (no recording store: each is refused, 503).
  deps.tunnels = createNodeStreams({ recordings: deps.recordings, policy: deps.policy });
  // A session lives in the worker carrying it; the approval page asks (and terminates) them all.
  if (isWorker()) deps.liveSessions = workerSessionControl(deps.tunnels.sessions);
  const app = createApp(deps);
  const started: NodeServer[] = [];
  const closeAll = async (): Promise<void> => {
    for (const server of started.reverse()) await server.close();
    // Buffered read records are written before the process exits, not lost with it.
    await deps.records?.close();
  };
  try {
    const tls = await serverTls(flags);
    const https = await startNodeServer({ app, host: flags.host, port: flags.port, tls });
    started.push(https);
    const lines = [`Gatehouse is listening on ${https.url}`];
    if (flags.plainHttpPort !== undefined) {
      const plain = await startNodeServer({ app, host: flags.host, port: flags.plainHttpPort });
      started.push(plain);
      lines.push(`  plain HTTP (for a TLS-terminating load balancer only): ${plain.url}`);
    }
    lines.push(
      `  configuration: ${resolve(configPath)}`,
      `  oidc issuer:   ${config.oidc.issuer}`,
      `  policy:        ${config.policy.file}`,
      `  upstream:      ${describeUpstream(config)}`,
    );
    if (devIssuer === undefined) lines.push('  users: `gatehouse kubeconfig --server <public URL> …` writes a kubeconfig entry for this Gatehouse');
    else {
      const kubeconfigPath = resolve(flags.stateDir, 'kubeconfig');
      const groups = flags.group ?? [...DEFAULT_GROUPS];
      const { caPem } = await ensureLocalTls(resolve(flags.stateDir));
      const { router } = configuredClusters(config);
      await writeDevKubeconfig({ path: kubeconfigPath, server: https.url, router, caPem, devIssuer, user: flags.user, groups, stateDir: resolve(flags.stateDir), auth: flags.auth });
      lines.push(
        `  kubeconfig for users: ${kubeconfigPath}  (user "${flags.user}", groups: ${groups.join(', ') || 'none'})`,
        `  WARNING: the LOCAL DEVELOPMENT ISSUER replaces the file's oidc section — anyone who can read ${resolve(flags.stateDir, 'dev-issuer.jwk')} can act as any user.`,
      );
    }
    lines.push(
      'Press Ctrl-C to stop.',
    );
    // With --workers every process serves; the first one speaks for all.
    if (workerNumber() === 1) console.log(lines.join('\n'));
    return { close: closeAll };
  } catch (error) {
    await closeAll();
    throw error;
  }
}

/**
 * Reads the self-hosting config file; relative file paths in it are relative to the file.
 * Flags given on the command line replace the file's values.
 */
function readConfigFile(path: string, flags: ServeFlags): GatehouseConfig {
  let raw: unknown;
  try {
    raw = parse(readFileSync(path, 'utf8'));
  } catch (error) {
    const why = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'file does not exist' : (error as Error).message;
    throw new GatehouseConfigError(path, [why]);
  }
  // --dev-issuer: the development issuer stands in for the file's oidc section (which may be absent).
  if (flags.devIssuer === true && raw !== null && typeof raw === 'object') raw = { ...(raw as Record<string, unknown>), oidc: { issuer: DEV_ISSUER, audience: DEV_AUDIENCE } };
  const config = parseConfig(raw, path);
  const base = dirname(resolve(path));
  const fromFile = (file: string): string => (isAbsolute(file) ? file : resolve(base, file));
  config.policy.file = flags.policy === undefined ? fromFile(config.policy.file) : resolve(flags.policy);
  if (config.upstream?.kind === 'kubeconfig') {
    if (flags.kubeconfig !== undefined) config.upstream.kubeconfig = resolve(flags.kubeconfig);
    else if (config.upstream.kubeconfig !== undefined) config.upstream.kubeconfig = fromFile(config.upstream.kubeconfig);
    if (flags.context !== undefined) config.upstream.context = flags.context;
  }
  if (config.clusters !== undefined) {
    if (flags.kubeconfig !== undefined || flags.context !== undefined) {
      throw new GatehouseConfigError(path, ['--kubeconfig and --context name the upstream of one cluster; this file lists clusters, each with its own upstream']);
    }
    for (const { upstream } of config.clusters) if (upstream.kind === 'kubeconfig' && upstream.kubeconfig !== undefined) upstream.kubeconfig = fromFile(upstream.kubeconfig);
  }
  return config;
}

async function serverTls(flags: ServeFlags): Promise<{ cert: string; key: string }> {
  if ((flags.tlsCert === undefined) !== (flags.tlsKey === undefined)) {
    throw new GatehouseConfigError('command line', ['--tls-cert and --tls-key go together']);
  }
  if (flags.tlsCert !== undefined && flags.tlsKey !== undefined) {
    const problems: string[] = [];
    const read = (file: string, what: string): string => {
      try {
        return readFileSync(file, 'utf8');
      } catch (error) {
        problems.push(`${what} ${file} cannot be read: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
        return '';
      }
    };
    const cert = read(flags.tlsCert, '--tls-cert');
    const key = read(flags.tlsKey, '--tls-key');
    if (problems.length > 0) throw new GatehouseConfigError('command line', problems);
    return { cert, key };
  }
  const local = await ensureLocalTls(resolve(flags.stateDir));
  return { cert: local.certPem, key: local.keyPem };
}

function describeUpstream(config: GatehouseConfig): string {
  const { router, clusters } = configuredClusters(config);
  const described = clusters.map(({ name, upstream }) => {
    const where =
      upstream.kind === 'eks'
        ? `EKS cluster ${upstream.clusterName} in ${upstream.region} as ${upstream.roleArn}`
        : `${upstream.context === undefined ? 'current context' : `context "${upstream.context}"`} of ${resolve(resolveKubeconfigPath(upstream.kubeconfig))}`;
    return router.mode === 'root' ? where : `${CLUSTERS_PREFIX}${name}: ${where}`;
  });
  return described.join('; ');
}

function parseClusterNames(value: string): string[] {
  const names = value.split(',').map((name) => name.trim());
  for (const name of names) if (!CLUSTER_NAME.test(name)) throw new InvalidArgumentError(`not a cluster name (letters, digits, "-" and "_"): ${JSON.stringify(name)}`);
  if (new Set(names).size !== names.length) throw new InvalidArgumentError(`a cluster is named twice: ${value}`);
  return names;
}

function parseWorkers(value: string): number {
  const count = Number(value);
  if (!Number.isInteger(count) || count < 1 || count > 64) throw new InvalidArgumentError(`not a worker count (1-64): ${value}`);
  return count;
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError(`not a port: ${value}`);
  return port;
}

/** Prints why serve could not start; returns the exit code. */
function reportStartFailure(error: unknown): number {
  if (error instanceof GatehouseConfigError) {
    console.error(error.message);
    return 2;
  }
  if (error instanceof InstanceRunningError) {
    console.error(error.message);
    return 1;
  }
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
    console.error(`cannot listen: ${(error as Error).message} (choose another --host/--port)`);
    return 2;
  }
  console.error(`Gatehouse failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  return 1;
}
