// The local runtime with the real kubectl: the generated kubeconfig (token and exec auth)
// over verified TLS, the full pipeline wired (a policy refusal reaches kubectl), `kubectl
// exec` tunnelled through Gatehouse to the upstream over a websocket upgrade, state reused
// across restarts, and start-up refusals.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, realpathSync, rmSync, statSync } from 'node:fs';
import * as https from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Duplex } from 'node:stream';
import { parse } from 'yaml';
import { GatehouseConfigError } from '../../src/config-error.ts';
import { userKubeconfig, writeKubeconfig } from '../../src/kubeconfig.ts';
import type { Kubeconfig } from '../../src/kubeconfig.ts';
import { ensureLocalTls } from '../../src/local/tls.ts';
import { FAST_PATH_SCRIPT } from '../../src/login/fast-path-exec.ts';
import { GATEHOUSE_BIN, startLocalGatehouse } from '../../src/runtime/local.ts';
import type { LocalGatehouse } from '../../src/runtime/local.ts';
import { channelBytes, MemoryRecordings } from '../support/memory-recordings.ts';

/** The per-version kubectl binaries live next to the real kubectl (DESIGN.md). */
const KUBECTL_DIR = dirname(realpathSync(execFileSync('sh', ['-c', 'command -v kubectl'], { encoding: 'utf8' }).trim()));
const UPSTREAM_TOKEN = 'gatehouse-upstream-token';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
}

/** Legacy discovery, just enough for kubectl to know pods and their exec subresource. */
const DISCOVERY: Record<string, unknown> = {
  '/api': { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] },
  '/apis': { kind: 'APIGroupList', apiVersion: 'v1', groups: [] },
  '/api/v1': {
    kind: 'APIResourceList',
    groupVersion: 'v1',
    resources: [
      { name: 'pods', singularName: 'pod', namespaced: true, kind: 'Pod', verbs: ['get', 'list'], shortNames: ['po'] },
      { name: 'pods/exec', singularName: '', namespaced: true, kind: 'PodExecOptions', verbs: ['create', 'get'] },
    ],
  },
};

/** A small upstream: one running pod, and its exec endpoint speaking the websocket channel protocol. */
interface TestUpstream {
  port: number;
  seen: Seen[];
  kubeconfigPath: string;
  openWatches(): number;
  nextWatchClose(): Promise<void>;
  close(): Promise<void>;
}

async function startUpstream(dir: string): Promise<TestUpstream> {
  const material = await ensureLocalTls(join(dir, 'upstream-tls'));
  const seen: Seen[] = [];
  let openWatches = 0;
  let watchClosed = (): void => {};
  const pod = {
    kind: 'Pod',
    apiVersion: 'v1',
    metadata: { name: 'web', namespace: 'default' },
    spec: { containers: [{ name: 'main', image: 'nginx' }] },
    status: { phase: 'Running' },
  };
  const server = https.createServer({ cert: material.certPem, key: material.keyPem }, (req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    if (req.headers.authorization !== `Bearer ${UPSTREAM_TOKEN}` || req.headers['impersonate-user'] === undefined) {
      res.writeHead(403, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Forbidden', code: 403, message: 'not Gatehouse' }));
      return;
    }
    if ((req.url ?? '').includes('watch=1')) {
      // A watch that never ends by itself: one event now, then silence until the client leaves.
      res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
      res.write(`${JSON.stringify({ type: 'ADDED', object: pod })}\n`);
      openWatches += 1;
      res.on('close', () => {
        openWatches -= 1;
        watchClosed();
      });
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    const path = (req.url ?? '').split('?')[0];
    res.end(JSON.stringify(DISCOVERY[path ?? ''] ?? (/^\/api\/v1\/namespaces\/[^/]+\/pods\/web$/.test(path ?? '') ? { ...pod, metadata: { name: 'web', namespace: path?.split('/')[4] } } : { kind: 'PodList', apiVersion: 'v1', metadata: {}, items: [pod] })));
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    const protocols = String(req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
    const protocol = protocols.find((p) => p === 'v5.channel.k8s.io') ?? protocols.find((p) => p === 'v4.channel.k8s.io');
    if (req.headers.upgrade?.toLowerCase() !== 'websocket' || protocol === undefined || req.headers['impersonate-user'] === undefined) {
      socket.end('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    const accept = createHash('sha1').update(`${req.headers['sec-websocket-key']}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
    socket.on('error', () => socket.destroy());
    socket.on('data', () => {}); // the client's (masked) frames are not needed
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\nSec-WebSocket-Protocol: ${protocol}\r\n\r\n`,
    );
    const user = String(req.headers['impersonate-user']);
    socket.write(frame(0x2, Buffer.concat([Buffer.from([1]), Buffer.from(`hello ${user} from the pod\n`)])));
    socket.write(frame(0x2, Buffer.concat([Buffer.from([3]), Buffer.from('{"metadata":{},"status":"Success"}')])));
    socket.end(frame(0x8, Buffer.from([0x03, 0xe8])));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const kubeconfigPath = join(dir, 'upstream-kubeconfig');
  writeKubeconfig(kubeconfigPath, userKubeconfig({ server: `https://127.0.0.1:${port}`, caPem: material.caPem, auth: { kind: 'token', token: UPSTREAM_TOKEN } }));
  return {
    port,
    seen,
    kubeconfigPath,
    openWatches: () => openWatches,
    /** Resolves the next time an upstream watch closes. */
    nextWatchClose: () => new Promise<void>((resolve) => (watchClosed = resolve)),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** One unmasked websocket frame (server to client), payload under 64 KiB. */
function frame(opcode: number, payload: Buffer): Buffer {
  const header = payload.length < 126 ? Buffer.from([0x80 | opcode, payload.length]) : Buffer.from([0x80 | opcode, 126, payload.length >> 8, payload.length & 0xff]);
  return Buffer.concat([header, payload]);
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function kubectl(binary: string, kubeconfig: string, args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(join(KUBECTL_DIR, binary), ['--kubeconfig', kubeconfig, ...args], { timeout: 30_000, env: { ...process.env, KUBECONFIG: '' } }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

describe('startLocalGatehouse', () => {
  let dir: string;
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  let gatehouse: LocalGatehouse;
  const recordings = new MemoryRecordings();

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-local-'));
    upstream = await startUpstream(dir);
    gatehouse = await startLocalGatehouse({
      stateDir: join(dir, 'state'),
      port: 0,
      upstreamKubeconfig: upstream.kubeconfigPath,
      auth: 'token',
      user: 'alice@example.com',
      groups: ['developers', 'oncall'],
      // exec is carried only when it can be recorded: the recording port, kept in memory here.
      overrides: { recordings },
    });
  });

  after(async () => {
    await gatehouse.close();
    await upstream.close();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const binary of ['kubectl.1.27', 'kubectl.1.33']) {
    test(`${binary} reads through the generated kubeconfig, as the caller, over verified TLS`, async () => {
      upstream.seen.length = 0;
      const run = await kubectl(binary, gatehouse.kubeconfigPath, ['get', '--raw', '/api/v1/namespaces/default/pods/web']);
      assert.equal(run.stderr, '');
      assert.equal(run.code, 0);
      assert.equal((JSON.parse(run.stdout) as { metadata: { name: string } }).metadata.name, 'web');
      const request = upstream.seen.find((seen) => seen.url === '/api/v1/namespaces/default/pods/web');
      assert.ok(request);
      assert.equal(request.headers['impersonate-user'], 'alice@example.com');
      assert.equal(request.headers['impersonate-group'], 'developers, oncall');
      assert.equal(request.headers.authorization, `Bearer ${UPSTREAM_TOKEN}`);
    });
  }

  test('a policy refusal reaches kubectl as Forbidden naming the rule', async () => {
    const run = await kubectl('kubectl.1.33', gatehouse.kubeconfigPath, ['get', '--raw', '/api/v1/namespaces/kube-system/secrets']);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /Error from server \(Forbidden\): user "alice@example.com" \(groups: developers, oncall\) may not list secrets in namespace "kube-system": denied by rule "no-system-secrets"/);
  });

  test('kubectl exec is tunnelled through the pipeline to the pod, as the caller', async () => {
    upstream.seen.length = 0;
    const run = await kubectl('kubectl.1.33', gatehouse.kubeconfigPath, ['exec', 'web', '-n', 'default', '--', 'echo', 'hi']);
    assert.equal(run.stderr, '');
    assert.equal(run.stdout, 'hello alice@example.com from the pod\n');
    assert.equal(run.code, 0);
    const upgrade = upstream.seen.find((seen) => seen.url.startsWith('/api/v1/namespaces/default/pods/web/exec?'));
    assert.ok(upgrade);
    assert.equal(upgrade.headers['impersonate-user'], 'alice@example.com');
    assert.equal(upgrade.headers.authorization, `Bearer ${UPSTREAM_TOKEN}`);
    const recorded = recordings.latest();
    assert.equal((await recorded.whenClosed).reason, 'command exited 0');
    assert.equal(channelBytes(recorded, 'stdout').toString(), 'hello alice@example.com from the pod\n');
  });

  test('a refused kubectl exec is printed by kubectl with the reason, and never reaches the pod', async () => {
    upstream.seen.length = 0;
    const run = await kubectl('kubectl.1.33', gatehouse.kubeconfigPath, ['exec', 'web', '-n', 'prod-eu', '--', 'sh']);
    assert.notEqual(run.code, 0);
    assert.match(run.stderr, /^Error from server \(Forbidden\): user "alice@example.com" may not create pods\/exec "web" in namespace "prod-eu" without approval \(rule "prod-exec-needs-approval"\)/);
    assert.equal(upstream.seen.filter((seen) => seen.url.includes('/exec')).length, 0);
  });

  test('streams a watch to kubectl through the whole pipeline, and closes it upstream when kubectl goes away', { timeout: 20_000 }, async () => {
    const child = spawn(join(KUBECTL_DIR, 'kubectl.1.33'), ['--kubeconfig', gatehouse.kubeconfigPath, 'get', '--raw', '/api/v1/namespaces/default/pods?watch=1'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const firstEvent = await new Promise<string>((resolve) => child.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString())));
    assert.equal((JSON.parse(firstEvent) as { type: string }).type, 'ADDED');
    assert.equal(upstream.openWatches(), 1);
    const closed = upstream.nextWatchClose();
    child.kill('SIGINT');
    await exited;
    await closed; // resolves only when the upstream sees its watch request closed
    assert.equal(upstream.openWatches(), 0);
  });

  test('writes a kubeconfig readable only by its owner, pointing at Gatehouse with its CA', () => {
    assert.equal(statSync(gatehouse.kubeconfigPath).mode & 0o777, 0o600);
    const config = parse(readFileSync(gatehouse.kubeconfigPath, 'utf8')) as Kubeconfig;
    assert.equal(config['current-context'], 'gatehouse');
    const cluster = config.clusters?.[0]?.cluster;
    assert.equal(cluster?.server, gatehouse.url);
    assert.equal(Buffer.from(cluster?.['certificate-authority-data'] ?? '', 'base64').toString(), gatehouse.caPem);
    for (const key of ['ca.key', 'tls.key', 'dev-issuer.jwk']) assert.equal(statSync(join(dir, 'state', key)).mode & 0o777, 0o600, key);
  });
});

describe('startLocalGatehouse state and refusals', () => {
  let dir: string;
  let upstream: Awaited<ReturnType<typeof startUpstream>>;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-local-state-'));
    upstream = await startUpstream(dir);
  });

  after(async () => {
    await upstream.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('reuses its CA and writes an exec kubeconfig that mints tokens with gatehouse dev-token behind the shell fast path', async () => {
    const stateDir = join(dir, 'reuse');
    const first = await startLocalGatehouse({ stateDir, port: 0, upstreamKubeconfig: upstream.kubeconfigPath, auth: 'token' });
    await first.close();
    const second = await startLocalGatehouse({ stateDir, port: 0, upstreamKubeconfig: upstream.kubeconfigPath, user: 'bob@example.com', groups: ['developers', 'ops'] });
    try {
      assert.equal(second.caPem, first.caPem);
      const config = parse(readFileSync(second.kubeconfigPath, 'utf8')) as Kubeconfig;
      const exec = config.users?.[0]?.user.exec;
      const cacheFile = exec?.args?.[3] ?? '';
      assert.match(cacheFile, new RegExp(`^${stateDir}/credentials/[0-9a-f]{32}\\.exec-credential$`));
      assert.deepEqual(exec, {
        apiVersion: 'client.authentication.k8s.io/v1',
        command: '/bin/sh',
        args: [
          '-c',
          FAST_PATH_SCRIPT,
          'gatehouse-credential',
          cacheFile,
          GATEHOUSE_BIN,
          'dev-token', '--user', 'bob@example.com', '--group', 'developers', '--group', 'ops', '--ttl', '3600', '--exec-credential', '--state-dir', stateDir,
        ],
        env: null,
        interactiveMode: 'Never',
        provideClusterInfo: false,
      });
      upstream.seen.length = 0;
      const run = await kubectl('kubectl.1.33', second.kubeconfigPath, ['get', '--raw', '/api/v1/namespaces/default/pods']);
      assert.equal(run.stderr, '');
      assert.equal(run.code, 0);
      assert.equal(upstream.seen.at(-1)?.headers['impersonate-user'], 'bob@example.com');
    } finally {
      await second.close();
    }
  });

  test('refuses to serve the development issuer on a non-loopback address', async () => {
    await assert.rejects(startLocalGatehouse({ stateDir: join(dir, 'wide'), host: '0.0.0.0', port: 0, upstreamKubeconfig: upstream.kubeconfigPath }), (error: unknown) => {
      assert.ok(error instanceof GatehouseConfigError);
      assert.deepEqual(error.problems, [
        'the local development issuer is allowed only on loopback (127.0.0.1, ::1, localhost), but Gatehouse listens on "0.0.0.0"',
      ]);
      return true;
    });
  });

  test('lists every configuration problem at once', async () => {
    const broken = join(dir, 'broken-kubeconfig');
    const brokenConfig = userKubeconfig({ server: 'https://10.0.0.1', caPem: '-----BEGIN CERTIFICATE-----\n', auth: { kind: 'exec', command: 'aws', args: [] } });
    const exec = brokenConfig.users?.[0]?.user.exec;
    if (exec !== undefined) exec.interactiveMode = 'Always';
    writeKubeconfig(broken, brokenConfig);
    const missingPolicy = join(dir, 'no-such-policy.yaml');
    await assert.rejects(
      startLocalGatehouse({ stateDir: join(dir, 'broken'), port: 0, upstreamKubeconfig: broken, policyFile: missingPolicy }),
      (error: unknown) => {
        assert.ok(error instanceof GatehouseConfigError);
        assert.equal(error.problems.length, 2, error.message);
        assert.match(error.problems[0] ?? '', new RegExp(`^policy ${missingPolicy}: `));
        assert.equal(
          error.problems[1],
          `upstream kubeconfig ${broken}: user "gatehouse": exec plugin aws has interactiveMode Always, but Gatehouse is a server with no terminal to ask anyone in; use a plugin mode that runs unattended (Never or IfAvailable)`,
        );
        return true;
      },
    );
  });
});
