/**
 * Adversarial approval links and URLs, end to end over HTTPS: the real app with real approvals
 * (dynalite through the DynamoDB adapter, the SES emulator through the SES adapter, a link key
 * file), a frozen clock. A requester tries to point the approver's link at their own host, to
 * forge, alter, reuse or outlive a link, to approve their own request, to have a mail scanner's
 * GET or another site's POST decide. Each case asserts the exact status and message and what
 * the cluster received: nothing, or exactly the one approved call as the requester.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { createApprovalsFromConfig } from '../../src/approvals/create-approvals.ts';
import { signLink } from '../../src/approvals/link.ts';
import type { Approvals } from '../../src/ports/approvals.ts';
import { FakeClock, startApprovalStack, type ApprovalStack } from '../approvals/support.ts';
import { NOW, refusalOf, startGatehouseUnderTest, type GatehouseUnderTest } from './gatehouse-under-test.ts';
import type { Answer } from '../support/https-client.ts';
import { createLambdaHandler } from '../../functions/lambda-handler.ts';
import { installAwsLambdaShim, invoke } from '../functions/awslambda-shim.ts';
import { functionUrlEvent } from '../functions/function-url-event.ts';

const PUBLIC_URL = 'https://gatehouse.example.com';
const FORM = 'application/x-www-form-urlencoded';

let stack: ApprovalStack;
let clock: FakeClock;
let approvals: Approvals;
let g: GatehouseUnderTest;
let counter = 0;

before(async () => {
  stack = await startApprovalStack(PUBLIC_URL);
  clock = new FakeClock(NOW);
  approvals = stack.make({ clock });
  g = await startGatehouseUnderTest({ clock, deps: { approvals } });
});
after(async () => {
  await g.close();
  await stack.close();
});

const alice = (changes: Record<string, unknown> = {}): Promise<string> => g.idp.sign({ exp: Math.floor(NOW / 1000) + 86400, ...changes });

/** A delete in prod the policy sends for review; returns the answer and the approval id. */
async function ask(options: { name?: string; headers?: Record<string, string>; token?: string } = {}): Promise<{ answer: Answer; id: string; path: string }> {
  const path = `/api/v1/namespaces/prod/configmaps/${options.name ?? `cm-${++counter}`}`;
  const answer = await g.send('DELETE', path, { authorization: `Bearer ${options.token ?? (await alice())}`, ...options.headers });
  const id = answer.json<{ details?: { name?: string } }>().details?.name ?? '';
  return { answer, id, path };
}

/** The full text of the latest mail to `to` about approval `id`. */
async function mailAbout(to: string, id: string): Promise<string | undefined> {
  const mails = (await stack.mail.messages(to)).filter((m) => m.body.text?.includes(id));
  return mails.at(-1)?.body.text;
}

/** The link mailed to bob for `id`, as path + query (what a browser would request of Gatehouse). */
async function bobsLink(id: string): Promise<string> {
  const text = (await mailAbout('bob@example.com', id)) ?? '';
  const link = /https:\/\/\S+\/_gatehouse\/approvals\/\S+/.exec(text)?.[0];
  assert.ok(link !== undefined, `no link for ${id} in ${text}`);
  const url = new URL(link);
  return url.pathname + url.search;
}

/** The message an approval page shows for a refusal. */
function pageMessage(answer: Answer): string {
  const html = /<div class="status error" id="error">([\s\S]*?)<\/div>/.exec(answer.text)?.[1] ?? `(no error on the page: ${answer.text.slice(0, 200)})`;
  return html.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&').trim();
}

async function formTokenOf(link: string): Promise<string> {
  const page = await g.send('GET', link);
  return /name="formToken" value="([^"]+)"/.exec(page.text)?.[1] ?? '';
}

function post(link: string, fields: Record<string, string>, headers: Record<string, string> = { origin: g.url, 'sec-fetch-site': 'same-origin' }): Promise<Answer> {
  return g.send('POST', link, { 'content-type': FORM, ...headers }, new URLSearchParams(fields).toString());
}

async function approve(link: string): Promise<Answer> {
  return post(link, { formToken: await formTokenOf(link), verdict: 'approve' });
}

/** Upstream calls made while `run` ran. */
async function upstreamDuring(run: () => Promise<void>): Promise<typeof g.upstream.calls> {
  const before = g.upstream.calls.length;
  await run();
  return g.upstream.calls.slice(before);
}

describe('approval links point only at the configured public URL', () => {
  const injections: [string, Record<string, string>][] = [
    ['a Host header naming the requester\'s server', { host: 'evil.example' }],
    ['X-Forwarded-Host and X-Forwarded-Proto', { 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'http' }],
    ['a Forwarded header', { forwarded: 'host=evil.example;proto=http' }],
    ['X-Original-Host and X-Host', { 'x-original-host': 'evil.example', 'x-host': 'evil.example' }],
  ];
  for (const [name, headers] of injections) {
    test(`ignores ${name}: the mailed link is the public URL and nothing reaches the cluster`, async () => {
      let asked: Awaited<ReturnType<typeof ask>> | undefined;
      const calls = await upstreamDuring(async () => {
        asked = await ask({ headers });
      });
      assert.ok(asked !== undefined);
      const status = refusalOf(asked.answer);
      assert.equal(status.code, 403);
      assert.equal(status.reason, 'Forbidden');
      assert.match(status.message, new RegExp(`^user "alice@example.com" may not delete configmaps "cm-\\d+" in namespace "prod" without approval \\(rule "prod-deletes-need-approval"\\): approval ${asked.id} is pending, asked bob@example.com;`));
      const mail = (await mailAbout('bob@example.com', asked.id)) ?? '';
      assert.match(mail, new RegExp(`\\n${PUBLIC_URL.replace(/\./g, '\\.')}/_gatehouse/approvals/${asked.id}\\?t=[\\w.-]+\\n`));
      assert.doesNotMatch(mail + status.message, /evil\.example/);
      assert.deepEqual(calls, []);
    });
  }

  test('on Lambda without a configured URL: the Function URL domain from the event, never the Host or X-Forwarded-Host', async () => {
    const lambdaApprovals = createApprovalsFromConfig({ ...stack.config, publicUrl: undefined }, { clock });
    const lambda = await startGatehouseUnderTest({ clock, deps: { approvals: lambdaApprovals, runtime: 'lambda' } });
    try {
      const env = { event: {}, requestContext: { domainName: 'abc123xyz.lambda-url.eu-west-1.on.aws' } };
      const response = await lambda.app.request(
        'https://evil.example/api/v1/namespaces/prod/configmaps/from-lambda',
        { method: 'DELETE', headers: { host: 'evil.example', 'x-forwarded-host': 'evil.example', authorization: `Bearer ${await lambda.idp.sign({ exp: Math.floor(NOW / 1000) + 600 })}` } },
        env,
      );
      assert.equal(response.status, 403);
      const id = ((await response.json()) as { details: { name: string } }).details.name;
      const mail = (await mailAbout('bob@example.com', id)) ?? '';
      assert.match(mail, new RegExp(`\\nhttps://abc123xyz\\.lambda-url\\.eu-west-1\\.on\\.aws/_gatehouse/approvals/${id}\\?t=`));
      assert.doesNotMatch(mail, /evil\.example/);
      assert.deepEqual(lambda.upstream.calls, []);
    } finally {
      await lambda.close();
    }
  });

  test('through the Lambda handler: a Function URL event whose Host header names another server still gets links at its domainName', async () => {
    installAwsLambdaShim();
    const lambdaApprovals = createApprovalsFromConfig({ ...stack.config, publicUrl: undefined }, { clock });
    const lambda = await startGatehouseUnderTest({ clock, deps: { approvals: lambdaApprovals, runtime: 'lambda' } });
    try {
      const event = functionUrlEvent({
        method: 'DELETE',
        target: '/api/v1/namespaces/prod/configmaps/via-handler',
        headers: [
          ['host', 'evil.example'],
          ['x-forwarded-host', 'evil.example'],
          ['authorization', `Bearer ${await lambda.idp.sign({ exp: Math.floor(NOW / 1000) + 600 })}`],
        ],
      });
      const domain = event.requestContext['domainName'] as string;
      const { metadata, body } = await invoke(createLambdaHandler(lambda.app), event).done;
      assert.equal(metadata?.statusCode, 403);
      const id = (JSON.parse(body.toString('utf8')) as { details: { name: string } }).details.name;
      const mail = (await mailAbout('bob@example.com', id)) ?? '';
      assert.ok(mail.includes(`\nhttps://${domain}/_gatehouse/approvals/${id}?t=`), mail);
      assert.doesNotMatch(mail, /evil\.example/);
      assert.deepEqual(lambda.upstream.calls, []);
    } finally {
      await lambda.close();
    }
  });

  test('on Lambda with an event that names no domain and no configured URL: refused with 503, nothing mailed or forwarded', async () => {
    const lambdaApprovals = createApprovalsFromConfig({ ...stack.config, publicUrl: undefined }, { clock });
    const lambda = await startGatehouseUnderTest({ clock, deps: { approvals: lambdaApprovals, runtime: 'lambda' } });
    try {
      const response = await lambda.app.request(
        'https://evil.example/api/v1/namespaces/prod/configmaps/no-domain',
        { method: 'DELETE', headers: { host: 'evil.example', authorization: `Bearer ${await lambda.idp.sign({ exp: Math.floor(NOW / 1000) + 600 })}` } },
        { event: {}, requestContext: { domainName: 'evil.example/../x' } },
      );
      assert.equal(response.status, 503);
      assert.equal(response.headers.get('retry-after'), '5');
      const status = (await response.json()) as { reason: string; message: string };
      assert.deepEqual(
        { reason: status.reason, message: status.message },
        { reason: 'ServiceUnavailable', message: 'approval links need a public URL and none is configured (set approvals.publicUrl); nothing was approved or forwarded' },
      );
      assert.deepEqual(lambda.upstream.calls, []);
    } finally {
      await lambda.close();
    }
  });
});

describe('link tokens cannot be forged, altered, carried over or outlived', () => {
  interface LinkCase {
    name: string;
    /** Turns bob's genuine link (path + query) and its approval id into the one the attacker opens. */
    link: (genuine: string, id: string, other: { id: string; link: string }) => string | Promise<string>;
    status: number;
    message: (id: string) => string;
    advanceSeconds?: number;
  }
  const keyFile = (): Uint8Array => new Uint8Array(Buffer.from(readFileSync(stack.config.signingKeyFile ?? join('missing'), 'utf8').trim(), 'base64url'));
  const cases: LinkCase[] = [
    {
      name: 'refuses a link whose signature was altered',
      // The second-to-last character: the last one of a 32-byte signature carries 2 padding bits that decoders ignore ('A' ↔ 'B' may change nothing).
      link: (genuine) => genuine.replace(/.(.)$/, (pair, last: string) => `${pair[0] === 'A' ? 'B' : 'A'}${last}`),
      status: 403,
      message: () => 'this approval link is not valid: its signature does not match (forged or altered)',
    },
    {
      name: "refuses a link carried over to another approval's page",
      link: (genuine, _id, other) => genuine.replace(/approvals\/[^?]+/, `approvals/${other.id}`),
      status: 403,
      message: (id) => `this approval link is not valid: it was issued for another approval, not ${id}`,
    },
    {
      name: 'refuses a link without its token',
      link: (genuine) => genuine.replace(/\?t=.*$/, ''),
      status: 403,
      message: () => 'this approval link is not valid: it carries no token (the "t" parameter is missing)',
    },
    {
      name: 'refuses a link token with alg none',
      link: (genuine, id) => {
        const claims = Buffer.from(JSON.stringify({ aid: id, sub: 'bob@example.com', jti: 'x', iss: 'gatehouse', aud: 'gatehouse:approval-link', exp: NOW / 1000 + 600 })).toString('base64url');
        return genuine.replace(/\?t=.*$/, `?t=${Buffer.from('{"alg":"none"}').toString('base64url')}.${claims}.`);
      },
      status: 403,
      message: () => 'this approval link is not valid: it is not signed the way Gatehouse signs links',
    },
    {
      name: 'refuses a link signed with a key other than the link key',
      link: async (genuine, id) => {
        const token = await new SignJWT({ aid: id })
          .setProtectedHeader({ alg: 'HS256' })
          .setIssuer('gatehouse')
          .setAudience('gatehouse:approval-link')
          .setSubject('bob@example.com')
          .setJti('forged')
          .setExpirationTime(NOW / 1000 + 600)
          .sign(new Uint8Array(32).fill(7));
        return genuine.replace(/\?t=.*$/, `?t=${token}`);
      },
      status: 403,
      message: () => 'this approval link is not valid: its signature does not match (forged or altered)',
    },
    {
      name: 'refuses a correctly signed link the approval never issued (an approver minting a link for the requester)',
      link: async (genuine, id) => {
        const token = await signLink(keyFile(), { approvalId: id, approver: 'alice@example.com', linkId: 'self-made', expiresAt: NOW + 600_000 }, NOW);
        return genuine.replace(/\?t=.*$/, `?t=${token}`);
      },
      status: 403,
      message: (id) => `this approval link is not valid: approval ${id} never issued it`,
    },
    {
      name: 'refuses a link once it expired',
      link: (genuine) => genuine,
      advanceSeconds: 3601,
      status: 403,
      message: () => 'this approval link is not valid: it expired at 2025-01-15T13:00:00.000Z',
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const { id } = await ask();
      const other = await ask();
      const genuine = await bobsLink(id);
      const link = await c.link(genuine, id, { id: other.id, link: await bobsLink(other.id) });
      const from = g.upstream.calls.length;
      const start = clock.ms;
      if (c.advanceSeconds !== undefined) clock.advance(c.advanceSeconds);
      try {
        const opened = await g.send('GET', link);
        assert.equal(opened.status, c.status);
        const targetId = /approvals\/([^?]+)/.exec(link)?.[1] ?? id;
        assert.equal(pageMessage(opened), c.message(targetId));
        const decided = await post(link, { formToken: await formTokenOf(genuine), verdict: 'approve' });
        assert.equal(decided.status, c.status);
        assert.equal(pageMessage(decided), c.message(targetId));
      } finally {
        clock.ms = start;
      }
      const status = (await g.send('GET', `/_gatehouse/approvals/${id}?t=${/\?t=(.*)$/.exec(genuine)?.[1] ?? ''}`)).text;
      assert.match(status, /pending/i, 'the approval is still pending');
      assert.deepEqual(g.upstream.calls.slice(from), [], 'nothing reaches the cluster');
    });
  }
});

describe('deciding: only a POST from the page, once, by someone else', () => {
  test('a mail scanner fetching the link (GET, HEAD) decides nothing', async () => {
    const { id, path } = await ask();
    const link = await bobsLink(id);
    const calls = await upstreamDuring(async () => {
      for (let i = 0; i < 3; i++) assert.equal((await g.send('GET', link)).status, 200);
      assert.equal((await g.send('HEAD', link)).status, 200);
      const again = await g.send('DELETE', path, { authorization: `Bearer ${await alice()}` });
      assert.equal(refusalOf(again).code, 403);
      assert.match(refusalOf(again).message, new RegExp(`approval ${id} is pending`));
    });
    assert.deepEqual(calls, []);
  });

  const forgeries: [string, (link: string) => Promise<Answer>, string][] = [
    [
      'a POST that says nothing of where it comes from',
      async (link) => post(link, { formToken: await formTokenOf(link), verdict: 'approve' }, {}),
      'this decision was refused: the request does not say where it comes from (no Origin or Sec-Fetch-Site); decide from the approval page itself',
    ],
    [
      'a cross-site POST (Sec-Fetch-Site: cross-site)',
      async (link) => post(link, { formToken: await formTokenOf(link), verdict: 'approve' }, { 'sec-fetch-site': 'cross-site' }),
      'this decision was refused: it came from another site (Sec-Fetch-Site: cross-site); decide from the approval page itself',
    ],
    [
      'a POST from another origin',
      async (link) => post(link, { formToken: await formTokenOf(link), verdict: 'approve' }, { origin: 'https://evil.example' }),
      'this decision was refused: it came from another origin (https://evil.example); decide from the approval page itself',
    ],
    [
      'a same-site POST without the form token',
      async (link) => post(link, { verdict: 'approve' }),
      'this decision did not come from the approval page: its form token is missing or does not match the link',
    ],
    [
      "a POST carrying another link's form token",
      async (link) => {
        const other = await ask();
        return post(link, { formToken: await formTokenOf(await bobsLink(other.id)), verdict: 'approve' });
      },
      'this decision did not come from the approval page: its form token is missing or does not match the link',
    ],
  ];
  for (const [name, attempt, message] of forgeries) {
    test(`refuses ${name}, and the request stays unapproved`, async () => {
      const { id, path } = await ask();
      const link = await bobsLink(id);
      const calls = await upstreamDuring(async () => {
        const answer = await attempt(link);
        assert.equal(answer.status, 403);
        assert.equal(pageMessage(answer), message);
        const again = await g.send('DELETE', path, { authorization: `Bearer ${await alice()}` });
        assert.match(refusalOf(again).message, new RegExp(`approval ${id} is pending`));
      });
      assert.deepEqual(calls, []);
    });
  }

  test('accepts the POST from the page at the configured public URL when a proxy hands it on under another host (TLS terminated in front)', async () => {
    const { id, path } = await ask();
    const link = await bobsLink(id);
    const answer = await post(link, { formToken: await formTokenOf(link), verdict: 'approve' }, { origin: PUBLIC_URL, 'sec-fetch-site': 'same-origin' });
    assert.equal(answer.status, 303, answer.text);
    const calls = await upstreamDuring(async () => {
      assert.equal((await g.send('DELETE', path, { authorization: `Bearer ${await alice()}` })).status, 200);
    });
    assert.deepEqual(calls.map((c) => [c.method, c.url, c.user]), [['DELETE', path, 'alice@example.com']]);
  });

  test('refuses a decision that is neither approve, deny nor terminate', async () => {
    const { id } = await ask();
    const link = await bobsLink(id);
    const answer = await post(link, { formToken: await formTokenOf(link), verdict: 'yes' });
    assert.equal(answer.status, 400);
    assert.equal(pageMessage(answer), 'the decision must be "approve", "deny" or "terminate"');
  });

  test('nobody approves their own request: the requester is never mailed a link, whatever case their name is in', async () => {
    const { id, answer } = await ask({ token: await alice({ email: 'ALICE@example.com' }) });
    assert.match(refusalOf(answer).message, new RegExp(`approval ${id} is pending, asked bob@example.com;`));
    assert.equal(await mailAbout('alice@example.com', id), undefined);
    assert.equal(await mailAbout('ALICE@example.com', id), undefined);
  });

  test('an approved request goes through once, as the requester, and a reused link cannot decide again', async () => {
    const { id, path } = await ask();
    const link = await bobsLink(id);
    const formToken = await formTokenOf(link); // the approver's tab stays open
    assert.equal((await post(link, { formToken, verdict: 'approve' })).status, 303);
    const calls = await upstreamDuring(async () => {
      assert.equal((await g.send('DELETE', path, { authorization: `Bearer ${await alice()}` })).status, 200);
      const replay = await g.send('DELETE', path, { authorization: `Bearer ${await alice()}` });
      assert.equal(refusalOf(replay).code, 403);
      assert.match(refusalOf(replay).message, /^user "alice@example.com" may not delete configmaps "cm-\d+" in namespace "prod" without approval/);
    });
    assert.deepEqual(
      calls.map((c) => ({ method: c.method, url: c.url, user: c.user, groups: c.groups })),
      [{ method: 'DELETE', url: path, user: 'alice@example.com', groups: ['dev'] }],
    );
    const reused = await post(link, { formToken, verdict: 'deny' });
    assert.equal(reused.status, 409);
    assert.match(pageMessage(reused), new RegExp(`^approval ${id} cannot be decided again: it was approved by bob@example.com at .* and its one-shot grant has been used$`));
  });

  test('a grant covers only the approved request: another object, or another user, is asked anew', async () => {
    const { id } = await ask({ name: 'approved-one' });
    assert.equal((await approve(await bobsLink(id))).status, 303);
    const calls = await upstreamDuring(async () => {
      const other = await ask({ name: 'another-one' });
      assert.match(refusalOf(other.answer).message, /may not delete configmaps "another-one" in namespace "prod" without approval/);
      const mallory = await ask({ name: 'approved-one', token: await alice({ email: 'mallory@example.com', sub: 'u-mallory' }) });
      assert.match(refusalOf(mallory.answer).message, /^user "mallory@example.com" may not delete configmaps "approved-one" in namespace "prod" without approval/);
      assert.notEqual(mallory.id, id);
    });
    assert.deepEqual(calls, []);
  });

  test('a denied request is refused, naming who denied it, and reaches nothing', async () => {
    const { id, path } = await ask();
    const link = await bobsLink(id);
    assert.equal((await post(link, { formToken: await formTokenOf(link), verdict: 'deny' })).status, 303);
    const calls = await upstreamDuring(async () => {
      const again = await g.send('DELETE', path, { authorization: `Bearer ${await alice()}` });
      assert.deepEqual(refusalOf(again).code, 403);
      assert.match(refusalOf(again).message, new RegExp(`: approval ${id} was denied by bob@example.com at `));
    });
    assert.deepEqual(calls, []);
  });

  test("after a decision the browser is sent back to the page by a relative Location, whatever Host the POST named", async () => {
    const { id } = await ask();
    const link = await bobsLink(id);
    const formToken = await formTokenOf(link);
    const answer = await g.send(
      'POST',
      link,
      { 'content-type': FORM, host: 'evil.example', 'x-forwarded-host': 'evil.example', origin: 'https://evil.example', 'sec-fetch-site': 'same-origin' },
      new URLSearchParams({ formToken, verdict: 'approve' }).toString(),
    );
    // The Origin matches the Host the request named, so the same-origin guard passes; the redirect still names no host.
    assert.equal(answer.status, 303);
    assert.equal(answer.headers['location'], `${id}?t=${encodeURIComponent(/\?t=(.*)$/.exec(link)?.[1] ?? '')}`);
    assert.doesNotMatch(answer.text, /evil\.example/);
  });

  test('the page keeps its link to itself: no caching, no referrer to other origins, no framing, form posts only to itself', async () => {
    const { id } = await ask();
    const page = await g.send('GET', await bobsLink(id));
    assert.equal(page.headers['cache-control'], 'no-store');
    assert.equal(page.headers['referrer-policy'], 'same-origin');
    assert.equal(page.headers['x-frame-options'], 'DENY');
    assert.match(String(page.headers['content-security-policy']), /form-action 'self'/);
  });
});
