/**
 * Benchmark 5 — policy: decisions per second and the time of one decision with two policies
 * of 1,000 rules, compiled as Gatehouse compiles a policy file: the generated mix (plus the
 * bench caller's two rules), and one wildcard rule per team (every verb and resource, only
 * the group and a namespace pattern differ — the rule index must narrow by subject). A mix of
 * 2,000 requests (many callers, groups, namespaces, verbs, resources) is decided round after
 * round: once in a tight loop for throughput, once timing every decision.
 */
import { compilePolicy, parsePolicy } from '../../src/policy/policy-file.ts';
import type { PolicyDocument } from '../../src/policy/policy-schema.ts';
import { benchPolicy, decisionMix, perTeamPolicy, policyYaml } from '../policy-rules.ts';
import { Samples, distribution } from '../stats.ts';
import type { Distribution } from '../stats.ts';

export interface PolicyResult {
  /** Which policy: the generated mix, or one wildcard rule per team. */
  shape?: 'mixed' | 'per-team';
  rules: number;
  distinctRequests: number;
  decisionsPerSecond: number;
  /** Per decision, microseconds. */
  micros: Distribution;
  effects: Record<string, number>;
}

/** Both policies, the generated mix first. */
export function policyDecisions(log: (line: string) => void): PolicyResult[] {
  return [decide('mixed', benchPolicy(1000), log), decide('per-team', perTeamPolicy(1000), log)];
}

function decide(shape: 'mixed' | 'per-team', policy: PolicyDocument, log: (line: string) => void): PolicyResult {
  const doc = parsePolicy(policyYaml(policy), `the bench policy of 1,000 rules (${shape})`);
  const engine = compilePolicy(doc);
  const mix = decisionMix(2000);
  const effects: Record<string, number> = {};
  for (let round = 0; round < 10; round++) {
    for (const { identity, request } of mix) {
      const effect = engine.decide(identity, request).effect;
      if (round === 0) effects[effect] = (effects[effect] ?? 0) + 1;
    }
  }

  // Throughput: whole rounds for at least a second.
  let decisions = 0;
  const start = performance.now();
  while (performance.now() - start < 1000) {
    for (const { identity, request } of mix) engine.decide(identity, request);
    decisions += mix.length;
  }
  const decisionsPerSecond = decisions / ((performance.now() - start) / 1000);

  // Latency: each decision timed on its own.
  const samples = new Samples();
  for (let round = 0; round < 20; round++) {
    for (const { identity, request } of mix) {
      const t0 = performance.now();
      engine.decide(identity, request);
      samples.push((performance.now() - t0) * 1000);
    }
  }
  const result: PolicyResult = { shape, rules: doc.rules.length, distinctRequests: mix.length, decisionsPerSecond, micros: distribution(samples.values()), effects };
  log(`  ${result.rules} rules (${shape}): ${(decisionsPerSecond / 1e6).toFixed(2)} M decisions/s, p50 ${result.micros.p50.toFixed(2)} µs, p99 ${result.micros.p99.toFixed(2)} µs`);
  return result;
}
