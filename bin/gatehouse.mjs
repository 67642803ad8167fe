#!/usr/bin/env node
// Runs the TypeScript CLI through tsx's loader, so the CLI is the same code the tests exercise.
// The repository's tsconfig is named explicitly: tsx would otherwise look in the working
// directory, and from anywhere else the approval page's JSX would not compile (`npm link`).
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

// The AWS SDK warns on every command under Node 20 that its releases after January 2027 need
// Node 22; Gatehouse pins its SDK versions, so the warning only buries the command's output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
register({ tsconfig: fileURLToPath(new URL('../tsconfig.json', import.meta.url)) });
await import('../src/cli/main.ts');
