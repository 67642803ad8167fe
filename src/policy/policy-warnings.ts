/**
 * What `gatehouse policy validate` warns about in a valid policy: allow rules that name no
 * one, and allow rules that let a caller through to a dangerous path — one a reviewer expects
 * to see reviewed or denied by name. Pure: a parsed policy in, warnings out.
 *
 * Each dangerous path is a real request (method and path, classified by request-info.ts as
 * the pipeline classifies it), decided by the whole policy for a caller who matches the allow
 * rule's subject; the rule is reported when it is the one that lets that request through. An
 * allow rule shadowed by a deny or review rule for that path is fine: that is the point.
 *
 * Deny and review rules without a subject are not warned about: they narrow what everyone
 * may do, which is what a rule without a subject should do.
 */
import { classifyRequest } from '../request-info.ts';
import type { Identity } from '../types.ts';
import { compilePolicy } from './policy.ts';
import type { PolicyDocument, PolicyRule } from './policy-schema.ts';

export interface DangerousPath {
  what: string;
  method: string;
  path: string;
}

/** The paths the default policy reviews or denies by name (docs/policy.md explains each). */
export const DANGEROUS_PATHS: readonly DangerousPath[] = [
  { what: 'adding an ephemeral container (kubectl debug)', method: 'PATCH', path: '/api/v1/namespaces/default/pods/web/ephemeralcontainers' },
  { what: 'creating a pod in kube-system', method: 'POST', path: '/api/v1/namespaces/kube-system/pods' },
  { what: 'creating a DaemonSet in kube-system', method: 'POST', path: '/apis/apps/v1/namespaces/kube-system/daemonsets' },
  { what: 'exec through the kubelet API (nodes/proxy)', method: 'POST', path: '/api/v1/nodes/node-1/proxy/exec/default/web/app' },
  { what: 'reading the kubelet API (nodes/proxy)', method: 'GET', path: '/api/v1/nodes/node-1/proxy/configz' },
  { what: 'proxying to a service (services/proxy)', method: 'GET', path: '/api/v1/namespaces/default/services/web/proxy/' },
  { what: 'proxying to a pod (pods/proxy)', method: 'GET', path: '/api/v1/namespaces/default/pods/web/proxy/' },
  { what: 'the legacy proxy verb', method: 'GET', path: '/api/v1/proxy/namespaces/default/pods/web' },
  { what: 'minting a ServiceAccount token (kubectl create token)', method: 'POST', path: '/api/v1/namespaces/kube-system/serviceaccounts/default/token' },
  { what: 'creating a mutating admission webhook', method: 'POST', path: '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations' },
  { what: 'changing a validating admission webhook', method: 'PUT', path: '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/guard' },
  { what: 'approving a certificate signing request', method: 'PUT', path: '/apis/certificates.k8s.io/v1/certificatesigningrequests/csr-1/approval' },
  { what: 'widening a ClusterRole (RBAC escalate)', method: 'PUT', path: '/apis/rbac.authorization.k8s.io/v1/clusterroles/admin' },
  { what: 'binding a ClusterRole (RBAC bind)', method: 'POST', path: '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings' },
  { what: 'binding a Role in a namespace (RBAC bind)', method: 'POST', path: '/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings' },
  { what: 'creating a PersistentVolume (hostPath reaches the node)', method: 'POST', path: '/api/v1/persistentvolumes' },
  { what: 'deleting every pod of a namespace (deletecollection)', method: 'DELETE', path: '/api/v1/namespaces/prod/pods' },
  { what: 'deleting pods across all namespaces (deletecollection)', method: 'DELETE', path: '/api/v1/pods' },
];

/** A name that a subject pattern matches: exact, or a prefix ending in `*` filled in. */
function nameFor(pattern: string): string {
  return pattern.endsWith('*') ? `${pattern.slice(0, -1)}x` : pattern;
}

function namesEveryone(patterns: readonly string[] | undefined): boolean {
  return patterns === undefined || patterns.length === 0 || patterns.includes('*');
}

/** A caller the rule's subject matches (any caller when it names none). */
function callerOf(rule: PolicyRule): Identity {
  const user = rule.users === undefined ? 'any-user@example.invalid' : nameFor(rule.users.find((u) => u !== '*') ?? 'any-user@example.invalid');
  return { user, groups: (rule.groups ?? []).filter((g) => g !== '*').map(nameFor), claims: {} };
}

function subjectText(rule: PolicyRule): string {
  const parts = [
    rule.users === undefined ? '' : `users ${rule.users.join(', ')}`,
    rule.groups === undefined ? '' : `groups ${rule.groups.join(', ')}`,
  ].filter((p) => p !== '');
  return parts.length === 0 ? 'every signed-in user' : parts.join(' and ');
}

export function policyWarnings(doc: PolicyDocument): string[] {
  const warnings: string[] = [];
  const engine = compilePolicy(doc);
  const requests = DANGEROUS_PATHS.map((path) => ({ ...path, request: classifyRequest(path.method, path.path, '', { runtime: 'node' }) }));
  for (const rule of doc.rules) {
    if (rule.effect !== 'allow') continue;
    if (namesEveryone(rule.users) && namesEveryone(rule.groups)) {
      warnings.push(`rule "${rule.name}" allows without naming who it is for (no users or groups, or only "*"): every signed-in user gets it`);
    }
    const caller = callerOf(rule);
    for (const { what, method, path, request } of requests) {
      const decision = engine.decide(caller, request);
      if (decision.effect === 'allow' && decision.rule === rule.name) {
        warnings.push(`rule "${rule.name}" lets ${subjectText(rule)} through to ${what} (${method} ${path}) with no review or deny rule in front of it`);
      }
    }
  }
  return warnings;
}
