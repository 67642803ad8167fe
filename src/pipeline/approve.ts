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
import type { GatehouseContext } from '../context.ts';
import { GatehouseError } from '../errors.ts';
import type { MaskingRules } from '../masking/index.ts';
import type { Approvals } from '../ports/approvals.ts';
import type { AgentRequest } from '../approvals/approval.ts';
import type { Clock, Identity } from '../types.ts';
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
    const impersonator = c.get('impersonator') as Identity | undefined;
    const result = await approvals.review({
      identity,
      ...(impersonator === undefined ? {} : { impersonator }),
      request,
      decision,
      method: c.req.method,
      rawQuery: rawTarget(c).query,
      body,
      contentType: c.req.header('content-type') ?? '',
      ...functionUrlOrigin(c),
      kubectlCommand: c.req.header('kubectl-command') ?? '',
      kubectlSession: c.req.header('kubectl-session') ?? '',
      ...agentRequest(c),
      ...(masking === undefined ? {} : { masking }),
    });
    c.set('approval', result.outcome);
    if (result.refusal !== undefined) throw result.refusal;
    await next();
  };
}

/** For an MCP tool call: the tool and its masked arguments, for approvers (the binding only the MCP endpoint sets). */
function agentRequest(c: GatehouseContext): { agent?: AgentRequest } {
  const agent = c.env?.agent;
  return agent === undefined ? {} : { agent: { tool: agent.tool, arguments: agent.arguments, session: agent.session } };
}

/** A Function URL domain: `<url-id>.lambda-url.<region>.on.aws` or any plain DNS name AWS reports. */
const DOMAIN_NAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/;

/**
 * On Lambda, the domain AWS routed this call by (`requestContext.domainName` of the Function URL
 * event, which the client cannot set); nothing on the Node runtime. Never the Host header.
 */
function functionUrlOrigin(c: GatehouseContext): { functionUrlOrigin?: string } {
  const domainName = c.env?.requestContext?.domainName;
  return typeof domainName === 'string' && DOMAIN_NAME.test(domainName) ? { functionUrlOrigin: `https://${domainName}` } : {};
}
