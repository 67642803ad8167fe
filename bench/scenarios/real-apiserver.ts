/**
 * Benchmark 6 — the small GET against a REAL kube-apiserver (test/kube/cluster.ts), with a real
 * peer: the same `get pod` (~2 KB), closed loop, through
 *
 * - direct: the API server itself, as admin impersonating the bench caller (the same RBAC work,
 *   with one of the caller's groups);
 * - kubectl proxy: with Gatehouse's cluster identity and `--as`/`--as-group` for the caller;
 * - kube-oidc-proxy (bench/peer/build-kube-oidc-proxy.sh): the open-source OIDC + impersonation
 *   proxy, HTTPS, verifying the caller's ID token (discovery over HTTPS from the bench IdP);
 * - Gatehouse: the bench front (whole pipeline: OIDC, policy, masking, records to S3), HTTPS.
 *
 * Gatehouse and kube-oidc-proxy get the same token, the same upstream and the same cluster
 * identity (infra/rbac/impersonator.yaml). kube-oidc-proxy verifies, impersonates and forwards;
 * Gatehouse also decides by policy, masks and records, so the ratio prices those too.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { prepareRealServer } from '../../test/kube/availability.mjs';
import { freePort, startRealCluster, type RealCluster } from '../../test/kube/cluster.ts';
import { createTestCertificates } from '../../test/stand-in/tls.ts';
import { startChild, startTsChild, type Child } from '../children.ts';
import { BENCH_NAMESPACE, POD_PATH, pod } from '../fixtures.ts';
import type { FrontSettings } from '../gatehouse-front.ts';
import { startBenchIdp } from '../idp.ts';
import { startKubectlProxy } from '../kubectl-proxy.ts';
import { BENCH_GROUPS, BENCH_USER, benchPolicy, policyYaml } from '../policy-rules.ts';
import type { GatehouseReady } from '../stand.ts';
import { measureFront, type MeasuredFront, type SmallGetOptions } from './small-get.ts';

const PEER_BUILD = fileURLToPath(new URL('../peer/build-kube-oidc-proxy.sh', import.meta.url));
const RECORDS_BUCKET = 'gatehouse-bench-records';

export type RealFrontName = 'direct' | 'kubectl proxy' | 'kube-oidc-proxy' | 'gatehouse';

export interface RealFrontResult extends MeasuredFront {
  front: RealFrontName;
}

export interface RealApiServerResult {
  kubeApiserver: string;
  connections: number;
  seconds: number;
  path: string;
  fronts: RealFrontResult[];
  /** Why kube-oidc-proxy was not measured, when it was not. */
  peerMissing?: string;
  throughputVsKubectlProxy: number;
  throughputVsKubeOidcProxy?: number;
  cpuVsKubectlProxy: number;
  cpuVsKubeOidcProxy?: number;
}

/** Builds (or finds cached) kube-oidc-proxy; its progress goes to stderr. */
function peerBinary(): { bin?: string; reason?: string } {
  const result = spawnSync('bash', [PEER_BUILD], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  if (result.status !== 0) return { reason: `bench/peer/build-kube-oidc-proxy.sh failed (exit ${result.status ?? result.signal})` };
  return { bin: result.stdout.trim().split('\n').at(-1) ?? '' };
}

export async function realApiServerGet(options: SmallGetOptions & { policyRules: number; scratch: string }, log: (line: string) => void): Promise<RealApiServerResult | { notRun: string }> {
  const kube = prepareRealServer();
  if (kube.bin === undefined) return { notRun: kube.reason };
  const peer = peerBinary();

  const scratch = join(options.scratch, 'real');
  mkdirSync(join(scratch, 'home'), { recursive: true });
  const stops: (() => Promise<void>)[] = [];
  try {
    const cluster: RealCluster = await startRealCluster({ bindings: BENCH_GROUPS.map((group) => ({ namespace: BENCH_NAMESPACE, role: 'view', group })) });
    stops.push(() => cluster.close());
    const { uid: _uid, resourceVersion: _rv, ...metadata } = (pod() as { metadata: Record<string, unknown> }).metadata;
    await cluster.admin('POST', `/api/v1/namespaces/${BENCH_NAMESPACE}/pods`, { ...pod(), metadata });

    const certs = await createTestCertificates('bench-fronts');
    const caFile = join(scratch, 'ca.pem');
    writeFileSync(caFile, certs.caPem);
    writeFileSync(join(scratch, 'tls.crt'), certs.certPem);
    writeFileSync(join(scratch, 'tls.key'), certs.keyPem, { mode: 0o600 });
    const idp = await startBenchIdp({ tls: { cert: certs.certPem, key: certs.keyPem } });
    stops.push(() => idp.close());
    const token = await idp.mint(BENCH_USER, BENCH_GROUPS, 3600);

    const s3 = await startTsChild<{ endpoint: string }>('S3 emulator', './s3.ts', [join(scratch, 's3'), RECORDS_BUCKET]);
    stops.push(() => s3.stop());
    const policyFile = join(scratch, 'policy.yaml');
    writeFileSync(policyFile, policyYaml(benchPolicy(options.policyRules)));
    const settings: FrontSettings = {
      issuer: idp.issuer,
      jwksUri: idp.jwksUri,
      audience: idp.audience,
      upstreamKubeconfig: cluster.gatehouseKubeconfigPath,
      policyFile,
      s3Endpoint: s3.ready.endpoint,
      bucket: RECORDS_BUCKET,
      tls: { cert: certs.certPem, key: certs.keyPem },
    };
    const gatehouse = await startTsChild<GatehouseReady>('Gatehouse', './gatehouse-front.ts', [JSON.stringify(settings)], {
      env: { ...process.env, NODE_EXTRA_CA_CERTS: caFile },
    });
    stops.push(() => gatehouse.stop());
    const kubectlProxy = await startKubectlProxy(cluster.gatehouseKubeconfigPath, join(scratch, 'home'), ['--as', BENCH_USER, ...BENCH_GROUPS.flatMap((g) => ['--as-group', g])]);
    stops.push(() => kubectlProxy.stop());
    let oidcProxy: Child<{ url: string }> | undefined;
    if (peer.bin !== undefined) {
      oidcProxy = await startKubeOidcProxy(peer.bin, { issuer: idp.issuer, audience: idp.audience, caFile, scratch, kubeconfig: cluster.gatehouseKubeconfigPath, port: await freePort() });
      stops.push(() => oidcProxy?.stop() ?? Promise.resolve());
    }
    log(`  real kube-apiserver ${cluster.version} at ${cluster.url}; kubectl proxy ${kubectlProxy.ready.url}; Gatehouse ${gatehouse.ready.url}; kube-oidc-proxy ${oidcProxy?.ready.url ?? `not run: ${peer.reason}`}`);

    const accept = { accept: 'application/json' };
    const bearer = { ...accept, authorization: `Bearer ${token}` };
    const fronts: { front: RealFrontName; url: string; headers: Record<string, string>; pids: number[] }[] = [
      {
        front: 'direct',
        url: cluster.url,
        // One Impersonate-Group (the load generator sends each header once); it holds the binding that allows the GET.
        headers: { ...accept, authorization: `Bearer ${cluster.adminToken}`, 'impersonate-user': BENCH_USER, 'impersonate-group': BENCH_GROUPS[0] ?? '' },
        pids: [],
      },
      { front: 'kubectl proxy', url: kubectlProxy.ready.url, headers: accept, pids: [kubectlProxy.pid] },
      ...(oidcProxy === undefined ? [] : [{ front: 'kube-oidc-proxy' as const, url: oidcProxy.ready.url, headers: bearer, pids: [oidcProxy.pid] }]),
      { front: 'gatehouse', url: gatehouse.ready.url, headers: bearer, pids: gatehouse.ready.pids },
    ];
    const results: RealFrontResult[] = [];
    for (const front of fronts) {
      const measured = await measureFront({ ...front, url: `${front.url}${POD_PATH}`, upstreamPid: cluster.pids.apiserver }, options, log);
      results.push({ ...measured, front: front.front });
    }
    const byName = (name: RealFrontName): RealFrontResult | undefined => results.find((r) => r.front === name);
    const ours = byName('gatehouse') as RealFrontResult;
    const proxy = byName('kubectl proxy') as RealFrontResult;
    const peerResult = byName('kube-oidc-proxy');
    return {
      kubeApiserver: cluster.version,
      connections: options.connections,
      seconds: options.seconds,
      path: POD_PATH,
      fronts: results,
      ...(peer.reason === undefined ? {} : { peerMissing: peer.reason }),
      throughputVsKubectlProxy: ours.rps / proxy.rps,
      cpuVsKubectlProxy: ours.frontCpuMicrosPerRequest / proxy.frontCpuMicrosPerRequest,
      ...(peerResult === undefined
        ? {}
        : { throughputVsKubeOidcProxy: ours.rps / peerResult.rps, cpuVsKubeOidcProxy: ours.frontCpuMicrosPerRequest / peerResult.frontCpuMicrosPerRequest }),
    };
  } finally {
    while (stops.length > 0) await stops.pop()?.();
    rmSync(scratch, { recursive: true, force: true });
  }
}

function startKubeOidcProxy(
  bin: string,
  options: { issuer: string; audience: string; caFile: string; scratch: string; kubeconfig: string; port: number },
): Promise<Child<{ url: string }>> {
  const args = [
    `--oidc-issuer-url=${options.issuer}`,
    `--oidc-client-id=${options.audience}`,
    `--oidc-ca-file=${options.caFile}`,
    '--oidc-username-claim=email',
    '--oidc-groups-claim=groups',
    '--oidc-signing-algs=RS256',
    '--bind-address=127.0.0.1',
    `--secure-port=${options.port}`,
    `--tls-cert-file=${join(options.scratch, 'tls.crt')}`,
    `--tls-private-key-file=${join(options.scratch, 'tls.key')}`,
    `--kubeconfig=${options.kubeconfig}`,
    '--readiness-probe-port=0',
    '--v=0',
  ];
  // The secure serving options log the port they bound ("Serving securely on 127.0.0.1:NNNN").
  return startChild('kube-oidc-proxy', bin, args, (line) => {
    const match = /Serving securely on (127\.0\.0\.1:\d+)/.exec(line);
    return match === null ? undefined : { url: `https://${match[1]}` };
  }, { env: { ...process.env, HOME: join(options.scratch, 'home') }, timeoutMs: 60_000 });
}
