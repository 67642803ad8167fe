/**
 * Stage 4 — approve: a `review` decision is held for a person's approval. Without an
 * approvals service the request is refused, saying it requires approval.
 */
import type { MiddlewareHandler } from 'hono';
import { GatehouseError } from '../errors.ts';
import type { Approvals } from '../ports/approvals.ts';
import type { Clock } from '../types.ts';

export function approve(approvals: Approvals | undefined, _clock: Clock): MiddlewareHandler {
  return async function approveStage(c, next) {
    const decision = c.get('decision');
    if (decision.effect !== 'review') return next();
    if (approvals === undefined) {
      const identity = c.get('identity');
      const req = c.get('kubeRequest');
      throw new GatehouseError(
        'ERR_APPROVAL_REQUIRED',
        `user "${identity.user}" may not ${req.verb} ${req.resource || req.path}: requires approval (rule "${decision.rule}"), and approvals are not configured`,
      );
    }
    throw new GatehouseError('ERR_INTERNAL', 'approvals: not implemented yet');
  };
}
