/**
 * The local runtime: Gatehouse on this machine with embedded defaults, for trying it out,
 * for development and for the end-to-end tests.
 *
 * - state dir (default `.gatehouse`): TLS material (local/tls.ts), the dev issuer key, the
 *   users' kubeconfig;
 * - authentication: the LOCAL DEVELOPMENT issuer (loopback only, never on Lambda);
 * - policy: the given file, else the repo's `policy/default.yaml`;
 * - upstream: the given kubeconfig/context, else the current kubeconfig context, or the
 *   embedded demo cluster (test/stand-in/, seeded) when asked — never Gatehouse itself
 *   (local/self-upstream.ts);
 * - one Gatehouse per state dir (local/instance-lock.ts): a second start stops at once,
 *   naming the running one.
 *
 * It writes `<stateDir>/kubeconfig` for users: server = this Gatehouse with its CA, context
 * `gatehouse`, and either an exec credential (`gatehouse dev-token … --exec-credential` behind
 * the shell fast path, login/fast-path-exec.ts) or a static token.
 *
 * Local services (the HTTPS listener, later the embedded DynamoDB/S3/mail stand-ins of
 * issues 4/5) are started in order and pushed onto `services`; close() — or a failed
 * start — closes them in reverse order.
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Hono } from 'hono';
import { createApp } from '../app.ts';
import { CLUSTERS_PREFIX, type ClusterRouter } from '../cluster-route.ts';
import type { GatehouseDeps } from '../app.ts';
import { assertDevIssuerAllowed, loadDevIssuer } from '../auth/dev-issuer.ts';
import type { DevIssuer } from '../auth/dev-issuer.ts';
import { createDepsFromConfig } from '../compose.ts';
import { configuredClusters, parseConfig } from '../config.ts';
import { clusterContextName, userKubeconfig, writeKubeconfig } from '../kubeconfig.ts';
import { devTokenCacheDir, devTokenCachePath } from '../login/credential-cache.ts';
import { fastPathExec } from '../login/fast-path-exec.ts';
import type { UserAuth } from '../kubeconfig.ts';
import { ensureLocalTls } from '../local/tls.ts';
import { acquireInstanceLock } from '../local/instance-lock.ts';
import { refuseSelfUpstream } from '../local/self-upstream.ts';
import { startLocalApprovals } from '../local/approvals.ts';
import { startLocalRecords } from '../local/records.ts';
import type { LocalRecords } from '../local/records.ts';
import { createFileSigningKey, LOCAL_SIGNING_KEY_FILE } from '../local/signing-key.ts';
import { createRecordingsFromConfig, createRecordingViewerFromConfig, redactionSources } from '../recordings/from-config.ts';
import { recordingRoutes } from '../recordings/routes.ts';
import { startLocalStreamLeases } from '../local/stream-leases.ts';
import type { RecordSink } from '../ports/records.ts';
import type { StreamLimiter } from '../streams/stream-limit.ts';
import type { LocalMailServer } from '../local/mail.ts';
import { createNodeStreams, type StreamHandling } from '../streams/stream-upgrade.ts';
import { startNodeServer } from './node-server.ts';

export const DEFAULT_STATE_DIR = '.gatehouse';
export const DEFAULT_POLICY_FILE = fileURLToPath(new URL('../../policy/default.yaml', import.meta.url));
export const GATEHOUSE_BIN = fileURLToPath(new URL('../../bin/gatehouse.mjs', import.meta.url));
export const DEFAULT_USER = 'you@example.com';
export const DEFAULT_GROUPS: readonly string[] = ['developers'];
/** Lifetime of the static token written in `auth: 'token'` mode. */
const STATIC_TOKEN_SECONDS = 12 * 3600;
/** Lifetime of the tokens the exec plugin mints (`gatehouse dev-token`'s default). */
const DEV_TOKEN_SECONDS = 3600;

export interface LocalOptions {
  stateDir: string;
  /** Loopback address to listen on; default 127.0.0.1. */
  host?: string;
  /** 0 = ephemeral; default 8443. */
  port?: number;
  /** Also listen in plain HTTP on this port (benchmarks; kubectl will not send tokens over it). */
  plainHttpPort?: number;
  upstreamKubeconfig?: string;
  upstreamContext?: string;
  /** Start the embedded demo cluster (seeded stand-in) and forward to it, instead of a kubeconfig. */
  demoCluster?: boolean;
  /**
   * Front several embedded demo clusters, one seeded stand-in each, under /clusters/<name>
   * (instead of `demoCluster` or a kubeconfig); the users' kubeconfig gets a context per cluster.
   */
  demoClusters?: readonly string[];
  /** Which Gatehouse (or cluster) this is, for approvers; default "local Gatehouse" (+ "(demo cluster)"). */
  name?: string;
  policyFile?: string;
  /** Who the users' kubeconfig authenticates as; default you@example.com in "developers". */
  user?: string;
  groups?: string[];
  /** How the users' kubeconfig gets its token; default exec (tokens minted as needed), tests use token. */
  auth?: 'exec' | 'token';
  upstreamTimeoutSeconds?: number;
  /** Parts replacing the configured ones (tests, and the stand-ins of later issues). */
  overrides?: Partial<GatehouseDeps>;
  /** Embedded approvals (DynamoDB + mail stand-ins): hold time and lifetime of approvals. */
  approvals?: { holdSeconds?: number; ttlSeconds?: number };
  /** The per-user cap on long streams (in-memory DynamoDB stand-in): default 10 per user, 60 s leases. */
  streams?: { maxPerUser?: number; leaseSeconds?: number };
}

export interface LocalGatehouse {
  url: string;
  /** Set when plainHttpPort was given. */
  plainUrl?: string;
  caPem: string;
  /** Ready kubeconfig for users (dev-issuer exec or token auth). */
  kubeconfigPath: string;
  devIssuer: DevIssuer;
  app: Hono;
  /** The per-user cap on long streams (unless overridden). */
  streams?: StreamLimiter;
  /** exec, attach, cp and port-forward: the live sessions and what the tunnels held at most. */
  tunnels?: StreamHandling;
  /** Session records (embedded S3 stand-in under `<stateDir>/s3`, unless overridden); `flush()` makes them readable now. */
  records?: RecordSink;
  policyFile: string;
  /** Where requests go, in words (context, server, kubeconfig file). */
  upstreamDescription: string;
  /** Set when the embedded demo cluster is the upstream. */
  demo?: { url: string };
  /** Set with `demoClusters`: each demo cluster's name and stand-in URL. */
  demoClusters?: { name: string; url: string }[];
  /** The kubeconfig context of each cluster, in order (one, `gatehouse`, for a single cluster). */
  contexts: string[];
  user: string;
  groups: string[];
  /** Approval mail (embedded SES stand-in): `inboxUrl` for people, `messages(to)` for tests; absent when approvals were overridden. */
  mail?: Pick<LocalMailServer, 'inboxUrl' | 'messages'>;
  close(): Promise<void>;
}

/** Something local that was started and must be closed. */
interface LocalService {
  name: string;
  close(): Promise<void>;
}

export async function startLocalGatehouse(options: LocalOptions): Promise<LocalGatehouse> {
  const stateDir = resolve(options.stateDir || DEFAULT_STATE_DIR);
  const host = options.host ?? '127.0.0.1';
  const user = options.user ?? DEFAULT_USER;
  const groups = options.groups ?? [...DEFAULT_GROUPS];
  const policyFile = resolve(options.policyFile ?? DEFAULT_POLICY_FILE);
  assertDevIssuerAllowed('node', host);
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  // Before anything else starts: a second Gatehouse on this folder stops here.
  const lock = acquireInstanceLock(stateDir);
  const services: LocalService[] = [{ name: 'state folder lock', close: async () => lock.release() }];
  try {
    const [tls, devIssuer] = await Promise.all([ensureLocalTls(stateDir), loadDevIssuer(stateDir)]);
    const kubeconfigPath = join(stateDir, 'kubeconfig');

    let upstreamKubeconfig = options.upstreamKubeconfig === undefined ? undefined : resolve(options.upstreamKubeconfig);
    let demo: { url: string } | undefined;
    if (options.demoCluster === true) {
      const cluster = await startDemoCluster();
      services.push({ name: 'demo cluster', close: () => cluster.close() });
      upstreamKubeconfig = cluster.kubeconfigPath;
      demo = { url: cluster.url };
    }
    const selfCheck = { kubeconfig: upstreamKubeconfig, context: options.upstreamContext, ownKubeconfig: kubeconfigPath, ownCaPem: tls.caPem };
    refuseSelfUpstream({ ...selfCheck, ownUrls: [] });
    const upstream: Record<string, string> = { kind: 'kubeconfig' };
    if (upstreamKubeconfig !== undefined) upstream['kubeconfig'] = upstreamKubeconfig;
    if (options.upstreamContext !== undefined) upstream['context'] = options.upstreamContext;
    const demoClusters: { name: string; url: string; kubeconfigPath: string }[] = [];
    for (const name of options.demoClusters ?? []) {
      const cluster = await startDemoCluster();
      services.push({ name: `demo cluster ${name}`, close: () => cluster.close() });
      demoClusters.push({ name, url: cluster.url, kubeconfigPath: cluster.kubeconfigPath });
    }
    const config = parseConfig(
      {
        runtime: 'node',
        oidc: { issuer: devIssuer.issuer, audience: devIssuer.audience },
        ...(demoClusters.length === 0
          ? { upstream }
          : { clusters: demoClusters.map(({ name, kubeconfigPath }) => ({ name, upstream: { kind: 'kubeconfig', kubeconfig: kubeconfigPath } })) }),
        policy: { file: policyFile },
        ...(options.upstreamTimeoutSeconds === undefined ? {} : { upstreamTimeoutSeconds: options.upstreamTimeoutSeconds }),
      },
      'local defaults',
    );
    // Issues 4/5: start embedded stand-ins here (push each onto `services`) and add their adapters to the overrides.
    let publicUrl = '';
    const localApprovals =
      options.overrides?.approvals === undefined
        ? await startLocalApprovals({
            stateDir,
            host,
            publicUrl: () => publicUrl,
            name: options.name ?? (demo === undefined ? 'local Gatehouse' : 'local Gatehouse (demo cluster)'),
            ...(options.overrides?.clock === undefined ? {} : { clock: options.overrides.clock }),
            ...options.approvals,
          })
        : undefined;
    if (localApprovals !== undefined) services.push({ name: 'approvals stand-ins (DynamoDB, mail)', close: () => localApprovals.close() });
    // The per-user cap on long streams, counted in an in-memory DynamoDB stand-in (closed after the listener).
    const localStreams =
      options.overrides?.streams === undefined
        ? await startLocalStreamLeases({ host, ...options.streams, ...(options.overrides?.clock === undefined ? {} : { clock: options.overrides.clock }) })
        : undefined;
    if (localStreams !== undefined) services.push({ name: 'stream leases (DynamoDB stand-in)', close: () => localStreams.close() });
    // Session records into the embedded S3 stand-in; closed after the listener, so streams that end at shutdown are flushed.
    const localRecords =
      options.overrides?.records === undefined
        ? await startLocalRecords({ stateDir, host, ...(options.overrides?.clock === undefined ? {} : { clock: options.overrides.clock }) })
        : undefined;
    if (localRecords !== undefined) services.push({ name: 'session records (S3 stand-in)', close: () => localRecords.close() });
    const deps = await createDepsFromConfig(config, {
      authenticator: devIssuer.authenticator,
      ...(localApprovals === undefined ? {} : { approvals: localApprovals.approvals }),
      ...(localStreams === undefined ? {} : { streams: localStreams.limiter }),
      ...(localRecords === undefined ? {} : { records: localRecords.sink, recordSettings: localRecords.settings }),
      ...options.overrides,
    });
    if (localRecords !== undefined) await addLocalRecordings(deps, localRecords, join(stateDir, LOCAL_SIGNING_KEY_FILE));
    // After the recording store is there: the streams record through it (none: every session is refused).
    deps.tunnels ??= createNodeStreams({ recordings: deps.recordings, policy: deps.policy, ...(deps.clock === undefined ? {} : { clock: deps.clock }) });
    const app = createApp(deps);

    const server = await startNodeServer({ app, host, port: options.port ?? 8443, tls: { cert: tls.certPem, key: tls.keyPem } });
    services.push({ name: 'https listener', close: () => server.close() });
    publicUrl = server.url;
    let plainUrl: string | undefined;
    if (options.plainHttpPort !== undefined) {
      const plain = await startNodeServer({ app, host, port: options.plainHttpPort });
      services.push({ name: 'plain http listener', close: () => plain.close() });
      plainUrl = plain.url;
    }
    refuseSelfUpstream({ ...selfCheck, ownUrls: plainUrl === undefined ? [server.url] : [server.url, plainUrl] });
    lock.setUrl(server.url);
    const { router } = configuredClusters(config);
    await writeDevKubeconfig({ path: kubeconfigPath, server: server.url, router, caPem: tls.caPem, devIssuer, user, groups, stateDir, auth: options.auth ?? 'exec' });

    const local: LocalGatehouse = {
      url: server.url,
      caPem: tls.caPem,
      kubeconfigPath,
      devIssuer,
      app,
      policyFile,
      upstreamDescription: describeUpstream(deps),
      user,
      groups,
      contexts: router.mode === 'prefixed' ? [...router.names].map((name) => clusterContextName('gatehouse', router, name)) : ['gatehouse'],
      close: () => closeAll(services),
    };
    if (demoClusters.length > 0) local.demoClusters = demoClusters.map(({ name, url }) => ({ name, url }));
    if (plainUrl !== undefined) local.plainUrl = plainUrl;
    if (demo !== undefined) local.demo = demo;
    if (localApprovals !== undefined) local.mail = localApprovals.mail;
    if (deps.records !== undefined) local.records = deps.records;
    if (deps.streams !== undefined) local.streams = deps.streams;
    if (deps.tunnels !== undefined) local.tunnels = deps.tunnels;
    return local;
  } catch (error) {
    await closeAll(services);
    throw error;
  }
}

/** The users' kubeconfig for a Gatehouse whose callers sign in with the development issuer. */
export async function writeDevKubeconfig(options: {
  path: string;
  server: string;
  /** The clusters the Gatehouse fronts: a context each when several. */
  router?: ClusterRouter;
  caPem: string;
  devIssuer: DevIssuer;
  user: string;
  groups: string[];
  stateDir: string;
  auth: 'exec' | 'token';
}): Promise<void> {
  const auth: UserAuth =
    options.auth === 'token'
      ? { kind: 'token', token: await options.devIssuer.mint(options.user, options.groups, STATIC_TOKEN_SECONDS) }
      : {
          kind: 'exec',
          ...fastPathExec(
            { command: GATEHOUSE_BIN, args: devTokenArgs(options.user, options.groups, options.stateDir) },
            devTokenCachePath(options.stateDir, options.user, options.groups, DEV_TOKEN_SECONDS),
          ),
        };
  // Tokens cached by an earlier start may name another user or come from a replaced issuer key.
  rmSync(devTokenCacheDir(options.stateDir), { recursive: true, force: true });
  writeKubeconfig(options.path, userKubeconfig({ server: options.server, caPem: options.caPem, auth, ...(options.router === undefined ? {} : { router: options.router }) }));
}

/**
 * Arguments of the exec credential plugin that mints a dev token (`gatehouse dev-token`); the
 * shell fast path in front of it hands out the cached one until it nears expiry.
 */
function devTokenArgs(user: string, groups: string[], stateDir: string): string[] {
  const args = ['dev-token', '--user', user];
  for (const group of groups) args.push('--group', group);
  args.push('--ttl', String(DEV_TOKEN_SECONDS), '--exec-credential', '--state-dir', stateDir);
  return args;
}

/** The embedded demo cluster: the kube-apiserver stand-in of the tests, seeded (test/stand-in/demo.ts). */
async function startDemoCluster(): Promise<{ url: string; kubeconfigPath: string; close(): Promise<void> }> {
  // Imported by URL so the server code does not depend on the test tree at compile time: built,
  // it is dist/cli/demo-cluster.js beside the CLI's chunks (scripts/build.mjs); from source
  // (tests under tsx), the stand-in itself.
  const built = new URL('./demo-cluster.js', import.meta.url);
  const source = new URL('../../test/stand-in/apiserver.ts', import.meta.url);
  const module = (await import((existsSync(built) ? built : source).href)) as {
    startFakeApiServer(options: { demo: boolean }): Promise<{ url: string; kubeconfigPath: string; close(): Promise<void> }>;
  };
  return module.startFakeApiServer({ demo: true });
}

function describeUpstream(deps: GatehouseDeps): string {
  const clusters = deps.clusters?.upstreams ?? (deps.upstream === undefined ? [] : [{ name: '', upstream: deps.upstream }]);
  const root = deps.clusters === undefined || deps.clusters.router.mode === 'root';
  return clusters
    .map(({ name, upstream }) => {
      const described = (upstream as { description?: unknown }).description;
      const what = typeof described === 'string' ? described : 'the configured upstream';
      return root ? what : `${CLUSTERS_PREFIX}${name}: ${what}`;
    })
    .join('; ');
}

/**
 * Recordings of exec/attach/port-forward into the S3 stand-in beside the records, and the
 * recordings pages, whose links are signed with the state dir's link key (what
 * `gatehouse sessions link --local` signs with). Parts a caller overrode stay as given.
 */
async function addLocalRecordings(deps: GatehouseDeps, records: LocalRecords, keyFile: string): Promise<void> {
  deps.recordings ??= createRecordingsFromConfig(records.config, { sources: redactionSources(deps), masking: deps.masking, clientConfig: records.clientConfig });
  const signingKey = createFileSigningKey(keyFile);
  // Created now (0600, kept across restarts), so `gatehouse sessions link --local` can sign before any approval was asked.
  await signingKey.key();
  deps.recordingPages ??= recordingRoutes(
    createRecordingViewerFromConfig(records.config, { signingKey, clientConfig: records.clientConfig, ...(deps.clock === undefined ? {} : { clock: deps.clock }) }),
  );
}

/** Closes services in reverse start order; every one is tried even when an earlier close fails. */
async function closeAll(services: LocalService[]): Promise<void> {
  const failures: unknown[] = [];
  while (services.length > 0) {
    const service = services.pop() as LocalService;
    try {
      await service.close();
    } catch (error) {
      failures.push(error);
    }
  }
  if (failures.length > 0) throw new AggregateError(failures, 'closing the local Gatehouse failed');
}
