/**
 * The stand-in's wire behaviour, checked over real HTTPS: what kube-apiserver answers and
 * how it words it. The e2e suite relies on this fidelity (real kubectl judges it); these
 * cases pin down the parts kubectl does not exercise on its own.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { openLineStream, request, type Answer } from '../support/https-client.ts';
import { startFakeApiServer, type FakeApiServer } from './apiserver.ts';
import type { KubeObject } from './store.ts';

const NOW = Date.parse('2025-06-01T12:00:00Z');
let api: FakeApiServer;

const AS_ALICE = { 'impersonate-user': 'alice', 'impersonate-group': ['dev', 'oncall'] };
const TABLE = 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json';

function call(method: string, path: string, options: { headers?: Record<string, string | string[]>; body?: unknown; token?: string | null } = {}): Promise<Answer> {
  const headers: Record<string, string | string[]> = { ...AS_ALICE, ...options.headers };
  const token = options.token === undefined ? api.token : options.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (options.body !== undefined) headers['content-type'] ??= 'application/json';
  return request(`${api.url}${path}`, {
    ca: api.caPem,
    method,
    headers,
    ...(options.body !== undefined ? { body: typeof options.body === 'string' ? options.body : JSON.stringify(options.body) } : {}),
  });
}

function pod(name: string, extra: Partial<KubeObject> = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', labels: { app: name, tier: 'web' } },
    spec: { containers: [{ name: 'main', image: 'nginx:1' }] },
    ...extra,
  };
}

before(async () => {
  api = await startFakeApiServer({
    clock: { now: () => NOW },
    deny: [{ user: 'bob', verbs: ['delete'], resources: ['pods'] }],
  });
  api.store.put(pod('web'));
  api.store.put(pod('db', { metadata: { name: 'db', namespace: 'default', labels: { app: 'db' } } }));
  api.store.put({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'creds', namespace: 'default' }, data: { password: 'c2VjcmV0' } });
  api.store.put({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'two', namespace: 'default' },
    spec: { containers: [{ name: 'a', image: 'x' }, { name: 'b', image: 'y' }] },
  });
});
after(async () => {
  await api.close();
});

describe('authentication and authorization', () => {
  const cases: { name: string; method: string; path: string; token?: string | null; headers?: Record<string, string>; code: number; reason: string; message: string }[] = [
    { name: 'refuses a request without a token', method: 'GET', path: '/api/v1/namespaces/default/pods', token: null, code: 401, reason: 'Unauthorized', message: 'Unauthorized' },
    { name: 'refuses a wrong token', method: 'GET', path: '/version', token: 'nope', code: 401, reason: 'Unauthorized', message: 'Unauthorized' },
    {
      name: 'refuses its own identity on a resource, which may only impersonate',
      method: 'GET',
      path: '/api/v1/namespaces/default/pods',
      headers: { 'impersonate-user': '', 'impersonate-group': '' },
      code: 403,
      reason: 'Forbidden',
      message: 'pods is forbidden: User "gatehouse" cannot list resource "pods" in API group "" in the namespace "default"',
    },
    {
      name: 'refuses its own identity on a path',
      method: 'GET',
      path: '/version',
      headers: { 'impersonate-user': '', 'impersonate-group': '' },
      code: 403,
      reason: 'Forbidden',
      message: 'forbidden: User "gatehouse" cannot get path "/version"',
    },
    {
      name: 'applies the emulated cluster RBAC to the impersonated user',
      method: 'DELETE',
      path: '/api/v1/namespaces/default/pods/web',
      headers: { 'impersonate-user': 'bob', 'impersonate-group': 'dev' },
      code: 403,
      reason: 'Forbidden',
      message: 'pods "web" is forbidden: User "bob" cannot delete resource "pods" in API group "" in the namespace "default"',
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const headers = c.headers?.['impersonate-user'] === '' ? { 'impersonate-user': [], 'impersonate-group': [] } : c.headers;
      const answer = await call(c.method, c.path, { ...(c.token !== undefined ? { token: c.token } : {}), ...(headers !== undefined ? { headers } : {}) });
      assert.equal(answer.status, c.code);
      const status = answer.json();
      assert.equal(status.kind, 'Status');
      assert.equal(status.reason, c.reason);
      assert.equal(status.message, c.message);
    });
  }

  test('records every request with its impersonation headers', async () => {
    const from = api.received.length;
    await call('GET', '/version');
    const [seen] = api.received.slice(from);
    assert.equal(seen?.user, 'alice');
    assert.deepEqual(seen?.groups, ['dev', 'oncall']);
    assert.equal(seen?.headers.authorization, `Bearer ${api.token}`);
    assert.equal(seen?.status, 200);
  });
});

describe('discovery', () => {
  const cases = [
    { name: 'serves aggregated v2 for /api', path: '/api', accept: 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json', contentType: 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList', kind: 'APIGroupDiscoveryList' },
    { name: 'serves aggregated v2beta1 for /apis to clients that ask only for it', path: '/apis', accept: 'application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json', contentType: 'application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList', kind: 'APIGroupDiscoveryList' },
    { name: 'serves legacy APIVersions for plain JSON', path: '/api', accept: 'application/json', contentType: 'application/json', kind: 'APIVersions' },
    { name: 'serves legacy APIGroupList for plain JSON', path: '/apis', accept: 'application/json', contentType: 'application/json', kind: 'APIGroupList' },
    { name: 'serves the core APIResourceList', path: '/api/v1', accept: 'application/json', contentType: 'application/json', kind: 'APIResourceList' },
    { name: 'serves the apps/v1 APIResourceList', path: '/apis/apps/v1', accept: 'application/json', contentType: 'application/json', kind: 'APIResourceList' },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const answer = await call('GET', c.path, { headers: { accept: c.accept } });
      assert.equal(answer.status, 200);
      assert.equal(answer.headers['content-type'], c.contentType);
      assert.equal(answer.json().kind, c.kind);
    });
  }

  test('describes pods with short names, verbs and subresources', async () => {
    const list = (await call('GET', '/api/v1')).json<{ resources: { name: string; shortNames?: string[]; verbs: string[]; namespaced: boolean }[] }>();
    const pods = list.resources.find((r) => r.name === 'pods');
    assert.deepEqual(pods?.shortNames, ['po']);
    assert.ok(pods?.verbs.includes('watch') && pods.namespaced);
    assert.ok(list.resources.some((r) => r.name === 'pods/log'));
  });

  test('answers unknown paths like the API server (text 404)', async () => {
    const answer = await call('GET', '/nope');
    assert.equal(answer.status, 404);
    assert.equal(answer.text, '404 page not found\n');
  });
});

describe('objects and errors', () => {
  test('gets an object, with uid, resourceVersion and creationTimestamp', async () => {
    const object = (await call('GET', '/api/v1/namespaces/default/pods/web')).json<KubeObject>();
    assert.equal(object.kind, 'Pod');
    assert.match(object.metadata.uid ?? '', /^[0-9a-f-]{36}$/);
    assert.match(object.metadata.resourceVersion ?? '', /^\d+$/);
    assert.equal(object.metadata.creationTimestamp, '2025-06-01T12:00:00Z');
  });

  const failures: { name: string; method: string; path: string; body?: unknown; code: number; reason: string; message: string }[] = [
    { name: 'a missing pod is NotFound', method: 'GET', path: '/api/v1/namespaces/default/pods/nope', code: 404, reason: 'NotFound', message: 'pods "nope" not found' },
    { name: 'a missing deployment names its group', method: 'GET', path: '/apis/apps/v1/namespaces/default/deployments/nope', code: 404, reason: 'NotFound', message: 'deployments.apps "nope" not found' },
    { name: 'an unknown resource is NotFound', method: 'GET', path: '/api/v1/namespaces/default/widgets', code: 404, reason: 'NotFound', message: 'the server could not find the requested resource' },
    { name: 'creating an existing pod is AlreadyExists', method: 'POST', path: '/api/v1/namespaces/default/pods', body: pod('web'), code: 409, reason: 'AlreadyExists', message: 'pods "web" already exists' },
    {
      name: 'updating with a stale resourceVersion is a Conflict',
      method: 'PUT',
      path: '/api/v1/namespaces/default/pods/web',
      body: { ...pod('web'), metadata: { name: 'web', namespace: 'default', resourceVersion: '1' } },
      code: 409,
      reason: 'Conflict',
      message: 'Operation cannot be fulfilled on pods "web": the object has been modified; please apply your changes to the latest version and try again',
    },
    { name: 'creating in a missing namespace is NotFound', method: 'POST', path: '/api/v1/namespaces/ghost/configmaps', body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } }, code: 404, reason: 'NotFound', message: 'namespaces "ghost" not found' },
    {
      name: 'a body naming another namespace is a BadRequest',
      method: 'POST',
      path: '/api/v1/namespaces/kube-system/configmaps',
      body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', namespace: 'default' } },
      code: 400,
      reason: 'BadRequest',
      message: 'the namespace of the provided object does not match the namespace sent on the request',
    },
    ...['POST', 'PUT', 'PATCH', 'DELETE'].map((method) => ({
      name: `a ${method} of a namespaced resource across all namespaces is MethodNotAllowed, as kube-apiserver answers`,
      method,
      path: '/api/v1/secrets',
      body: { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'x', namespace: 'kube-system' } },
      code: 405,
      reason: 'MethodNotAllowed',
      message: 'the server does not allow this method on the requested resource',
    })),
    { name: 'an unsupported field selector is a BadRequest', method: 'GET', path: '/api/v1/namespaces/default/pods?fieldSelector=spec.foo%3Dbar', code: 400, reason: 'BadRequest', message: 'field label not supported: spec.foo' },
    {
      name: 'logs of a pod with two containers need a container name',
      method: 'GET',
      path: '/api/v1/namespaces/default/pods/two/log',
      code: 400,
      reason: 'BadRequest',
      message: 'a container name must be specified for pod two, choose one of: [a b]',
    },
  ];
  for (const c of failures) {
    test(c.name, async () => {
      const answer = await call(c.method, c.path, c.body !== undefined ? { body: c.body } : {});
      assert.equal(answer.status, c.code, answer.text);
      const status = answer.json();
      assert.equal(status.reason, c.reason);
      assert.equal(status.message, c.message);
    });
  }

  test('an object without a name is Invalid', async () => {
    const answer = await call('POST', '/api/v1/namespaces/default/configmaps', { body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: {} } });
    assert.equal(answer.status, 422);
    assert.equal(answer.json().message, 'ConfigMap "" is invalid: metadata.name: Required value: name or generateName is required');
  });
});

describe('lists and Tables', () => {
  const selections = [
    { name: 'selects by label equality', query: 'labelSelector=tier%3Dweb', names: ['web'] },
    { name: 'selects by label set', query: 'labelSelector=app%20in%20(web%2Cdb)', names: ['db', 'web'] },
    { name: 'selects by label absence', query: 'labelSelector=!tier', names: ['db', 'two'] },
    { name: 'selects by metadata.name', query: 'fieldSelector=metadata.name%3Ddb', names: ['db'] },
    { name: 'selects by negated metadata.name', query: 'fieldSelector=metadata.name!%3Ddb', names: ['two', 'web'] },
  ];
  for (const c of selections) {
    test(c.name, async () => {
      const list = (await call('GET', `/api/v1/namespaces/default/pods?${c.query}`)).json<{ kind: string; items: KubeObject[] }>();
      assert.equal(list.kind, 'PodList');
      assert.deepEqual(list.items.map((i) => i.metadata.name), c.names);
      assert.ok(list.items.every((i) => i.kind === undefined), 'list items carry no kind, as typed lists on the wire');
    });
  }

  test('pages with limit and continue', async () => {
    const first = (await call('GET', '/api/v1/namespaces/default/pods?limit=2')).json<{ items: KubeObject[]; metadata: { continue?: string; remainingItemCount?: number } }>();
    assert.deepEqual(first.items.map((i) => i.metadata.name), ['db', 'two']);
    assert.equal(first.metadata.remainingItemCount, 1);
    const rest = (await call('GET', `/api/v1/namespaces/default/pods?limit=2&continue=${first.metadata.continue ?? ''}`)).json<{ items: KubeObject[]; metadata: { continue?: string } }>();
    assert.deepEqual(rest.items.map((i) => i.metadata.name), ['web']);
    assert.equal(rest.metadata.continue, undefined);
  });

  const includes = [
    { name: 'Table rows embed PartialObjectMetadata by default', query: '', kind: 'PartialObjectMetadata' },
    { name: 'Table rows embed the whole object with includeObject=Object', query: '&includeObject=Object', kind: 'Secret' },
    { name: 'Table rows embed nothing with includeObject=None', query: '&includeObject=None', kind: undefined },
  ];
  for (const c of includes) {
    test(c.name, async () => {
      const answer = await call('GET', `/api/v1/namespaces/default/secrets?limit=500${c.query}`, { headers: { accept: TABLE } });
      assert.equal(answer.headers['content-type'], 'application/json;as=Table;v=v1;g=meta.k8s.io');
      const table = answer.json<{ kind: string; columnDefinitions: { name: string }[]; rows: { cells: unknown[]; object?: { kind: string } }[] }>();
      assert.equal(table.kind, 'Table');
      assert.deepEqual(table.columnDefinitions.map((d) => d.name), ['Name', 'Type', 'Data', 'Age']);
      assert.deepEqual(table.rows[0]?.cells, ['creds', 'Opaque', 1, '0s']);
      assert.equal(table.rows[0]?.object?.kind, c.kind);
    });
  }

  test('refuses an Accept it cannot serve', async () => {
    const answer = await call('GET', '/api/v1/namespaces/default/pods', { headers: { accept: 'application/vnd.kubernetes.protobuf' } });
    assert.equal(answer.status, 406);
    assert.equal(answer.json().reason, 'NotAcceptable');
  });
});

describe('patches', () => {
  const cases: { name: string; contentType: string; patch: unknown; expect: (object: KubeObject) => void }[] = [
    {
      name: 'merge patch replaces lists and deletes with null',
      contentType: 'application/merge-patch+json',
      patch: { metadata: { labels: { tier: null, patched: 'merge' } } },
      expect: (o) => assert.deepEqual(o.metadata.labels, { app: 'web', patched: 'merge' }),
    },
    {
      name: 'strategic merge patch merges containers by name',
      contentType: 'application/strategic-merge-patch+json',
      patch: { spec: { containers: [{ name: 'sidecar', image: 'proxy:1' }, { name: 'main', image: 'nginx:2' }] } },
      expect: (o) =>
        assert.deepEqual((o.spec as { containers: unknown[] }).containers, [
          { name: 'main', image: 'nginx:2' },
          { name: 'sidecar', image: 'proxy:1' },
        ]),
    },
    {
      name: 'strategic merge patch honours $patch: delete and $setElementOrder',
      contentType: 'application/strategic-merge-patch+json',
      patch: { spec: { '$setElementOrder/containers': [{ name: 'main' }], containers: [{ name: 'sidecar', $patch: 'delete' }] } },
      expect: (o) => assert.deepEqual((o.spec as { containers: unknown[] }).containers, [{ name: 'main', image: 'nginx:2' }]),
    },
    {
      name: 'JSON patch applies operations in order',
      contentType: 'application/json-patch+json',
      patch: [
        { op: 'add', path: '/metadata/annotations', value: { note: 'json' } },
        { op: 'replace', path: '/spec/containers/0/image', value: 'nginx:3' },
        { op: 'test', path: '/spec/containers/0/image', value: 'nginx:3' },
      ],
      expect: (o) => {
        assert.deepEqual(o.metadata.annotations, { note: 'json' });
        assert.equal((o.spec as { containers: { image: string }[] }).containers[0]?.image, 'nginx:3');
      },
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const before = api.store.get('pods', 'default', 'web');
      const answer = await call('PATCH', '/api/v1/namespaces/default/pods/web', { body: c.patch, headers: { 'content-type': c.contentType } });
      assert.equal(answer.status, 200, answer.text);
      const object = answer.json<KubeObject>();
      c.expect(object);
      assert.equal(object.metadata.uid, before?.metadata.uid);
      assert.ok(Number(object.metadata.resourceVersion) > Number(before?.metadata.resourceVersion));
    });
  }

  test('server-side apply creates a missing object', async () => {
    const answer = await call('PATCH', '/api/v1/namespaces/default/configmaps/applied?fieldManager=kubectl', {
      body: 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\ndata:\n  a: "1"\n',
      headers: { 'content-type': 'application/apply-patch+yaml' },
    });
    assert.equal(answer.status, 201, answer.text);
    assert.deepEqual(answer.json<KubeObject>().data, { a: '1' });
  });
});

describe('watch and logs', () => {
  test('a watch opens with the current objects, then carries changes as they happen', async () => {
    const stream = await openLineStream(`${api.url}/api/v1/namespaces/default/pods?watch=true&labelSelector=app%3Dworker`, {
      ca: api.caPem,
      headers: { authorization: `Bearer ${api.token}`, ...AS_ALICE },
    });
    try {
      assert.equal(stream.status, 200);
      api.store.put(pod('worker', { metadata: { name: 'worker', namespace: 'default', labels: { app: 'worker' } } }));
      const added = JSON.parse(await stream.next()) as { type: string; object: KubeObject };
      assert.equal(added.type, 'ADDED');
      assert.equal(added.object.metadata.name, 'worker');
      api.store.put(pod('worker', { metadata: { name: 'worker', namespace: 'default', labels: { app: 'worker', v: '2' } } }));
      assert.equal((JSON.parse(await stream.next()) as { type: string }).type, 'MODIFIED');
      api.store.put(pod('worker', { metadata: { name: 'worker', namespace: 'default', labels: { app: 'moved' } } }));
      assert.equal((JSON.parse(await stream.next()) as { type: string }).type, 'DELETED', 'leaving the selector reads as DELETED');
    } finally {
      stream.close();
    }
  });

  test('a watch from a resourceVersion replays what happened after it, and timeoutSeconds ends it', async () => {
    const rv = api.store.resourceVersion();
    api.store.put({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'later', namespace: 'default' }, data: {} });
    const stream = await openLineStream(`${api.url}/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=${rv}&timeoutSeconds=1`, {
      ca: api.caPem,
      headers: { authorization: `Bearer ${api.token}`, ...AS_ALICE },
    });
    const event = JSON.parse(await stream.next()) as { type: string; object: KubeObject };
    assert.equal(event.type, 'ADDED');
    assert.equal(event.object.metadata.name, 'later');
    await stream.ended;
  });

  test('a Table watch sends the column definitions only with the first event', async () => {
    const stream = await openLineStream(`${api.url}/api/v1/namespaces/default/pods?watch=true`, {
      ca: api.caPem,
      headers: { authorization: `Bearer ${api.token}`, accept: TABLE, ...AS_ALICE },
    });
    try {
      const first = JSON.parse(await stream.next()) as { object: { kind: string; columnDefinitions: unknown[] | null } };
      const second = JSON.parse(await stream.next()) as { object: { kind: string; columnDefinitions: unknown[] | null } };
      assert.equal(first.object.kind, 'Table');
      assert.ok((first.object.columnDefinitions ?? []).length > 0);
      assert.equal(second.object.columnDefinitions, null);
    } finally {
      stream.close();
    }
  });

  test('logs -f carries new lines and ends when the pod goes away', async () => {
    api.store.put(pod('chatty'));
    api.store.appendLog('default', 'chatty', 'one');
    const stream = await openLineStream(`${api.url}/api/v1/namespaces/default/pods/chatty/log?follow=true`, {
      ca: api.caPem,
      headers: { authorization: `Bearer ${api.token}`, ...AS_ALICE },
    });
    assert.equal(await stream.next(), 'one');
    api.store.appendLog('default', 'chatty', 'two');
    assert.equal(await stream.next(), 'two');
    api.store.remove('pods', 'default', 'chatty');
    await stream.ended;
  });

  test('deleting a namespace shows it Terminating, then removes it and its contents', async () => {
    api.store.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'doomed' } });
    api.store.put({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'inside', namespace: 'doomed' } });
    const answer = await call('DELETE', '/api/v1/namespaces/doomed');
    assert.equal(answer.status, 200);
    assert.equal((answer.json<KubeObject>().status as { phase: string }).phase, 'Terminating');
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(api.store.get('namespaces', '', 'doomed'), undefined);
    assert.equal(api.store.get('configmaps', 'doomed', 'inside'), undefined);
  });
});
