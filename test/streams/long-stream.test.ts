/** Which calls the per-user cap counts as long streams, read as the API server reads them. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyRequest } from '../../src/request-info.ts';
import { describeStream, longStreamKind } from '../../src/streams/long-stream.ts';

const CASES: { name: string; method: string; path: string; query?: string; kind: string | undefined; words?: string }[] = [
  { name: 'a watch by query is a watch', method: 'GET', path: '/api/v1/namespaces/dev/pods', query: 'watch=true', kind: 'watch', words: 'watch pods in namespace "dev"' },
  { name: 'a watch under the legacy /watch/ prefix is a watch', method: 'GET', path: '/api/v1/watch/namespaces/dev/pods', kind: 'watch' },
  { name: 'a watch of one object by field selector names it', method: 'GET', path: '/api/v1/namespaces/dev/secrets', query: 'watch=1&fieldSelector=metadata.name%3Ddb', kind: 'watch', words: 'watch secrets "db" in namespace "dev"' },
  { name: 'a list is not a stream', method: 'GET', path: '/api/v1/namespaces/dev/pods', kind: undefined },
  { name: 'watch=false is a list', method: 'GET', path: '/api/v1/namespaces/dev/pods', query: 'watch=false', kind: undefined },
  { name: 'logs with follow=true is logs -f', method: 'GET', path: '/api/v1/namespaces/dev/pods/web/log', query: 'follow=true&container=main', kind: 'logs -f', words: 'logs -f pod "web" in namespace "dev"' },
  { name: 'follow=1 is true as Go reads it', method: 'GET', path: '/api/v1/namespaces/dev/pods/web/log', query: 'follow=1', kind: 'logs -f' },
  { name: 'a second follow=true behind a false one still counts', method: 'GET', path: '/api/v1/namespaces/dev/pods/web/log', query: 'follow=false&follow=true', kind: 'logs -f' },
  { name: 'logs without follow answer and end', method: 'GET', path: '/api/v1/namespaces/dev/pods/web/log', query: 'tailLines=10', kind: undefined },
  { name: 'exec is a tunnel', method: 'POST', path: '/api/v1/namespaces/dev/pods/web/exec', query: 'command=sh', kind: 'exec', words: 'exec pod "web" in namespace "dev"' },
  { name: 'attach is a tunnel', method: 'GET', path: '/api/v1/namespaces/dev/pods/web/attach', kind: 'attach' },
  { name: 'port-forward is a tunnel', method: 'GET', path: '/api/v1/namespaces/dev/pods/web/portforward', kind: 'port-forward' },
  { name: 'a log subresource of another group is not a pod log', method: 'GET', path: '/apis/example.com/v1/namespaces/dev/pods/web/log', query: 'follow=true', kind: undefined },
  { name: 'a non-resource path is not a stream', method: 'GET', path: '/healthz', query: 'watch=true', kind: undefined },
];

describe('long streams', () => {
  for (const c of CASES) {
    test(c.name, () => {
      const query = c.query ?? '';
      const request = classifyRequest(c.method, c.path, query, { runtime: 'node' });
      const kind = longStreamKind(request, query);
      assert.equal(kind, c.kind);
      if (c.words !== undefined && kind !== undefined) assert.equal(describeStream(kind, request), c.words);
    });
  }
});
