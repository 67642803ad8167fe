/**
 * Stage 3 — authorize: the policy decides on the caller and the classified request.
 * Sets `decision`; a deny is refused here (403, naming caller, action and rule), review and
 * allow go on (the approve stage holds review decisions).
 */
import type { MiddlewareHandler } from 'hono';
import { GatehouseError, type StatusDetails } from '../errors.ts';
import type { PolicyEngine } from '../policy/policy.ts';
import { describeAction, describeCaller } from '../policy/describe-request.ts';
import type { Decision, Identity, KubeRequest } from '../types.ts';

export function authorize(policy: PolicyEngine): MiddlewareHandler {
  // Synchronous: no await of its own, so no promise of its own on every call.
  return function authorizeStage(c, next) {
    const identity = c.get('identity');
    const request = c.get('kubeRequest');
    const decision = policy.decide(identity, request);
    c.set('decision', decision);
    if (decision.effect === 'deny') throw policyDenied(identity, request, decision);
    return next();
  };
}

/** The Forbidden error for a deny decision, worded like the API server's. */
export function policyDenied(identity: Identity, request: KubeRequest, decision: Decision): GatehouseError {
  const details: StatusDetails = {};
  if (request.name !== '') details.name = request.name;
  if (request.apiGroup !== '') details.group = request.apiGroup;
  if (request.resource !== '') details.kind = request.resource;
  return new GatehouseError('ERR_POLICY_DENIED', `${describeCaller(identity)} may not ${describeAction(request)}: ${decision.reason}`, { details });
}

