#!/usr/bin/env node
// Runs the CLI built into dist/ by scripts/build.mjs (`npm ci`, `npm start` and `npm run build`
// build it). `credential` and `dev-token`, which kubectl runs before every call, start from
// one small file of their own; every other command from the full CLI, loading only its module.
import { existsSync } from 'node:fs';
import module from 'node:module';

const plugin = process.argv[2] === 'credential' || process.argv[2] === 'dev-token';
// Stack traces name the TypeScript lines (dist/ carries linked source maps). Not for the plugin:
// reading maps is a third of its start-up, and its failures are messages, not stack traces
// (GATEHOUSE_SOURCE_MAPS=1 turns them on there too).
if (!plugin || process.env.GATEHOUSE_SOURCE_MAPS === '1') process.setSourceMapsEnabled(true);
// Node 22.1+ keeps compiled code between runs; Node 20 has no compile cache (nothing to do).
module.enableCompileCache?.();
// The AWS SDK warns on every command under Node 20 that its releases after January 2027 need
// Node 22; Gatehouse pins its SDK versions, so the warning only buries the command's output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const entry = new URL(`../dist/cli/${plugin ? 'plugin' : 'main'}.js`, import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write(`gatehouse: ${entry.pathname} is not built; run \`npm run build\` in ${new URL('..', import.meta.url).pathname}\n`);
  process.exit(1);
}
await import(entry.href);
