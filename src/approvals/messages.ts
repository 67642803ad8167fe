/**
 * The words Gatehouse uses about an approval: the refusals kubectl prints and the mail an
 * approver receives. Pure.
 */
import { GatehouseError } from '../errors.ts';
import type { StatusDetails } from '../errors.ts';
import type { ReviewRequest } from '../ports/approvals.ts';
import type { MailMessage } from '../ports/mailer.ts';
import type { Approval } from './approval.ts';
import type { BodySummary } from './body-summary.ts';
import { printable } from '../printable.ts';
import { askedBy, describeState, describeStreamCall, describeTarget, iso } from './approval.ts';

/** `user "bob"`, or under kubectl --as `user "alice" acting as "bob"`: who asked, and as whom. */
function who(approval: Approval): string {
  return approval.impersonator === undefined ? `user "${approval.requester.user}"` : `user "${approval.impersonator.user}" acting as "${approval.requester.user}"`;
}

function ruleOf(approval: Approval): string {
  return approval.rule === null ? 'no rule' : `rule "${approval.rule}"`;
}

function detailsOf(approval: Approval): StatusDetails {
  return {
    name: approval.id,
    kind: 'approval',
    group: 'gatehouse',
    causes: [
      { reason: 'ApprovalId', message: approval.id },
      { reason: 'Approvers', message: approval.approvers.join(', ') },
      { reason: 'ApprovalStatus', message: approval.status },
    ],
  };
}

/** 403: the request waits for a person; says the id, who was asked and what to do next. */
export function approvalRequired(approval: Approval, options: { notified: boolean }): GatehouseError {
  const asked = options.notified
    ? `asked ${approval.approvers.join(', ')}`
    : `mailing ${approval.approvers.join(', ')} failed, running the command again retries it`;
  return new GatehouseError(
    'ERR_APPROVAL_REQUIRED',
    `${who(approval)} may not ${describeTarget(approval.target)} without approval (${ruleOf(approval)}): ` +
      `approval ${approval.id} is pending, ${asked}; once it is approved, run the same command again and it will go through ` +
      `(the request expires at ${iso(approval.expiresAt)})`,
    { details: detailsOf(approval) },
  );
}

/**
 * 415: the body cannot be shown to an approver as the API server will read it, so nobody can
 * approve it; says why and what to send instead. No approval is started, nobody is mailed.
 */
export function bodyUnshowable(req: ReviewRequest, body: BodySummary): GatehouseError {
  const target = describeTarget({ ...req.request, path: req.request.path });
  return new GatehouseError(
    'ERR_APPROVAL_BODY_UNSHOWABLE',
    `user "${req.identity.user}" may not ${target} without approval (rule "${req.decision.rule}"), and this request cannot be approved: ` +
      `its body cannot be shown to an approver as the API server will read it (${body.reason ?? 'unreadable'})`,
  );
}

export function approvalDenied(approval: Approval): GatehouseError {
  return new GatehouseError(
    'ERR_APPROVAL_DENIED',
    `${who(approval)} may not ${describeTarget(approval.target)}: approval ${approval.id} ${describeState(approval).replace(/^it /, '')}`,
    { details: detailsOf(approval) },
  );
}

/** The mail for one approver, carrying that approver's own link; `name` says which Gatehouse (or cluster) asks. Names and targets are printable: no controls, no bidi overrides. */
export function approvalMailFor(approval: Approval, approver: string, link: string, name = 'Gatehouse'): MailMessage {
  const what = printable(describeTarget(approval.target));
  const asker = askedBy(approval);
  const user = printable(asker.user);
  const actingAs = approval.impersonator === undefined ? undefined : printable(approval.requester.user);
  const agent = approval.agent;
  const cluster = printable(approval.target.cluster ?? '');
  const subject = `[${printable(name)}] Approval needed: ${user}${actingAs === undefined ? '' : ` (acting as ${actingAs})`}${agent === undefined ? '' : ' (via an AI agent)'} wants to ${what} on cluster ${cluster}`;
  const runs = describeStreamCall(approval.target);
  const lines = [
    `${user} (groups: ${printable(asker.groups.join(', ')) || 'none'}) asks to:`,
    '',
    `    ${what}`,
    actingAs === undefined
      ? undefined
      : `    acting as: user ${actingAs} (groups: ${printable(approval.requester.groups.join(', ')) || 'none'}) — kubectl --as, which the policy allows ${user}; the cluster runs the request as ${actingAs}`,
    `    ${approval.target.method} ${printable(approval.target.path)}${approval.target.query === '' ? '' : `?${printable(approval.target.query)}`}`,
    approval.kubectlCommand === '' ? undefined : `    command (as the client claims it): ${printable(approval.kubectlCommand)}`,
    agent === undefined ? undefined : `    asked by an AI agent through MCP, signed in as ${user}: tool ${printable(agent.tool)} with arguments ${printable(agent.arguments)}`,
    runs === undefined ? undefined : `    runs: ${printable(runs.command)}${runs.container === '' ? '' : ` in container ${printable(runs.container)}`} (${runs.interactive})`,
    `    on: cluster ${cluster}, through ${printable(name)}`,
    '',
    `Policy ${ruleOf(approval)} requires approval: ${printable(approval.reason)}`,
    `Grant: ${approval.grant === 'once' ? 'this one request, once' : `matching requests for ${approval.windowSeconds} seconds`}`,
    `Approval id: ${approval.id}`,
    `Open the request to approve or deny it (the link is yours alone and expires at ${iso(approval.expiresAt)}):`,
    '',
    link,
    '',
    'Opening the link decides nothing; the page shows the request with Approve and Deny buttons.',
  ].filter((line) => line !== undefined);
  const text = lines.join('\n');
  const html =
    `<p>${escapeHtml(user)} asks to <strong>${escapeHtml(what)}</strong> on cluster <strong>${escapeHtml(cluster)}</strong> (${escapeHtml(name)}).</p>` +
    (actingAs === undefined ? '' : `<p>Acting as <strong>${escapeHtml(actingAs)}</strong> (kubectl --as): the cluster runs the request as ${escapeHtml(actingAs)}.</p>`) +
    (agent === undefined ? '' : `<p>Asked by an AI agent through MCP: tool <code>${escapeHtml(printable(agent.tool))}</code> with arguments <code>${escapeHtml(printable(agent.arguments))}</code>.</p>`) +
    `<p>Policy ${escapeHtml(ruleOf(approval))} requires approval. Approval id: <code>${escapeHtml(approval.id)}</code>.</p>` +
    `<p><a href="${escapeHtml(link)}">Review the request</a> (expires ${escapeHtml(iso(approval.expiresAt))}; ` +
    `opening it decides nothing).</p><p style="color:#666">Sent to ${escapeHtml(approver)}.</p>`;
  return { to: [approver], subject, text, html };
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}
