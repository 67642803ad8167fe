#!/usr/bin/env node
/**
 * Builds the JavaScript that `bin/gatehouse.mjs` runs (the CLI and the Node server) into dist/.
 * Run by `npm ci` / `npm install` (the `prepare` script), by `npm start` and `npm run build`,
 * and once by test/run.mjs before the suite. Plain JavaScript, so it needs nothing but esbuild.
 *
 * - dist/cli/main.js: every command. Code splitting, so a command's module (and what it
 *   imports) is a chunk loaded only when that command runs; packages but commander stay in
 *   node_modules.
 * - dist/cli/plugin.js: `gatehouse credential` and `gatehouse dev-token`, which kubectl runs
 *   before every call: ONE file with everything it needs bundled in (commander, jose), and
 *   nothing it does not (no AWS SDK, no Hono, no zod: test/cli/plugin-bundle.test.ts reads
 *   dist/plugin-meta.json, esbuild's list of what went in).
 * - dist/cli/demo-cluster.js: the embedded demo cluster `serve` starts when there is no kubeconfig.
 * - dist/cli/commander.js: commander for the CLI, bundled on its own without a source map (below).
 *
 * Output sits two folders deep, as the sources do, so `new URL('../../policy/…', import.meta.url)`
 * finds the same files from src/ and from dist/. Linked source maps: bin/gatehouse.mjs turns
 * them on, so stack traces name TypeScript lines.
 */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));

const common = {
  absWorkingDir: root,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  outdir: 'dist',
  sourcemap: 'linked',
  // The maps carry positions only: Node reads a module's map when it loads the module.
  sourcesContent: false,
  logLevel: 'warning',
  metafile: true,
};

// Commander is CommonJS and require()s Node's modules: give the ESM bundle a require.
const REQUIRE_BANNER = "import { createRequire as __gatehouseCreateRequire } from 'node:module'; const require = __gatehouseCreateRequire(import.meta.url);";

/** Commander's `require('node:child_process')` → src/cli/child-process-absent.ts (it says why). */
const commanderWithoutChildProcess = {
  name: 'commander-without-child-process',
  setup(pluginBuild) {
    pluginBuild.onResolve({ filter: /^node:child_process$/ }, (args) =>
      args.importer.includes('/node_modules/commander/') ? { path: `${root}src/cli/child-process-absent.ts` } : undefined,
    );
  },
};

/**
 * The CLI imports commander as dist/cli/commander.js, built on its own (below): loaded from
 * node_modules it is CommonJS read through Node's ESM loader (its exports parsed first) and
 * it loads child_process — with net, dgram and the stream machinery — on every command; and
 * built into the CLI's chunks, its source map would be read on every command too.
 */
const commanderPrebuilt = {
  name: 'commander-prebuilt',
  setup(pluginBuild) {
    pluginBuild.onResolve({ filter: /^commander$/ }, () => ({ path: './commander.js', external: true }));
  },
};

const [cli, , plugin] = await Promise.all([
  build({
    ...common,
    entryPoints: { 'cli/main': 'src/cli/main.ts', 'cli/demo-cluster': 'test/stand-in/apiserver.ts' },
    splitting: true,
    chunkNames: 'cli/[name]-[hash]',
    packages: 'external',
    plugins: [commanderPrebuilt],
  }),
  build({
    ...common,
    // Its ESM face: named exports over the CommonJS package, which is bundled in.
    entryPoints: { 'cli/commander': 'node_modules/commander/esm.mjs' },
    plugins: [commanderWithoutChildProcess],
    // Not our code: no map to read when it loads, nothing to read in it.
    sourcemap: false,
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: 'none',
    banner: { js: REQUIRE_BANNER },
  }),
  build({
    ...common,
    entryPoints: { 'cli/plugin': 'src/cli/plugin.ts' },
    // What a sign-in or dev-token needs (oauth4webapi, node:http, jose) is a chunk of its own,
    // loaded only then: builtin imports are hoisted to the top of a file, so lazy code in the
    // same file would still load them on every call.
    splitting: true,
    chunkNames: 'cli/plugin-[name]-[hash]',
    plugins: [commanderWithoutChildProcess],
    // Less to read and parse on every kubectl call; identifiers stay, so stack traces read.
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: 'none',
    banner: { js: REQUIRE_BANNER },
  }),
]);
writeFileSync(`${root}dist/plugin-meta.json`, JSON.stringify(plugin.metafile));
writeFileSync(`${root}dist/cli-meta.json`, JSON.stringify(cli.metafile));
// The demo cluster's protobuf field tables, read beside its code (test/stand-in/protobuf.ts).
mkdirSync(`${root}dist/cli/proto`, { recursive: true });
copyFileSync(`${root}test/stand-in/proto/k8s-schema.json`, `${root}dist/cli/proto/k8s-schema.json`);
