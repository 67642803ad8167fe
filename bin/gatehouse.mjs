#!/usr/bin/env node
// Runs the TypeScript CLI through tsx's loader, so the CLI is the same code the tests exercise.
// The repository's tsconfig is named explicitly: tsx would otherwise look in the working
// directory, and from anywhere else the approval page's JSX would not compile (`npm link`).
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

register({ tsconfig: fileURLToPath(new URL('../tsconfig.json', import.meta.url)) });
await import('../src/cli/main.ts');
