// The stand-in answers as kube-apiserver does when a client asks for something other than
// JSON: YAML, protobuf and CBOR objects, lists, Tables and watches, and any watch over
// WebSocket. Each case checks the Secret's value is on the wire in that form — the form a
// masking test must then never see through Gatehouse.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startFakeApiServer, type FakeApiServer } from './apiserver.ts';
import { rawRequest, websocketMessages } from '../support/raw-https.ts';
import { request } from '../support/https-client.ts';

const VALUE = 'stand-in-secret-value';
const BASE64 = Buffer.from(VALUE).toString('base64');
const TABLE_ACCEPT = (type: string): string => `${type};as=Table;v=v1;g=meta.k8s.io`;

let api: FakeApiServer;
before(async () => {
  api = await startFakeApiServer();
  api.store.put({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'db', namespace: 'default' }, data: { password: BASE64 }, type: 'Opaque' });
});
after(() => api.close());

function get(path: string, accept: string): Promise<{ status: number; type: string; bytes: Buffer }> {
  const lines = [`GET ${path} HTTP/1.1`, 'Host: stand-in', `Authorization: Bearer ${api.token}`, 'Impersonate-User: alice', `Accept: ${accept}`, 'Connection: close'];
  return rawRequest(api.url, api.caPem, lines).then((r) => ({ status: r.status, type: r.headers['content-type'] ?? '', bytes: r.bytes }));
}

describe('the stand-in answers in the media type asked', () => {
  const cases: { name: string; path: string; accept: string; type: string; holds: string }[] = [
    { name: 'a Secret in YAML carries the base64 value', path: '/api/v1/namespaces/default/secrets/db', accept: 'application/yaml', type: 'application/yaml', holds: BASE64 },
    { name: 'a Secret in protobuf carries the raw value', path: '/api/v1/namespaces/default/secrets/db', accept: 'application/vnd.kubernetes.protobuf', type: 'application/vnd.kubernetes.protobuf', holds: VALUE },
    { name: 'a Secret list in protobuf carries the raw value', path: '/api/v1/namespaces/default/secrets', accept: 'application/vnd.kubernetes.protobuf, application/json', type: 'application/vnd.kubernetes.protobuf', holds: VALUE },
    { name: 'a Secret in CBOR carries the raw value as a byte string', path: '/api/v1/namespaces/default/secrets/db', accept: 'application/cbor', type: 'application/cbor', holds: VALUE },
    { name: 'a Secret list in CBOR carries the raw value', path: '/api/v1/secrets', accept: 'application/cbor', type: 'application/cbor', holds: VALUE },
    { name: 'a Table with objects in protobuf carries the base64 value', path: '/api/v1/namespaces/default/secrets?includeObject=Object', accept: TABLE_ACCEPT('application/vnd.kubernetes.protobuf'), type: TABLE_ACCEPT('application/vnd.kubernetes.protobuf'), holds: BASE64 },
    { name: 'a Table with objects in CBOR carries the raw value', path: '/api/v1/namespaces/default/secrets?includeObject=Object', accept: TABLE_ACCEPT('application/cbor'), type: TABLE_ACCEPT('application/cbor'), holds: VALUE },
    { name: 'a watch in protobuf carries the raw value', path: '/api/v1/namespaces/default/secrets?watch=true&timeoutSeconds=1', accept: 'application/vnd.kubernetes.protobuf;stream=watch', type: 'application/vnd.kubernetes.protobuf;stream=watch', holds: VALUE },
    { name: 'a watch in CBOR is a CBOR sequence carrying the raw value', path: '/api/v1/namespaces/default/secrets?watch=true&timeoutSeconds=1', accept: 'application/cbor-seq', type: 'application/cbor-seq', holds: VALUE },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const reply = await get(c.path, c.accept);
      assert.equal(reply.status, 200);
      assert.equal(reply.type, c.type);
      assert.ok(reply.bytes.includes(Buffer.from(c.holds)), `${c.holds} in ${reply.bytes.toString('latin1').slice(0, 300)}`);
    });
  }

  test('a protobuf Secret starts with the k8s envelope and names its kind', async () => {
    const reply = await get('/api/v1/namespaces/default/secrets/db', 'application/vnd.kubernetes.protobuf');
    assert.deepEqual([...reply.bytes.subarray(0, 4)], [0x6b, 0x38, 0x73, 0x00]);
    assert.ok(reply.bytes.includes(Buffer.from('Secret')));
  });

  test('a CBOR answer starts with the self-described CBOR tag', async () => {
    const reply = await get('/api/v1/namespaces/default/secrets/db', 'application/cbor');
    assert.deepEqual([...reply.bytes.subarray(0, 3)], [0xd9, 0xd9, 0xf7]);
  });

  test('protobuf is not offered for a kind the stand-in does not encode (as for custom resources): the next type wins', async () => {
    const reply = await get('/api/v1/namespaces', 'application/vnd.kubernetes.protobuf, application/json');
    assert.equal(reply.type, 'application/json');
  });

  test('a watch in YAML only is not acceptable (406)', async () => {
    const reply = await get('/api/v1/namespaces/default/secrets?watch=true', 'application/yaml');
    assert.equal(reply.status, 406);
  });

  test('the stand-in adopts a request Audit-ID as its own', async () => {
    const reply = await request(`${api.url}/api/v1/namespaces/default/secrets/db`, {
      ca: api.caPem,
      headers: { authorization: `Bearer ${api.token}`, 'impersonate-user': 'alice', 'audit-id': 'gatehouse-id-1' },
    });
    assert.equal(reply.headers['audit-id'], 'gatehouse-id-1');
  });
});

describe('the stand-in serves any watch over WebSocket', () => {
  const upgrade = (protocol: string | undefined, origin = true): string[] => [
    'GET /api/v1/namespaces/default/secrets?watch=true HTTP/1.1',
    'Host: stand-in',
    `Authorization: Bearer ${api.token}`,
    'Impersonate-User: alice',
    'Connection: Upgrade',
    'Upgrade: websocket',
    'Sec-WebSocket-Version: 13',
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
    ...(protocol === undefined ? [] : [`Sec-WebSocket-Protocol: ${protocol}`]),
    ...(origin ? ['Origin: https://stand-in'] : []),
  ];
  const hasEvent = (bytes: Buffer): boolean => websocketMessages(bytes.subarray(bytes.indexOf('\r\n\r\n') + 4)).length > 0;

  test('base64.binary.k8s.io: 101, then each event a text message of its base64', async () => {
    const reply = await rawRequest(api.url, api.caPem, upgrade('base64.binary.k8s.io'), '', { until: hasEvent });
    assert.equal(reply.status, 101);
    assert.equal(reply.headers['sec-websocket-protocol'], 'base64.binary.k8s.io');
    const [message] = websocketMessages(reply.bytes);
    assert.equal(message?.opcode, 0x1);
    const event = JSON.parse(Buffer.from(message?.payload.toString() ?? '', 'base64').toString()) as { type: string; object: { data: { password: string } } };
    assert.deepEqual([event.type, event.object.data.password], ['ADDED', BASE64]);
  });

  test('binary.k8s.io: 101, then each event a binary message of JSON', async () => {
    const reply = await rawRequest(api.url, api.caPem, upgrade('binary.k8s.io'), '', { until: hasEvent });
    assert.equal(reply.status, 101);
    const [message] = websocketMessages(reply.bytes);
    assert.equal(message?.opcode, 0x2);
    assert.ok(message?.payload.includes(Buffer.from(BASE64)));
  });

  test('a watch upgrade without Origin is refused (403)', async () => {
    const reply = await rawRequest(api.url, api.caPem, upgrade('binary.k8s.io', false));
    assert.equal(reply.status, 403);
  });
});
