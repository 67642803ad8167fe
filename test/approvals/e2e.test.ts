/**
 * End to end: real kubectl → local Gatehouse (HTTPS, embedded DynamoDB and mail stand-ins)
 * → the kube-apiserver stand-in; the approver reads the mail and decides in headless
 * Chromium.
 *
 *   kubectl create (review) → refused with the id → mail → link → page shows the request →
 *   Approve → the same command succeeds (one create upstream) → a third run is refused again.
 *
 * Under `kubectl --as` (allowed by policy) mail, page and refusal name who asked — the
 * signed-in caller — and, labelled apart, whom the request runs as; the grant serves that
 * caller acting as that identity, not the identity itself.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpsRequest } from 'node:https';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../support/chromium.ts';
import { startHarness, type Harness } from '../support/harness.ts';

const POLICY = `
apiVersion: gatehouse/v1
rules:
  - name: prod-config-needs-approval
    effect: review
    verbs: ["create"]
    resources: ["configmaps"]
    namespaces: ["prod"]
    reason: "configuration in prod changes with a second person"
    review:
      approvers: ["lead@example.com"]
      grant: once
  - name: you-may-act-as-the-deploy-bot
    effect: allow
    users: ["you@example.com"]
    verbs: ["impersonate"]
    resources: ["users", "groups"]
    names: ["deploy-bot@example.com", "deployers"]
  - name: discovery
    effect: allow
    verbs: ["get", "head"]
    nonResourceURLs: ["/api", "/api/*", "/apis", "/apis/*", "/openapi/*", "/version"]
  - name: everything-else
    effect: allow
    verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
    resources: ["*"]
`;

const CREATE = ['create', 'configmap', 'approved-cfg', '-n', 'prod', '--from-literal=owner=team-a'];

let h: Harness;
let browser: Browser;

before(async () => {
  h = await startHarness({ policy: POLICY });
  h.api.store.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'prod' }, spec: { finalizers: ['kubernetes'] }, status: { phase: 'Active' } });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await h?.close();
});

async function linkFor(approvalId: string): Promise<string> {
  const mail = h.gatehouse.mail;
  assert.ok(mail !== undefined, 'the local Gatehouse has a mail stand-in');
  const mails = (await mail.messages('lead@example.com')).filter((m) => m.body.text?.includes(approvalId));
  assert.equal(mails.length, 1, 'one mail per approval');
  const link = /https:\/\/\S+\/_gatehouse\/approvals\/\S+/.exec(mails[0]?.body.text ?? '')?.[0];
  assert.ok(link !== undefined, 'the mail carries the link');
  return link;
}

const createsUpstream = (from: number): number =>
  h.receivedSince(from).filter((r) => r.method === 'POST' && r.path === '/api/v1/namespaces/prod/configmaps').length;

describe('approval end to end (kubectl, mail, Chromium)', () => {
  test('refused with the id → approve in the browser → runs once → refused again', async () => {
    const start = h.mark();
    const first = await h.kubectl('default', CREATE);
    assert.equal(first.code, 1, first.stdout);
    // kubectl create configmap words it "error: failed to create configmap: <Status message>".
    const match = /user "you@example.com" may not create configmaps in namespace "prod" without approval \(rule "prod-config-needs-approval"\): approval ([0-9a-f]+) is pending, asked lead@example.com; once it is approved, run the same command again and it will go through/.exec(first.stderr);
    assert.ok(match !== null, first.stderr);
    const approvalId = match[1] ?? '';
    assert.equal(createsUpstream(start), 0, 'nothing reached the cluster');

    const again = await h.kubectl('default', CREATE);
    assert.match(again.stderr, new RegExp(`approval ${approvalId} is pending`), 'a re-run while pending names the same approval');

    const link = await linkFor(approvalId);
    assert.ok(link.startsWith(`${h.gatehouse.url}/_gatehouse/approvals/${approvalId}?t=`), link);

    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    try {
      const page = await context.newPage();
      const opened = await page.goto(link);
      assert.equal(opened?.status(), 200);
      assert.equal(await page.locator('#status').getAttribute('data-status'), 'pending');
      assert.match((await page.locator('h1').textContent()) ?? '', /you@example.com wants to create configmaps in namespace "prod"/);
      assert.match((await page.locator('#command').textContent()) ?? '', /kubectl create/);
      assert.match((await page.locator('#rule').textContent()) ?? '', /prod-config-needs-approval/);
      const body = (await page.locator('#body').textContent()) ?? '';
      // kubectl sends the ConfigMap as protobuf; the page shows the object the API server decodes.
      const shown = JSON.parse(body) as { kind: string; metadata: { name: string }; data: Record<string, string> };
      assert.equal(shown.kind, 'ConfigMap');
      assert.equal(shown.metadata.name, 'approved-cfg');
      assert.equal(shown.data['owner'], 'team-a');

      await page.fill('#comment', 'ok for the release');
      await Promise.all([page.waitForURL(link), page.getByRole('button', { name: 'Approve' }).click()]);
      assert.equal(await page.locator('#status').getAttribute('data-status'), 'approved');
      assert.match((await page.locator('#status').textContent()) ?? '', /approved by lead@example.com at .* \(comment: "ok for the release"\)/);
      assert.equal(await page.getByRole('button', { name: 'Approve' }).count(), 0, 'no buttons once decided');
    } finally {
      await context.close();
    }

    const second = await h.kubectl('default', CREATE);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /configmap\/approved-cfg created/);
    assert.equal(createsUpstream(start), 1);

    const third = await h.kubectl('default', CREATE);
    assert.equal(third.code, 1);
    const thirdId = /approval ([0-9a-f]+) is pending/.exec(third.stderr)?.[1];
    assert.ok(thirdId !== undefined && thirdId !== approvalId, third.stderr);
    assert.equal(createsUpstream(start), 1, 'the one-shot grant let exactly one create through');
  });

  test('50 concurrent retries of one approved one-shot request over HTTPS: exactly one reaches the cluster', async () => {
    const token = await h.gatehouse.devIssuer.mint(h.user, h.groups, 600);
    const path = '/api/v1/namespaces/prod/configmaps?fieldManager=kubectl-create';
    const body = JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'raced' }, data: { a: '1' } });
    const post = (): Promise<{ status: number; text: string }> => send('POST', path, body, { authorization: `Bearer ${token}`, 'content-type': 'application/json' });

    const first = await post();
    assert.equal(first.status, 403);
    const approvalId = (JSON.parse(first.text) as { details: { name: string } }).details.name;
    const link = new URL(await linkFor(approvalId));
    const page = await send('GET', link.pathname + link.search, '', {});
    const formToken = /name="formToken" value="([^"]+)"/.exec(page.text)?.[1] ?? '';
    const decided = await send('POST', link.pathname + link.search, new URLSearchParams({ formToken, verdict: 'approve' }).toString(), {
      origin: h.gatehouse.url,
      'sec-fetch-site': 'same-origin',
      'content-type': 'application/x-www-form-urlencoded',
    });
    assert.equal(decided.status, 303, decided.text);

    const start = h.mark();
    const results = await Promise.all(Array.from({ length: 50 }, post));
    assert.equal(createsUpstream(start), 1);
    assert.equal(results.filter((r) => r.status === 201).length, 1);
    assert.equal(results.filter((r) => r.status === 403 || r.status === 409).length, 49);
  });
});

describe('approval of a request made with kubectl --as', () => {
  const AS = ['--as', 'deploy-bot@example.com', '--as-group', 'deployers'];
  const BOT_CREATE = ['create', 'configmap', 'bot-cfg', '-n', 'prod', '--from-literal=owner=bot'];

  test('mail, page and refusal show who asked and, apart, whom it runs as; the grant serves only that caller acting as them', async () => {
    const start = h.mark();
    const first = await h.kubectl('default', [...AS, ...BOT_CREATE]);
    assert.equal(first.code, 1, first.stdout);
    const match = /user "you@example.com" acting as "deploy-bot@example.com" may not create configmaps in namespace "prod" without approval \(rule "prod-config-needs-approval"\): approval ([0-9a-f]+) is pending/.exec(first.stderr);
    assert.ok(match !== null, first.stderr);
    const approvalId = match[1] ?? '';

    const mail = (await h.gatehouse.mail?.messages('lead@example.com'))?.find((m) => m.body.text?.includes(approvalId));
    assert.ok(mail !== undefined, 'the approver was mailed');
    assert.match(mail.subject, /Approval needed: you@example\.com \(acting as deploy-bot@example\.com\) wants to create configmaps in namespace "prod"/);
    assert.match(mail.body.text ?? '', /^you@example\.com \(groups: developers\) asks to:$/m);
    assert.match(mail.body.text ?? '', /^ {4}acting as: user deploy-bot@example\.com \(groups: deployers\) — kubectl --as, which the policy allows you@example\.com; the cluster runs the request as deploy-bot@example\.com$/m);
    assert.match(mail.body.html ?? '', /<p>Acting as <strong>deploy-bot@example\.com<\/strong> \(kubectl --as\): the cluster runs the request as deploy-bot@example\.com\.<\/p>/);

    const link = await linkFor(approvalId);
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    try {
      const page = await context.newPage();
      assert.equal((await page.goto(link))?.status(), 200);
      assert.equal(((await page.locator('h1').textContent()) ?? '').replace(/\s+/g, ' '), 'you@example.com (acting as deploy-bot@example.com) wants to create configmaps in namespace "prod"');
      assert.equal(((await page.locator('#requester').textContent()) ?? '').replace(/\s+/g, ' ').trim(), 'you@example.com (groups: developers)');
      assert.equal(
        ((await page.locator('#acting-as').textContent()) ?? '').replace(/\s+/g, ' ').trim(),
        'deploy-bot@example.com (groups: deployers) — kubectl --as, which the policy allows you@example.com; the cluster runs the request as deploy-bot@example.com',
      );
      assert.equal(await page.locator('dt', { hasText: 'Acting as' }).count(), 1, 'labelled apart from "Requested by"');
      await Promise.all([page.waitForURL(link), page.getByRole('button', { name: 'Approve' }).click()]);
      assert.equal(await page.locator('#status').getAttribute('data-status'), 'approved');
    } finally {
      await context.close();
    }

    // The identity it runs as, signed in itself, does not get the grant the caller asked for.
    const botToken = await h.gatehouse.devIssuer.mint('deploy-bot@example.com', ['deployers'], 600);
    const bodyOf = JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'bot-cfg' }, data: { owner: 'bot' } });
    const asBot = await send('POST', '/api/v1/namespaces/prod/configmaps?fieldManager=kubectl-create', bodyOf, { authorization: `Bearer ${botToken}`, 'content-type': 'application/json' });
    assert.equal(asBot.status, 403, asBot.text);
    assert.match(asBot.text, /user \\"deploy-bot@example.com\\" may not create configmaps in namespace \\"prod\\" without approval/);
    assert.doesNotMatch(asBot.text, new RegExp(`approval ${approvalId} `), 'another approval, not the caller\'s');
    assert.equal(createsUpstream(start), 0);

    const second = await h.kubectl('default', [...AS, ...BOT_CREATE]);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(createsUpstream(start), 1);
    const created = h.receivedSince(start).find((r) => r.method === 'POST' && r.path === '/api/v1/namespaces/prod/configmaps');
    assert.equal(created?.user, 'deploy-bot@example.com', 'the cluster ran it as the identity acted as');
  });
});

/** One HTTPS request to the local Gatehouse, trusting its CA. */
function send(method: string, path: string, body: string, headers: Record<string, string>): Promise<{ status: number; text: string }> {
  const url = new URL(path, h.gatehouse.url);
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { method, ca: h.gatehouse.caPem, headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}
