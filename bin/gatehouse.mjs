#!/usr/bin/env node
// Runs the TypeScript CLI through tsx's loader, so the CLI is the same code the tests exercise.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
