import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalQuery, requestFingerprint, sha256Hex } from '../../src/approvals/fingerprint.ts';
import type { FingerprintInput } from '../../src/approvals/fingerprint.ts';

const base: FingerprintInput = {
  user: 'alice@example.com',
  cluster: 'prod-eu',
  method: 'DELETE',
  contentType: 'application/json',
  verb: 'delete',
  apiGroup: '',
  resource: 'pods',
  subresource: '',
  namespace: 'prod',
  name: 'web-1',
  path: '/api/v1/namespaces/prod/pods/web-1',
  query: 'dryRun=All&gracePeriodSeconds=0',
  bodySha256: sha256Hex('{"propagationPolicy":"Background"}'),
};

describe('request fingerprint', () => {
  test('a request made as oneself keeps the fingerprint it had before impersonation was bound (stored approvals stay valid)', () => {
    assert.equal(requestFingerprint(base), 'e7368fb3aadd0ec1f4fb48dd0cbcab334d955e31af745f1d58d1292a4c8a7f0a');
  });
  test('who acted as the user is bound: carol and dave acting as alice are two requests', () => {
    assert.notEqual(requestFingerprint({ ...base, impersonator: 'carol@example.com' }), requestFingerprint({ ...base, impersonator: 'dave@example.com' }));
  });

  const differs: [string, Partial<FingerprintInput>][] = [
    ['another user gives another fingerprint', { user: 'bob@example.com' }],
    ['the same request on another cluster gives another fingerprint', { cluster: 'prod-us' }],
    ['another verb gives another fingerprint', { verb: 'get' }],
    ['another API group gives another fingerprint', { apiGroup: 'apps' }],
    ['another resource gives another fingerprint', { resource: 'services' }],
    ['a subresource gives another fingerprint', { subresource: 'exec' }],
    ['another namespace gives another fingerprint', { namespace: 'dev' }],
    ['another name gives another fingerprint', { name: 'web-2' }],
    ['another raw path (same meaning, other spelling) gives another fingerprint', { path: '/api/v1/namespaces/prod/pods/web%2D1' }],
    ['a changed query value gives another fingerprint', { query: 'dryRun=All&gracePeriodSeconds=30' }],
    ['a dropped query parameter gives another fingerprint', { query: 'gracePeriodSeconds=0' }],
    ['a changed body gives another fingerprint', { bodySha256: sha256Hex('{"propagationPolicy":"Orphan"}') }],
    ['no body differs from an empty JSON body', { bodySha256: '' }],
    ['the same bytes as a strategic-merge patch are not the merge patch approved', { contentType: 'application/strategic-merge-patch+json' }],
    ['a POST is not the HEAD approved on the same URL', { method: 'HEAD' }],
    ['the same request made as alice by carol (kubectl --as) is not alice\'s own', { impersonator: 'carol@example.com' }],
    ['repeated values in the other order are another request (the server reads the first)', { query: 'dryRun=All&gracePeriodSeconds=0&gracePeriodSeconds=30' }],
  ];
  const same: [string, Partial<FingerprintInput>][] = [
    ['query parameters in another order give the same fingerprint', { query: 'gracePeriodSeconds=0&dryRun=All' }],
    ['a different timeout gives the same fingerprint', { query: 'dryRun=All&timeout=32s&gracePeriodSeconds=0' }],
    ['a different resourceVersion gives the same fingerprint', { query: 'resourceVersion=123&dryRun=All&gracePeriodSeconds=0' }],
    ['a content type spelt with other case and blanks gives the same fingerprint', { contentType: 'Application/JSON ' }],
    ['a method in lower case gives the same fingerprint', { method: 'delete' }],
  ];
  const forceFirst: FingerprintInput = { ...base, query: 'force=false&force=true' };
  const adversarial: [string, Partial<FingerprintInput>][] = [
    ['force=true first does not ride on an approval of force=false first', { query: 'force=true&force=false' }],
    ['an encoded key is the same key: %66orce=true first is not force=false first', { query: '%66orce=true&force=false' }],
    ['propagationPolicy read first-value cannot be swapped', { query: 'force=false&force=true&propagationPolicy=Orphan' }],
  ];

  /** Each change is made to `from`: the result is another request, or the same one. */
  const rows = [
    ...differs.map(([name, change]) => ({ name, change, from: base, same: false })),
    ...same.map(([name, change]) => ({ name, change, from: base, same: true })),
    ...adversarial.map(([name, change]) => ({ name, change, from: forceFirst, same: false })),
  ];
  for (const row of rows) {
    test(row.name, () => {
      const changed = requestFingerprint({ ...row.from, ...row.change });
      if (row.same) assert.equal(changed, requestFingerprint(row.from));
      else assert.notEqual(changed, requestFingerprint(row.from));
    });
  }

  test('is a SHA-256 hex digest', () => {
    assert.match(requestFingerprint(base), /^[0-9a-f]{64}$/);
  });

  test('fields cannot run into each other (name "a/b" is not namespace "a" + name "b")', () => {
    assert.notEqual(
      requestFingerprint({ ...base, namespace: 'a', name: 'b' }),
      requestFingerprint({ ...base, namespace: 'a/b', name: '' }),
    );
  });
});

describe('canonical query', () => {
  const cases: [string, string, string[]][] = [
    ['an empty query has no pairs', '', []],
    ['pairs are ordered by key and volatile keys dropped', 'b=2&timeoutSeconds=5&a=1', ['a=1', 'b=2']],
    ['an encoded volatile key is dropped too', 'time%6Fut=5s&a=1', ['a=1']],
    ['values stay raw (never decoded)', 'fieldSelector=metadata.name%3Dweb', ['fieldSelector=metadata.name%3Dweb']],
    ['repeated keys are all kept, in the order they came', 'a=2&a=1', ['a=2', 'a=1']],
    ['an encoded spelling of a key stays in line with its plain twins', 'force=false&b=1&%66orce=true', ['b=1', 'force=false', '%66orce=true']],
    ['an undecodable key is kept as sent', '%zz=1', ['%zz=1']],
  ];
  for (const [name, query, expected] of cases) {
    test(name, () => assert.deepEqual(canonicalQuery(query), expected));
  }
});
