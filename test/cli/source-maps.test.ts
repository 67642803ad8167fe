/**
 * The built CLI runs JavaScript from dist/, but a failure's stack trace names the TypeScript
 * file and line that threw (bin/gatehouse.mjs turns on Node's source maps; scripts/build.mjs
 * writes linked maps).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runProcess } from '../support/run-process.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SOURCE = 'src/cli/kubeconfig.ts';
const THROWN = 'is not a kubeconfig (not a YAML mapping)';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'gatehouse-source-maps-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('an error thrown in the built CLI prints a stack trace naming the TypeScript file and line that threw', async () => {
  const line = readFileSync(join(ROOT, SOURCE), 'utf8').split('\n').findIndex((text) => text.includes(THROWN)) + 1;
  assert.ok(line > 0, `${SOURCE} throws "${THROWN}"`);
  // A YAML list where a kubeconfig should be: readKubeconfig throws, and nothing catches it.
  const notKubeconfig = join(dir, 'list.yaml');
  writeFileSync(notKubeconfig, '- a\n- b\n');
  const run = await runProcess(
    process.execPath,
    [join(ROOT, 'bin/gatehouse.mjs'), 'kubeconfig', '--server', 'https://gatehouse.example.com', '--issuer', 'https://idp.example.com', '--client-id', 'cli', '--kubeconfig', notKubeconfig],
    { cwd: dir, env: { PATH: process.env.PATH ?? '', HOME: dir } },
  );
  assert.equal(run.code, 1);
  assert.match(run.stderr, new RegExp(`Error: ${notKubeconfig} ${THROWN.replace(/[()]/g, '\\$&')}\\n`));
  assert.ok(run.stderr.includes(`    at readKubeconfig (${join(ROOT, SOURCE)}:${line}:`), `the frame names ${SOURCE}:${line}:\n${run.stderr}`);
  assert.ok(run.stderr.includes(`(${join(ROOT, 'src/cli/main.ts')}:`), 'the CLI entry is named by its source too');
  // Only commander, built without a map (scripts/build.mjs), is named by its built file.
  assert.doesNotMatch(run.stderr, /dist\/cli\/(?!commander\.js:)/);
});
