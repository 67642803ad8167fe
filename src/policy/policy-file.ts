/**
 * Loading a policy file: YAML text → validated PolicyDocument → compiled PolicyEngine.
 *
 * Contract: `parsePolicy` and `loadPolicyFile` throw one GatehouseConfigError listing every
 * problem, each as `rules[3].verbs[0] (line 14): …`, so a bad policy fails at start-up and
 * names everything to fix at once. Nothing here runs on the request path.
 */
import { readFileSync } from 'node:fs';
import { LineCounter, isNode, parseDocument } from 'yaml';
import { GatehouseConfigError } from '../config-error.ts';
import { compilePolicy, type PolicyEngine } from './policy.ts';
import { policyDocumentSchema, policyProblems, type PolicyDocument } from './policy-schema.ts';

export { compilePolicy, type PolicyEngine } from './policy.ts';
export type { PolicyDocument, PolicyRule } from './policy-schema.ts';

/** Parses and validates policy YAML; `source` names the text in problem messages (a file path). */
export function parsePolicy(text: string, source: string): PolicyDocument {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new GatehouseConfigError(
      source,
      doc.errors.map((error) => `line ${lineCounter.linePos(error.pos[0]).line}: ${firstLine(error.message)}`),
    );
  }
  const raw: unknown = doc.toJS();
  if (raw === null || raw === undefined) {
    throw new GatehouseConfigError(source, ['the policy is empty; it needs "apiVersion: gatehouse/v1" and "rules:"']);
  }
  const problems = policyProblems(raw);
  if (problems.length > 0) {
    throw new GatehouseConfigError(
      source,
      problems.map((problem) => {
        const line = lineOf(doc, lineCounter, problem.path);
        const where = `${formatPath(problem.path)}${line === undefined ? '' : ` (line ${line})`}`;
        return `${where}: ${problem.message}`;
      }),
    );
  }
  return policyDocumentSchema.parse(raw);
}

/** Reads, validates and compiles a policy file. */
export function loadPolicyFile(path: string): PolicyEngine {
  return compilePolicy(readPolicyFile(path));
}

/** Reads and validates a policy file without compiling it (for `gatehouse policy validate`). */
export function readPolicyFile(path: string): PolicyDocument {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new GatehouseConfigError(path, [code === 'ENOENT' ? 'the policy file does not exist' : `the policy file cannot be read (${code ?? String(error)})`]);
  }
  return parsePolicy(text, path);
}

/** `rules[3].verbs[0]`; `(root)` for the document itself. */
export function formatPath(path: readonly (string | number)[]): string {
  if (path.length === 0) return '(root)';
  return path.map((key, i) => (typeof key === 'number' ? `[${key}]` : i === 0 ? key : `.${key}`)).join('');
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
