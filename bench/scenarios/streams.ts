/**
 * Benchmark 9 — streams (exec, cp) through Gatehouse vs direct to the kube-apiserver stand-in:
 *
 * - keystroke echo: a WebSocket (`v5.channel.k8s.io`) `exec -it … sh` session; one key is sent
 *   on stdin and the time until the shell's echo arrives on stdout is measured, key after key,
 *   on a session direct to the stand-in and on one through Gatehouse (alternating). Raw
 *   WebSocket frames, not kubectl, so kubectl's own terminal handling is not measured.
 * - `kubectl cp` of files of 1, 20 and 100 MB into the pod and back out, with kubectl 1.27
 *   (SPDY/3.1) and 1.33 (WebSocket), three rounds of three paths taking turns: direct, through
 *   a bare TLS relay (the floor of any tunnel that terminates TLS here) and through Gatehouse;
 *   median wall time, throughput and the ratio to direct, each file checked byte for byte on
 *   its way back.
 *
 * The stand-in and Gatehouse run in this process (one event loop for both paths; the client
 * side of the echo too), so the added figures are Gatehouse's own work plus one more hop.
 * Gatehouse records as the local runtime does: the records-bucket store (src/recordings/: asciicast,
 * gzip, capped) writing to the embedded S3 stand-in (s3rver) in this process too.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { spawn } from 'node:child_process';
import { startLocalGatehouse } from '../../src/runtime/local.ts';
import { readWsFrame, wsFrame, WS_OPCODE } from '../../src/streams/ws-frame.ts';
import type { AddressInfo } from 'node:net';
import { startFakeApiServer, type FakeApiServer } from '../../test/stand-in/apiserver.ts';
import { createTestCertificates } from '../../test/stand-in/tls.ts';
import { kubectlBinary } from '../../test/support/harness.ts';
import { distribution, median, type Distribution } from '../stats.ts';

export interface StreamsResult {
  keystrokes: number;
  echoDirectMs: Distribution;
  echoGatehouseMs: Distribution;
  /**
   * Wall times per command, one per round, the three paths taking turns: direct, through a bare
   * TLS relay (the floor: one more TLS hop in this process, bytes copied and nothing read), and
   * through Gatehouse.
   */
  cp: { kubectl: string; protocol: 'SPDY/3.1' | 'WebSocket'; direction: 'into the pod' | 'out of the pod'; bytes: number; directMs: number[]; relayMs: number[]; gatehouseMs: number[] }[];
}

export interface StreamsOptions {
  keystrokes: number;
  /** File sizes copied with `kubectl cp`, each into the pod and back out. */
  cpSizes: number[];
  /** kubectl versions (1.27–1.29 speak SPDY/3.1, 1.30+ WebSocket). */
  kubectl: string[];
  /** Commands per size, path and direction; the median is reported. */
  rounds: number;
}

/** What benchmark 9 runs: `--quick` copies 1 and 10 MB once, the full run 1, 20 and 100 MB three times, each with a SPDY and a WebSocket kubectl. */
export function streamsOptions(quick: boolean): StreamsOptions {
  return quick
    ? { keystrokes: 200, cpSizes: [1_000_000, 10_000_000], kubectl: ['1.27', '1.33'], rounds: 1 }
    : { keystrokes: 2000, cpSizes: [1_000_000, 20_000_000, 100_000_000], kubectl: ['1.27', '1.33'], rounds: 3 };
}

function protocolOf(version: string): 'SPDY/3.1' | 'WebSocket' {
  return Number(version.split('.')[1]) >= 30 ? 'WebSocket' : 'SPDY/3.1';
}

/** `kubectl 1.27 (SPDY/3.1) cp 100 MB into the pod: direct 843 ms (118.6 MB/s), TLS relay … 1.40×, Gatehouse … 1.77× (medians of 3)`. */
export function describeCp(row: StreamsResult['cp'][number]): string {
  const direct = median(row.directMs);
  const path = (name: string, times: number[]): string => `${name} ${median(times).toFixed(0)} ms (${mbps(row.bytes, median(times))}, ${(median(times) / direct).toFixed(2)}×)`;
  return `kubectl ${row.kubectl} (${row.protocol}) cp ${(row.bytes / 1e6).toFixed(0)} MB ${row.direction}: direct ${direct.toFixed(0)} ms (${mbps(row.bytes, direct)}), ${path('TLS relay', row.relayMs)}, ${path('Gatehouse', row.gatehouseMs)} (medians of ${row.directMs.length})`;
}

/**
 * The floor of any TLS-terminating tunnel in this process: accepts TLS, opens TLS to the
 * stand-in and copies bytes both ways (pipe, with its backpressure), reading nothing. Its
 * kubeconfig speaks to the stand-in with the stand-in's own token, as the direct path does.
 */
async function startTlsRelay(api: FakeApiServer, dir: string): Promise<{ kubeconfigPath: string; close(): Promise<void> }> {
  const certs = await createTestCertificates('bench-relay');
  const upstream = new URL(api.url);
  const open = new Set<tls.TLSSocket>();
  const server = tls.createServer({ cert: certs.certPem, key: certs.keyPem }, (client) => {
    const out = tls.connect({ host: upstream.hostname, port: Number(upstream.port), ca: api.caPem });
    for (const socket of [client, out]) {
      open.add(socket);
      socket.once('close', () => open.delete(socket));
    }
    // No Nagle, as Gatehouse's sockets: a small write (a SYN_REPLY, a Status) leaves at once.
    client.setNoDelay(true);
    out.setNoDelay(true);
    client.pipe(out).pipe(client);
    const end = (): void => {
      client.destroy();
      out.destroy();
    };
    client.on('error', end);
    out.on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const kubeconfigPath = join(dir, 'relay.kubeconfig');
  writeFileSync(
    kubeconfigPath,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'relay', cluster: { server: `https://127.0.0.1:${port}`, 'certificate-authority-data': Buffer.from(certs.caPem).toString('base64') } }],
      users: [{ name: 'relay', user: { token: api.token } }],
      contexts: [{ name: 'relay', context: { cluster: 'relay', user: 'relay', namespace: 'default' } }],
      'current-context': 'relay',
    }),
    { mode: 0o600 },
  );
  return {
    kubeconfigPath,
    // kubectl's connections may linger half-closed: the relay ends them itself.
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of open) socket.destroy();
      }),
  };
}

const POLICY = `apiVersion: gatehouse/v1
rules:
  - { name: everything, effect: allow, resources: ["*"] }
  - { name: discovery, effect: allow, nonResourceURLs: ["*"] }
`;

export async function streamsBench(options: StreamsOptions, log: (line: string) => void): Promise<StreamsResult> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-streams-'));
  const api = await startFakeApiServer({});
  api.store.put({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web', namespace: 'default' },
    spec: { containers: [{ name: 'main', image: 'busybox', stdin: true, tty: true }] },
    status: { phase: 'Running', containerStatuses: [{ name: 'main', ready: true, state: { running: {} } }] },
  });
  const policyFile = join(dir, 'policy.yaml');
  writeFileSync(policyFile, POLICY);
  // The local runtime records as a deployment does: the records-bucket store (src/recordings/) into its S3 stand-in.
  const gatehouse = await startLocalGatehouse({ stateDir: join(dir, 'state'), port: 0, upstreamKubeconfig: api.kubeconfigPath, auth: 'token', policyFile });
  const relay = await startTlsRelay(api, dir);
  try {
    const token = await gatehouse.devIssuer.mint(gatehouse.user, gatehouse.groups, 3600);
    const path = '/api/v1/namespaces/default/pods/web/exec?command=sh&stdin=true&stdout=true&tty=true&container=main';
    // The stand-in lets its own identity act only as someone else, as Gatehouse's role on a cluster.
    const asCaller = [`Impersonate-User: ${gatehouse.user}`, ...gatehouse.groups.map((group) => `Impersonate-Group: ${group}`)];
    const direct = await openShell(api.url, api.caPem, api.token, path, asCaller);
    const through = await openShell(gatehouse.url, gatehouse.caPem, token, path);
    const directMs: number[] = [];
    const gatehouseMs: number[] = [];
    try {
      for (let i = 0; i < 50; i += 1) {
        await direct.echo('x');
        await through.echo('x');
      }
      for (let i = 0; i < options.keystrokes; i += 1) {
        directMs.push(await direct.echo('k'));
        gatehouseMs.push(await through.echo('k'));
      }
    } finally {
      direct.close();
      through.close();
    }
    const echoDirectMs = distribution(directMs);
    const echoGatehouseMs = distribution(gatehouseMs);
    log(`  keystroke echo (${options.keystrokes} keys): direct p50 ${echoDirectMs.p50.toFixed(3)} ms p99 ${echoDirectMs.p99.toFixed(3)} ms; through Gatehouse p50 ${echoGatehouseMs.p50.toFixed(3)} ms p99 ${echoGatehouseMs.p99.toFixed(3)} ms`);

    const cp: StreamsResult['cp'] = [];
    const home = join(dir, 'home');
    const impersonate = ['--as', gatehouse.user, ...gatehouse.groups.flatMap((group) => ['--as-group', group])];
    // kubectl runs as a child the event loop does not wait on: the stand-in and Gatehouse serve it from this process.
    const run = async (version: string, kubeconfig: string, args: string[]): Promise<number> => {
      const started = performance.now();
      const as = kubeconfig === gatehouse.kubeconfigPath ? [] : impersonate;
      const child = spawn(kubectlBinary(version), ['--kubeconfig', kubeconfig, '--cache-dir', join(home, 'cache'), ...as, ...args], { env: { PATH: process.env['PATH'] ?? '', HOME: home }, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
      if (code !== 0) throw new Error(`kubectl ${version} ${args.join(' ')} failed: ${stderr}`);
      return performance.now() - started;
    };
    const paths = { direct: api.kubeconfigPath, relay: relay.kubeconfigPath, gatehouse: gatehouse.kubeconfigPath } as const;
    for (const version of options.kubectl) {
      // A warm-up run per path (kubectl's discovery cache, Gatehouse's agents).
      for (const kubeconfig of Object.values(paths)) await run(version, kubeconfig, ['exec', 'web', '--', 'true']);
      for (const bytes of options.cpSizes) {
        const file = join(dir, 'payload.bin');
        const content = randomBytes(bytes);
        writeFileSync(file, content);
        const row = (direction: StreamsResult['cp'][number]['direction']): StreamsResult['cp'][number] => ({ kubectl: version, protocol: protocolOf(version), direction, bytes, directMs: [], relayMs: [], gatehouseMs: [] });
        const into = row('into the pod');
        const out = row('out of the pod');
        // The paths take turns, so the machine's drift hits each alike.
        for (let round = 0; round < options.rounds; round += 1) {
          for (const [path, kubeconfig] of Object.entries(paths) as ['direct' | 'relay' | 'gatehouse', string][]) {
            const remote = `web:/tmp/${path}.bin`;
            into[`${path}Ms`].push(await run(version, kubeconfig, ['cp', file, remote]));
            const back = join(dir, `back-${path}.bin`);
            out[`${path}Ms`].push(await run(version, kubeconfig, ['cp', remote, back]));
            if (statSync(back).size !== bytes || !readFileSync(back).equals(content)) throw new Error(`kubectl ${version} cp ${path} did not bring the ${bytes}-byte file back whole`);
            rmSync(back);
          }
        }
        for (const result of [into, out]) {
          cp.push(result);
          log(`  ${describeCp(result)}`);
        }
      }
    }
    return { keystrokes: options.keystrokes, echoDirectMs, echoGatehouseMs, cp };
  } finally {
    await relay.close();
    await gatehouse.close();
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export function mbps(bytes: number, ms: number): string {
  return `${(bytes / 1e6 / (ms / 1000)).toFixed(1)} MB/s`;
}

/** A raw WebSocket exec session: `echo(key)` types one key and resolves with the milliseconds until it comes back on stdout. */
async function openShell(url: string, ca: string, token: string, path: string, extraHeaders: string[] = []): Promise<{ echo(key: string): Promise<number>; close(): void }> {
  const target = new URL(url);
  const socket = tls.connect({ host: target.hostname, port: Number(target.port), ca });
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', resolve);
    socket.once('error', reject);
  });
  socket.setNoDelay(true);
  socket.write(
    [
      `GET ${path} HTTP/1.1`,
      `Host: ${target.host}`,
      `Authorization: Bearer ${token}`,
      'Connection: Upgrade',
      'Upgrade: websocket',
      'Sec-WebSocket-Version: 13',
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
      'Sec-WebSocket-Protocol: v5.channel.k8s.io',
      `Origin: ${url}`,
      ...extraHeaders,
      '',
      '',
    ].join('\r\n'),
  );
  let pending = Buffer.alloc(0);
  let headDone = false;
  let waiting: { key: string; started: number; resolve: (ms: number) => void } | undefined;
  let ready!: () => void;
  const prompted = new Promise<void>((resolve) => (ready = resolve));
  socket.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    if (!headDone) {
      const end = pending.indexOf('\r\n\r\n');
      if (end === -1) return;
      if (!pending.subarray(0, 12).toString().includes('101')) throw new Error(`no 101 from ${url}: ${pending.toString().slice(0, 300)}`);
      headDone = true;
      pending = pending.subarray(end + 4);
    }
    for (let read = readWsFrame(pending, 'server'); read !== undefined; read = readWsFrame(pending, 'server')) {
      pending = pending.subarray(read.length);
      const payload = read.frame.payload;
      if (payload[0] !== 1) continue;
      const text = payload.subarray(1).toString();
      if (text.includes('# ')) ready();
      if (waiting !== undefined && text.includes(waiting.key)) {
        const done = waiting;
        waiting = undefined;
        done.resolve(performance.now() - done.started);
      }
    }
  });
  await prompted;
  const mask = Buffer.from([9, 8, 7, 6]);
  return {
    echo(key) {
      return new Promise((resolve) => {
        waiting = { key, started: performance.now(), resolve };
        socket.write(wsFrame(WS_OPCODE.binary, Buffer.concat([Buffer.from([0]), Buffer.from(key)]), mask));
      });
    },
    close() {
      socket.destroy();
    },
  };
}
