/**
 * The words Gatehouse uses about an approval: the refusals kubectl prints and the mail an
 * approver receives. Pure.
 */
import { GatehouseError } from '../errors.ts';
import type { StatusDetails } from '../errors.ts';
import type { MailMessage } from '../ports/mailer.ts';
import type { Approval } from './approval.ts';
import { describeState, describeStreamCall, describeTarget, iso } from './approval.ts';

function who(approval: Approval): string {
  return `user "${approval.requester.user}"`;
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

export function approvalDenied(approval: Approval): GatehouseError {
  return new GatehouseError(
    'ERR_APPROVAL_DENIED',
    `${who(approval)} may not ${describeTarget(approval.target)}: approval ${approval.id} ${describeState(approval).replace(/^it /, '')}`,
    { details: detailsOf(approval) },
  );
}

/** The mail for one approver, carrying that approver's own link; `name` says which Gatehouse (or cluster) asks. */
export function approvalMailFor(approval: Approval, approver: string, link: string, name = 'Gatehouse'): MailMessage {
  const what = describeTarget(approval.target);
  const subject = `[${name}] Approval needed: ${approval.requester.user} wants to ${what}`;
  const runs = describeStreamCall(approval.target);
  const lines = [
    `${approval.requester.user} (groups: ${approval.requester.groups.join(', ') || 'none'}) asks to:`,
    '',
    `    ${what}`,
    `    ${approval.target.method} ${approval.target.path}${approval.target.query === '' ? '' : `?${approval.target.query}`}`,
    approval.kubectlCommand === '' ? undefined : `    command: ${approval.kubectlCommand}`,
    runs === undefined ? undefined : `    runs: ${runs.command}${runs.container === '' ? '' : ` in container ${runs.container}`} (${runs.interactive})`,
    `    on: ${name}`,
    '',
    `Policy ${ruleOf(approval)} requires approval: ${approval.reason}`,
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
    `<p>${escapeHtml(approval.requester.user)} asks to <strong>${escapeHtml(what)}</strong> on ${escapeHtml(name)}.</p>` +
    `<p>Policy ${escapeHtml(ruleOf(approval))} requires approval. Approval id: <code>${escapeHtml(approval.id)}</code>.</p>` +
    `<p><a href="${escapeHtml(link)}">Review the request</a> (expires ${escapeHtml(iso(approval.expiresAt))}; ` +
    `opening it decides nothing).</p><p style="color:#666">Sent to ${escapeHtml(approver)}.</p>`;
  return { to: [approver], subject, text, html };
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}
