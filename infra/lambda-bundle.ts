/**
 * How the Lambda function is bundled — one definition for the CDK stack (infra/stack.ts hands
 * it to NodejsFunction) and the cold-start benchmark (bench/scenarios/cold-start.ts hands it
 * to esbuild), so the bench measures the bundle that ships. No CDK import here: the bench
 * loads this without aws-cdk-lib.
 *
 * - ESM, Node 22, minified, linked source map without sources: the bundle is what V8 compiles
 *   on every cold start, so it stays small.
 * - The AWS SDK is bundled, not taken from the runtime: the runtime's copy changes version
 *   under a deployed function without a test run, and the clients and credential chain we
 *   test against are what we ship.
 * - The policy ships twice beside the handler: `policy.yaml`, the reviewed source as written,
 *   and `policy.json`, the same data converted and validated at synth — what the function
 *   reads, since parsing the YAML was most of a cold start (src/policy/policy-json.ts).
 */
import { writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { policyFileAsJson } from '../src/policy/policy-file.ts';

export const LAMBDA_ENTRY = join(resolve(dirname(fileURLToPath(import.meta.url)), '..'), 'functions', 'handler.ts');

/** File names beside the handler: the policy source, and the JSON the function reads (functions/handler.ts). */
export const POLICY_YAML_NAME = 'policy.yaml';
export const POLICY_JSON_NAME = 'policy.json';

/** The esbuild settings, in esbuild's own option names. */
export const LAMBDA_ESBUILD = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  mainFields: ['module', 'main'],
  minify: true,
  sourcemap: true,
  sourcesContent: false,
  // Some CommonJS dependencies call require(); give the ESM bundle one.
  banner: { js: "import { createRequire as __gatehouseCreateRequire } from 'node:module'; const require = __gatehouseCreateRequire(import.meta.url);" },
} as const;

/**
 * Validates the policy YAML and writes it as JSON to `outFile` (throws a GatehouseConfigError
 * naming every problem: a bad policy fails the synth, not the first cold start).
 */
export function writePolicyJson(policyYamlFile: string, outFile: string): void {
  writeFileSync(outFile, policyFileAsJson(policyYamlFile));
}
