/**
 * Stage 1b — impersonate: `kubectl --as/--as-group`, decided by the policy as RBAC decides it.
 *
 * Contract: a request without `Impersonate-*` headers passes untouched. With them, the
 * authenticated caller needs an `allow` from a rule whose `verbs` name `impersonate` itself
 * (a `"*"` rule never grants it) on `users/<name>` (and on
 * `groups/<name>` for every Impersonate-Group, `uids/<uid>` for Impersonate-Uid); anything
 * else — no such rule, a deny, a review (impersonation is never held for approval), a group
 * or uid without a user, two users, any Impersonate-Extra-* — is refused with 403
 * ERR_IMPERSONATION_REFUSED naming the caller and what was refused. Allowed, the stages after
 * it see the impersonated identity (`identity`: decided, held and forwarded as it) and the real
 * caller (`impersonator`: recorded beside it). The client's headers never travel upstream:
 * forward builds Impersonate-* from `identity` alone.
 */
import type { MiddlewareHandler } from 'hono';
import { GatehouseError } from '../errors.ts';
import { describeCaller } from '../policy/describe-request.ts';
import { DEFAULT_DENY, type PolicyEngine } from '../policy/policy.ts';
import type { Identity, KubeRequest } from '../types.ts';
import { clientHeaderPairs } from './request-headers.ts';

export interface RequestedImpersonation {
  users: string[];
  groups: string[];
  uids: string[];
  /** Header names of Impersonate-Extra-*, as sent. */
  extras: string[];
}

/** The Impersonate-* headers of a request, or undefined when it has none. */
export function requestedImpersonation(pairs: string[]): RequestedImpersonation | undefined {
  let found: RequestedImpersonation | undefined;
  for (let i = 0; i < pairs.length; i += 2) {
    const name = (pairs[i] as string).toLowerCase();
    if (!name.startsWith('impersonate-')) continue;
    found ??= { users: [], groups: [], uids: [], extras: [] };
    const value = (pairs[i + 1] as string).trim();
    if (name === 'impersonate-user') found.users.push(value);
    else if (name === 'impersonate-group') found.groups.push(value);
    else if (name === 'impersonate-uid') found.uids.push(value);
    else found.extras.push(pairs[i] as string);
  }
  return found;
}

/** The request the policy is asked about: verb impersonate on users/groups/uids, by name (like RBAC). */
function impersonationRequest(cluster: string, resource: 'users' | 'groups' | 'uids', name: string): KubeRequest {
  return {
    cluster,
    isResourceRequest: true,
    path: `/api/v1/${resource}/${name}`,
    verb: 'impersonate',
    apiPrefix: 'api',
    apiGroup: '',
    apiVersion: 'v1',
    namespace: '',
    resource,
    subresource: '',
    name,
    parts: [resource, name],
    fieldSelector: '',
    labelSelector: '',
  };
}

export function impersonate(policy: PolicyEngine): MiddlewareHandler {
  return function impersonateStage(c, next) {
    const requested = requestedImpersonation(clientHeaderPairs(c));
    if (requested === undefined) return next();
    const caller = c.get('identity');
    const refuse = (why: string): GatehouseError => new GatehouseError('ERR_IMPERSONATION_REFUSED', `${describeCaller(caller)} may not impersonate: ${why}`);
    if (requested.extras.length > 0) throw refuse(`Gatehouse does not pass impersonated extra fields (${requested.extras.join(', ')})`);
    if (requested.users.length !== 1 || requested.users[0] === '') {
      throw refuse(requested.users.length === 0 ? 'Impersonate-Group and Impersonate-Uid need an Impersonate-User' : 'exactly one non-empty Impersonate-User is needed');
    }
    if (requested.uids.length > 1) throw refuse('at most one Impersonate-Uid');
    const user = requested.users[0] as string;
    const asked: ['users' | 'groups' | 'uids', string][] = [['users', user], ...requested.groups.map((g): ['groups', string] => ['groups', g]), ...requested.uids.map((u): ['uids', string] => ['uids', u])];
    for (const [resource, name] of asked) {
      if (/[\u0000-\u001f\u007f]/.test(name)) throw refuse(`${resource} ${JSON.stringify(name)} contains a control character`);
      const decision = policy.decideImpersonation?.(caller, impersonationRequest(c.get('cluster'), resource, name)) ?? DEFAULT_DENY;
      if (decision.effect === 'allow') continue;
      const because = decision.effect === 'review' ? `impersonation is never held for approval, and ${decision.reason}` : decision.reason;
      throw new GatehouseError('ERR_IMPERSONATION_REFUSED', `${describeCaller(caller)} may not impersonate ${resource} ${JSON.stringify(name)}: ${because}`);
    }
    // The issuer stays the one that vouched for the caller: policy on `issuers` still sees who signed in.
    const acting: Identity = { user, groups: [...requested.groups], claims: {}, ...(caller.issuer === undefined ? {} : { issuer: caller.issuer }) };
    if (requested.uids[0] !== undefined) acting.uid = requested.uids[0];
    c.set('impersonator', caller);
    c.set('identity', acting);
    return next();
  };
}
