/** @jsxImportSource hono/jsx */
/**
 * The approval page (Hono JSX, rendered on the server, no script): everything an approver
 * needs to judge the request — who, what, the API call, the body, the rule, how old it is —
 * and, while it is pending, Approve / Deny with an optional comment. Opening it decides
 * nothing; the form posts back to the same link with its form token.
 */
import { createHash } from 'node:crypto';
import type { FC, PropsWithChildren } from 'hono/jsx';
import { raw } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';
import type { Approval } from './approval.ts';
import { askedBy, describeState, describeStreamCall, describeTarget, effectiveStatus, iso, samePerson } from './approval.ts';
import { bodyDecidable, type BodySummary } from './body-summary.ts';
import { printable, printableLines } from '../printable.ts';

export const PAGE_STYLE = `
body{font:15px/1.45 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1c2430}
main{max-width:860px;margin:2rem auto;padding:0 1rem}
h1{font-size:1.35rem;margin:.2rem 0 1rem}
.card{background:#fff;border:1px solid #dde1e7;border-radius:8px;padding:1rem 1.25rem;margin-bottom:1rem}
.status{font-weight:600;padding:.6rem 1rem;border-radius:6px;margin-bottom:1rem}
.pending{background:#fff6db;border:1px solid #f0d27a}.approved,.consumed{background:#e4f6e8;border:1px solid #8fd19e}
.denied,.expired,.error{background:#fde7e7;border:1px solid #ee9c9c}
dl{display:grid;grid-template-columns:10rem 1fr;gap:.35rem 1rem;margin:0}dt{color:#5b6575}dd{margin:0;word-break:break-word}
pre{background:#0f1720;color:#e6edf3;padding:.8rem;border-radius:6px;overflow:auto;max-height:28rem;font-size:13px}
textarea{width:100%;min-height:4rem;box-sizing:border-box;font:inherit}
.buttons{display:flex;gap:.75rem;margin-top:.75rem}
button{font:inherit;font-weight:600;padding:.55rem 1.4rem;border-radius:6px;border:1px solid transparent;cursor:pointer}
.approve{background:#1f883d;color:#fff}.deny{background:#cf222e;color:#fff}
.muted{color:#5b6575;font-size:.9rem}
`;

/**
 * The one script of the page: shows each <time> in the reader's own time zone, with UTC
 * beside it (the server cannot know the approver's zone). Allowed by its hash in the CSP,
 * nothing else runs; without it the UTC time stays.
 */
const LOCAL_TIME_SCRIPT =
  "for(const t of document.querySelectorAll('time[datetime]')){const d=new Date(t.getAttribute('datetime'));" +
  "if(!isNaN(d))t.textContent=d.toLocaleString(undefined,{dateStyle:'medium',timeStyle:'long'})+' ('+t.textContent+')'}";
/** For the page's Content-Security-Policy: `script-src` allows exactly this script. */
export const PAGE_SCRIPT_HASH = `'sha256-${createHash('sha256').update(LOCAL_TIME_SCRIPT).digest('base64')}'`;

/** A time in UTC (`2025-06-01 11:00:00 UTC`), turned into the reader's local time by the page's script. */
const Time: FC<{ ms: number }> = ({ ms }) => (
  <time datetime={iso(ms)}>{`${iso(ms).slice(0, 19).replace('T', ' ')} UTC`}</time>
);

const Layout: FC<PropsWithChildren<{ title: string }>> = ({ title, children }) => (
  <html lang="en">
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <meta name="robots" content="noindex" />
      <title>{title}</title>
      <style>{PAGE_STYLE}</style>
    </head>
    <body>
      <main>{children}</main>
      <script>{raw(LOCAL_TIME_SCRIPT)}</script>
    </body>
  </html>
);

/** The ports a port-forward names (WebSocket), or what decides them (SPDY names them per connection). */
function forwardedPorts(query: string): string {
  const ports = new URLSearchParams(query).getAll('ports').flatMap((value) => value.split(','));
  return ports.length === 0 ? 'the ports kubectl asks for, each connection decided by the policy' : `ports ${printable(ports.join(', '))}`;
}

function age(from: number, now: number): string {
  const seconds = Math.max(0, Math.round((now - from) / 1000));
  if (seconds < 90) return `${seconds} seconds ago`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} minutes ago`;
  return `${Math.round(seconds / 3600)} hours ago`;
}

export interface ApprovalPageProps {
  approval: Approval;
  approver: string;
  formToken: string;
  /** Where the form posts (the link itself). */
  action: string;
  now: number;
  /** Which Gatehouse (or cluster) asks. */
  name: string;
  /** Sessions (exec, attach, port-forward) this approval let in that run on this Gatehouse now. */
  liveSessions?: number;
  /** The answer to this approver's Terminate: how many sessions it ended. */
  terminated?: number;
}

const BodySection: FC<{ body: BodySummary; sha256: string }> = ({ body, sha256 }) => {
  const heading =
    body.kind === 'patch' ? `Change (patch, ${body.contentType})` : body.kind === 'object' ? 'Object sent' : body.kind === 'protobuf' ? 'Object sent (as protobuf, decoded)' : 'Body';
  return (
    <section class="card">
      <h2 style="font-size:1.05rem;margin-top:0">{heading}</h2>
      {body.kind === 'none' ? <p class="muted">No body.</p> : null}
      {bodyDecidable(body) ? null : (
        <p class="status error" id="body-unshowable">
          {body.bytes} bytes of {printable(body.contentType || 'undeclared type')} that cannot be shown
          {body.reason === undefined ? '' : `: ${printable(body.reason)}`}. This request cannot be approved from this page.
        </p>
      )}
      {bodyDecidable(body) && body.highlights !== undefined && body.highlights !== '' ? (
        <>
          <h3 style="font-size:.95rem">Security-relevant fields (privilege, host access, volumes, service accounts, RBAC, webhooks)</h3>
          <pre id="highlights">{printableLines(body.highlights)}</pre>
        </>
      ) : null}
      {body.kind !== 'none' && bodyDecidable(body) ? (
        <>
          {body.highlights === '' ? <p class="muted" id="no-highlights">No privilege, host access, volume, service account, RBAC or webhook fields.</p> : null}
          <pre id="body">{printableLines(body.text)}</pre>
        </>
      ) : null}
      {body.truncated ? (
        <p class="muted" id="body-cut">
          Not everything is shown: {printable(body.cut ?? 'the body is shortened')}. The full body has SHA-256 {sha256}.
        </p>
      ) : null}
    </section>
  );
};

export const ApprovalPage: FC<ApprovalPageProps> = ({ approval, approver, formToken, action, now, name, liveSessions = 0, terminated }) => {
  const status = effectiveStatus(approval, now);
  const target = approval.target;
  const asker = askedBy(approval);
  const own = samePerson(approver, asker.user) || samePerson(approver, approval.requester.user);
  const body = approval.body;
  const runs = describeStreamCall(target);
  const user = printable(asker.user);
  const actingAs = approval.impersonator === undefined ? undefined : printable(approval.requester.user);
  const what = printable(describeTarget(target));
  return (
    <Layout title={`Approval ${printable(approval.id)} — ${printable(name)}`}>
      <p class="muted" id="gatehouse">
        {printable(name)}
      </p>
      <h1>
        {user} {actingAs === undefined ? null : <>(acting as {actingAs}) </>}wants to {what}
      </h1>
      <div class={`status ${status}`} id="status" data-status={status}>
        {status === 'pending' ? (
          <>
            Waiting for a decision (expires <Time ms={approval.expiresAt} />)
          </>
        ) : (
          `This request ${printable(describeState({ ...approval, status }).replace(/^it /, ''))}.`
        )}
      </div>
      <section class="card">
        <dl>
          <dt>Requested by</dt>
          <dd id="requester">
            {user} <span class="muted">(groups: {printable(asker.groups.join(', ')) || 'none'})</span>
          </dd>
          {actingAs === undefined ? null : (
            <>
              <dt>Acting as</dt>
              <dd id="acting-as">
                {actingAs} <span class="muted">(groups: {printable(approval.requester.groups.join(', ')) || 'none'}) — kubectl --as, which the policy allows {user}; the cluster runs the request as {actingAs}</span>
              </dd>
            </>
          )}
          <dt>Action</dt>
          <dd id="action">{what}</dd>
          <dt>Cluster</dt>
          <dd id="cluster">{target.cluster === undefined || target.cluster === '' ? <span class="muted">(not recorded)</span> : printable(target.cluster)}</dd>
          <dt>API call</dt>
          <dd>
            <code id="api-call">
              {target.method} {printable(target.path)}
              {target.query === '' ? '' : `?${printable(target.query)}`}
            </code>
            {target.contentType === undefined || target.contentType === '' ? null : <span class="muted"> (Content-Type: {printable(target.contentType)})</span>}
          </dd>
          {runs === undefined ? null : (
            <>
              <dt>Runs</dt>
              <dd id="exec">
                <code>{printable(runs.command)}</code> <span class="muted">in container {runs.container === '' ? '(the only one)' : printable(runs.container)}; {runs.interactive}</span>
              </dd>
              {runs.argv.length === 0 ? null : (
                <>
                  <dt>Arguments</dt>
                  <dd>
                    <ol id="argv" start={0}>
                      {runs.argv.map((arg) => (
                        <li>
                          <code>{printable(arg)}</code>
                        </li>
                      ))}
                    </ol>
                  </dd>
                </>
              )}
            </>
          )}
          {approval.agent === undefined ? null : (
            <>
              <dt>AI agent</dt>
              <dd id="agent">
                asked through MCP by an agent signed in as {user}: tool <code>{printable(approval.agent.tool)}</code> with arguments{' '}
                <code>{printable(approval.agent.arguments)}</code>
              </dd>
            </>
          )}
          {target.resource === 'pods' && target.subresource === 'portforward' ? (
            <>
              <dt>Forwards</dt>
              <dd id="ports">
                {forwardedPorts(target.query)} <span class="muted">of pod {printable(target.name)}</span>
              </dd>
            </>
          ) : null}
          <dt>Command</dt>
          <dd id="command">
            {approval.kubectlCommand === '' ? <span class="muted">not a kubectl call (no Kubectl-Command header)</span> : printable(approval.kubectlCommand)}{' '}
            <span class="muted">(as the client claims it)</span>
          </dd>
          {approval.kubectlSession === '' ? null : (
            <>
              <dt>kubectl session</dt>
              <dd class="muted">{printable(approval.kubectlSession)} (as the client claims it)</dd>
            </>
          )}
          <dt>Namespace</dt>
          <dd>{target.namespace === '' ? <span class="muted">(cluster-wide)</span> : printable(target.namespace)}</dd>
          <dt>Policy rule</dt>
          <dd id="rule">
            {approval.rule ?? '(none)'} <span class="muted">— {printable(approval.reason)}</span>
          </dd>
          <dt>Grant</dt>
          <dd>{approval.grant === 'once' ? 'this exact request, once' : `this exact request, repeatedly for ${approval.windowSeconds} seconds`}</dd>
          <dt>Requested</dt>
          <dd>
            <Time ms={approval.createdAt} /> <span class="muted">({age(approval.createdAt, now)})</span>
          </dd>
          <dt>Approvers</dt>
          <dd>{approval.approvers.join(', ')}</dd>
          <dt>Approval id</dt>
          <dd>
            <code>{approval.id}</code>
          </dd>
        </dl>
      </section>
      <BodySection body={body} sha256={target.bodySha256} />
      {status === 'pending' && !own && bodyDecidable(body) ? (
        <form class="card" method="post" action={action}>
          <input type="hidden" name="formToken" value={formToken} />
          <label for="comment">Comment (optional, kept with the decision)</label>
          <textarea id="comment" name="comment" maxlength={1000}></textarea>
          <div class="buttons">
            <button class="approve" type="submit" name="verdict" value="approve">
              Approve
            </button>
            <button class="deny" type="submit" name="verdict" value="deny">
              Deny
            </button>
          </div>
          <p class="muted">
            Deciding as {approver}.{' '}
            {approval.grant === 'once' ? 'Approving lets this exact request run once.' : `Approving lets this exact request run for ${approval.windowSeconds} seconds.`}
          </p>
        </form>
      ) : null}
      {status === 'pending' && own ? (
        <p class="card">
          {samePerson(approver, asker.user) ? 'You asked for this request yourself' : 'This request runs as you'}; another approver must decide it.
        </p>
      ) : null}
      {terminated === undefined ? null : (
        <p class="card" id="terminated">
          {terminated === 1 ? 'Ended the session this approval let in' : `Ended ${terminated} sessions this approval let in`}; its recording says {printable(approver)} ended it.
        </p>
      )}
      {liveSessions > 0 ? (
        <form class="card" method="post" action={action} id="terminate">
          <input type="hidden" name="formToken" value={formToken} />
          <p>
            {liveSessions === 1 ? 'The session this approval let in is running now.' : `${liveSessions} sessions this approval let in are running now.`} Ending it
            closes the connection; the recording says who ended it.
          </p>
          <div class="buttons">
            <button class="deny" type="submit" name="verdict" value="terminate">
              Terminate session
            </button>
          </div>
        </form>
      ) : null}
    </Layout>
  );
};

export const ErrorPage: FC<{ title: string; message: string }> = ({ title, message }) => (
  <Layout title={title}>
    <h1>{title}</h1>
    <div class="status error" id="error">
      {printable(message)}
    </div>
  </Layout>
);

/** The page as HTML for `c.html()`. */
export function approvalPageHtml(props: ApprovalPageProps): HtmlEscapedString | Promise<HtmlEscapedString> {
  return <ApprovalPage {...props} />;
}

export function errorPageHtml(title: string, message: string): HtmlEscapedString | Promise<HtmlEscapedString> {
  return <ErrorPage title={title} message={message} />;
}
