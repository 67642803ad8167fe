import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compilePolicy } from '../../src/policy/policy.ts';
import type { PolicyDocument, PolicyRule } from '../../src/policy/policy-schema.ts';
import { classifyRequest } from '../../src/request-info.ts';
import type { Effect, Identity, KubeRequest } from '../../src/types.ts';

/**
 * The compiled, indexed engine must decide exactly as the documented semantics read literally:
 * a plain scan of every rule, written here independently. Small value domains make rules
 * collide often, so precedence, prefixes, subresources and widening are all exercised.
 */

function patternMatches(patterns: readonly string[] | undefined, value: string): boolean {
  if (patterns === undefined) return true;
  return patterns.some((p) => p === '*' || (p.endsWith('*') ? value.startsWith(p.slice(0, -1)) : value === p));
}

function resourcePatternMatches(pattern: string, resource: string, subresource: string): boolean {
  if (pattern === '*') return true;
  const [r = '', s] = pattern.split('/');
  if (!patternMatches([r], resource)) return false;
  return s === undefined ? subresource === '' : subresource !== '' && patternMatches([s], subresource);
}

function referenceMatches(rule: PolicyRule, identity: Identity, request: KubeRequest): boolean {
  if (!patternMatches(rule.users, identity.user)) return false;
  if (rule.groups !== undefined && !rule.groups.includes('*') && !identity.groups.some((g) => patternMatches(rule.groups, g))) return false;
  if (!patternMatches(rule.verbs, request.verb)) return false;
  if (!request.isResourceRequest) return rule.nonResourceURLs !== undefined && patternMatches(rule.nonResourceURLs, request.path);
  if (rule.resources === undefined) return false;
  if (!patternMatches(rule.apiGroups, request.apiGroup)) return false;
  if (!rule.resources.some((p) => resourcePatternMatches(p, request.resource, request.subresource))) return false;
  const widens = rule.effect !== 'allow';
  const spansNamespaces = widens && request.namespace === '' && ['list', 'watch', 'deletecollection'].includes(request.verb);
  if (!patternMatches(rule.namespaces, request.namespace) && !spansNamespaces) return false;
  if (!patternMatches(rule.names, request.name) && !(widens && request.name === '')) return false;
  return true;
}

function referenceDecide(doc: PolicyDocument, identity: Identity, request: KubeRequest): string | null {
  for (const effect of ['deny', 'review', 'allow'] as Effect[]) {
    const rule = doc.rules.find((r) => r.effect === effect && referenceMatches(r, identity, request));
    if (rule !== undefined) return rule.name;
  }
  return null;
}

function* numbers(seed: number): Generator<number> {
  let x = seed;
  for (;;) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    yield x >>> 8;
  }
}

test('the indexed engine decides as a literal scan of the rules, over 20,000 random cases', () => {
  const random = numbers(2024);
  const int = (n: number) => (random.next().value as number) % n;
  const pick = <T>(items: readonly T[]): T => items[int(items.length)] as T;
  const some = <T>(items: readonly T[]): T[] | undefined => (int(3) === 0 ? undefined : Array.from({ length: 1 + int(2) }, () => pick(items)));

  const users = ['alice', 'alina', 'bob', 'al*', '*'];
  const groups = ['dev', 'ops', 'de*', '*'];
  const verbs = ['get', 'list', 'watch', 'create', 'delete', 'deletecollection', '*'];
  const apiGroups = ['', 'apps', 'ap*', '*'];
  const resources = ['pods', 'pods/exec', 'pods/*', '*/status', 'po*', 'deployments', 'secrets', 'deployments/scale', '*'];
  const namespaces = ['', 'prod', 'prod-eu', 'prod*', 'dev', '*'];
  const names = ['web', 'db', 'w*', '*'];
  const urls = ['/version', '/apis/*', '/api', '*'];

  for (let round = 0; round < 200; round++) {
    const rules: PolicyRule[] = [];
    const count = 1 + int(12);
    for (let i = 0; i < count; i++) {
      const effect = pick(['allow', 'allow', 'deny', 'review'] as const);
      const rule: PolicyRule = { name: `r${i}`, effect };
      const u = some(users);
      const g = some(groups);
      if (u) rule.users = u;
      if (g) rule.groups = g;
      if (int(5) === 0) {
        const v = some(['get', 'head', 'post', '*']);
        if (v) rule.verbs = v;
        rule.nonResourceURLs = some(urls) ?? ['*'];
      } else {
        const v = some(verbs);
        const a = some(apiGroups);
        const n = some(namespaces);
        const m = some(names);
        if (v) rule.verbs = v;
        if (a) rule.apiGroups = a;
        if (n) rule.namespaces = n;
        if (m) rule.names = m;
        rule.resources = some(resources) ?? ['*'];
      }
      if (effect === 'review') rule.review = { approvers: ['lead@example.com'], grant: 'once' };
      rules.push(rule);
    }
    const doc: PolicyDocument = { apiVersion: 'gatehouse/v1', rules };
    const engine = compilePolicy(doc);

    for (let k = 0; k < 100; k++) {
      const identity: Identity = { user: pick(['alice', 'alina', 'bob', 'carol']), groups: Array.from({ length: int(3) }, () => pick(['dev', 'devops', 'ops', 'qa'])), claims: {} };
      const method = pick(['GET', 'GET', 'POST', 'DELETE', 'HEAD', 'PATCH']);
      const group = pick(['', 'apps']);
      const ns = pick(['', 'prod', 'prod-eu', 'dev']);
      const resource = pick(['pods', 'podsets', 'deployments', 'secrets', 'nodes']);
      const name = pick(['', 'web', 'db']);
      const sub = name === '' ? '' : pick(['', '', 'exec', 'status', 'scale', 'log']);
      const path = pick([
        `${group === '' ? '/api/v1' : `/apis/${group}/v1`}${ns === '' ? '' : `/namespaces/${ns}`}/${resource}${name === '' ? '' : `/${name}`}${sub === '' ? '' : `/${sub}`}`,
        pick(['/version', '/api', '/apis/apps/v1', '/healthz']),
      ]);
      const query = pick(['', 'watch=true', `fieldSelector=metadata.name%3D${pick(['web', 'db'])}`]);
      const request = classifyRequest(method, path, query, { runtime: 'node' });
      assert.equal(engine.decide(identity, request).rule, referenceDecide(doc, identity, request), `${method} ${path}?${query} as ${JSON.stringify(identity)} with ${JSON.stringify(rules)}`);
    }
  }
});
