/**
 * The approval flow through the approve stage and the approval pages (app.request), on the
 * real stand-ins: dynalite through the DynamoDB adapter, the SES emulator through the SES
 * adapter. Time is a FakeClock.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Hono } from 'hono';
import type { GatehouseEnv } from '../../src/context.ts';
import type { KubeStatus } from '../../src/errors.ts';
import { signLink } from '../../src/approvals/link.ts';
import { readFileSync } from 'node:fs';
import { createApprovalsFromConfig } from '../../src/approvals/create-approvals.ts';
import { approvalApp, FakeClock, mailedLink, startApprovalFlow, type ApprovalStack, type Forwarded } from './support.ts';

const POD = '/api/v1/namespaces/prod/pods/web-1';
const DELETE_BODY = '{"propagationPolicy":"Background"}';
const SAME_ORIGIN = { origin: 'http://localhost', 'sec-fetch-site': 'same-origin', 'content-type': 'application/x-www-form-urlencoded' };

let stack: ApprovalStack;
let clock: FakeClock;
let app: Hono<GatehouseEnv>;
let forwarded: Forwarded[];

before(async () => {
  ({ stack, clock, app, forwarded } = await startApprovalFlow());
});
after(() => stack.close());

interface Run {
  status: number;
  body: KubeStatus & { forwarded?: boolean };
}

async function run(options: { user?: string; path?: string; method?: string; body?: string; headers?: Record<string, string> } = {}): Promise<Run> {
  const init: RequestInit = {
    method: options.method ?? 'DELETE',
    headers: { 'x-user': options.user ?? 'alice@example.com', 'content-type': 'application/json', 'kubectl-command': 'kubectl delete', ...options.headers },
  };
  const body = options.body ?? DELETE_BODY;
  if (init.method !== 'GET') init.body = body;
  const response = await app.request(options.path ?? POD, init);
  return { status: response.status, body: (await response.json()) as Run['body'] };
}

function approvalIdOf(result: Run): string {
  const id = result.body.details?.name;
  assert.ok(id !== undefined, `no approval id in ${JSON.stringify(result.body)}`);
  return id;
}

/** Opens the mailed link's page, then posts the decision the way the page's form does. */
async function decide(link: string, verdict: 'approve' | 'deny', headers: Record<string, string> = SAME_ORIGIN, comment = ''): Promise<Response> {
  const page = await (await app.request(link)).text();
  const formToken = /name="formToken" value="([^"]+)"/.exec(page)?.[1] ?? '';
  return app.request(link, { method: 'POST', headers, body: new URLSearchParams({ formToken, verdict, comment }).toString() });
}

/** A fresh pending approval (unique pod name per call) and bob's link to it. */
let podCounter = 0;
async function pending(options: { approvers?: string; grant?: string } = {}): Promise<{ path: string; id: string; link: string }> {
  const path = `/api/v1/namespaces/prod/pods/p${++podCounter}`;
  const headers: Record<string, string> = {};
  if (options.approvers !== undefined) headers['x-approvers'] = options.approvers;
  if (options.grant !== undefined) headers['x-grant'] = options.grant;
  const first = await run({ path, headers });
  const id = approvalIdOf(first);
  return { path, id, link: await mailedLink(stack.mail, 'bob@example.com', id) };
}

describe('approval flow', () => {
  test('a review request is refused with the approval id, who was asked and what to do', async () => {
    const result = await run();
    assert.equal(result.status, 403);
    assert.equal(result.body.reason, 'Forbidden');
    const id = approvalIdOf(result);
    assert.match(
      result.body.message,
      new RegExp(
        `^user "alice@example.com" may not delete pods "web-1" in namespace "prod" without approval \\(rule "prod-deletes"\\): ` +
          `approval ${id} is pending, asked bob@example.com; once it is approved, run the same command again and it will go through \\(the request expires at .*\\)$`,
      ),
    );
    assert.equal(forwarded.length, 0);
  });

  test('the approver gets a mail with a signed link that names the request', async () => {
    const { id } = await pending();
    const mails = (await stack.mail.messages('bob@example.com')).filter((m) => m.body.text?.includes(id));
    assert.equal(mails.length, 1);
    assert.match(mails[0]?.subject ?? '', /^\[Gatehouse\] Approval needed: alice@example.com wants to delete pods "p\d+" in namespace "prod" on cluster prod-eu$/);
    assert.match(mails[0]?.body.text ?? '', /\n {4}on: cluster prod-eu, through Gatehouse\n/);
    assert.equal(mails[0]?.from, 'gatehouse@example.com');
  });

  test('re-running while pending answers with the same approval and sends no new mail', async () => {
    const { path, id } = await pending();
    const again = await run({ path });
    assert.equal(approvalIdOf(again), id);
    const mails = (await stack.mail.messages('bob@example.com')).filter((m) => m.body.text?.includes(id));
    assert.equal(mails.length, 1);
  });

  test('approve, then the same request runs once, then asks anew (one-shot)', async () => {
    const { path, id, link } = await pending();
    const page = await app.request(link);
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.match(html, /alice@example.com wants to delete pods &quot;p\d+&quot; in namespace &quot;prod&quot;|alice@example.com wants to delete pods "p\d+" in namespace "prod"/);
    assert.match(html, /kubectl delete/);
    assert.match(html, /prod-deletes/);
    assert.match(html, /propagationPolicy/);
    const decided = await decide(link, 'approve', SAME_ORIGIN, 'go ahead');
    assert.equal(decided.status, 303);
    assert.match(await (await app.request(link)).text(), /This request was approved by bob@example.com at .* \(comment: &quot;go ahead&quot;\)|approved by bob@example.com/);

    const before = forwarded.length;
    const second = await run({ path });
    assert.equal(second.status, 200);
    assert.equal(forwarded.length, before + 1);
    assert.equal(forwarded.at(-1)?.body, DELETE_BODY, 'forward still gets the body the approve stage read');

    const third = await run({ path });
    assert.equal(third.status, 403);
    assert.equal(third.body.details?.causes?.[0]?.reason, 'ApprovalId');
    assert.notEqual(approvalIdOf(third), id, 'a new approval was started');
    assert.equal(forwarded.length, before + 1);
  });

  test('50 concurrent retries of one approved one-shot request: exactly one reaches the upstream', async () => {
    const { path, link } = await pending();
    assert.equal((await decide(link, 'approve')).status, 303);
    const before = forwarded.length;
    const results = await Promise.all(Array.from({ length: 50 }, () => run({ path })));
    assert.equal(forwarded.length - before, 1);
    assert.equal(results.filter((r) => r.status === 200).length, 1);
    for (const r of results.filter((r) => r.status !== 200)) {
      assert.ok(['ERR_GRANT_ALREADY_USED', 'pending'].some((k) => r.body.message.includes(k === 'pending' ? 'is pending' : 'already ran')), r.body.message);
    }
  });

  const notMatching: [string, (path: string) => Parameters<typeof run>[0]][] = [
    ['a changed body', (path) => ({ path, body: '{"propagationPolicy":"Orphan"}' })],
    ['another user', (path) => ({ path, user: 'dave@example.com' })],
    ['another verb', (path) => ({ path, method: 'PATCH', body: DELETE_BODY })],
    ['another target', (path) => ({ path: `${path}x` })],
  ];
  for (const [name, change] of notMatching) {
    test(`an approval does not cover ${name}`, async () => {
      const { path, link } = await pending();
      await decide(link, 'approve');
      const before = forwarded.length;
      const other = await run(change(path));
      assert.equal(other.status, 403);
      assert.match(other.body.message, /without approval/);
      assert.equal(forwarded.length, before);
      assert.equal((await run({ path })).status, 200, 'the approved request itself still runs');
    });
  }

  test('a denial is final for that request and names who denied it', async () => {
    const { path, id, link } = await pending();
    assert.equal((await decide(link, 'deny', SAME_ORIGIN, 'not during the freeze')).status, 303);
    const again = await run({ path });
    assert.equal(again.status, 403);
    assert.equal(approvalIdOf(again), id);
    assert.match(again.body.message, new RegExp(`^user "alice@example.com" may not delete pods "p\\d+" in namespace "prod": approval ${id} was denied by bob@example.com at .* \\(comment: "not during the freeze"\\)$`));
  });

  test('a grant approved on one cluster is not used for the same request on another', async () => {
    const { path, id, link } = await pending();
    assert.match(await (await app.request(link)).text(), /<dt>Cluster<\/dt><dd id="cluster">prod-eu<\/dd>/);
    assert.equal((await decide(link, 'approve')).status, 303);
    const before = forwarded.length;
    const elsewhere = await run({ path, headers: { 'x-test-cluster': 'prod-us' } });
    assert.equal(elsewhere.status, 403);
    assert.notEqual(approvalIdOf(elsewhere), id, 'another cluster asks for its own approval');
    assert.equal(forwarded.length, before);
    assert.equal((await run({ path })).status, 200, 'the grant still serves its own cluster');
  });

  test('a window grant lets the same request run repeatedly until the window ends', async () => {
    const { path, link } = await pending({ grant: 'window' });
    await decide(link, 'approve');
    const headers = { 'x-grant': 'window' };
    assert.equal((await run({ path, headers })).status, 200);
    assert.equal((await run({ path, headers })).status, 200);
    clock.advance(301);
    const after = await run({ path, headers });
    assert.equal(after.status, 403);
    assert.match(after.body.message, /without approval/);
  });

  test('a body larger than the limit is refused before anything is stored', async () => {
    const result = await run({ body: JSON.stringify({ pad: 'x'.repeat(2000) }) });
    assert.equal(result.status, 413);
    assert.equal(result.body.reason, 'RequestEntityTooLarge');
    assert.match(result.body.message, /^the request body \((\d+|more than \d+) bytes\) is larger than the 1024 bytes Gatehouse reads for a request that needs approval$/);
  });

  test('the requester is never mailed a link to their own request', async () => {
    const { id } = await pending({ approvers: 'alice@example.com,bob@example.com' });
    const mails = (await stack.mail.messages('alice@example.com')).filter((m) => m.body.text?.includes(id));
    assert.equal(mails.length, 0);
  });

  test('without a configured public URL, a review on the Node runtime is refused (503) and nothing is mailed or forwarded', async () => {
    const unset = approvalApp(createApprovalsFromConfig({ ...stack.config, publicUrl: undefined }, { clock }), clock);
    const before = (await stack.mail.messages('bob@example.com')).length;
    const response = await unset.app.request('https://gatehouse.test/api/v1/namespaces/prod/pods/origin', { method: 'DELETE', headers: { 'content-type': 'application/json' }, body: DELETE_BODY });
    assert.equal(response.status, 503);
    const status = (await response.json()) as KubeStatus;
    assert.equal(status.reason, 'ServiceUnavailable');
    assert.equal(status.message, 'approval links need a public URL and none is configured (set approvals.publicUrl); nothing was approved or forwarded');
    assert.equal((await stack.mail.messages('bob@example.com')).length, before);
    assert.deepEqual(unset.forwarded, []);
  });

  test('on Lambda without a configured public URL, links point at the Function URL domain AWS names, not at the Host', async () => {
    const lambda = approvalApp(createApprovalsFromConfig({ ...stack.config, publicUrl: undefined }, { clock }), clock);
    const env = { requestContext: { domainName: 'abcdefgh.lambda-url.eu-west-1.on.aws' } };
    const response = await lambda.app.request(
      'https://evil.example/api/v1/namespaces/prod/pods/origin',
      { method: 'DELETE', body: DELETE_BODY, headers: { 'content-type': 'application/json', host: 'evil.example', 'x-forwarded-host': 'evil.example' } },
      env,
    );
    const id = ((await response.json()) as KubeStatus).details?.name ?? '';
    const mails = (await stack.mail.messages('bob@example.com')).filter((m) => m.body.text?.includes(id));
    assert.match(mails.at(-1)?.body.text ?? '', new RegExp(`https://abcdefgh\\.lambda-url\\.eu-west-1\\.on\\.aws/_gatehouse/approvals/${id}\\?t=`));
    assert.doesNotMatch(mails.at(-1)?.body.text ?? '', /evil\.example/);
  });

  test('a rule whose only approver is the requester refuses outright', async () => {
    const result = await run({ path: '/api/v1/namespaces/prod/pods/solo', headers: { 'x-approvers': 'Alice@example.com' } });
    assert.equal(result.status, 403);
    assert.match(result.body.message, /the rule names no approver other than the requester$/);
  });
});

describe('approval pages refuse hostile use', () => {
  async function page(link: string, init?: RequestInit): Promise<{ status: number; text: string }> {
    const response = await app.request(link, init);
    return { status: response.status, text: await response.text() };
  }

  test('GET never decides (a mail scanner fetching the link approves nothing)', async () => {
    const { path, link } = await pending();
    for (let i = 0; i < 3; i++) assert.equal((await page(link)).status, 200);
    assert.equal((await run({ path })).status, 403);
  });

  test('a forged link (signed with another key) is refused with an HTML page', async () => {
    const { id } = await pending();
    const token = await signLink(new Uint8Array(32).fill(1), { approvalId: id, approver: 'bob@example.com', linkId: 'x', expiresAt: clock.now() + 60_000 }, clock.now());
    const response = await app.request(`/_gatehouse/approvals/${id}?t=${token}`);
    assert.match(response.headers.get('content-type') ?? '', /^text\/html/);
    const result = { status: response.status, text: await response.text() };
    assert.equal(result.status, 403);
    assert.match(result.text, /<title>Invalid approval link<\/title>/);
    assert.match(result.text, /this approval link is not valid: its signature does not match \(forged or altered\)/);
  });

  test('an altered link is refused', async () => {
    const { link } = await pending();
    // Alter a character inside the signature: the last one also carries unused padding bits, and
    // changing only those would decode to the very same signature.
    const at = link.length - 10;
    const altered = `${link.slice(0, at)}${link[at] === 'A' ? 'B' : 'A'}${link.slice(at + 1)}`;
    const result = await page(altered);
    assert.equal(result.status, 403);
    assert.match(result.text, /forged or altered/);
  });

  test('a link for another approval is refused', async () => {
    const first = await pending();
    const second = await pending();
    const token = new URL(first.link, 'http://x').searchParams.get('t') ?? '';
    const result = await page(`/_gatehouse/approvals/${second.id}?t=${token}`);
    assert.equal(result.status, 403);
    assert.match(result.text, new RegExp(`it was issued for another approval, not ${second.id}`));
  });

  test('a validly signed link the approval never issued (e.g. made out to the requester) is refused', async () => {
    const { id } = await pending({ approvers: 'alice@example.com,bob@example.com' });
    const key = new Uint8Array(Buffer.from(readFileSync(stack.config.signingKeyFile ?? '', 'utf8').trim(), 'base64url'));
    const token = await signLink(key, { approvalId: id, approver: 'alice@example.com', linkId: 'self', expiresAt: clock.now() + 60_000 }, clock.now());
    const result = await page(`/_gatehouse/approvals/${id}?t=${token}`);
    assert.equal(result.status, 403);
    assert.match(result.text, new RegExp(`approval ${id} never issued it`));
  });

  test('an expired link is refused', async () => {
    const { link } = await pending();
    clock.advance(3601);
    try {
      const result = await page(link);
      assert.equal(result.status, 403);
      assert.match(result.text, /this approval link is not valid: it expired at/);
    } finally {
      clock.advance(-3601);
    }
  });

  const forgeries: [string, Record<string, string>, RegExp][] = [
    ['a cross-site POST (Sec-Fetch-Site: cross-site)', { ...SAME_ORIGIN, 'sec-fetch-site': 'cross-site' }, /it came from another site \(Sec-Fetch-Site: cross-site\)/],
    ['a POST from another origin', { ...SAME_ORIGIN, origin: 'https://evil.example' }, /it came from another origin \(https:\/\/evil.example\)/],
    ['a POST that does not say where it comes from', { 'content-type': 'application/x-www-form-urlencoded' }, /no Origin or Sec-Fetch-Site/],
  ];
  for (const [name, headers, message] of forgeries) {
    test(`${name} decides nothing`, async () => {
      const { path, link } = await pending();
      const response = await decide(link, 'approve', headers);
      assert.equal(response.status, 403);
      assert.match(await response.text(), message);
      assert.equal((await run({ path })).status, 403);
    });
  }

  test('a POST without the page form token decides nothing', async () => {
    const { path, link } = await pending();
    const response = await app.request(link, { method: 'POST', headers: SAME_ORIGIN, body: 'verdict=approve' });
    assert.equal(response.status, 403);
    assert.match(await response.text(), /its form token is missing or does not match the link/);
    assert.equal((await run({ path })).status, 403);
  });

  test('a second decision is refused; the page shows the first', async () => {
    const { link } = await pending();
    assert.equal((await decide(link, 'approve')).status, 303);
    const page = await app.request(link);
    const formToken = /name="formToken"/.test(await page.text());
    assert.equal(formToken, false, 'no form once decided');
    const again = await app.request(link, { method: 'POST', headers: SAME_ORIGIN, body: 'verdict=deny&formToken=x' });
    assert.ok(again.status === 403 || again.status === 409);
  });

  test('deciding a consumed approval is refused as already decided', async () => {
    const { path, link } = await pending();
    const html = await (await app.request(link)).text();
    const formToken = /name="formToken" value="([^"]+)"/.exec(html)?.[1] ?? '';
    await app.request(link, { method: 'POST', headers: SAME_ORIGIN, body: new URLSearchParams({ formToken, verdict: 'approve' }).toString() });
    assert.equal((await run({ path })).status, 200);
    const replay = await app.request(link, { method: 'POST', headers: SAME_ORIGIN, body: new URLSearchParams({ formToken, verdict: 'approve' }).toString() });
    assert.equal(replay.status, 409);
    assert.match(await replay.text(), /cannot be decided again: it was approved by bob@example.com at .* and its one-shot grant has been used/);
  });

  test('pages are not cached, framed or leaked through Referer', async () => {
    const { link } = await pending();
    const response = await app.request(link);
    assert.equal(response.headers.get('cache-control'), 'no-store');
    assert.equal(response.headers.get('x-frame-options'), 'DENY');
    assert.equal(response.headers.get('referrer-policy'), 'same-origin');
    assert.match(response.headers.get('content-security-policy') ?? '', /form-action 'self'/);
  });
});

describe('hold mode', () => {
  test('a held request is forwarded as soon as it is approved', async () => {
    const holdClock = new FakeClock(Date.now());
    let approveDuringHold: (() => Promise<void>) | undefined;
    const held = stack.make({
      clock: holdClock,
      holdSeconds: 60,
      pollIntervalMs: 1000,
      wait: async (ms) => {
        holdClock.ms += ms;
        // The approver decides while the request is held (during the first poll's wait).
        if (approveDuringHold !== undefined) {
          const go = approveDuringHold;
          approveDuringHold = undefined;
          await go();
        }
      },
    });
    const heldApp = approvalApp(held, holdClock);
    const path = '/api/v1/namespaces/prod/pods/held';
    approveDuringHold = async () => {
      const mails = (await stack.mail.messages('bob@example.com')).filter((m) => m.body.text?.includes('/pods/held'));
      const id = /approvals\/([0-9a-f]+)\?/.exec(mails.at(-1)?.body.text ?? '')?.[1] ?? '';
      const link = await mailedLink(stack.mail, 'bob@example.com', id);
      const html = await (await heldApp.app.request(link)).text();
      const formToken = /name="formToken" value="([^"]+)"/.exec(html)?.[1] ?? '';
      const r = await heldApp.app.request(link, { method: 'POST', headers: SAME_ORIGIN, body: new URLSearchParams({ formToken, verdict: 'approve' }).toString() });
      assert.equal(r.status, 303);
    };
    const response = await heldApp.app.request(path, { method: 'DELETE', headers: { 'content-type': 'application/json' }, body: DELETE_BODY });
    assert.equal(response.status, 200);
    assert.equal(heldApp.forwarded.length, 1);
  });

  test('a held request nobody decides is refused when the hold ends', async () => {
    const holdClock = new FakeClock(Date.now());
    let waited = 0;
    const held = stack.make({ clock: holdClock, holdSeconds: 5, pollIntervalMs: 1000, wait: async (ms) => void ((holdClock.ms += ms), (waited += ms)) });
    const heldApp = approvalApp(held, holdClock);
    const response = await heldApp.app.request('/api/v1/namespaces/prod/pods/held-2', { method: 'DELETE', headers: { 'content-type': 'application/json' }, body: DELETE_BODY });
    assert.equal(response.status, 403);
    assert.match(((await response.json()) as KubeStatus).message, /is pending/);
    assert.equal(waited, 5000);
  });
});
