/**
 * The policy file format (`apiVersion: gatehouse/v1`): its zod schema, its TypeScript types, and
 * the checks that span several fields of a rule. Reference: docs/policy.md.
 *
 * Contract: `checkPolicy(raw)` returns every problem of a parsed YAML value as
 * `{ path, message }` (empty when the policy is valid) and, when there is none, the validated
 * `PolicyDocument`. Unknown keys are problems; `masking:` is passed through unvalidated
 * for the masking stage to read.
 */
import * as z from 'zod';
import { ANY_FURTHER_ARGUMENTS } from './stream-match.ts';
import { isJsonObject } from '../json-object.ts';

/** Verbs the API server derives from resource requests (see request-info.ts). */
export const RESOURCE_VERBS = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete', 'deletecollection', 'proxy', 'impersonate'] as const;
/** Verbs of non-resource requests: the lowercased HTTP method. */
export const NON_RESOURCE_VERBS = ['get', 'head', 'post', 'put', 'patch', 'delete', 'options'] as const;

const WILDCARD_RULE = 'a "*" may only stand alone or end a pattern (as a prefix match)';

function isPattern(value: string): boolean {
  const star = value.indexOf('*');
  return star === -1 || star === value.length - 1;
}

const name = z
  .string()
  .regex(/^[A-Za-z0-9]([A-Za-z0-9._:-]{0,98}[A-Za-z0-9])?$/, 'must be 1-100 letters, digits, ".", "_", ":" or "-", starting and ending with a letter or digit');
const pattern = z.string().min(1, 'must not be empty').refine(isPattern, WILDCARD_RULE);
/** Namespaces and API groups may be "" (cluster-scoped / the core group). */
const patternOrEmpty = z.string().refine(isPattern, WILDCARD_RULE);
const resourcePattern = z
  .string()
  .min(1, 'must not be empty')
  .refine((value) => value.split('/').length <= 2, 'must be "resource" or "resource/subresource"')
  .refine((value) => value.split('/').every((part) => part.length > 0 && isPattern(part)), `each part must be non-empty; ${WILDCARD_RULE}`);
const urlPattern = z
  .string()
  .refine((value) => value === '*' || value.startsWith('/'), 'must start with "/" (or be "*")')
  .refine(isPattern, WILDCARD_RULE);

function list<T extends z.ZodType>(item: T) {
  return z.array(item).min(1, 'must not be empty; leave the key out to match anything');
}

/** One argument of a command pattern: exact, `*`, a prefix ending in `*`, or (last only) `...`. */
const argumentPattern = z.string().refine(isPattern, WILDCARD_RULE);
const commandPattern = z
  .array(argumentPattern)
  .min(1, 'must name at least the program')
  .refine((args) => args.indexOf(ANY_FURTHER_ARGUMENTS) === -1 || args.indexOf(ANY_FURTHER_ARGUMENTS) === args.length - 1, `"${ANY_FURTHER_ARGUMENTS}" may only end a command pattern`)
  .refine((args) => args[0] !== ANY_FURTHER_ARGUMENTS && args[0] !== '', 'must start with the program (exact, a prefix ending in "*", or "*")');

const reviewSchema = z.strictObject({
  /** Who may approve (e-mail addresses, as the identity provider names people). */
  approvers: list(z.string().min(1, 'must not be empty')),
  grant: z.enum(['once', 'window']).default('once'),
  windowSeconds: z.number().int().min(60).max(86400).optional(),
});

export const policyRuleSchema = z.strictObject({
  name,
  effect: z.enum(['allow', 'deny', 'review']),
  /** The clusters (names as configured, `*` or a prefix) the rule applies to; left out: every cluster. */
  clusters: list(pattern).optional(),
  users: list(pattern).optional(),
  groups: list(pattern).optional(),
  /** Issuer URLs (patterns) the caller's token must come from. */
  issuers: list(pattern).optional(),
  /** Extra identity attributes (an issuer's `extraClaims`): key → patterns; every key listed must have a matching value. */
  claims: z
    .record(z.string(), list(pattern))
    .refine((claims) => Object.keys(claims).every((key) => /^[A-Za-z0-9_.:/-]{1,100}$/.test(key)), 'each key must be an extraClaims key: 1-100 letters, digits, "_", ".", ":", "/" or "-"')
    .optional(),
  verbs: list(z.string().min(1, 'must not be empty')).optional(),
  apiGroups: list(patternOrEmpty).optional(),
  resources: list(resourcePattern).optional(),
  namespaces: list(patternOrEmpty).optional(),
  names: list(pattern).optional(),
  nonResourceURLs: list(urlPattern).optional(),
  reason: z.string().min(1).max(500).optional(),
  review: reviewSchema.optional(),
  unmasked: z.boolean().optional(),
  /** pods/exec: argv patterns (stream-match.ts). */
  commands: list(commandPattern).optional(),
  /** pods/exec: any shell. */
  shells: z.literal(true, 'must be true (leave it out to match any command)').optional(),
  /** pods/exec and pods/attach: container name patterns. */
  containers: list(pattern).optional(),
  /** pods/portforward: ports. */
  ports: list(z.number().int().min(1, 'must be a port (1-65535)').max(65535, 'must be a port (1-65535)')).optional(),
});

export const policyDocumentSchema = z.strictObject({
  apiVersion: z.literal('gatehouse/v1'),
  rules: z.array(policyRuleSchema),
  /** Reserved for the masking stage, which validates it itself. */
  masking: z.unknown().optional(),
});

export type PolicyRule = z.infer<typeof policyRuleSchema>;
export type PolicyDocument = z.infer<typeof policyDocumentSchema>;

export interface PolicyProblem {
  path: (string | number)[];
  message: string;
}

/**
 * Every problem in a policy, schema and cross-field alike (rules are checked one by one so
 * a mistake in one rule never hides the mistakes in another). The problems of a policy and, when there are none, the validated document — built from the
 * rules as they were checked (what `policyDocumentSchema.parse` returns: defaults applied),
 * so a policy is validated once, not twice, at start-up.
 */
export function checkPolicy(raw: unknown): { problems: PolicyProblem[]; document: PolicyDocument | undefined } {
  const problems: PolicyProblem[] = [];
  const shape = z
    .strictObject({ apiVersion: z.literal('gatehouse/v1'), rules: z.array(z.unknown()), masking: z.unknown().optional() })
    .safeParse(raw);
  if (!shape.success) {
    problems.push(...shape.error.issues.map((issue) => ({ path: issue.path.map(pathKey), message: issue.message })));
  }
  const rules = isJsonObject(raw) && Array.isArray(raw.rules) ? (raw.rules as unknown[]) : [];
  const parsedRules: PolicyRule[] = [];
  const seen = new Map<string, number>();
  rules.forEach((rule, index) => {
    const parsed = policyRuleSchema.safeParse(rule);
    if (!parsed.success) {
      problems.push(...parsed.error.issues.map((issue) => ({ path: ['rules', index, ...issue.path.map(pathKey)], message: issue.message })));
    } else {
      parsedRules.push(parsed.data);
    }
    if (!isJsonObject(rule)) return;
    problems.push(...ruleCrossFieldProblems(rule).map((p) => ({ path: ['rules', index, ...p.path], message: p.message })));
    if (typeof rule.name === 'string') {
      const first = seen.get(rule.name);
      if (first === undefined) seen.set(rule.name, index);
      else problems.push({ path: ['rules', index, 'name'], message: `"${rule.name}" is already the name of rules[${first}]; rule names must be unique` });
    }
  });
  if (problems.length > 0 || !shape.success) return { problems, document: undefined };
  const document: PolicyDocument = { apiVersion: shape.data.apiVersion, rules: parsedRules };
  if (isJsonObject(raw) && Object.hasOwn(raw, 'masking')) document.masking = shape.data.masking;
  return { problems, document };
}

/** Checks that span fields; tolerant of wrongly-typed fields, which the schema reports. */
function ruleCrossFieldProblems(rule: Record<string, unknown>): PolicyProblem[] {
  const problems: PolicyProblem[] = [];
  const hasResources = rule.resources !== undefined;
  const hasUrls = rule.nonResourceURLs !== undefined;
  if (hasResources && hasUrls) {
    problems.push({ path: ['nonResourceURLs'], message: 'a rule has either resources or nonResourceURLs, not both; split it into two rules' });
  } else if (!hasResources && !hasUrls) {
    problems.push({ path: [], message: 'needs resources (for API resources) or nonResourceURLs (for paths like /version); use ["*"] to match all' });
  }
  if (hasUrls) {
    for (const key of ['apiGroups', 'namespaces', 'names']) {
      if (rule[key] !== undefined) problems.push({ path: [key], message: 'applies only to resource requests; a nonResourceURLs rule cannot have it' });
    }
  }
  if (Array.isArray(rule.verbs)) {
    const allowed: readonly string[] = hasUrls && !hasResources ? NON_RESOURCE_VERBS : RESOURCE_VERBS;
    const kind = hasUrls && !hasResources ? 'non-resource requests' : 'resource requests';
    rule.verbs.forEach((verb, i) => {
      if (typeof verb === 'string' && verb !== '*' && !allowed.includes(verb)) {
        problems.push({ path: ['verbs', i], message: `"${verb}" is not a verb of ${kind}; use one of ${allowed.join(', ')}, or "*"` });
      }
    });
  }
  const effect = rule.effect;
  if (effect === 'review' && rule.review === undefined) {
    problems.push({ path: ['review'], message: 'is required for effect review: name the approvers' });
  }
  if (effect !== 'review' && rule.review !== undefined) {
    problems.push({ path: ['review'], message: 'applies only to effect review' });
  }
  problems.push(...streamFieldProblems(rule));
  if (rule.unmasked !== undefined && effect !== 'allow') {
    problems.push({ path: ['unmasked'], message: 'applies only to effect allow' });
  }
  if (isJsonObject(rule.review)) {
    const grant = rule.review.grant ?? 'once';
    if (grant === 'window' && rule.review.windowSeconds === undefined) {
      problems.push({ path: ['review', 'windowSeconds'], message: 'is required for grant window' });
    }
    if (grant === 'once' && rule.review.windowSeconds !== undefined) {
      problems.push({ path: ['review', 'windowSeconds'], message: 'applies only to grant window' });
    }
  }
  return problems;
}

/** Which subresources each stream field applies to; the rule's resources must all be among them. */
const STREAM_FIELD_RESOURCES: Readonly<Record<'commands' | 'shells' | 'containers' | 'ports', readonly string[]>> = {
  commands: ['pods/exec'],
  shells: ['pods/exec'],
  containers: ['pods/exec', 'pods/attach'],
  ports: ['pods/portforward'],
};

function streamFieldProblems(rule: Record<string, unknown>): PolicyProblem[] {
  const problems: PolicyProblem[] = [];
  const resources = Array.isArray(rule.resources) ? rule.resources.filter((r): r is string => typeof r === 'string') : undefined;
  for (const [field, applies] of Object.entries(STREAM_FIELD_RESOURCES)) {
    if (rule[field] === undefined) continue;
    if (resources === undefined || resources.length === 0 || !resources.every((r) => applies.includes(r))) {
      problems.push({ path: [field], message: `applies only to ${applies.join(' and ')}; list only ${applies.length === 1 ? 'it' : 'them'} in resources (got ${JSON.stringify(resources ?? rule.nonResourceURLs ?? null)})` });
    }
  }
  return problems;
}

function pathKey(key: PropertyKey): string | number {
  return typeof key === 'number' ? key : String(key);
}

