import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compilePolicy } from '../../src/policy/policy.ts';
import type { PolicyDocument, PolicyRule } from '../../src/policy/policy-schema.ts';
import { classifyRequest } from '../../src/request-info.ts';
import type { Identity, KubeRequest } from '../../src/types.ts';

/** Target: p99 ≤ 20 µs per decision with 1,000 rules (measured values are printed). */
const TARGET_P99_MICROS = 20;

const resources = ['pods', 'services', 'deployments', 'configmaps', 'secrets', 'jobs', 'cronjobs', 'ingresses', 'statefulsets', 'daemonsets', 'replicasets', 'events', 'nodes', 'namespaces', 'persistentvolumeclaims', 'serviceaccounts', 'roles', 'rolebindings', 'networkpolicies', 'horizontalpodautoscalers'];
const verbs = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete', 'deletecollection'] as const;

/** A deterministic pseudo-random sequence, so every run measures the same policy. */
function* sequence(seed: number): Generator<number> {
  let x = seed;
  for (;;) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    yield x >>> 8; // the low bits of an LCG repeat quickly
  }
}

function pick<T>(random: Generator<number>, items: readonly T[]): T {
  return items[(random.next().value as number) % items.length] as T;
}

function thousandRules(): PolicyDocument {
  const random = sequence(42);
  const rules: PolicyRule[] = [];
  for (let i = 0; i < 1000; i++) {
    const effect = i % 10 === 0 ? 'deny' : i % 7 === 0 ? 'review' : 'allow';
    const rule: PolicyRule = {
      name: `rule-${i}`,
      effect,
      users: [`user-${i % 50}*`],
      groups: [`team-${i % 30}`, `team-${(i + 7) % 30}`],
      verbs: [pick(random, verbs), pick(random, verbs)],
      resources: i % 25 === 0 ? ['*'] : [pick(random, resources), `${pick(random, resources)}/status`],
      namespaces: i % 3 === 0 ? [`ns-${i % 40}*`] : [`ns-${i % 40}`, `ns-${(i + 1) % 40}`],
    };
    if (effect === 'review') rule.review = { approvers: ['lead@example.com'], grant: 'once' };
    rules.push(rule);
  }
  rules.push({ name: 'fallback-reads', effect: 'allow', verbs: ['get', 'list', 'watch'], resources: ['*'] });
  return { apiVersion: 'gatehouse/v1', rules };
}

/** One rule per team, all wildcards but the subject and namespace: the index must narrow by subject. */
function thousandTeamRules(): PolicyDocument {
  const rules: PolicyRule[] = [];
  for (let i = 0; i < 1000; i++) {
    rules.push({ name: `team-${i}`, effect: i % 4 === 0 ? 'deny' : 'allow', groups: [`team-${i % 35}`], verbs: ['*'], resources: ['*'], namespaces: [`ns-${i % 45}*`] });
  }
  return { apiVersion: 'gatehouse/v1', rules };
}

for (const [label, policy] of [
  ['1,000 mixed rules', thousandRules],
  ['1,000 wildcard rules, one per team', thousandTeamRules],
] as const) {
  test(`decides in p99 ≤ 20 µs with ${label}`, () => {
    const p99 = measureP99(label, policy());
    assert.ok(p99 <= TARGET_P99_MICROS, `p99 ${p99.toFixed(2)} µs exceeds ${TARGET_P99_MICROS} µs`);
  });
}

function measureP99(label: string, doc: PolicyDocument): number {
  const engine = compilePolicy(doc);
  const random = sequence(7);
  const requests: { identity: Identity; request: KubeRequest }[] = [];
  for (let i = 0; i < 2000; i++) {
    const resource = pick(random, resources);
    const ns = `ns-${(random.next().value as number) % 45}`;
    const method = pick(random, ['GET', 'GET', 'GET', 'POST', 'PUT', 'PATCH', 'DELETE']);
    const path = method === 'POST' || i % 2 === 0 ? `/api/v1/namespaces/${ns}/${resource}` : `/api/v1/namespaces/${ns}/${resource}/obj-${i}`;
    requests.push({
      identity: { user: `user-${(random.next().value as number) % 60}@example.com`, groups: [`team-${(random.next().value as number) % 35}`, 'everyone'], claims: {} },
      request: classifyRequest(method, path, '', { runtime: 'node' }),
    });
  }
  for (let round = 0; round < 5; round++) for (const { identity, request } of requests) engine.decide(identity, request);

  const samples = new Float64Array(10 * requests.length);
  let n = 0;
  for (let round = 0; round < 10; round++) {
    for (const { identity, request } of requests) {
      const start = performance.now();
      engine.decide(identity, request);
      samples[n++] = (performance.now() - start) * 1000;
    }
  }
  samples.sort();
  const p50 = samples[Math.floor(samples.length * 0.5)] ?? 0;
  const p99 = samples[Math.floor(samples.length * 0.99)] ?? 0;
  console.log(`policy decide with ${label}: p50 ${p50.toFixed(2)} µs, p99 ${p99.toFixed(2)} µs (target ${TARGET_P99_MICROS} µs)`);
  return p99;
}
