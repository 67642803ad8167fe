/**
 * Loading a policy file: YAML text → validated PolicyDocument → compiled PolicyEngine.
 *
 * Contract: `parsePolicy` and `loadPolicyFile` throw one GatehouseConfigError listing every
 * problem, each as `rules[3].verbs[0] (line 14): …`, so a bad policy fails at start-up and
 * names everything to fix at once. Nothing here runs on the request path. A policy file
 * named `*.json` is read as JSON (policy-json.ts): the form the CDK stack bundles for Lambda,
 * converted here by `policyFileAsJson`.
 */
import { isDeepStrictEqual } from 'node:util';
import { LineCounter, isNode, parseDocument } from 'yaml';
import { GatehouseConfigError } from '../config-error.ts';
import { compilePolicy, type PolicyEngine } from './policy.ts';
import type { PolicyDocument } from './policy-schema.ts';
import { formatPath, parsePolicyJson, readPolicyText, validatedPolicy } from './policy-json.ts';

export { compilePolicy, type PolicyEngine } from './policy.ts';
export type { PolicyDocument } from './policy-schema.ts';

/** Parses and validates policy YAML; `source` names the text in problem messages (a file path). */
export function parsePolicy(text: string, source: string): PolicyDocument {
  return parseYamlPolicy(text, source).document;
}

/** The validated document and the plain data it was validated from. */
function parseYamlPolicy(text: string, source: string): { document: PolicyDocument; raw: unknown } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new GatehouseConfigError(
      source,
      doc.errors.map((error) => `line ${lineCounter.linePos(error.pos[0]).line}: ${firstLine(error.message)}`),
    );
  }
  const raw: unknown = doc.toJS();
  const document = validatedPolicy(raw, source, (path) => {
    const line = lineOf(doc, lineCounter, path);
    return `${formatPath(path)}${line === undefined ? '' : ` (line ${line})`}`;
  });
  return { document, raw };
}

/**
 * A policy YAML file as the JSON the Lambda function reads (policy-json.ts), after validating
 * it: the data the YAML holds, unchanged (defaults are applied when the JSON is read, by the
 * same schema). The JSON is read back here and must validate to the same document, so
 * both forms decide alike (a YAML value JSON cannot carry fails the conversion, not the function).
 */
export function policyFileAsJson(path: string): string {
  const { document, raw } = parseYamlPolicy(readPolicyText(path), path);
  const json = JSON.stringify(raw);
  if (!isDeepStrictEqual(parsePolicyJson(json, `${path} as JSON`), document)) {
    throw new GatehouseConfigError(path, ['the policy holds values JSON cannot carry unchanged; write it as plain YAML data']);
  }
  return `${json}\n`;
}

/** Reads, validates and compiles a policy file. */
export function loadPolicyFile(path: string): PolicyEngine {
  return compilePolicy(readPolicyFile(path));
}

/** Reads and validates a policy file (YAML, or JSON when named `*.json`) without compiling it (for `gatehouse policy validate`). */
export function readPolicyFile(path: string): PolicyDocument {
  const text = readPolicyText(path);
  return path.endsWith('.json') ? parsePolicyJson(text, path) : parsePolicy(text, path);
}

/** The line of the deepest YAML node on `path` that exists (a missing key points at its parent). */
function lineOf(doc: ReturnType<typeof parseDocument>, lineCounter: LineCounter, path: readonly (string | number)[]): number | undefined {
  for (let depth = path.length; depth >= 0; depth--) {
    const node: unknown = depth === 0 ? doc.contents : doc.getIn(path.slice(0, depth), true);
    if (isNode(node) && node.range !== undefined && node.range !== null) return lineCounter.linePos(node.range[0]).line;
  }
  return undefined;
}

function firstLine(message: string): string {
  return message.split('\n')[0] ?? message;
}
