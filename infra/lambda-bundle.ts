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
 * - Except the credential sources a function never uses (SSO, shared config files,
 *   credential_process, web identity token files): they are aliased to
 *   functions/credential-sources-absent.ts, which says why — ~80 KB less to compile per cold start.
 * - And the YAML parser (115 KB): the function reads its policy as JSON (below) and YAML
 *   media types as JSON first; functions/yaml-absent.ts refuses the rest, by name.
 * - The policy ships twice beside the handler: `policy.yaml`, the reviewed source as written,
 *   and `policy.json`, the same data converted and validated at synth — what the function
 *   reads, since parsing the YAML was most of a cold start (src/policy/policy-json.ts).
 */
import { writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { policyFileAsJson } from '../src/policy/policy-file.ts';

const FUNCTIONS_DIR = join(resolve(dirname(fileURLToPath(import.meta.url)), '..'), 'functions');
export const LAMBDA_ENTRY = join(FUNCTIONS_DIR, 'handler.ts');
/** The shutdown extension's layer contents, as they go under /opt (functions/shutdown-extension/). */
export const SHUTDOWN_EXTENSION_DIR = join(FUNCTIONS_DIR, 'shutdown-extension');

const ABSENT_CREDENTIAL_SOURCES = join(FUNCTIONS_DIR, 'credential-sources-absent.ts');
const ABSENT_YAML = join(FUNCTIONS_DIR, 'yaml-absent.ts');
const ABSENT_MCP_VALIDATORS = join(FUNCTIONS_DIR, 'mcp-validators-absent.ts');

/** Packages replaced in the bundle → the file that stands in for them (an absolute path). */
export const LAMBDA_ALIASES: Readonly<Record<string, string>> = {
  '@aws-sdk/credential-provider-sso': ABSENT_CREDENTIAL_SOURCES,
  '@aws-sdk/credential-provider-ini': ABSENT_CREDENTIAL_SOURCES,
  '@aws-sdk/credential-provider-process': ABSENT_CREDENTIAL_SOURCES,
  '@aws-sdk/credential-provider-web-identity': ABSENT_CREDENTIAL_SOURCES,
  yaml: ABSENT_YAML,
  ajv: ABSENT_MCP_VALIDATORS,
  'ajv-formats': ABSENT_MCP_VALIDATORS,
  'zod-to-json-schema': ABSENT_MCP_VALIDATORS,
  'zod/v3': ABSENT_MCP_VALIDATORS,
};

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
  alias: LAMBDA_ALIASES,
  banner: { js: "import { createRequire as __gatehouseCreateRequire } from 'node:module'; const require = __gatehouseCreateRequire(import.meta.url);" },
} as const;

/**
 * Validates the policy YAML and writes it as JSON to `outFile` (throws a GatehouseConfigError
 * naming every problem: a bad policy fails the synth, not the first cold start).
 */
export function writePolicyJson(policyYamlFile: string, outFile: string): void {
  writeFileSync(outFile, policyFileAsJson(policyYamlFile));
}
