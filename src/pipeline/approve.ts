/**
 * Stage 4 — approve: a `review` decision is held for a person's approval.
 *
 * Reads the request body (review decisions only; at most `approvals.maxBodyBytes`, larger
 * bodies are refused with 413) because the fingerprint covers it, and leaves the bytes for
 * forward: Hono's body cache and a fresh `c.req.raw` both carry them. Then the approval
 * service consumes a matching grant (→ next stage) or answers with the refusal that names the
 * approval (pending, denied, already used). `c.get('approval')` is set either way, for records.
 * Without an approvals service a review decision is refused, saying so.
 */
import type { MiddlewareHandler } from 'hono';
import { GatehouseError } from '../errors.ts';
import type { MaskingRules } from '../masking/index.ts';
import type { Approvals } from '../ports/approvals.ts';
import type { Clock } from '../types.ts';
import { rawTarget } from './classify.ts';
import { readBody } from './request-body.ts';

export function approve(approvals: Approvals | undefined, _clock: Clock, masking?: MaskingRules): MiddlewareHandler {
  return async function approveStage(c, next) {
    const decision = c.get('decision');
    if (decision.effect !== 'review') return next();
    const identity = c.get('identity');
    const request = c.get('kubeRequest');
    if (approvals === undefined) {
      throw new GatehouseError(
        'ERR_APPROVAL_REQUIRED',
        `user "${identity.user}" may not ${request.verb} ${request.resource || request.path}: requires approval (rule "${decision.rule}"), and approvals are not configured`,
      );
    }
    const body = await readBody(c, approvals.maxBodyBytes, 'Gatehouse reads for a request that needs approval');
    const result = await approvals.review({
      identity,
      request,
      decision,
      method: c.req.method,
      rawQuery: rawTarget(c).query,
      body,
      contentType: c.req.header('content-type') ?? '',
      origin: new URL(c.req.url).origin,
      kubectlCommand: c.req.header('kubectl-command') ?? '',
      kubectlSession: c.req.header('kubectl-session') ?? '',
      ...(masking === undefined ? {} : { masking }),
    });
    c.set('approval', result.outcome);
    if (result.refusal !== undefined) throw result.refusal;
    await next();
  };
}
