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
 * - `clusters` scopes a rule to the named clusters of a deployment that fronts several (left
 *   out: every cluster). A request whose cluster is not known (`""`) meets the deny and review
 *   rules that name clusters, never an allow rule that does.
 *
 * Rules are compiled once into one PatternIndex per field (rule-index.ts): a decision ANDs the
 * bitsets of the rules each field lets through, then takes the first rule of the strongest
 * effect — a few microseconds with thousands of rules, however they are written.
 */
import { decodedPath } from '../request-info.ts';
import type { Decision, Effect, Identity, KubeRequest } from '../types.ts';
import type { PolicyDocument, PolicyRule } from './policy-schema.ts';
import { hasStreamFields, streamMatches } from './stream-match.ts';
import { PatternIndex, andInto, firstCommon, newBitset, orInto, setBit, type Bitset } from './rule-index.ts';

export interface PolicyEngine {
  /** Decides for the cluster `request.cluster` names ("": none known — rules naming clusters then deny and review, never allow). */
  decide(identity: Identity, request: KubeRequest): Decision;
  /**
   * Decides verb `impersonate` (kubectl --as) fail-closed: an allow rule counts only when its
   * `verbs` name `impersonate` itself — `"*"` or no `verbs` never grant it — while deny and
   * review rules count as always. Absent: impersonation is never allowed.
   */
  decideImpersonation?(identity: Identity, request: KubeRequest): Decision;
  /** Every `clusters` pattern of the policy's rules, for checking them against the configured clusters. */
  readonly clusterPatterns?: readonly { rule: string; pattern: string }[];
}

/**
 * The problems of a policy whose rules name clusters a deployment does not front: such a rule
 * would silently never apply — a deny that protects nothing — so it fails the start-up instead.
 */
export function clusterProblems(policy: PolicyEngine, clusters: readonly string[]): string[] {
  const problems: string[] = [];
  for (const { rule, pattern } of policy.clusterPatterns ?? []) {
    if (pattern === '*') continue;
    const matches = pattern.endsWith('*') ? clusters.some((name) => name.startsWith(pattern.slice(0, -1))) : clusters.includes(pattern);
    if (!matches) {
      problems.push(`rule "${rule}" names cluster ${JSON.stringify(pattern)}, which matches none of the clusters this Gatehouse fronts (${clusters.map((name) => JSON.stringify(name)).join(', ')})`);
    }
  }
  return problems;
}

/** Verbs whose requests span objects: a namespace-less one spans all namespaces. */
const COLLECTION_VERBS = new Set(['list', 'watch', 'deletecollection']);
const EFFECT_ORDER: readonly Effect[] = ['deny', 'review', 'allow'];

export const DEFAULT_DENY: Decision = Object.freeze({ effect: 'deny', rule: null, reason: 'no rule allows it (default deny)' });
const UNREADABLE_PATH: Decision = Object.freeze({ effect: 'deny', rule: null, reason: 'the path cannot be read unambiguously' });

/**
 * One `resources` pattern: `*`, `resource` (no subresource), or `resource/subresource`, each
 * part exact, `*` or a prefix. The resource index only sees the resource part, so this check
 * runs on the few rules that survive the index.
 */
interface ResourcePattern {
  everything: boolean;
  resource: string;
  resourceIsPrefix: boolean;
  /** null: only requests without a subresource. */
  subresource: string | null;
  subresourceIsPrefix: boolean;
}

function compileResourcePattern(pattern: string): ResourcePattern {
  const [resource = '', subresource] = pattern.split('/');
  return {
    everything: pattern === '*',
    resource: resource.endsWith('*') ? resource.slice(0, -1) : resource,
    resourceIsPrefix: resource.endsWith('*'),
    subresource: subresource === undefined ? null : subresource.endsWith('*') ? subresource.slice(0, -1) : subresource,
    subresourceIsPrefix: subresource?.endsWith('*') ?? false,
  };
}

function partMatches(value: string, pattern: string, isPrefix: boolean): boolean {
  return isPrefix ? value.startsWith(pattern) : value === pattern;
}

function resourceMatches(patterns: readonly ResourcePattern[], resource: string, subresource: string): boolean {
  for (const p of patterns) {
    if (p.everything) return true;
    if (!partMatches(resource, p.resource, p.resourceIsPrefix)) continue;
    if (p.subresource === null ? subresource === '' : subresource !== '' && partMatches(subresource, p.subresource, p.subresourceIsPrefix)) return true;
  }
  return false;
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
        review: Object.freeze({
          approvers: [...review.approvers],
          grant: review.grant,
          windowSeconds: review.windowSeconds ?? 0,
          ...(rule.reason === undefined ? {} : { reason: rule.reason }),
        }),
      });
    }
  }
}

export function compilePolicy(doc: PolicyDocument): PolicyEngine {
  const engine = compileRules(doc);
  // A broad allow ("developers may do anything") must not turn into "act as anyone":
  // impersonation is decided by the rules that name it, and by every deny and review rule.
  const impersonation = compileRules({ ...doc, rules: doc.rules.filter((rule) => rule.effect !== 'allow' || (rule.verbs?.includes('impersonate') ?? false)) });
  return {
    decide: engine.decide,
    decideImpersonation: impersonation.decide,
    clusterPatterns: doc.rules.flatMap((rule) => (rule.clusters ?? []).map((pattern) => ({ rule: rule.name, pattern }))),
  };
}

function compileRules(doc: PolicyDocument): PolicyEngine {
  const size = doc.rules.length;
  const field = () => new PatternIndex(size);
  const clusters = field();
  const users = field();
  const groups = field();
  const issuers = field();
  const verbs = field();
  const apiGroups = field();
  const resourceNames = field();
  const namespaces = field();
  const names = field();
  const urls = field();
  const resourceRules = newBitset(size);
  const urlRules = newBitset(size);
  const effectRules: Record<Effect, Bitset> = { deny: newBitset(size), review: newBitset(size), allow: newBitset(size) };
  /** Deny and review rules listing namespaces or names: they also catch requests that do not pin those down. */
  const widenNamespaces = newBitset(size);
  const widenNames = newBitset(size);
  /** Deny and review rules listing clusters: they also catch requests whose cluster is not known. */
  const widenClusters = newBitset(size);
  const decisions: Decision[] = [];
  const resourcePatterns: ResourcePattern[][] = [];
  /** Per rule: its `claims` matchers (few rules have any; checked on the rules the index lets through). */
  const claimMatchers: [string, string[]][][] = [];
  /** Rules with stream fields (commands, shells, containers, ports), checked like resource patterns on the few that survive the index. */
  const streamRules = new Map<number, PolicyRule>();

  doc.rules.forEach((rule, i) => {
    decisions.push(ruleDecision(rule));
    resourcePatterns.push((rule.resources ?? []).map(compileResourcePattern));
    if (hasStreamFields(rule)) streamRules.set(i, rule);
    setBit(rule.resources !== undefined ? resourceRules : urlRules, i);
    setBit(effectRules[rule.effect], i);
    clusters.add(i, rule.clusters);
    users.add(i, rule.users);
    groups.add(i, rule.groups);
    issuers.add(i, rule.issuers);
    claimMatchers.push(rule.claims === undefined ? [] : Object.entries(rule.claims));
    verbs.add(i, rule.verbs);
    apiGroups.add(i, rule.apiGroups);
    resourceNames.add(i, rule.resources?.map((p) => (p === '*' ? '*' : (p.split('/')[0] ?? ''))));
    namespaces.add(i, rule.namespaces);
    names.add(i, rule.names);
    urls.add(i, rule.nonResourceURLs);
    if (rule.effect !== 'allow') {
      if (rule.namespaces !== undefined && !rule.namespaces.includes('*')) setBit(widenNamespaces, i);
      if (rule.names !== undefined && !rule.names.includes('*')) setBit(widenNames, i);
      if (rule.clusters !== undefined && !rule.clusters.includes('*')) setBit(widenClusters, i);
    }
  });

  // Scratch space: decide() is synchronous, so one set of buffers serves every call.
  const candidates = newBitset(size);
  const scratch = newBitset(size);

  function narrow(index: PatternIndex, value: string): void {
    scratch.fill(0);
    index.collect(value, scratch);
    andInto(candidates, scratch);
  }

  /** The rules for this cluster and caller. */
  function narrowBySubject(identity: Identity, cluster: string): void {
    scratch.fill(0);
    clusters.collect(cluster, scratch);
    if (cluster === '') orInto(scratch, widenClusters);
    andInto(candidates, scratch);
    narrow(users, identity.user);
    narrow(issuers, identity.issuer ?? '');
    scratch.fill(0);
    orInto(scratch, groups.unconstrained);
    for (const group of identity.groups) groups.collectConstrained(group, scratch);
    andInto(candidates, scratch);
  }

  function strongest(accept: (rule: number) => boolean): Decision {
    for (const effect of EFFECT_ORDER) {
      const rule = firstCommon(candidates, effectRules[effect], accept);
      if (rule !== -1) return decisions[rule] ?? DEFAULT_DENY;
    }
    return DEFAULT_DENY;
  }

  /** Every `claims` key of the rule has a value of the identity matching one of its patterns. */
  function claimsMatch(rule: number, identity: Identity): boolean {
    for (const [key, patterns] of claimMatchers[rule] ?? []) {
      const values = identity.extra?.[key] ?? [];
      if (!values.some((value) => patterns.some((p) => (p.endsWith('*') ? value.startsWith(p.slice(0, -1)) : value === p)))) return false;
    }
    return true;
  }

  return {
    decide(identity: Identity, request: KubeRequest): Decision {
      if (!request.isResourceRequest) {
        let path: string;
        try {
          path = decodedPath(request.path);
        } catch {
          return UNREADABLE_PATH;
        }
        candidates.set(urlRules);
        narrowBySubject(identity, request.cluster);
        narrow(verbs, request.verb);
        narrow(urls, path);
        return strongest((rule) => claimsMatch(rule, identity));
      }
      candidates.set(resourceRules);
      narrowBySubject(identity, request.cluster);
      narrow(verbs, request.verb);
      narrow(apiGroups, request.apiGroup);
      narrow(resourceNames, request.resource);

      scratch.fill(0);
      namespaces.collect(request.namespace, scratch);
      if (request.namespace === '' && COLLECTION_VERBS.has(request.verb)) orInto(scratch, widenNamespaces);
      andInto(candidates, scratch);

      scratch.fill(0);
      names.collect(request.name, scratch);
      if (request.name === '') orInto(scratch, widenNames);
      andInto(candidates, scratch);

      return strongest((rule) => {
        if (!resourceMatches(resourcePatterns[rule] ?? [], request.resource, request.subresource) || !claimsMatch(rule, identity)) return false;
        const streamRule = streamRules.get(rule);
        return streamRule === undefined || streamMatches(streamRule, streamRule.effect, request.stream);
      });
    },
  };
}
