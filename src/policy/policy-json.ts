/**
 * The policy as JSON: what the Lambda function reads at cold start. The CDK stack validates
 * the reviewed policy YAML at synth and writes it beside the handler as `policy.json`
 * (`policyFileAsJson` in policy-file.ts); the function parses that JSON and validates it again
 * with the same schema and the same problem messages (paths without line numbers, which
 * only the YAML source has).
 *
 * Why: parsing YAML is the slowest part of a cold start — ~600 ms of CPU for a 250-rule
 * policy, where JSON.parse takes about a millisecond — and this module does not import the
 * YAML parser at all. Contract: `parsePolicyJson` / `readPolicyJsonFile` throw one
 * GatehouseConfigError listing every problem, like `parsePolicy`.
 */
import { readFileSync } from 'node:fs';
import { GatehouseConfigError } from '../config-error.ts';
import { checkPolicy, type PolicyDocument } from './policy-schema.ts';

/** Parses and validates policy JSON; `source` names the text in problem messages (a file path). */
export function parsePolicyJson(text: string, source: string): PolicyDocument {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new GatehouseConfigError(source, [`the policy is not valid JSON: ${(error as Error).message}`]);
  }
  return validatedPolicy(raw, source, (path) => formatPath(path));
}

/** Reads and validates a policy JSON file (not compiled). */
export function readPolicyJsonFile(path: string): PolicyDocument {
  return parsePolicyJson(readPolicyText(path), path);
}

/**
 * Validates a parsed policy document: every problem at once, each located by `where`
 * (the YAML loader adds line numbers there).
 */
export function validatedPolicy(raw: unknown, source: string, where: (path: readonly (string | number)[]) => string): PolicyDocument {
  if (raw === null || raw === undefined) {
    throw new GatehouseConfigError(source, ['the policy is empty; it needs "apiVersion: gatehouse/v1" and "rules:"']);
  }
  const { problems, document } = checkPolicy(raw);
  if (problems.length > 0 || document === undefined) {
    throw new GatehouseConfigError(
      source,
      problems.map((problem) => `${where(problem.path)}: ${problem.message}`),
    );
  }
  return document;
}

/** The text of a policy file; a missing or unreadable file is a configuration problem. */
export function readPolicyText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new GatehouseConfigError(path, [code === 'ENOENT' ? 'the policy file does not exist' : `the policy file cannot be read (${code ?? String(error)})`]);
  }
}

/** `rules[3].verbs[0]`; `(root)` for the document itself. */
export function formatPath(path: readonly (string | number)[]): string {
  if (path.length === 0) return '(root)';
  return path.map((key, i) => (typeof key === 'number' ? `[${key}]` : i === 0 ? key : `.${key}`)).join('');
}
