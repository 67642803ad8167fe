/**
 * Policy evaluation: Identity × KubeRequest → Decision. Pure (no fs, AWS, HTTP or clock).
 *
 * Semantics (docs/policy.md is the reference):
 * - Every matcher a rule lists must match; a matcher left out matches anything. Patterns are
 *   exact, `*` (anything) or a prefix ending in `*`.
 * - A rule with `resources` matches resource requests only; one with `nonResourceURLs`
 *   non-resource requests only.
 * - Deny beats review beats allow; among rules of the winning effect the first in file order
 *   decides. Nothing matching → deny ("default deny").
 * - Deny and review rules fail closed on what a request does not pin down: a rule listing
 *   `names` also matches requests that name no single object (list, watch, deletecollection,
 *   create), and a rule listing `namespaces` also matches list/watch/deletecollection across all
 *   namespaces — those requests reach the objects the rule protects. Allow rules never widen.
 *
 * Rules are compiled once: Sets for exact values, prefix lists, and an index by effect, verb and
 * resource so a decision looks at a handful of rules even with thousands in the file.
 */
import { decodedPath } from '../request-info.ts';
import type { Decision, Effect, Identity, KubeRequest } from '../types.ts';
import type { PolicyDocument, PolicyRule } from './policy-schema.ts';

export interface PolicyEngine {
  decide(identity: Identity, request: KubeRequest): Decision;
}

/** Verbs whose requests span objects: a namespace-less one spans all namespaces. */
const COLLECTION_VERBS = new Set(['list', 'watch', 'deletecollection']);
const EFFECT_ORDER: readonly Effect[] = ['deny', 'review', 'allow'];

export const DEFAULT_DENY: Decision = Object.freeze({ effect: 'deny', rule: null, reason: 'no rule allows it (default deny)' });

interface Matcher {
  readonly any: boolean;
  readonly exact: ReadonlySet<string>;
  readonly prefixes: readonly string[];
}

const ANY: Matcher = { any: true, exact: new Set(), prefixes: [] };

function compileMatcher(patterns: readonly string[] | undefined): Matcher {
  if (patterns === undefined || patterns.includes('*')) return ANY;
  const exact = new Set<string>();
  const prefixes: string[] = [];
  for (const p of patterns) {
    if (p.endsWith('*')) prefixes.push(p.slice(0, -1));
    else exact.add(p);
  }
  return { any: false, exact, prefixes };
}

function matches(matcher: Matcher, value: string): boolean {
  if (matcher.any || matcher.exact.has(value)) return true;
  for (const prefix of matcher.prefixes) if (value.startsWith(prefix)) return true;
  return false;
}

interface ResourceMatcher {
  resource: Matcher;
  /** null: only requests without a subresource. */
  subresource: Matcher | null;
  /** `*` alone: every resource and every subresource. */
  everything: boolean;
}

function compileResource(pattern: string): ResourceMatcher {
  if (pattern === '*') return { resource: ANY, subresource: ANY, everything: true };
  const [resource = '', subresource] = pattern.split('/');
  return { resource: compileMatcher([resource]), subresource: subresource === undefined ? null : compileMatcher([subresource]), everything: false };
}

interface CompiledRule {
  readonly index: number;
  readonly users: Matcher;
  readonly groups: Matcher;
  readonly apiGroups: Matcher;
  readonly namespaces: Matcher;
  readonly names: Matcher;
  /** For resource rules. */
  readonly resources: readonly ResourceMatcher[];
  /** For non-resource rules. */
  readonly urls: Matcher;
  /** Strict matching (allow) or fail-closed matching of unpinned names/namespaces (deny, review). */
  readonly widens: boolean;
  readonly decision: Decision;
}

/** Candidate rules for one effect and one verb (or any verb), split by the key they index on. */
interface Bucket {
  byKey: Map<string, CompiledRule[]>;
  other: CompiledRule[];
}

interface EffectIndex {
  byVerb: Map<string, Bucket>;
  anyVerb: Bucket;
}

function newBucket(): Bucket {
  return { byKey: new Map(), other: [] };
}

function newEffectIndex(): EffectIndex {
  return { byVerb: new Map(), anyVerb: newBucket() };
}

function addToBucket(bucket: Bucket, keys: readonly string[] | null, rule: CompiledRule): void {
  if (keys === null) {
    bucket.other.push(rule);
    return;
  }
  for (const key of keys) {
    const list = bucket.byKey.get(key);
    if (list === undefined) bucket.byKey.set(key, [rule]);
    else if (list[list.length - 1] !== rule) list.push(rule);
  }
}

function addToIndex(index: EffectIndex, verbs: readonly string[] | undefined, keys: readonly string[] | null, rule: CompiledRule): void {
  if (verbs === undefined || verbs.includes('*')) {
    addToBucket(index.anyVerb, keys, rule);
    return;
  }
  for (const verb of new Set(verbs)) {
    let bucket = index.byVerb.get(verb);
    if (bucket === undefined) index.byVerb.set(verb, (bucket = newBucket()));
    addToBucket(bucket, keys, rule);
  }
}

/** Exact index keys of a rule, or null when a pattern is a wildcard or prefix (then it is always a candidate). */
function resourceKeys(patterns: readonly string[]): string[] | null {
  const keys: string[] = [];
  for (const p of patterns) {
    const resource = p.split('/')[0] ?? '';
    if (resource.endsWith('*')) return null;
    keys.push(resource);
  }
  return keys;
}

function urlKeys(patterns: readonly string[]): string[] | null {
  return patterns.some((p) => p.endsWith('*')) ? null : [...patterns];
}

function ruleDecision(rule: PolicyRule): Decision {
  const because = rule.reason === undefined ? '' : ` (${rule.reason})`;
  switch (rule.effect) {
    case 'allow': {
      const decision: Decision = { effect: 'allow', rule: rule.name, reason: `allowed by rule "${rule.name}"${because}` };
      if (rule.unmasked === true) decision.unmasked = true;
      return Object.freeze(decision);
    }
    case 'deny':
      return Object.freeze({ effect: 'deny', rule: rule.name, reason: `denied by rule "${rule.name}"${because}` });
    case 'review': {
      const review = rule.review ?? { approvers: [], grant: 'once' as const };
      return Object.freeze({
        effect: 'review',
        rule: rule.name,
        reason: `requires approval under rule "${rule.name}"${because}`,
        review: Object.freeze({ approvers: [...review.approvers], grant: review.grant, windowSeconds: review.windowSeconds ?? 0 }),
      });
    }
  }
}

export function compilePolicy(doc: PolicyDocument): PolicyEngine {
  const resourceIndex = new Map<Effect, EffectIndex>(EFFECT_ORDER.map((e) => [e, newEffectIndex()]));
  const urlIndex = new Map<Effect, EffectIndex>(EFFECT_ORDER.map((e) => [e, newEffectIndex()]));

  doc.rules.forEach((rule, index) => {
    const compiled: CompiledRule = {
      index,
      users: compileMatcher(rule.users),
      groups: compileMatcher(rule.groups),
      apiGroups: compileMatcher(rule.apiGroups),
      namespaces: compileMatcher(rule.namespaces),
      names: compileMatcher(rule.names),
      resources: (rule.resources ?? []).map(compileResource),
      urls: compileMatcher(rule.nonResourceURLs),
      widens: rule.effect !== 'allow',
      decision: ruleDecision(rule),
    };
    if (rule.resources !== undefined) {
      addToIndex(resourceIndex.get(rule.effect) ?? newEffectIndex(), rule.verbs, resourceKeys(rule.resources), compiled);
    } else if (rule.nonResourceURLs !== undefined) {
      addToIndex(urlIndex.get(rule.effect) ?? newEffectIndex(), rule.verbs, urlKeys(rule.nonResourceURLs), compiled);
    }
  });

  return {
    decide(identity: Identity, request: KubeRequest): Decision {
      if (request.isResourceRequest) {
        return firstByEffect(resourceIndex, request.verb, request.resource, (rule) => resourceRuleMatches(rule, identity, request));
      }
      let path: string;
      try {
        path = decodedPath(request.path);
      } catch {
        return Object.freeze({ effect: 'deny', rule: null, reason: 'the path cannot be read unambiguously' });
      }
      return firstByEffect(urlIndex, request.verb, path, (rule) => subjectMatches(rule, identity) && matches(rule.urls, path));
    },
  };
}

function firstByEffect(index: Map<Effect, EffectIndex>, verb: string, key: string, test: (rule: CompiledRule) => boolean): Decision {
  for (const effect of EFFECT_ORDER) {
    const effectIndex = index.get(effect);
    if (effectIndex === undefined) continue;
    const byVerb = effectIndex.byVerb.get(verb);
    let best: CompiledRule | undefined;
    for (const candidates of [byVerb?.byKey.get(key), byVerb?.other, effectIndex.anyVerb.byKey.get(key), effectIndex.anyVerb.other]) {
      if (candidates === undefined) continue;
      for (const rule of candidates) {
        if (best !== undefined && rule.index >= best.index) break;
        if (test(rule)) {
          best = rule;
          break;
        }
      }
    }
    if (best !== undefined) return best.decision;
  }
  return DEFAULT_DENY;
}

function subjectMatches(rule: CompiledRule, identity: Identity): boolean {
  if (!matches(rule.users, identity.user)) return false;
  if (rule.groups.any) return true;
  for (const group of identity.groups) if (matches(rule.groups, group)) return true;
  return false;
}

function resourceRuleMatches(rule: CompiledRule, identity: Identity, request: KubeRequest): boolean {
  if (!subjectMatches(rule, identity)) return false;
  if (!matches(rule.apiGroups, request.apiGroup)) return false;
  if (!resourceMatches(rule.resources, request.resource, request.subresource)) return false;
  if (!matches(rule.namespaces, request.namespace)) {
    const spansNamespaces = rule.widens && request.namespace === '' && COLLECTION_VERBS.has(request.verb);
    if (!spansNamespaces) return false;
  }
  if (!matches(rule.names, request.name)) {
    if (!(rule.widens && request.name === '')) return false;
  }
  return true;
}

function resourceMatches(matchers: readonly ResourceMatcher[], resource: string, subresource: string): boolean {
  for (const m of matchers) {
    if (m.everything) return true;
    if (!matches(m.resource, resource)) continue;
    if (m.subresource === null ? subresource === '' : subresource !== '' && matches(m.subresource, subresource)) return true;
  }
  return false;
}
