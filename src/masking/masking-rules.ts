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
 *
 * Patterns are globs (`*` = any run of characters), matched case-insensitively: masking too
 * much is the safe mistake. `parseMaskingRules` validates once at start-up and reports every
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
  })
  .strict()
  .refine((rule) => rule.configMapKeys !== undefined || rule.envNames !== undefined, {
    message: 'must name configMapKeys or envNames (what to mask)',
  });

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
