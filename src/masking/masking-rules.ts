/**
 * Masking rules beyond Secrets, from the `masking:` section of the policy file. Secrets are
 * always masked; these rules add ConfigMap keys and container env values, per namespace:
 *
 *   masking:
 *     - name: passwords-in-configmaps
 *       namespaces: [prod, "team-*"]        # optional; default every namespace
 *       configMapKeys: ["*password*", "*.pem"]
 *     - name: tokens-in-env
 *       envNames: ["*_TOKEN", "*_PASSWORD"]
 *     - name: patterns-in-terminals         # exec/attach recordings (src/recordings/)
 *       namespaces: [prod]
 *       recordingPatterns: ["AKIA[0-9A-Z]{16}", "(?i)password=\\S+"]
 *     - name: no-secret-lookups-in-sandbox
 *       namespaces: [sandbox]
 *       recordingSecretValues: false        # opt out: the default redacts them everywhere
 *
 * Recordings redact the values of the session namespace's Secrets by default (fail closed):
 * only a rule saying `recordingSecretValues: false` for a namespace turns that off there, and
 * a rule saying `true` wins over one saying `false` (redacting too much is the safe mistake).
 *
 * Patterns are globs (`*` = any run of characters), matched case-insensitively: masking too
 * much is the safe mistake. `recordingPatterns` are regular expressions instead (JavaScript
 * syntax; a leading `(?i)` makes one case-insensitive), replaced in stored session recordings. `parseMaskingRules` validates once at start-up and reports every
 * problem at once; the compiled rules answer "which rule masks this?" on the request path.
 */
import * as z from 'zod';
import { GatehouseConfigError } from '../config-error.ts';

const patternList = z.array(z.string().min(1, 'must not be empty')).min(1, 'must list at least one pattern');

const ruleSchema = z
  .object({
    name: z.string().min(1, 'must not be empty'),
    namespaces: patternList.optional(),
    configMapKeys: patternList.optional(),
    envNames: patternList.optional(),
    recordingPatterns: z.array(z.string().min(1, 'must not be empty').superRefine(checkRecordingPattern)).min(1, 'must list at least one pattern').optional(),
    recordingSecretValues: z.boolean().optional(),
  })
  .strict()
  .refine(
    (rule) => rule.configMapKeys !== undefined || rule.envNames !== undefined || rule.recordingPatterns !== undefined || rule.recordingSecretValues !== undefined,
    { message: 'must name configMapKeys, envNames, recordingPatterns or recordingSecretValues (what to mask)' },
  );

/** A recording pattern must compile and must not match the empty string (it would match everywhere). */
function checkRecordingPattern(source: string, context: z.RefinementCtx): void {
  let pattern: RegExp;
  try {
    pattern = recordingPattern(source);
  } catch (error) {
    context.addIssue({ code: 'custom', message: `is not a regular expression: ${(error as Error).message}` });
    return;
  }
  if (pattern.test('')) context.addIssue({ code: 'custom', message: `/${source}/ matches the empty string; it must match at least one character` });
}

/** `(?i)…` → case-insensitive; otherwise as written. */
export function recordingPattern(source: string): RegExp {
  return source.startsWith('(?i)') ? new RegExp(source.slice(4), 'i') : new RegExp(source);
}

const rulesSchema = z.array(ruleSchema);

export type MaskingRuleSpec = z.infer<typeof ruleSchema>;

/** A compiled glob list: one anchored, case-insensitive RegExp. */
type Matcher = RegExp;

export interface MaskingRule {
  readonly name: string;
  /** null: every namespace. */
  readonly namespaces: Matcher | null;
  readonly configMapKeys: Matcher | null;
  readonly envNames: Matcher | null;
  /** Regular expressions replaced in exec/attach recordings; empty when none. */
  readonly recordingPatterns: readonly RegExp[];
  /** Whether the namespace's Secret values are replaced in recordings; null when the rule does not say (the default: they are). */
  readonly recordingSecretValues: boolean | null;
}

export interface MaskingRules {
  readonly rules: readonly MaskingRule[];
  /** True when some rule masks ConfigMap keys. */
  readonly masksConfigMaps: boolean;
  /** True when some rule masks env values. */
  readonly masksEnv: boolean;
}

/** Secrets only: what Gatehouse masks when the policy has no `masking:` section. */
export const SECRETS_ONLY: MaskingRules = { rules: [], masksConfigMaps: false, masksEnv: false };

/** Validates the raw `masking:` value of a policy file (undefined/null = no extra rules). */
export function parseMaskingRules(raw: unknown, source: string): MaskingRules {
  if (raw === undefined || raw === null) return SECRETS_ONLY;
  const result = rulesSchema.safeParse(raw);
  const problems = result.success
    ? duplicateNames(result.data)
    : result.error.issues.map((issue) => `masking${pathText(issue.path)}: ${issue.message}`);
  if (problems.length > 0 || !result.success) throw new GatehouseConfigError(source, problems);
  return compileMaskingRules(result.data);
}

export function compileMaskingRules(specs: readonly MaskingRuleSpec[]): MaskingRules {
  const rules = specs.map(
    (spec): MaskingRule => ({
      name: spec.name,
      namespaces: globs(spec.namespaces),
      configMapKeys: globs(spec.configMapKeys),
      envNames: globs(spec.envNames),
      recordingPatterns: (spec.recordingPatterns ?? []).map(recordingPattern),
      recordingSecretValues: spec.recordingSecretValues ?? null,
    }),
  );
  return {
    rules,
    masksConfigMaps: rules.some((rule) => rule.configMapKeys !== null),
    masksEnv: rules.some((rule) => rule.envNames !== null),
  };
}

/** The rule that masks ConfigMap key `key` in `namespace`, or undefined. */
export function configMapKeyRule(rules: MaskingRules, namespace: string, key: string): MaskingRule | undefined {
  return rules.rules.find(
    (rule) => rule.configMapKeys !== null && inNamespace(rule, namespace) && rule.configMapKeys.test(key),
  );
}

/** The rule that masks env variable `name` of an object in `namespace`, or undefined. */
export function envNameRule(rules: MaskingRules, namespace: string, name: string): MaskingRule | undefined {
  return rules.rules.find((rule) => rule.envNames !== null && inNamespace(rule, namespace) && rule.envNames.test(name));
}

/**
 * What recordings of a session in `namespace` redact, by the rules that apply there: their
 * patterns, and the namespace's Secret values unless a rule opts out (`false`) and none asks
 * for them (`true`).
 */
export function recordingRedaction(rules: MaskingRules, namespace: string): { patterns: RegExp[]; secretValues: boolean } {
  const applying = rules.rules.filter((rule) => inNamespace(rule, namespace));
  const asked = applying.some((rule) => rule.recordingSecretValues === true);
  const optedOut = applying.some((rule) => rule.recordingSecretValues === false);
  return {
    patterns: applying.flatMap((rule) => rule.recordingPatterns),
    secretValues: asked || !optedOut,
  };
}

function inNamespace(rule: MaskingRule, namespace: string): boolean {
  return rule.namespaces === null || rule.namespaces.test(namespace);
}

function globs(patterns: readonly string[] | undefined): Matcher | null {
  if (patterns === undefined) return null;
  const alternatives = patterns.map((pattern) =>
    pattern
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*'),
  );
  return new RegExp(`^(?:${alternatives.join('|')})$`, 'is');
}

function duplicateNames(specs: readonly MaskingRuleSpec[]): string[] {
  const seen = new Set<string>();
  const problems: string[] = [];
  specs.forEach((spec, index) => {
    if (seen.has(spec.name)) problems.push(`masking[${index}].name: "${spec.name}" is used by an earlier rule`);
    seen.add(spec.name);
  });
  return problems;
}

function pathText(path: readonly PropertyKey[]): string {
  return path.map((part) => (typeof part === 'number' ? `[${part}]` : `.${String(part)}`)).join('');
}
