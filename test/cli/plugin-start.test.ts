/**
 * The credential plugin's path loads only what it needs: kubectl runs `gatehouse credential`
 * (or, locally, `gatehouse dev-token`) before every call. Checked twice: in what the built
 * files contain (esbuild's metafile of the plugin build, dist/plugin-meta.json) and in what
 * the built CLI really loads when it runs (a load hook lists every module).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type { Metafile } from 'esbuild';
import { cachePath, writeCachedTokens } from '../../src/login/token-cache.ts';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin/gatehouse.mjs');
const RECORD_LOADS = fileURLToPath(new URL('./fixtures/record-loads.mjs', import.meta.url));
const ISSUER = 'https://idp.example.com/realms/staff';
const FORBIDDEN_PACKAGES = /node_modules\/(@aws-sdk|@smithy|hono|@hono|zod|yaml)\//;

let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gatehouse-plugin-start-'));
  const expiresAt = Math.floor(Date.now() / 1000) + 3600;
  await writeCachedTokens(cachePath(join(dir, 'config'), ISSUER, 'cli'), { issuer: ISSUER, clientId: 'cli', idToken: 'cached.id.token', expiresAt });
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Loads {
  stdout: string;
  /** Files loaded, relative to the repository (`bin/…`, `dist/…`, `node_modules/…`). */
  files: string[];
  builtins: string[];
}

async function loadsOf(name: string, args: string[]): Promise<Loads> {
  const out = join(dir, `${name}.loads`);
  const { stdout } = await run(process.execPath, ['--import', RECORD_LOADS, BIN, ...args], {
    cwd: dir,
    env: { ...process.env, GATEHOUSE_LOADS_FILE: out },
  });
  const lines = (await readFile(out, 'utf8')).split('\n').filter(Boolean);
  const rootUrl = pathToFileURL(ROOT).href;
  return {
    stdout,
    files: lines.filter((line) => line.startsWith(rootUrl)).map((line) => line.slice(rootUrl.length)),
    builtins: lines.filter((line) => line.startsWith('builtin:')).map((line) => line.slice('builtin:'.length)),
  };
}

describe('what the credential plugin loads', { concurrency: true }, () => {
  const cases = [
    {
      name: 'credential with a valid cached token loads the plugin entry and its small shared chunks, no package, no HTTP, no child processes',
      args: ['credential', '--issuer', ISSUER, '--client-id', 'cli', '--config-dir', 'config'],
      stdout: /"kind":"ExecCredential".*"token":"cached\.id\.token"/,
      builtinsAbsent: ['http', 'https', 'child_process', 'dgram', 'zlib'],
    },
    {
      name: 'dev-token loads the plugin entry and its dev-issuer chunk, no package, no HTTP, no child processes',
      args: ['dev-token', '--user', 'alice@example.com', '--state-dir', 'state', '--exec-credential'],
      stdout: /"kind":"ExecCredential"/,
      builtinsAbsent: ['http', 'https', 'child_process', 'dgram', 'zlib'],
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const loads = await loadsOf(c.args[0] ?? 'x', c.args);
      assert.match(loads.stdout, c.stdout);
      assert.deepEqual(loads.files.filter((file) => !/^(bin\/gatehouse\.mjs|dist\/cli\/plugin(-[\w-]+)?\.js)$/.test(file)), [], 'only bin/ and dist/cli/plugin*.js');
      assert.deepEqual(c.builtinsAbsent.filter((builtin) => loads.builtins.includes(builtin)), [], 'builtins that must not load');
    });
  }

  test('gatehouse --help loads no command module, nothing from node_modules, and commander from its own built file without child_process', async () => {
    const loads = await loadsOf('help', ['--help']);
    assert.match(loads.stdout, /Commands:\n {2}serve {2,}run Gatehouse as an HTTPS server/);
    assert.match(loads.stdout, / {2}dev-token {2,}LOCAL DEVELOPMENT ONLY/);
    assert.deepEqual(loads.files.filter((file) => !/^(bin\/gatehouse\.mjs|dist\/cli\/(main|commander|chunk-[\w-]+)\.js)$/.test(file)), []);
    assert.ok(loads.files.includes('dist/cli/commander.js'));
    assert.deepEqual(loads.builtins.filter((builtin) => ['http', 'https', 'crypto', 'zlib', 'child_process'].includes(builtin)), []);
  });
});

describe('what the plugin build contains (dist/plugin-meta.json)', () => {
  test('no AWS SDK, Hono, zod or YAML parser anywhere in the plugin build, and no configuration schema', async () => {
    const meta = JSON.parse(await readFile(join(ROOT, 'dist/plugin-meta.json'), 'utf8')) as Metafile;
    const inputs = Object.keys(meta.inputs);
    assert.deepEqual(inputs.filter((input) => FORBIDDEN_PACKAGES.test(input)), []);
    assert.deepEqual(inputs.filter((input) => /^src\/(config(-env)?\.ts|policy\/|masking\/|pipeline\/|app\.ts)/.test(input)), []);
  });

  test('the plugin entry holds only commander of all packages; OAuth and jose are chunks loaded on demand', async () => {
    const meta = JSON.parse(await readFile(join(ROOT, 'dist/plugin-meta.json'), 'utf8')) as Metafile;
    const entry = meta.outputs['dist/cli/plugin.js'];
    assert.ok(entry !== undefined, 'dist/cli/plugin.js is an output');
    const staticFiles = ['dist/cli/plugin.js', ...entry.imports.filter((i) => i.kind === 'import-statement').map((i) => i.path)];
    const packages = new Set(
      staticFiles.flatMap((file) => Object.keys(meta.outputs[file]?.inputs ?? {})).filter((input) => input.startsWith('node_modules/')).map((input) => input.split('/')[1]),
    );
    assert.deepEqual([...packages], ['commander']);
    assert.ok(entry.imports.some((i) => i.kind === 'dynamic-import'), 'sign-in and dev-token code is imported dynamically');
  });
});
