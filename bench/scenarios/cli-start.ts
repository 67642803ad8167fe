/**
 * Benchmark 6: what kubectl pays for Gatehouse's exec credential plugin, and the CLI's start.
 * kubectl runs the plugin before every command, so its start-up is added to each one.
 *
 * All in one run, alternating the commands compared so a busy machine slows each alike
 * (median of RUNS wall times each):
 *   - `node -e 0` against the Node plugins with a valid cached token — `gatehouse credential`
 *     (≤ 1.5×; what Windows runs, and what the fast path falls back to) and `gatehouse
 *     dev-token` — and against the shell fast path alone (src/login/fast-path-exec.ts, the
 *     command the kubeconfig runs, with a valid cache);
 *   - `gatehouse --help` (< 200 ms);
 *   - `kubectl get pods` through a local Gatehouse (`gatehouse serve`, its demo cluster) with
 *     a static token, with the kubeconfig `serve` writes (the fast path in front of dev-token:
 *     ≤ 1.3× the static token), and — the before of issue 14 — with the Node plugin run
 *     directly, as kubeconfigs did until the fast path; beside them the floor any Node plugin
 *     has: the static-token time plus one `node -e 0`. The real kubectl binary runs (the
 *     newest `kubectl.1.N` beside the one on the PATH): the `kubectl` on these machines is a
 *     dispatcher that asks the server its version first, running the plugin twice.
 * Everything runs the built CLI, bin/gatehouse.mjs, as a user's kubeconfig does.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { cachePath, writeCachedTokens } from '../../src/login/token-cache.ts';
import { median } from '../stats.ts';

const BIN = fileURLToPath(new URL('../../bin/gatehouse.mjs', import.meta.url));
const ISSUER = 'https://idp.example.com/realms/staff';

export interface CliStartResult {
  runs: number;
  /** Median wall times, milliseconds. */
  nodeMs: number;
  credentialMs: number;
  devTokenMs: number;
  /** The shell fast path alone, with a valid cache. */
  fastPathMs: number;
  helpMs: number;
  kubectlStaticMs: number;
  /** kubectl with the kubeconfig `gatehouse serve` writes: the fast path in front of dev-token. */
  kubectlPluginMs: number;
  /** kubectl with the Node plugin run directly (kubeconfigs before the fast path). */
  kubectlNodePluginMs: number;
  credentialVsNode: number;
  devTokenVsNode: number;
  fastPathVsNode: number;
  kubectlPluginVsStatic: number;
  kubectlNodePluginVsStatic: number;
  /** (static-token time + `node -e 0`) / static-token time: what a plugin that only starts Node would cost. */
  kubectlNodeFloorVsStatic: number;
  kubectl: string;
}

/** The newest per-version kubectl beside the one on the PATH (or `kubectl` itself when there is none). */
function realKubectl(): string {
  const onPath = spawnSync('sh', ['-c', 'command -v kubectl'], { encoding: 'utf8' }).stdout.trim();
  if (onPath === '') return 'kubectl';
  const folder = dirname(realpathSync(onPath));
  const versions = readdirSync(folder)
    .map((name) => /^kubectl\.1\.(\d+)$/.exec(name))
    .filter((match) => match !== null)
    .sort((a, b) => Number(b[1]) - Number(a[1]));
  return versions[0] === undefined ? onPath : join(folder, versions[0][0]);
}

interface Command {
  name: string;
  argv: string[];
  env?: NodeJS.ProcessEnv;
}

function timeOnce(command: Command): number {
  const [program, ...args] = command.argv;
  if (program === undefined) throw new Error(`${command.name}: empty command`);
  const started = performance.now();
  const result = spawnSync(program, args, { env: command.env ?? process.env, encoding: 'utf8' });
  const elapsed = performance.now() - started;
  if (result.status !== 0) throw new Error(`${command.name} exited ${result.status}: ${result.stderr}`);
  return elapsed;
}

/** Median wall time of each command, the commands taking turns; one warm-up round first. */
function alternate(commands: Command[], runs: number): number[] {
  for (const command of commands) timeOnce(command);
  const samples = commands.map(() => [] as number[]);
  for (let round = 0; round < runs; round += 1) {
    commands.forEach((command, index) => samples[index]?.push(timeOnce(command)));
  }
  return samples.map((times) => median(times));
}

interface LocalGatehouse {
  kubeconfigPath: string;
  stop(): Promise<void>;
}

/** `gatehouse serve` on its demo cluster (no kubeconfig), as `npm start` runs it. */
function startLocalGatehouse(dir: string): Promise<LocalGatehouse> {
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--state-dir', join(dir, 'state')], {
    env: { ...process.env, KUBECONFIG: join(dir, 'no-kubeconfig'), HOME: dir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    child.kill('SIGTERM');
    await exited;
  };
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => void stop().then(() => reject(new Error(`gatehouse serve did not start:\n${output}`))), 60_000);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      const match = /export KUBECONFIG=(\S+)/.exec(output);
      if (match?.[1] !== undefined) {
        clearTimeout(timer);
        resolve({ kubeconfigPath: match[1], stop });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`gatehouse serve exited (${code}):\n${output}`));
    });
  });
}

interface ExecKubeconfig {
  users: { user: { exec?: { command: string; args: string[] }; token?: string } }[];
}

/** The kubeconfig's exec command (the fast path), run once: it prints a token and leaves the cache valid. */
function readExecKubeconfig(path: string): { config: ExecKubeconfig; exec: { command: string; args: string[] }; token: string } {
  const config = parse(readFileSync(path, 'utf8')) as ExecKubeconfig;
  const exec = config.users[0]?.user.exec;
  if (exec === undefined) throw new Error(`${path} has no exec user`);
  const printed = spawnSync(exec.command, exec.args, { encoding: 'utf8' });
  const token = (JSON.parse(printed.stdout) as { status: { token: string } }).status.token;
  return { config, exec, token };
}

/** The same kubeconfig with its user replaced. */
function writeWithUser(config: ExecKubeconfig, user: ExecKubeconfig['users'][number]['user'], outFile: string): void {
  writeFileSync(outFile, stringify({ ...config, users: [{ ...config.users[0], user }] }));
}

export async function cliStart(options: { runs: number }, log: (line: string) => void): Promise<CliStartResult> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-cli-'));
  try {
    const configDir = join(dir, 'config');
    await writeCachedTokens(cachePath(configDir, ISSUER, 'cli'), {
      issuer: ISSUER,
      clientId: 'cli',
      idToken: 'cached.id.token',
      expiresAt: Math.floor(Date.now() / 1000) + 24 * 3600,
    });
    const node = process.execPath;
    const local = await startLocalGatehouse(dir);
    try {
      // /bin/sh -c SCRIPT $0 CACHE NODE-PLUGIN…: the Node plugin is what follows the cache file.
      const { config, exec, token } = readExecKubeconfig(local.kubeconfigPath);
      const [nodePluginCommand, ...nodePluginArgs] = exec.args.slice(4);
      if (exec.command !== '/bin/sh' || nodePluginCommand === undefined) throw new Error(`${local.kubeconfigPath}: not the fast path: ${exec.command} ${exec.args.join(' ')}`);
      const [nodeMs, credentialMs, devTokenMs, fastPathMs, helpMs] = alternate(
        [
          { name: 'node -e 0', argv: [node, '-e', '0'] },
          { name: 'gatehouse credential', argv: [node, BIN, 'credential', '--issuer', ISSUER, '--client-id', 'cli', '--config-dir', configDir] },
          { name: 'gatehouse dev-token', argv: [node, BIN, ...nodePluginArgs] },
          { name: 'fast path', argv: [exec.command, ...exec.args] },
          { name: 'gatehouse --help', argv: [node, BIN, '--help'] },
        ],
        options.runs,
      );
      const staticKubeconfig = join(dir, 'static-kubeconfig');
      writeWithUser(config, { token }, staticKubeconfig);
      const nodePluginKubeconfig = join(dir, 'node-plugin-kubeconfig');
      writeWithUser(config, { exec: { ...exec, command: nodePluginCommand, args: nodePluginArgs } }, nodePluginKubeconfig);
      const kubectlBinary = realKubectl();
      const kubectl = (kubeconfig: string): string[] => [kubectlBinary, 'get', 'pods', '--kubeconfig', kubeconfig, '--cache-dir', join(dir, 'kube-cache')];
      const [kubectlStaticMs, kubectlPluginMs, kubectlNodePluginMs] = alternate(
        [
          { name: 'kubectl get pods (static token)', argv: kubectl(staticKubeconfig) },
          { name: 'kubectl get pods (fast path)', argv: kubectl(local.kubeconfigPath) },
          { name: 'kubectl get pods (Node plugin)', argv: kubectl(nodePluginKubeconfig) },
        ],
        options.runs,
      );
      const result: CliStartResult = {
        runs: options.runs,
        nodeMs: nodeMs ?? 0,
        credentialMs: credentialMs ?? 0,
        devTokenMs: devTokenMs ?? 0,
        fastPathMs: fastPathMs ?? 0,
        helpMs: helpMs ?? 0,
        kubectlStaticMs: kubectlStaticMs ?? 0,
        kubectlPluginMs: kubectlPluginMs ?? 0,
        kubectlNodePluginMs: kubectlNodePluginMs ?? 0,
        credentialVsNode: (credentialMs ?? 0) / (nodeMs ?? 1),
        devTokenVsNode: (devTokenMs ?? 0) / (nodeMs ?? 1),
        fastPathVsNode: (fastPathMs ?? 0) / (nodeMs ?? 1),
        kubectlPluginVsStatic: (kubectlPluginMs ?? 0) / (kubectlStaticMs ?? 1),
        kubectlNodePluginVsStatic: (kubectlNodePluginMs ?? 0) / (kubectlStaticMs ?? 1),
        kubectlNodeFloorVsStatic: ((kubectlStaticMs ?? 0) + (nodeMs ?? 0)) / (kubectlStaticMs ?? 1),
        kubectl: kubectlBinary,
      };
      log(
        `  node -e 0 ${result.nodeMs.toFixed(0)} ms; credential ${result.credentialMs.toFixed(0)} ms (${result.credentialVsNode.toFixed(2)}×); ` +
          `dev-token ${result.devTokenMs.toFixed(0)} ms (${result.devTokenVsNode.toFixed(2)}×); fast path ${result.fastPathMs.toFixed(1)} ms ` +
          `(${result.fastPathVsNode.toFixed(2)}×); --help ${result.helpMs.toFixed(0)} ms`,
      );
      log(
        `  kubectl get pods: static token ${result.kubectlStaticMs.toFixed(0)} ms, fast path ${result.kubectlPluginMs.toFixed(0)} ms ` +
          `(${result.kubectlPluginVsStatic.toFixed(2)}×), Node plugin ${result.kubectlNodePluginMs.toFixed(0)} ms (${result.kubectlNodePluginVsStatic.toFixed(2)}×; ` +
          `static + node -e 0 = ${result.kubectlNodeFloorVsStatic.toFixed(2)}×)`,
      );
      return result;
    } finally {
      await local.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
