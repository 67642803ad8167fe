/**
 * The approval pages under /_gatehouse/approvals/<id>?t=<link token>.
 *
 * GET shows the request and never decides (mail scanners and previews fetch links).
 * POST decides, only when it comes from the page: the form token bound to the link must
 * match, and the browser's Origin / Sec-Fetch-Site must say same-origin (at least one must
 * be present — browsers send them on every form POST; Origin may be the configured public URL). After a decision the browser is sent
 * back to the GET, which then shows the decision: the link works once.
 * Failures render as an HTML page carrying the error's status code and message.
 * A third POST verdict, `terminate`, ends the live exec/attach/port-forward sessions the
 * approval let in (Node runtime), after the same checks as a decision, wherever they run
 * (this process, or any worker of `serve --workers N`); the answer is the page saying how many ended.
 */
import { Hono } from 'hono';
import type { Context } from 'hono';
import { GatehouseError } from '../errors.ts';
import { ownPageErrors, ownPageHeaders } from '../own-pages.ts';
import type { Approvals, OpenedLink } from '../ports/approvals.ts';
import type { Clock } from '../types.ts';
import type { SessionControl } from '../streams/live-sessions.ts';
import type { Verdict } from './approval.ts';
import { formTokenMatches } from './link.ts';
import { approvalPageHtml, PAGE_SCRIPT_HASH, type ApprovalPageProps } from './page.tsx';

const PAGE_HEADERS = ownPageHeaders(`default-src 'none'; style-src 'unsafe-inline'; script-src ${PAGE_SCRIPT_HASH}; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`);

const TITLES: Partial<Record<string, string>> = {
  ERR_APPROVAL_LINK_INVALID: 'Invalid approval link',
  ERR_APPROVAL_NOT_FOUND: 'Approval not found',
  ERR_APPROVAL_EXPIRED: 'Approval expired',
  ERR_APPROVAL_ALREADY_DECIDED: 'Already decided',
  ERR_APPROVAL_SELF: 'You cannot approve your own request',
  ERR_REQUEST_INVALID: 'Bad request',
  ERR_SESSIONS_UNREACHABLE: 'Sessions could not be reached',
};

export function approvalRoutes(approvals: Approvals, clock: Clock, sessions?: SessionControl): Hono {
  const app = new Hono();

  app.onError(ownPageErrors('approvals', TITLES, 'Approval failed', PAGE_HEADERS));

  /** The page of the link `id`/`token` as opened, with what is known of its live sessions. */
  const page = (opened: OpenedLink, id: string, token: string, sessionsShown: Pick<ApprovalPageProps, 'liveSessions' | 'terminated'>): ReturnType<typeof approvalPageHtml> =>
    approvalPageHtml({
      approval: opened.approval,
      approver: opened.approver,
      formToken: opened.formToken,
      action: selfLink(id, token),
      now: clock.now(),
      name: opened.name,
      ...sessionsShown,
    });

  app.get('/:id', async (c) => {
    const id = c.req.param('id');
    const token = c.req.query('t') ?? '';
    const opened = await approvals.open(id, token);
    return c.html(page(opened, id, token, { liveSessions: (await sessions?.running(id)) ?? 0 }), 200, PAGE_HEADERS);
  });

  app.post('/:id', async (c) => {
    assertSameOrigin(c, approvals.publicOrigin());
    const id = c.req.param('id');
    const token = c.req.query('t') ?? '';
    const form = await c.req.parseBody();
    const verdict = form['verdict'];
    const formToken = typeof form['formToken'] === 'string' ? form['formToken'] : '';
    if (verdict === 'terminate') {
      const { opened, ended } = await terminate(approvals, sessions, id, token, formToken);
      // The page itself answers (not a redirect): it says how many sessions ended.
      return c.html(page(opened, id, token, { liveSessions: 0, terminated: ended }), 200, PAGE_HEADERS);
    }
    if (verdict !== 'approve' && verdict !== 'deny') {
      throw new GatehouseError('ERR_REQUEST_INVALID', 'the decision must be "approve", "deny" or "terminate"');
    }
    const comment = typeof form['comment'] === 'string' ? form['comment'] : '';
    await approvals.decide({ approvalId: id, linkToken: token, formToken, verdict: verdict satisfies Verdict, comment });
    return c.redirect(selfLink(id, token), 303);
  });

  return app;
}

/**
 * An approver ends the live sessions (exec, attach, port-forward) their approval let in: the
 * same checks as a decision (the page's origin, the signed link, the form token bound to it),
 * then every session of that approval running on this Gatehouse (any of its workers) ends,
 * "terminated by <approver>". Refused with a reason when none was running anywhere.
 */
async function terminate(
  approvals: Approvals,
  sessions: SessionControl | undefined,
  id: string,
  token: string,
  formToken: string,
): Promise<{ opened: OpenedLink; ended: number }> {
  const opened = await approvals.open(id, token);
  if (!formTokenMatches(opened.formToken, formToken)) {
    throw new GatehouseError('ERR_APPROVAL_LINK_INVALID', 'this terminate did not come from the approval page: its form token is missing or does not match the link');
  }
  const ended = (await sessions?.terminate(id, opened.approver)) ?? 0;
  if (ended === 0) {
    throw new GatehouseError('ERR_REQUEST_INVALID', `no session let in by approval ${id} is running on this Gatehouse (it ended, or runs on another Gatehouse)`);
  }
  return { opened, ended };
}

function selfLink(id: string, token: string): string {
  return `${encodeURIComponent(id)}?t=${encodeURIComponent(token)}`;
}

/**
 * Cross-site forgery guard: a browser POST from our own page says so in Origin / Sec-Fetch-Site.
 * Our own page is at the origin the request came in at, or at the configured public URL (behind
 * a proxy that terminates TLS the two differ); a browser never lets another site set either.
 */
function assertSameOrigin(c: Context, publicOrigin: string | undefined): void {
  const forged = (why: string): GatehouseError =>
    new GatehouseError('ERR_APPROVAL_LINK_INVALID', `this decision was refused: ${why}; decide from the approval page itself`);
  const site = c.req.header('sec-fetch-site');
  const origin = c.req.header('origin');
  if (site === undefined && origin === undefined) throw forged('the request does not say where it comes from (no Origin or Sec-Fetch-Site)');
  if (site !== undefined && site !== 'same-origin') throw forged(`it came from another site (Sec-Fetch-Site: ${site})`);
  if (origin !== undefined && origin !== new URL(c.req.url).origin && origin !== publicOrigin) throw forged(`it came from another origin (${origin})`);
}
