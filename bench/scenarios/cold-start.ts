/**
 * Benchmark 4 — cold start of the Lambda function: the bundle built the way the CDK stack
 * builds it (infra/lambda-bundle.ts: esbuild, ESM, node22, minified, AWS SDK bundled; the policy
 * converted to JSON), its size, and
 * the time a fresh `node` process takes to load it and answer its first request — a `get pod`
 * Function URL event with a bearer token, verified against the bench IdP's JWKS and forwarded
 * to the bench upstream (`bench/cold-start-runner.mjs`). Medians of several fresh processes;
 * a bare `node -e 0` start is measured alongside, since Lambda's own runtime start is not ours.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import type { Metafile } from 'esbuild';
import { LAMBDA_ENTRY, LAMBDA_ESBUILD, POLICY_JSON_NAME, POLICY_YAML_NAME, writePolicyJson } from '../../infra/lambda-bundle.ts';
import { POD_PATH } from '../fixtures.ts';
import { median } from '../stats.ts';
import type { Stand } from '../stand.ts';

const RUNNER = fileURLToPath(new URL('../cold-start-runner.mjs', import.meta.url));
const RUNS = 5;

export interface ColdStartResult {
  bundleBytes: number;
  bundleGzipBytes: number;
  sourceMapBytes: number;
  /** The biggest packages in the bundle, bytes of output. */
  largestParts: { name: string; bytes: number }[];
  runs: number;
  /** Spawn of a fresh `node` → first answer received, median ms. */
  spawnToAnswerMs: number;
  /** Inside the process: import of the bundle (init) and the first answer, median ms. */
  processStartToLoadedMs: number;
  firstRequestMs: number;
  /** Spawn → exit of `node -e 0`, median ms (the runtime's share, not Gatehouse's). */
  bareNodeMs: number;
  /** CPU time of the fresh process until loaded / answered, median ms: the wall times on an idle machine, roughly. */
  loadedCpuMs: number;
  answeredCpuMs: number;
  statusCode: number | null;
}

interface RunnerOutput {
  beforeImportMs: number;
  loadedMs: number;
  answeredMs: number;
  loadedCpuMs: number;
  answeredCpuMs: number;
  statusCode: number | null;
  bodyBytes: number;
  body: string;
}

export async function coldStart(stand: Stand, log: (line: string) => void): Promise<ColdStartResult> {
  const outdir = join(stand.scratch, 'lambda');
  mkdirSync(outdir, { recursive: true });
  const outfile = join(outdir, 'index.mjs');
  // The stack's own settings and policy conversion (infra/lambda-bundle.ts).
  const result = await build({
    ...LAMBDA_ESBUILD,
    mainFields: [...LAMBDA_ESBUILD.mainFields],
    entryPoints: [LAMBDA_ENTRY],
    outfile,
    metafile: true,
    logLevel: 'silent',
  });
  copyFileSync(stand.policyFile, join(outdir, POLICY_YAML_NAME));
  writePolicyJson(stand.policyFile, join(outdir, POLICY_JSON_NAME));
  const bundleBytes = statSync(outfile).size;

  const event = {
    version: '2.0',
    rawPath: POD_PATH,
    rawQueryString: '',
    headers: { host: 'gatehouse.lambda-url.eu-west-1.on.aws', accept: 'application/json', authorization: `Bearer ${stand.token}` },
    isBase64Encoded: false,
    requestContext: { http: { method: 'GET', path: POD_PATH, sourceIp: '127.0.0.1', protocol: 'HTTP/1.1' } },
  };
  const env = {
    PATH: process.env.PATH ?? '',
    AWS_REGION: 'eu-west-1',
    GATEHOUSE_UPSTREAM: 'kubeconfig',
    GATEHOUSE_KUBECONFIG: stand.kubeconfigPath,
    GATEHOUSE_OIDC_ISSUER: stand.idp.issuer,
    GATEHOUSE_OIDC_AUDIENCE: stand.idp.audience,
    GATEHOUSE_OIDC_JWKS_URI: stand.idp.jwksUri,
  };

  const spawnToAnswer: number[] = [];
  const loaded: number[] = [];
  const firstRequest: number[] = [];
  const loadedCpu: number[] = [];
  const answeredCpu: number[] = [];
  let statusCode: number | null = null;
  for (let i = 0; i < RUNS; i++) {
    const { wallMs, stdout } = await timedRun(process.execPath, [RUNNER, outfile, JSON.stringify(event)], env);
    // The runner's line is the last: the function's own log and metric (EMF) lines come before it.
    const output = JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as RunnerOutput;
    if (output.statusCode !== 200) throw new Error(`the cold Lambda answered ${output.statusCode}: ${output.body}`);
    statusCode = output.statusCode;
    // The process's own clock starts a little after spawn; spawn→answer is wall time to the answer line.
    spawnToAnswer.push(wallMs);
    loaded.push(output.loadedMs);
    firstRequest.push(output.answeredMs - output.loadedMs);
    loadedCpu.push(output.loadedCpuMs);
    answeredCpu.push(output.answeredCpuMs);
  }
  const bare: number[] = [];
  for (let i = 0; i < RUNS; i++) bare.push((await timedRun(process.execPath, ['-e', '0'], env)).wallMs);

  const cold: ColdStartResult = {
    bundleBytes,
    bundleGzipBytes: gzipSync(readFileSync(outfile)).length,
    sourceMapBytes: statSync(`${outfile}.map`).size,
    largestParts: largestParts(result.metafile),
    runs: RUNS,
    spawnToAnswerMs: median(spawnToAnswer),
    processStartToLoadedMs: median(loaded),
    firstRequestMs: median(firstRequest),
    bareNodeMs: median(bare),
    loadedCpuMs: median(loadedCpu),
    answeredCpuMs: median(answeredCpu),
    statusCode,
  };
  log(
    `  bundle ${(bundleBytes / 1024).toFixed(0)} KiB (gzip ${(cold.bundleGzipBytes / 1024).toFixed(0)} KiB); fresh node → first answer ${cold.spawnToAnswerMs.toFixed(0)} ms ` +
      `(load ${cold.processStartToLoadedMs.toFixed(0)} ms, first request ${cold.firstRequestMs.toFixed(0)} ms; bare node ${cold.bareNodeMs.toFixed(0)} ms; ` +
      `CPU ${cold.answeredCpuMs.toFixed(0)} ms)`,
  );
  return cold;
}

/** Spawns, waits for exit, returns wall time spawn → exit and stdout. */
function timedRun(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ wallMs: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let answeredAt = Number.NaN;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      // The answer line marks the end of the measured work; exit may come a moment later.
      if (Number.isNaN(answeredAt) && chunk.includes('\n')) answeredAt = performance.now();
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) {
        reject(new Error(`${command} ${args[0]} exited with ${code}: ${stderr.slice(-2000)}`));
        return;
      }
      resolve({ wallMs: (Number.isNaN(answeredAt) ? performance.now() : answeredAt) - start, stdout });
    });
  });
}

/** Output bytes per package (node_modules/<pkg>) or source folder. */
function largestParts(metafile: Metafile): { name: string; bytes: number }[] {
  const byPart = new Map<string, number>();
  for (const output of Object.values(metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const name = input.replace(/^(?:.*\/)?node_modules\/((?:@[^/]+\/)?[^/]+).*$/, '$1').replace(/^(src|functions)\/.*$/, '$1/');
      byPart.set(name, (byPart.get(name) ?? 0) + bytesInOutput);
    }
  }
  return [...byPart]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 8)
    .map(([name, bytes]) => ({ name, bytes }));
}
