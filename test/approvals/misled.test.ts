/**
 * Approvals that cannot be misled, tried the way an adversary would: through the approve
 * stage and the approval pages (app.request) on the real stand-ins (dynalite, the SES
 * emulator). A grant binds method, content type and the order of repeated query values; a
 * body the page cannot show is refused before anyone is asked and can never be approved;
 * nothing secret reaches the page, the mail or the stored approval; names cannot reverse a
 * heading or a subject.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import type { Hono } from 'hono';
import type { GatehouseEnv } from '../../src/context.ts';
import { createDynamoDbApprovalStore } from '../../src/adapters/dynamodb-approvals.ts';
import { formTokenFor, signLink } from '../../src/approvals/link.ts';
import { approvalPageHtml } from '../../src/approvals/page.tsx';
import type { KubeStatus } from '../../src/errors.ts';
import { GatehouseError } from '../../src/errors.ts';
import { createFileSigningKey } from '../../src/local/signing-key.ts';
import { FakeClock, mailedLink, sampleApproval, startApprovalFlow, T0, type ApprovalStack, type Forwarded } from './support.ts';

const SAME_ORIGIN = { origin: 'http://localhost', 'sec-fetch-site': 'same-origin', 'content-type': 'application/x-www-form-urlencoded' };
const PASSWORD = 'hunter2-correct-horse';

let stack: ApprovalStack;
let app: Hono<GatehouseEnv>;
let forwarded: Forwarded[];
let n = 0;

before(async () => {
  ({ stack, app, forwarded } = await startApprovalFlow());
});
after(() => stack.close());

async function send(method: string, target: string, body?: string, contentType?: string): Promise<{ status: number; body: KubeStatus }> {
  const headers: Record<string, string> = { 'x-user': 'alice@example.com' };
  if (contentType !== undefined) headers['content-type'] = contentType;
  const init: RequestInit = { method, headers };
  if (body !== undefined) init.body = body;
  const response = await app.request(target, init);
  // A HEAD answer has no body: its approval id is in the mail.
  const text = await response.text();
  return { status: response.status, body: (text === '' ? { message: '', details: {} } : JSON.parse(text)) as KubeStatus };
}

async function approveFirst(method: string, target: string, body?: string, contentType?: string): Promise<void> {
  const first = await send(method, target, body, contentType);
  assert.equal(first.status, 403, first.body.message);
  const path = target.split('?')[0] ?? '';
  const mailed = (await stack.mail.messages('bob@example.com')).filter((m) => m.body.text?.includes(`${method} ${path}`)).at(-1);
  const id = first.body.details?.name ?? /Approval id: (\S+)/.exec(mailed?.body.text ?? '')?.[1] ?? '';
  const link = await mailedLink(stack.mail, 'bob@example.com', id);
  const page = await (await app.request(link)).text();
  const formToken = /name="formToken" value="([^"]+)"/.exec(page)?.[1] ?? '';
  const decided = await app.request(link, { method: 'POST', headers: SAME_ORIGIN, body: new URLSearchParams({ formToken, verdict: 'approve' }).toString() });
  assert.equal(decided.status, 303);
}

describe('a grant binds exactly what the server acts on', () => {
  test('the same bytes approved as a merge patch do not pass as a strategic-merge patch', async () => {
    const target = `/apis/apps/v1/namespaces/prod/deployments/web-${++n}`;
    const patch = '{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"app:2"}]}}}}';
    await approveFirst('PATCH', target, patch, 'application/merge-patch+json');
    const before = forwarded.length;
    const other = await send('PATCH', target, patch, 'application/strategic-merge-patch+json');
    assert.equal(other.status, 403);
    assert.match(other.body.message, /without approval/);
    assert.equal(forwarded.length, before);
    assert.equal((await send('PATCH', target, patch, 'application/merge-patch+json')).status, 200, 'the approved request itself runs');
  });

  test('a grant for GET on an exec URL does not let a POST through', async () => {
    const target = `/api/v1/namespaces/prod/pods/web-${++n}/exec?command=sh&stdin=true&tty=true`;
    await approveFirst('GET', target);
    const before = forwarded.length;
    const post = await send('POST', target);
    assert.equal(post.status, 403);
    assert.equal(forwarded.length, before);
  });

  test('approving gracePeriodSeconds=30 then 0 does not cover 0 then 30 (the server reads the first)', async () => {
    const path = `/api/v1/namespaces/prod/pods/web-${++n}`;
    await approveFirst('DELETE', `${path}?gracePeriodSeconds=30&gracePeriodSeconds=0`, '{}', 'application/json');
    const swapped = await send('DELETE', `${path}?gracePeriodSeconds=0&gracePeriodSeconds=30`, '{}', 'application/json');
    assert.equal(swapped.status, 403);
    assert.match(swapped.body.message, /without approval/);
    const encoded = await send('DELETE', `${path}?grace%50eriodSeconds=0&gracePeriodSeconds=30`, '{}', 'application/json');
    assert.equal(encoded.status, 403, 'an encoded key is the same key');
  });
});

describe('a body the page cannot show is refused before anyone is asked', () => {
  const raw = (field: number, bytes: number[]): number[] => [(field << 3) | 2, bytes.length, ...bytes];
  const text = (field: number, value: string): number[] => raw(field, [...Buffer.from(value)]);
  const binding = (user: string, role: string): number[] => [
    ...raw(1, text(1, 'b')),
    ...raw(2, [...text(1, 'User'), ...text(3, user)]),
    ...raw(3, [...text(1, 'rbac.authorization.k8s.io'), ...text(2, 'ClusterRole'), ...text(3, role)]),
  ];
  const typeMeta = raw(1, [...text(1, 'rbac.authorization.k8s.io/v1'), ...text(2, 'RoleBinding')]);
  const twoRaws = Buffer.from([0x6b, 0x38, 0x73, 0x00, ...typeMeta, ...raw(2, binding('bob', 'view')), ...raw(2, binding('alice', 'cluster-admin'))]);

  const cases: [string, string, Buffer | string, string | undefined, RegExp][] = [
    ['a protobuf RoleBinding that repeats runtime.Unknown.Raw', '/apis/rbac.authorization.k8s.io/v1/namespaces/prod/rolebindings', twoRaws, 'application/vnd.kubernetes.protobuf', /the protobuf envelope\.raw appears more than once/],
    ['a CBOR body', '/api/v1/namespaces/prod/configmaps', Buffer.from([0xd9, 0xd9, 0xf7, 0xa0]), 'application/cbor', /cannot show a application\/cbor body/],
    ['a body with no Content-Type', '/api/v1/namespaces/prod/configmaps', '{"kind":"ConfigMap"}', undefined, /declares no Content-Type/],
  ];
  for (const [name, target, body, contentType, reason] of cases) {
    test(`${name}: 415, no approval started, nobody mailed, nothing forwarded`, async () => {
      const mailsBefore = (await stack.mail.messages('bob@example.com')).length;
      const before = forwarded.length;
      const headers: Record<string, string> = { 'x-user': 'alice@example.com' };
      if (contentType !== undefined) headers['content-type'] = contentType;
      const response = await app.request(target, { method: 'POST', headers, body: new Uint8Array(typeof body === 'string' ? Buffer.from(body) : body) });
      const status = (await response.json()) as KubeStatus;
      assert.equal(response.status, 415);
      assert.equal(status.reason, 'UnsupportedMediaType');
      assert.match(status.message, /this request cannot be approved: its body cannot be shown to an approver as the API server will read it/);
      assert.match(status.message, reason);
      assert.equal((await stack.mail.messages('bob@example.com')).length, mailsBefore);
      assert.equal(forwarded.length, before);
    });
  }

  test('an approval stored with a body it cannot show offers no Approve button and refuses an approving POST', async () => {
    const service = stack.make({ clock: new FakeClock(T0) });
    const store = createDynamoDbApprovalStore(new DynamoDBClient({ endpoint: stack.config.dynamodbEndpoint ?? '', region: 'local', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }), stack.config.tableName);
    const id = `legacy-${++n}`;
    const approval = sampleApproval({ id, body: { kind: 'binary', contentType: 'application/vnd.kubernetes.protobuf', bytes: 90, text: '', truncated: false } });
    await store.create(approval);
    const key = await createFileSigningKey(stack.config.signingKeyFile ?? '').key();
    const linkToken = await signLink(key, { approvalId: id, approver: 'bob@example.com', linkId: 'L1', expiresAt: approval.expiresAt }, T0);
    const html = String(await approvalPageHtml({ approval, approver: 'bob@example.com', formToken: 'f', action: 'x', now: T0, name: 'Gatehouse' }));
    assert.ok(!html.includes('value="approve"'), 'no Approve button');
    assert.match(html, /This request cannot be approved from this page/);
    await assert.rejects(
      service.decide({ approvalId: id, linkToken, formToken: formTokenFor(key, 'L1'), verdict: 'approve', comment: '' }),
      (error: unknown) => error instanceof GatehouseError && error.code === 'ERR_APPROVAL_BODY_UNSHOWABLE' && /it can only be denied/.test(error.message),
    );
    const denied = await service.decide({ approvalId: id, linkToken, formToken: formTokenFor(key, 'L1'), verdict: 'deny', comment: '' });
    assert.equal(denied.status, 'denied');
  });
});

describe('nothing secret reaches the page, the mail or the stored approval', () => {
  test('a Secret whose last-applied-configuration carries stringData', async () => {
    const name = `db-${++n}`;
    const applied = JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name }, stringData: { password: PASSWORD } });
    const secret = { apiVersion: 'v1', kind: 'Secret', metadata: { name, annotations: { 'kubectl.kubernetes.io/last-applied-configuration': applied } }, stringData: { password: PASSWORD } };
    const first = await send('POST', '/api/v1/namespaces/prod/secrets', JSON.stringify(secret), 'application/json');
    assert.equal(first.status, 403);
    const id = first.body.details?.name ?? '';
    const link = await mailedLink(stack.mail, 'bob@example.com', id);
    const page = await (await app.request(link)).text();
    assert.match(page, /last-applied-configuration/);
    assert.ok(!page.includes(PASSWORD), 'the page shows no value');
    const mails = (await stack.mail.messages('bob@example.com')).filter((m) => m.body.text?.includes(id));
    assert.ok(!JSON.stringify(mails).includes(PASSWORD), 'the mail holds no value');
    const client = new DynamoDBClient({ endpoint: stack.config.dynamodbEndpoint ?? '', region: 'local', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    const items = await client.send(new ScanCommand({ TableName: stack.config.tableName }));
    assert.ok(JSON.stringify(items.Items).includes(id), 'the approval is stored');
    assert.ok(!JSON.stringify(items.Items).includes(PASSWORD), 'the stored approval holds no value');
  });
});

describe('names cannot rewrite the page or the mail', () => {
  test('a bidi override in the object name and an escape sequence in the query are shown escaped', async () => {
    const target = `/api/v1/namespaces/prod/pods/evil${encodeURIComponent('\u202e')}txt.exe-${++n}?dryRun=${encodeURIComponent('All\u202e\x1b[2J')}`;
    const first = await send('DELETE', target, '{}', 'application/json');
    assert.equal(first.status, 403, first.body.message);
    const id = first.body.details?.name ?? '';
    const page = await (await app.request(await mailedLink(stack.mail, 'bob@example.com', id))).text();
    const heading = /<h1>([\s\S]*?)<\/h1>/.exec(page)?.[1] ?? '';
    assert.match(heading, /evil\\u202etxt\.exe/);
    assert.doesNotMatch(page, /[\u202a-\u202e\u2066-\u2069\x1b]/);
    const mail = (await stack.mail.messages('bob@example.com')).filter((m) => m.body.text?.includes(id)).at(-1);
    assert.match(mail?.subject ?? '', /evil\\u202etxt\.exe/);
    assert.doesNotMatch(`${mail?.subject ?? ''}${mail?.body.text ?? ''}`, /[\u202a-\u202e\u2066-\u2069\x1b]/);
  });

  test('the security-relevant fields come before the body on the page', async () => {
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: `p-${++n}`, annotations: { pad: 'x'.repeat(600) } }, spec: { hostPID: true, containers: [{ name: 'a', image: 'busybox' }] } };
    const first = await send('POST', '/api/v1/namespaces/prod/pods', JSON.stringify(pod), 'application/json');
    const page = await (await app.request(await mailedLink(stack.mail, 'bob@example.com', first.body.details?.name ?? ''))).text();
    const highlights = page.indexOf('id="highlights"');
    assert.ok(highlights > 0 && highlights < page.indexOf('id="body"'));
    assert.match(page, /spec\.hostPID: true/);
    assert.match(page, /1 string value is longer than 512 characters and shown shortened/);
  });
});
