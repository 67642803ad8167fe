import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { needsIntent } from '../../src/records/build.ts';
import { datesBetween, objectKey, parseS3Url, partitionDate, unclusteredKey } from '../../src/records/layout.ts';
import { classifyRequest } from '../../src/request-info.ts';

describe('needsIntent', () => {
  const cases: [string, string, boolean][] = [
    ['GET', '/api/v1/namespaces/default/pods', false],
    ['GET', '/api/v1/namespaces/default/pods?watch=true', false],
    ['HEAD', '/version', false],
    ['GET', '/api/v1/namespaces/default/pods/web/log?follow=true', false],
    ['POST', '/api/v1/namespaces/default/secrets', true],
    ['PUT', '/api/v1/namespaces/default/configmaps/a', true],
    ['PATCH', '/apis/apps/v1/namespaces/default/deployments/web/scale', true],
    ['DELETE', '/api/v1/namespaces/default/pods/web', true],
    ['DELETE', '/api/v1/namespaces/default/pods', true],
    ['POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', true],
    ['GET', '/api/v1/namespaces/default/pods/web/exec?command=sh', true],
    ['GET', '/api/v1/namespaces/default/pods/web/attach?stdin=true', true],
    ['GET', '/api/v1/namespaces/default/pods/web/portforward?ports=80', true],
  ];
  for (const [method, target, expected] of cases) {
    test(`${expected ? 'needs' : 'does not need'} a record of intent for ${method} ${target}`, () => {
      const [path, query] = target.split('?') as [string, string | undefined];
      assert.equal(needsIntent(method, classifyRequest(method, path, query ?? '', { runtime: 'node' })), expected);
    });
  }
});

describe('layout', () => {
  test('partitions by the UTC date a call started', () => {
    assert.equal(partitionDate('2025-03-01T23:59:59.999Z'), '2025-03-01');
    assert.throws(() => partitionDate('March 1st'), { message: 'not an ISO 8601 UTC time: "March 1st"' });
  });
  test('names objects by write time under their partition', () => {
    assert.equal(objectKey('records/', 'prod', '2025-03-01', Date.parse('2025-03-02T01:02:03.004Z'), 'u'), 'records/cluster=prod/dt=2025-03-01/20250302T010203.004Z-u.jsonl.gz');
  });
  const unclustered: { name: string; prefix: string; key: string; expected: { date: string; file: string } | undefined }[] = [
    { name: 'reads the day and file name of a key of the layout before clusters', prefix: 'records/', key: 'records/dt=2025-03-01/20250301T120000.000Z-u.jsonl.gz', expected: { date: '2025-03-01', file: '20250301T120000.000Z-u.jsonl.gz' } },
    { name: 'reads a key under an empty prefix', prefix: '', key: 'dt=2025-03-01/x.jsonl.gz', expected: { date: '2025-03-01', file: 'x.jsonl.gz' } },
    { name: 'does not take a key already under a cluster', prefix: 'records/', key: 'records/cluster=prod/dt=2025-03-01/x.jsonl.gz', expected: undefined },
    { name: 'does not take a key outside the prefix', prefix: 'records/', key: 'other/dt=2025-03-01/x.jsonl.gz', expected: undefined },
    { name: 'does not take a file that is no records object', prefix: 'records/', key: 'records/dt=2025-03-01/README.txt', expected: undefined },
    { name: 'does not take a key in a folder below the day', prefix: 'records/', key: 'records/dt=2025-03-01/a/x.jsonl.gz', expected: undefined },
  ];
  for (const c of unclustered) {
    test(c.name, () => assert.deepEqual(unclusteredKey(c.prefix, c.key), c.expected));
  }
  test('spans the dates between two days inclusive', () => {
    assert.deepEqual(datesBetween('2025-02-27', '2025-03-02'), ['2025-02-27', '2025-02-28', '2025-03-01', '2025-03-02']);
    assert.deepEqual(datesBetween('2025-03-02', '2025-03-01'), []);
  });
  test('reads s3:// locations', () => {
    assert.deepEqual(parseS3Url('s3://my-bucket/records/'), { bucket: 'my-bucket', prefix: 'records/' });
    assert.deepEqual(parseS3Url('s3://my-bucket/a/b'), { bucket: 'my-bucket', prefix: 'a/b/' });
    assert.deepEqual(parseS3Url('s3://my-bucket'), { bucket: 'my-bucket', prefix: '' });
    assert.throws(() => parseS3Url('https://my-bucket/x'), { message: 'not an S3 location: "https://my-bucket/x" (expected s3://bucket/prefix/)' });
  });
});
