/**
 * The restore stage in the whole app (local Gatehouse, real HTTPS, records on) in front of the
 * kube-apiserver stand-in: every write shape with placeholders, what goes upstream (the live
 * values and the resourceVersion precondition), what the caller gets back (masked), what is
 * refused and how it is said, that writes without placeholders cost no extra upstream call,
 * and what the records keep (the client's body, the restored paths, never a value).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { LAST_APPLIED } from '../../src/masking/mask-document.ts';
import { placeholderBase64 } from '../../src/masking/placeholder.ts';
import type { KubeObject } from '../stand-in/store.ts';
import { clientToken, startHarness, type Harness } from '../support/harness.ts';
import { request, type Answer } from '../support/https-client.ts';
import { statusOf } from '../support/status.ts';

const PASSWORD = 'correct-horse-battery-staple';
const b64 = (text: string): string => Buffer.from(text).toString('base64');
const PH = placeholderBase64(PASSWORD.length);
const SECRETS = '/api/v1/namespaces/default/secrets';

const POLICY = `
apiVersion: gatehouse/v1
rules:
  - name: reviewed-secret
    effect: review
    verbs: ["patch"]
    resources: ["secrets"]
    names: ["reviewed"]
    review:
      approvers: ["lead@example.com"]
      grant: once
  - name: no-reading-write-only
    effect: deny
    verbs: ["get", "list", "watch"]
    resources: ["secrets"]
    names: ["write-only"]
    reason: this Secret is write-only
  - name: everything
    effect: allow
    verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
    resources: ["*"]
`;

describe('restore stage', () => {
  let h: Harness;
  let token: string;

  const send = (method: string, path: string, contentType: string, body: string | Buffer): Promise<Answer> =>
    request(`${h.gatehouse.url}${path}`, {
      ca: h.gatehouse.caPem,
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': contentType, accept: 'application/json' },
      body: body as string,
    });
  const seed = (name: string, extra: Partial<KubeObject> = {}): KubeObject =>
    h.api.store.put({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: 'default' }, type: 'Opaque', data: { password: b64(PASSWORD) }, ...extra });
  const stored = (name: string): KubeObject | undefined => h.api.store.get('secrets', 'default', name);

  before(async () => {
    h = await startHarness({ policy: POLICY, deny: [{ verbs: ['get'], resources: ['secrets'], names: ['rbac-hidden'] }] });
    token = clientToken(h);
  });
  after(async () => {
    await h?.close();
  });

  const restored: { name: string; method: string; path: string; contentType: string; body: (rv: string) => string; forwarded: (sent: unknown, rv: string) => void }[] = [
    {
      name: 'a merge patch: the placeholder restored, metadata.resourceVersion added',
      method: 'PATCH',
      path: `${SECRETS}/merge`,
      contentType: 'application/merge-patch+json',
      body: () => JSON.stringify({ metadata: { labels: { a: 'b' } }, data: { password: PH } }),
      forwarded: (sent, rv) => assert.deepEqual(sent, { metadata: { labels: { a: 'b' }, resourceVersion: rv }, data: { password: b64(PASSWORD) } }),
    },
    {
      name: 'a strategic merge patch',
      method: 'PATCH',
      path: `${SECRETS}/strategic`,
      contentType: 'application/strategic-merge-patch+json',
      body: () => JSON.stringify({ data: { password: PH }, metadata: { labels: { a: 'b' } } }),
      forwarded: (sent, rv) => assert.deepEqual(sent, { data: { password: b64(PASSWORD) }, metadata: { labels: { a: 'b' }, resourceVersion: rv } }),
    },
    {
      name: 'a JSON Patch: the value restored, add /metadata/resourceVersion appended',
      method: 'PATCH',
      path: `${SECRETS}/json-patch`,
      contentType: 'application/json-patch+json',
      body: () => JSON.stringify([{ op: 'replace', path: '/data/password', value: PH }, { op: 'add', path: '/metadata/labels', value: { a: 'b' } }]),
      forwarded: (sent, rv) =>
        assert.deepEqual(sent, [
          { op: 'replace', path: '/data/password', value: b64(PASSWORD) },
          { op: 'add', path: '/metadata/labels', value: { a: 'b' } },
          { op: 'add', path: '/metadata/resourceVersion', value: rv },
        ]),
    },
    {
      name: 'a server-side apply in YAML: sent on as JSON (which is YAML) under the same content type',
      method: 'PATCH',
      path: `${SECRETS}/applied?fieldManager=test`,
      contentType: 'application/apply-patch+yaml',
      body: () => `apiVersion: v1\nkind: Secret\nmetadata:\n  name: applied\n  labels:\n    a: b\ndata:\n  password: ${PH}\n`,
      forwarded: (sent, rv) => assert.deepEqual(sent, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'applied', labels: { a: 'b' }, resourceVersion: rv }, data: { password: b64(PASSWORD) } }),
    },
    {
      name: 'an update in YAML that names no resourceVersion',
      method: 'PUT',
      path: `${SECRETS}/put-yaml`,
      contentType: 'application/yaml',
      body: () => `apiVersion: v1\nkind: Secret\nmetadata:\n  name: put-yaml\n  labels: {a: b}\ntype: Opaque\ndata:\n  password: ${PH}\n`,
      forwarded: (sent, rv) =>
        assert.deepEqual(sent, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'put-yaml', labels: { a: 'b' }, resourceVersion: rv }, type: 'Opaque', data: { password: b64(PASSWORD) } }),
    },
    {
      name: 'an update in YAML read as the API server reads it (YAML 1.1: merge keys, `no` is false)',
      method: 'PUT',
      path: `${SECRETS}/put-yaml11`,
      contentType: 'application/yaml',
      body: () => `apiVersion: v1\nkind: Secret\nmetadata:\n  name: put-yaml11\n  labels:\n    <<: {a: b}\ntype: Opaque\nimmutable: no\ndata:\n  password: ${PH}\n`,
      forwarded: (sent, rv) =>
        assert.deepEqual(sent, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'put-yaml11', labels: { a: 'b' }, resourceVersion: rv }, type: 'Opaque', immutable: false, data: { password: b64(PASSWORD) } }),
    },
    {
      name: 'an update in JSON keeps the resourceVersion it names',
      method: 'PUT',
      path: `${SECRETS}/put-json`,
      contentType: 'application/json',
      body: (rv) => JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'put-json', resourceVersion: rv, labels: { a: 'b' } }, data: { password: PH } }),
      forwarded: (sent, rv) => assert.deepEqual(sent, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'put-json', resourceVersion: rv, labels: { a: 'b' } }, data: { password: b64(PASSWORD) } }),
    },
  ];

  for (const entry of restored) {
    test(`restores ${entry.name}; the caller gets the answer masked, the record the paths`, async () => {
      const name = (entry.path.split('/').at(-1) ?? '').split('?')[0] ?? '';
      const live = seed(name);
      const rv = live.metadata.resourceVersion ?? '';
      const from = h.mark();
      const reply = await send(entry.method, entry.path, entry.contentType, entry.body(rv));
      assert.equal(reply.status, 200, reply.text);
      assert.ok(!reply.text.includes(b64(PASSWORD)), 'the answer is masked');
      assert.equal((reply.json() as { data: Record<string, string> }).data['password'], PH);
      const upstream = h.receivedSince(from);
      assert.deepEqual(
        upstream.map((r) => `${r.method} ${r.path}`),
        [`GET ${SECRETS}/${name}`, `${entry.method} ${SECRETS}/${name}`],
        'one read of the live object, as the caller, then the write',
      );
      assert.equal(upstream[0]?.user, h.user);
      assert.equal(upstream[0]?.headers['accept'], 'application/json');
      entry.forwarded(JSON.parse(upstream[1]?.body ?? 'null'), rv);
      assert.equal(stored(name)?.['data']?.['password' as never], b64(PASSWORD));
      assert.deepEqual(stored(name)?.metadata.labels, { a: 'b' });

      const record = (await h.records()).find((r) => r.phase === 'outcome' && r.object_name === name && r.method === entry.method);
      assert.ok(record, 'the write was recorded');
      assert.deepEqual(record.restored_paths, ['data.password']);
      assert.equal(record.restored_resource_version, rv);
      assert.ok(record.request_body?.includes('***masked') || record.request_body?.includes(PH), 'the record keeps the body as the client sent it');
      assert.ok(!JSON.stringify(record).includes(b64(PASSWORD)) && !JSON.stringify(record).includes(PASSWORD), 'no value in the record');
    });
  }

  test('a write without placeholders costs no read of the live object, and records nothing restored', async () => {
    seed('plain');
    const from = h.mark();
    const reply = await send('PATCH', `${SECRETS}/plain`, 'application/merge-patch+json', JSON.stringify({ data: { password: b64('new-value') } }));
    assert.equal(reply.status, 200, reply.text);
    assert.deepEqual(
      h.receivedSince(from).map((r) => r.method),
      ['PATCH'],
    );
    assert.equal(h.receivedSince(from)[0]?.body, JSON.stringify({ data: { password: b64('new-value') } }), 'sent on as it came');
    const record = (await h.records()).find((r) => r.phase === 'outcome' && r.object_name === 'plain');
    assert.equal(record?.restored_paths, null);
    assert.equal(record?.restored_resource_version, null);
  });

  test('the migration patch kubectl sends (the masked annotation as it read it) restores the annotation whole', async () => {
    const annotation = `${JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'migrating', namespace: 'default' }, data: { password: b64(PASSWORD) } })}\n`;
    seed('migrating', { metadata: { name: 'migrating', namespace: 'default', annotations: { [LAST_APPLIED]: annotation } } });
    const shown = await request(`${h.gatehouse.url}${SECRETS}/migrating`, { ca: h.gatehouse.caPem, headers: { authorization: `Bearer ${token}` } });
    const masked = (shown.json() as KubeObject).metadata.annotations?.[LAST_APPLIED] ?? '';
    assert.ok(masked.includes(PH), 'the annotation is shown masked');
    const body = JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'migrating', namespace: 'default', annotations: { [LAST_APPLIED]: masked } } });
    const reply = await send('PATCH', `${SECRETS}/migrating?fieldManager=kubectl-last-applied`, 'application/apply-patch+yaml', body);
    assert.equal(reply.status, 200, reply.text);
    assert.equal(stored('migrating')?.metadata.annotations?.[LAST_APPLIED], annotation);
  });

  test('an approval binds the body as the client sent it (placeholders): the approved re-run is restored after the grant', async () => {
    seed('reviewed');
    const body = JSON.stringify({ metadata: { labels: { reviewed: 'yes' } }, data: { password: PH } });
    const first = await send('PATCH', `${SECRETS}/reviewed`, 'application/merge-patch+json', body);
    assert.equal(first.status, 403, first.text);
    const approvalId = /approval ([0-9a-f]+) is pending/.exec(first.text)?.[1] ?? '';
    assert.notEqual(approvalId, '', first.text);
    const mails = (await h.gatehouse.mail?.messages('lead@example.com')) ?? [];
    const link = /https:\/\/\S+\/_gatehouse\/approvals\/\S+/.exec(mails.find((m) => m.body.text?.includes(approvalId))?.body.text ?? '')?.[0] ?? '';
    const page = await request(link, { ca: h.gatehouse.caPem });
    assert.match(page.text, /&quot;reviewed&quot;: &quot;yes&quot;/, 'the approver sees the body as sent');
    assert.ok(!page.text.includes(b64(PASSWORD)) && !page.text.includes(PASSWORD), 'and no value: nothing was restored before the grant');
    const formToken = /name="formToken" value="([^"]+)"/.exec(page.text)?.[1] ?? '';
    const decided = await request(link, {
      ca: h.gatehouse.caPem,
      method: 'POST',
      headers: { origin: h.gatehouse.url, 'sec-fetch-site': 'same-origin', 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ formToken, verdict: 'approve', comment: '' }).toString(),
    });
    assert.ok(decided.status < 400, decided.text);
    const from = h.mark();
    const second = await send('PATCH', `${SECRETS}/reviewed`, 'application/merge-patch+json', body);
    assert.equal(second.status, 200, second.text);
    assert.deepEqual(h.receivedSince(from).map((r) => r.method), ['GET', 'PATCH']);
    assert.equal(stored('reviewed')?.['data']?.['password' as never], b64(PASSWORD));
    assert.deepEqual(stored('reviewed')?.metadata.labels, { reviewed: 'yes' });
  });

  test('a JSON Patch that copies a Secret value to an annotation is refused, and nothing is written', async () => {
    seed('copied');
    const from = h.mark();
    const reply = await send('PATCH', `${SECRETS}/copied`, 'application/json-patch+json', JSON.stringify([{ op: 'copy', from: '/data/password', path: '/metadata/annotations/leak' }]));
    assert.deepEqual(statusOf({ body: reply.text }), {
      code: 403,
      reason: 'Forbidden',
      message:
        'user "you@example.com" (groups: developers) may not patch secrets "copied" in namespace "default" with JSON Patch copy, move or test operations that read values: operation 0 (copy from /data/password) would read a masked value: a copy or move could put it where it shows, a test tells whether a guess is right',
    });
    assert.deepEqual(h.receivedSince(from).map((r) => r.method), ['GET'], 'the live object was read, nothing written');
    assert.equal(stored('copied')?.metadata.annotations, undefined);
  });

  test('a JSON Patch that tests only the resourceVersion (kubectl’s managed-fields migration) passes, conditioned on it', async () => {
    const live = seed('migrated-fields');
    const rv = live.metadata.resourceVersion ?? '';
    const from = h.mark();
    const patch = [{ op: 'test', path: '/metadata/resourceVersion', value: rv }, { op: 'add', path: '/metadata/labels', value: { m: 'n' } }];
    const reply = await send('PATCH', `${SECRETS}/migrated-fields`, 'application/json-patch+json', JSON.stringify(patch));
    assert.equal(reply.status, 200, reply.text);
    const upstream = h.receivedSince(from);
    assert.deepEqual(upstream.map((r) => r.method), ['GET', 'PATCH']);
    assert.deepEqual(JSON.parse(upstream[1]?.body ?? 'null'), [...patch, { op: 'add', path: '/metadata/resourceVersion', value: rv }]);
    assert.deepEqual(stored('migrated-fields')?.metadata.labels, { m: 'n' });
  });

  test('a JSON Patch that reads nothing costs no read of the live object', async () => {
    seed('json-plain');
    const from = h.mark();
    const patch = JSON.stringify([{ op: 'replace', path: '/data/password', value: b64('new-value') }]);
    const reply = await send('PATCH', `${SECRETS}/json-plain`, 'application/json-patch+json', patch);
    assert.equal(reply.status, 200, reply.text);
    assert.deepEqual(h.receivedSince(from).map((r) => `${r.method} ${r.body}`), [`PATCH ${patch}`]);
  });

  const refused: { name: string; method: string; path: string; contentType: string; body: string; setup?: () => void; upstreamReads: number; message: string }[] = [
    {
      name: 'a create with a placeholder, naming the field, without reading anything',
      method: 'POST',
      path: SECRETS,
      contentType: 'application/json',
      body: JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'new' }, data: { password: PH } }),
      upstreamReads: 0,
      message:
        'user "you@example.com" (groups: developers) may not create secrets in namespace "default" with a masked placeholder ("***masked (…)***") at data.password: a create has no live object whose value it could keep; send the real value, or leave the field out',
    },
    {
      name: 'a placeholder in a protobuf body, which Gatehouse cannot read',
      method: 'PUT',
      path: `${SECRETS}/proto`,
      contentType: 'application/vnd.kubernetes.protobuf',
      body: `k8s\0${PH}`,
      upstreamReads: 0,
      message:
        'user "you@example.com" (groups: developers) may not update secrets "proto" in namespace "default" with a masked placeholder ("***masked (…)***") in a "application/vnd.kubernetes.protobuf" body: Gatehouse restores placeholders only in JSON or YAML bodies, and would otherwise replace the real value; send the real value, or leave the field out',
    },
    {
      name: 'a placeholder for an object that does not exist',
      method: 'PATCH',
      path: `${SECRETS}/missing`,
      contentType: 'application/merge-patch+json',
      body: JSON.stringify({ data: { password: PH } }),
      upstreamReads: 1,
      message:
        'user "you@example.com" (groups: developers) may not patch secrets "missing" in namespace "default" with a masked placeholder ("***masked (…)***") at data.password: secrets "missing" in namespace "default" does not exist, so there is no live value to keep; send the real value, or leave the field out',
    },
    {
      name: 'a placeholder the policy does not let the caller read, without reading it',
      method: 'PATCH',
      path: `${SECRETS}/write-only`,
      contentType: 'application/merge-patch+json',
      body: JSON.stringify({ data: { password: PH } }),
      setup: () => void seed('write-only'),
      upstreamReads: 0,
      message:
        'user "you@example.com" (groups: developers) may not patch secrets "write-only" in namespace "default" with a masked placeholder ("***masked (…)***") at data.password: restoring it reads the live object, and user "you@example.com" (groups: developers) may not get secrets "write-only" in namespace "default": denied by rule "no-reading-write-only" (this Secret is write-only); send the real value, or leave the field out',
    },
    {
      name: 'a placeholder the cluster’s RBAC does not let the caller read, with the API server’s words',
      method: 'PATCH',
      path: `${SECRETS}/rbac-hidden`,
      contentType: 'application/merge-patch+json',
      body: JSON.stringify({ data: { password: PH } }),
      setup: () => void seed('rbac-hidden'),
      upstreamReads: 1,
      message:
        'user "you@example.com" (groups: developers) may not patch secrets "rbac-hidden" in namespace "default" with a masked placeholder ("***masked (…)***") at data.password: reading the live object as user "you@example.com" (groups: developers) was answered with 403 (secrets "rbac-hidden" is forbidden: User "you@example.com" cannot get resource "secrets" in API group "" in the namespace "default"); send the real value, or leave the field out',
    },
  ];

  for (const entry of refused) {
    test(`refuses ${entry.name}`, async () => {
      entry.setup?.();
      const from = h.mark();
      const reply = await send(entry.method, entry.path, entry.contentType, entry.body);
      assert.deepEqual(statusOf({ body: reply.text }), { code: 400, reason: 'BadRequest', message: entry.message });
      const upstream = h.receivedSince(from);
      assert.equal(upstream.filter((r) => r.method === 'GET').length, entry.upstreamReads, 'reads of the live object');
      assert.equal(upstream.filter((r) => r.method !== 'GET').length, 0, 'the write never reached the cluster');
      const record = (await h.records()).findLast((r) => r.phase === 'outcome' && r.path === entry.path.split('?')[0]);
      assert.equal(record?.error_code, 'ERR_PLACEHOLDER_UNRESTORABLE');
      assert.equal(record?.restored_paths, null);
    });
  }
});
