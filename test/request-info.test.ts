import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyRequest, nonResourceRequest as nonResource } from '../src/request-info.ts';
import { GatehouseError, type ErrorCode } from '../src/errors.ts';
import type { KubeRequest, StreamTarget } from '../src/types.ts';

const node = { runtime: 'node' } as const;

function resource(fields: Partial<KubeRequest> & Pick<KubeRequest, 'path' | 'verb'>): KubeRequest {
  return {
    cluster: '',
    isResourceRequest: true,
    apiPrefix: 'api',
    apiGroup: '',
    apiVersion: 'v1',
    namespace: '',
    resource: '',
    subresource: '',
    name: '',
    parts: [],
    fieldSelector: '',
    labelSelector: '',
    ...fields,
  };
}

/** A pods/exec, attach or portforward call on pod web-1 in prod: `create` whatever the method, and what it asks the stream for. */
function podStream(stream: Partial<StreamTarget> & Pick<StreamTarget, 'kind'>): KubeRequest {
  return resource({
    path: `/api/v1/namespaces/prod/pods/web-1/${stream.kind}`,
    verb: 'create',
    namespace: 'prod',
    resource: 'pods',
    subresource: stream.kind,
    name: 'web-1',
    parts: ['pods', 'web-1', stream.kind],
    stream: { command: [], container: '', stdin: false, tty: false, ports: [], ...stream },
  });
}

interface Case {
  name: string;
  method: string;
  path: string;
  query?: string;
  expected: KubeRequest;
}

const cases: Case[] = [
  // core group vs named groups
  {
    name: 'lists namespaces in the core group',
    method: 'GET',
    path: '/api/v1/namespaces',
    expected: resource({ path: '/api/v1/namespaces', verb: 'list', resource: 'namespaces', parts: ['namespaces'] }),
  },
  {
    name: 'gets a namespace, which is its own namespace',
    method: 'GET',
    path: '/api/v1/namespaces/other',
    expected: resource({ path: '/api/v1/namespaces/other', verb: 'get', namespace: 'other', resource: 'namespaces', name: 'other', parts: ['namespaces', 'other'] }),
  },
  {
    name: 'lists pods in a namespace',
    method: 'GET',
    path: '/api/v1/namespaces/other/pods',
    expected: resource({ path: '/api/v1/namespaces/other/pods', verb: 'list', namespace: 'other', resource: 'pods', parts: ['pods'] }),
  },
  {
    name: 'gets a pod by name',
    method: 'GET',
    path: '/api/v1/namespaces/other/pods/foo',
    expected: resource({ path: '/api/v1/namespaces/other/pods/foo', verb: 'get', namespace: 'other', resource: 'pods', name: 'foo', parts: ['pods', 'foo'] }),
  },
  {
    name: 'reads HEAD on a named object as get',
    method: 'HEAD',
    path: '/api/v1/namespaces/other/pods/foo',
    expected: resource({ path: '/api/v1/namespaces/other/pods/foo', verb: 'get', namespace: 'other', resource: 'pods', name: 'foo', parts: ['pods', 'foo'] }),
  },
  {
    name: 'reads HEAD on a collection as list',
    method: 'HEAD',
    path: '/api/v1/pods',
    expected: resource({ path: '/api/v1/pods', verb: 'list', resource: 'pods', parts: ['pods'] }),
  },
  {
    name: 'lists pods across all namespaces with an empty namespace',
    method: 'GET',
    path: '/api/v1/pods',
    expected: resource({ path: '/api/v1/pods', verb: 'list', resource: 'pods', parts: ['pods'] }),
  },
  {
    name: 'reads the group and version of a named group',
    method: 'POST',
    path: '/apis/apps/v1/namespaces/other/deployments',
    expected: resource({ path: '/apis/apps/v1/namespaces/other/deployments', verb: 'create', apiPrefix: 'apis', apiGroup: 'apps', namespace: 'other', resource: 'deployments', parts: ['deployments'] }),
  },
  {
    name: 'reads a beta version of a named group',
    method: 'POST',
    path: '/apis/extensions/v1beta3/namespaces/other/pods',
    expected: resource({ path: '/apis/extensions/v1beta3/namespaces/other/pods', verb: 'create', apiPrefix: 'apis', apiGroup: 'extensions', apiVersion: 'v1beta3', namespace: 'other', resource: 'pods', parts: ['pods'] }),
  },
  // verbs from methods
  {
    name: 'reads PUT as update',
    method: 'PUT',
    path: '/api/v1/namespaces/other/pods/foo',
    expected: resource({ path: '/api/v1/namespaces/other/pods/foo', verb: 'update', namespace: 'other', resource: 'pods', name: 'foo', parts: ['pods', 'foo'] }),
  },
  {
    name: 'reads PATCH as patch',
    method: 'PATCH',
    path: '/api/v1/namespaces/new-namespace',
    expected: resource({ path: '/api/v1/namespaces/new-namespace', verb: 'patch', namespace: 'new-namespace', resource: 'namespaces', name: 'new-namespace', parts: ['namespaces', 'new-namespace'] }),
  },
  {
    name: 'reads DELETE of a named object as delete',
    method: 'DELETE',
    path: '/api/v1/namespaces/other/pods/foo',
    expected: resource({ path: '/api/v1/namespaces/other/pods/foo', verb: 'delete', namespace: 'other', resource: 'pods', name: 'foo', parts: ['pods', 'foo'] }),
  },
  {
    name: 'reads an unknown method on a resource as the empty verb',
    method: 'OPTIONS',
    path: '/api/v1/namespaces/other/pods/foo',
    expected: resource({ path: '/api/v1/namespaces/other/pods/foo', verb: '', namespace: 'other', resource: 'pods', name: 'foo', parts: ['pods', 'foo'] }),
  },
  // deletecollection
  {
    name: 'reads DELETE of a cluster-scoped collection as deletecollection',
    method: 'DELETE',
    path: '/api/v1/nodes',
    expected: resource({ path: '/api/v1/nodes', verb: 'deletecollection', resource: 'nodes', parts: ['nodes'] }),
  },
  {
    name: 'reads DELETE of a namespaced collection as deletecollection with its selectors',
    method: 'DELETE',
    path: '/apis/batch/v1/namespaces/other/jobs',
    query: 'fieldSelector=foo%3Dbar&labelSelector=baz%3Dqux',
    expected: resource({ path: '/apis/batch/v1/namespaces/other/jobs', verb: 'deletecollection', apiPrefix: 'apis', apiGroup: 'batch', namespace: 'other', resource: 'jobs', parts: ['jobs'], fieldSelector: 'foo=bar', labelSelector: 'baz=qux' }),
  },
  // list vs watch
  {
    name: 'reads watch=true as watch',
    method: 'GET',
    path: '/api/v1/pods',
    query: 'watch=true',
    expected: resource({ path: '/api/v1/pods', verb: 'watch', resource: 'pods', parts: ['pods'] }),
  },
  {
    name: 'reads watch=1 as watch',
    method: 'GET',
    path: '/api/v1/namespaces/other/pods',
    query: 'watch=1',
    expected: resource({ path: '/api/v1/namespaces/other/pods', verb: 'watch', namespace: 'other', resource: 'pods', parts: ['pods'] }),
  },
  {
    name: 'reads an empty watch value as watch',
    method: 'GET',
    path: '/api/v1/pods',
    query: 'watch',
    expected: resource({ path: '/api/v1/pods', verb: 'watch', resource: 'pods', parts: ['pods'] }),
  },
  {
    name: 'reads watch=false as list',
    method: 'GET',
    path: '/api/v1/pods',
    query: 'watch=false',
    expected: resource({ path: '/api/v1/pods', verb: 'list', resource: 'pods', parts: ['pods'] }),
  },
  {
    name: 'reads watch=FALSE as list (case-insensitive)',
    method: 'GET',
    path: '/api/v1/pods',
    query: 'watch=FALSE',
    expected: resource({ path: '/api/v1/pods', verb: 'list', resource: 'pods', parts: ['pods'] }),
  },
  {
    name: 'reads watch=0 as list',
    method: 'GET',
    path: '/api/v1/namespaces/other/pods',
    query: 'watch=0',
    expected: resource({ path: '/api/v1/namespaces/other/pods', verb: 'list', namespace: 'other', resource: 'pods', parts: ['pods'] }),
  },
  {
    name: 'takes the first of repeated watch values, as Go does',
    method: 'GET',
    path: '/api/v1/pods',
    query: 'watch=false&watch=true',
    expected: resource({ path: '/api/v1/pods', verb: 'list', resource: 'pods', parts: ['pods'] }),
  },
  {
    name: 'drops a watch pair with a bad escape, as Go does',
    method: 'GET',
    path: '/api/v1/pods',
    query: 'watch=%zz&watch=1',
    expected: resource({ path: '/api/v1/pods', verb: 'watch', resource: 'pods', parts: ['pods'] }),
  },
  {
    name: 'ignores watch on a named object',
    method: 'GET',
    path: '/api/v1/namespaces/other/pods/foo',
    query: 'watch=true',
    expected: resource({ path: '/api/v1/namespaces/other/pods/foo', verb: 'get', namespace: 'other', resource: 'pods', name: 'foo', parts: ['pods', 'foo'] }),
  },
  {
    name: 'reads the legacy /watch/ prefix as watch',
    method: 'GET',
    path: '/api/v1/watch/pods',
    expected: resource({ path: '/api/v1/watch/pods', verb: 'watch', resource: 'pods', parts: ['pods'] }),
  },
  {
    name: 'reads the legacy /watch/ prefix in a namespace as watch',
    method: 'GET',
    path: '/api/v1/watch/namespaces/other/pods',
    expected: resource({ path: '/api/v1/watch/namespaces/other/pods', verb: 'watch', namespace: 'other', resource: 'pods', parts: ['pods'] }),
  },
  {
    name: 'does not read selectors on the legacy /watch/ prefix',
    method: 'GET',
    path: '/apis/group/version/watch/resource',
    query: 'fieldSelector=metadata.name%3Dfoo&labelSelector=foo%3Dbar',
    expected: resource({ path: '/apis/group/version/watch/resource', verb: 'watch', apiPrefix: 'apis', apiGroup: 'group', apiVersion: 'version', resource: 'resource', parts: ['resource'] }),
  },
  {
    name: 'reads a legacy /watch/ of one object by its path name',
    method: 'GET',
    path: '/apis/group/version/watch/resource/name',
    query: 'fieldSelector=metadata.name%3Dfoo',
    expected: resource({ path: '/apis/group/version/watch/resource/name', verb: 'watch', apiPrefix: 'apis', apiGroup: 'group', apiVersion: 'version', resource: 'resource', name: 'name', parts: ['resource', 'name'] }),
  },
  // proxy
  {
    name: 'reads the /proxy/ prefix as the proxy verb',
    method: 'GET',
    path: '/api/v1/proxy/namespaces/other/pods/foo',
    expected: resource({ path: '/api/v1/proxy/namespaces/other/pods/foo', verb: 'proxy', namespace: 'other', resource: 'pods', name: 'foo', parts: ['pods', 'foo'] }),
  },
  {
    name: 'gives the proxy verb no subresource, whatever follows the name',
    method: 'GET',
    path: '/api/v1/proxy/namespaces/other/pods/foo/subpath/not/a/subresource',
    expected: resource({ path: '/api/v1/proxy/namespaces/other/pods/foo/subpath/not/a/subresource', verb: 'proxy', namespace: 'other', resource: 'pods', name: 'foo', parts: ['pods', 'foo', 'subpath', 'not', 'a', 'subresource'] }),
  },
  // subresources
  {
    name: 'reads a status subresource',
    method: 'GET',
    path: '/api/v1/namespaces/other/pods/foo/status',
    expected: resource({ path: '/api/v1/namespaces/other/pods/foo/status', verb: 'get', namespace: 'other', resource: 'pods', subresource: 'status', name: 'foo', parts: ['pods', 'foo', 'status'] }),
  },
  {
    name: 'reads the proxy subresource of a pod as a subresource',
    method: 'GET',
    path: '/api/v1/namespaces/other/pods/foo/proxy/subpath',
    expected: resource({ path: '/api/v1/namespaces/other/pods/foo/proxy/subpath', verb: 'get', namespace: 'other', resource: 'pods', subresource: 'proxy', name: 'foo', parts: ['pods', 'foo', 'proxy', 'subpath'] }),
  },
  {
    name: 'reads the log subresource of a pod',
    method: 'GET',
    path: '/api/v1/namespaces/other/pods/foo/log',
    query: 'follow=true',
    expected: resource({ path: '/api/v1/namespaces/other/pods/foo/log', verb: 'get', namespace: 'other', resource: 'pods', subresource: 'log', name: 'foo', parts: ['pods', 'foo', 'log'] }),
  },
  {
    name: 'reads the scale subresource of a deployment',
    method: 'PATCH',
    path: '/apis/apps/v1/namespaces/other/deployments/web/scale',
    expected: resource({ path: '/apis/apps/v1/namespaces/other/deployments/web/scale', verb: 'patch', apiPrefix: 'apis', apiGroup: 'apps', namespace: 'other', resource: 'deployments', subresource: 'scale', name: 'web', parts: ['deployments', 'web', 'scale'] }),
  },
  {
    name: 'reads namespaces/{ns}/finalize as a subresource of the namespace',
    method: 'PUT',
    path: '/api/v1/namespaces/other/finalize',
    expected: resource({ path: '/api/v1/namespaces/other/finalize', verb: 'update', namespace: 'other', resource: 'namespaces', subresource: 'finalize', name: 'other', parts: ['namespaces', 'other', 'finalize'] }),
  },
  {
    name: 'reads namespaces/{ns}/status as a subresource of the namespace',
    method: 'PUT',
    path: '/api/v1/namespaces/other/status',
    expected: resource({ path: '/api/v1/namespaces/other/status', verb: 'update', namespace: 'other', resource: 'namespaces', subresource: 'status', name: 'other', parts: ['namespaces', 'other', 'status'] }),
  },
  // exec / attach / portforward
  {
    name: 'authorizes a GET exec (WebSocket) as create',
    method: 'GET',
    path: '/api/v1/namespaces/prod/pods/web-1/exec',
    query: 'command=sh&stdin=true&tty=true',
    expected: podStream({ kind: 'exec', command: ['sh'], stdin: true, tty: true }),
  },
  {
    name: 'authorizes a POST exec (SPDY) as create',
    method: 'POST',
    path: '/api/v1/namespaces/prod/pods/web-1/exec',
    query: 'command=ls&command=-l&container=app&stdout=true',
    expected: podStream({ kind: 'exec', command: ['ls', '-l'], container: 'app' }),
  },
  {
    name: 'authorizes attach as create',
    method: 'GET',
    path: '/api/v1/namespaces/prod/pods/web-1/attach',
    expected: podStream({ kind: 'attach' }),
  },
  {
    name: 'authorizes portforward as create',
    method: 'GET',
    path: '/api/v1/namespaces/prod/pods/web-1/portforward',
    query: 'ports=5432&ports=8080,8443',
    expected: podStream({ kind: 'portforward', ports: [5432, 8080, 8443] }),
  },
  // field and label selectors
  {
    name: 'names the object of a list by a metadata.name field selector',
    method: 'GET',
    path: '/apis/group/version/resource',
    query: 'fieldSelector=metadata.name%3Dname1',
    expected: resource({ path: '/apis/group/version/resource', verb: 'list', apiPrefix: 'apis', apiGroup: 'group', apiVersion: 'version', resource: 'resource', name: 'name1', parts: ['resource'], fieldSelector: 'metadata.name=name1' }),
  },
  {
    name: 'names the object of a watch by a metadata.name field selector (as kubectl get -w NAME sends it)',
    method: 'GET',
    path: '/api/v1/namespaces/default/pods',
    query: 'fieldSelector=metadata.name%3Dweb&watch=true',
    expected: resource({ path: '/api/v1/namespaces/default/pods', verb: 'watch', namespace: 'default', resource: 'pods', name: 'web', parts: ['pods'], fieldSelector: 'metadata.name=web' }),
  },
  {
    name: 'accepts == in a metadata.name field selector',
    method: 'GET',
    path: '/api/v1/pods',
    query: 'fieldSelector=metadata.name%3D%3Dweb',
    expected: resource({ path: '/api/v1/pods', verb: 'list', resource: 'pods', name: 'web', parts: ['pods'], fieldSelector: 'metadata.name==web' }),
  },
  {
    name: 'takes no name from a != field selector',
    method: 'GET',
    path: '/api/v1/pods',
    query: 'fieldSelector=metadata.name!%3Dweb',
    expected: resource({ path: '/api/v1/pods', verb: 'list', resource: 'pods', parts: ['pods'], fieldSelector: 'metadata.name!=web' }),
  },
  {
    name: 'takes no name from a selector on another field',
    method: 'GET',
    path: '/apis/group/version/resource',
    query: 'fieldSelector=foo%3Dbar&labelSelector=baz%3Dqux',
    expected: resource({ path: '/apis/group/version/resource', verb: 'list', apiPrefix: 'apis', apiGroup: 'group', apiVersion: 'version', resource: 'resource', parts: ['resource'], fieldSelector: 'foo=bar', labelSelector: 'baz=qux' }),
  },
  {
    name: 'takes no name from an invalid field selector, but keeps the raw selector',
    method: 'GET',
    path: '/apis/group/version/resource',
    query: 'fieldSelector=metadata.name%3Dname1,foo&watch=true',
    expected: resource({ path: '/apis/group/version/resource', verb: 'watch', apiPrefix: 'apis', apiGroup: 'group', apiVersion: 'version', resource: 'resource', parts: ['resource'], fieldSelector: 'metadata.name=name1,foo' }),
  },
  {
    name: 'takes no name when another list option does not decode (limit)',
    method: 'GET',
    path: '/api/v1/pods',
    query: 'fieldSelector=metadata.name%3Dweb&limit=ten',
    expected: resource({ path: '/api/v1/pods', verb: 'list', resource: 'pods', parts: ['pods'], fieldSelector: 'metadata.name=web' }),
  },
  {
    name: 'takes no name that is not a valid path segment name',
    method: 'GET',
    path: '/api/v1/pods',
    query: 'fieldSelector=metadata.name%3D..',
    expected: resource({ path: '/api/v1/pods', verb: 'list', resource: 'pods', parts: ['pods'], fieldSelector: 'metadata.name=..' }),
  },
  {
    name: 'unescapes a field selector value',
    method: 'GET',
    path: '/api/v1/pods',
    query: 'fieldSelector=metadata.name%3Da%5C%2Cb',
    expected: resource({ path: '/api/v1/pods', verb: 'list', resource: 'pods', name: 'a,b', parts: ['pods'], fieldSelector: 'metadata.name=a\\,b' }),
  },
  {
    name: 'takes the first of repeated fieldSelector and labelSelector parameters',
    method: 'GET',
    path: '/apis/group/version/resource',
    query: 'fieldSelector=metadata.name%3Dfoo&fieldSelector=metadata.name%3Dbar&labelSelector=foo%3Dbar&labelSelector=foo%3Dbaz',
    expected: resource({ path: '/apis/group/version/resource', verb: 'list', apiPrefix: 'apis', apiGroup: 'group', apiVersion: 'version', resource: 'resource', name: 'foo', parts: ['resource'], fieldSelector: 'metadata.name=foo', labelSelector: 'foo=bar' }),
  },
  {
    name: 'when one selector names two objects, takes the one the API server sorts first',
    method: 'GET',
    path: '/api/v1/secrets',
    query: 'fieldSelector=metadata.name%3Dzeta,metadata.name%3Dalpha',
    expected: resource({ path: '/api/v1/secrets', verb: 'list', resource: 'secrets', name: 'alpha', parts: ['secrets'], fieldSelector: 'metadata.name=zeta,metadata.name=alpha' }),
  },
  {
    name: 'ignores selectors on a get of a named object',
    method: 'GET',
    path: '/apis/group/version/resource/name',
    query: 'fieldSelector=foo%3Dbar&labelSelector=foo%3Dbar',
    expected: resource({ path: '/apis/group/version/resource/name', verb: 'get', apiPrefix: 'apis', apiGroup: 'group', apiVersion: 'version', resource: 'resource', name: 'name', parts: ['resource', 'name'] }),
  },
  {
    name: 'decodes + as a space in query values',
    method: 'GET',
    path: '/api/v1/pods',
    query: 'labelSelector=app+in+(web,api)',
    expected: resource({ path: '/api/v1/pods', verb: 'list', resource: 'pods', parts: ['pods'], labelSelector: 'app in (web,api)' }),
  },
  // percent-decoding before splitting, as net/http does
  {
    name: 'decodes a percent-encoded namespace the way the API server does',
    method: 'GET',
    path: '/api/v1/namespaces/d%65fault/pods',
    expected: resource({ path: '/api/v1/namespaces/d%65fault/pods', verb: 'list', namespace: 'default', resource: 'pods', parts: ['pods'] }),
  },
  {
    name: 'decodes a percent-encoded resource and keeps the raw path',
    method: 'DELETE',
    path: '/api/v1/namespaces/prod/%73ecrets/db',
    expected: resource({ path: '/api/v1/namespaces/prod/%73ecrets/db', verb: 'delete', namespace: 'prod', resource: 'secrets', name: 'db', parts: ['secrets', 'db'] }),
  },
  {
    name: 'reads a trailing slash as the API server does (trimmed)',
    method: 'GET',
    path: '/api/v1/namespaces/other/pods/',
    expected: resource({ path: '/api/v1/namespaces/other/pods/', verb: 'list', namespace: 'other', resource: 'pods', parts: ['pods'] }),
  },
  // non-resource URLs
  { name: 'reads / as a non-resource URL', method: 'GET', path: '/', expected: nonResource('/', 'get') },
  { name: 'reads /api as a non-resource URL', method: 'GET', path: '/api', expected: nonResource('/api', 'get') },
  { name: 'reads /api/v1 (discovery) as a non-resource URL', method: 'GET', path: '/api/v1', expected: nonResource('/api/v1', 'get') },
  { name: 'reads /apis/apps/v1 (discovery) as a non-resource URL', method: 'GET', path: '/apis/apps/v1', expected: nonResource('/apis/apps/v1', 'get') },
  { name: 'reads /apis/apps/v1/ with a trailing slash as a non-resource URL', method: 'GET', path: '/apis/apps/v1/', expected: nonResource('/apis/apps/v1/', 'get') },
  { name: 'reads /version as a non-resource URL', method: 'GET', path: '/version', expected: nonResource('/version', 'get') },
  { name: 'reads an unknown root as a non-resource URL', method: 'GET', path: '/not-api/version/resource', expected: nonResource('/not-api/version/resource', 'get') },
  { name: 'reads /apis/version/resource (no group) as a non-resource URL', method: 'GET', path: '/apis/version/resource', expected: nonResource('/apis/version/resource', 'get') },
  { name: 'keeps HEAD as the head verb on a non-resource URL, as the API server does', method: 'HEAD', path: '/healthz', expected: nonResource('/healthz', 'head') },
  { name: 'lowercases the method of a non-resource POST', method: 'POST', path: '/openapi/v3', expected: nonResource('/openapi/v3', 'post') },
];

describe('classifyRequest reads requests as the API server does', () => {
  for (const c of cases) {
    test(c.name, () => {
      assert.deepEqual(classifyRequest(c.method, c.path, c.query ?? '', node), c.expected);
    });
  }
});

interface Refusal {
  name: string;
  method?: string;
  path: string;
  query?: string;
  runtime?: 'node' | 'lambda';
  code: ErrorCode;
  message: string;
}

const because = 'refused because the API server could read it differently';

const refusals: Refusal[] = [
  { name: 'refuses a ".." segment', path: '/api/v1/namespaces/dev/../prod/secrets', code: 'ERR_REQUEST_PATH', message: `request path "/api/v1/namespaces/dev/../prod/secrets" has a ".." segment; ${because}` },
  { name: 'refuses a "." segment', path: '/api/v1/./namespaces/prod/secrets', code: 'ERR_REQUEST_PATH', message: `request path "/api/v1/./namespaces/prod/secrets" has a "." segment; ${because}` },
  { name: 'refuses a percent-encoded ".." segment', path: '/api/v1/namespaces/dev/%2e%2e/prod/secrets', code: 'ERR_REQUEST_PATH', message: `request path "/api/v1/namespaces/dev/%2e%2e/prod/secrets" has a ".." segment; ${because}` },
  { name: 'refuses an empty segment', path: '/api/v1//namespaces/prod/secrets', code: 'ERR_REQUEST_PATH', message: `request path "/api/v1//namespaces/prod/secrets" has an empty segment ("//"); ${because}` },
  { name: 'refuses a leading "//"', path: '//api/v1/secrets', code: 'ERR_REQUEST_PATH', message: `request path "//api/v1/secrets" has an empty segment ("//"); ${because}` },
  { name: 'refuses two trailing slashes', path: '/api/v1/secrets//', code: 'ERR_REQUEST_PATH', message: `request path "/api/v1/secrets//" has an empty segment ("//"); ${because}` },
  { name: 'refuses an encoded "/" in upper case', path: '/api/v1/namespaces/dev%2Fsecrets', code: 'ERR_REQUEST_PATH', message: `request path "/api/v1/namespaces/dev%2Fsecrets" has an encoded "/" (%2F); ${because}` },
  { name: 'refuses an encoded "/" in lower case', path: '/api/v1/namespaces/prod/secrets/a%2fb', code: 'ERR_REQUEST_PATH', message: `request path "/api/v1/namespaces/prod/secrets/a%2fb" has an encoded "/" (%2f); ${because}` },
  { name: 'refuses an encoded NUL', path: '/api/v1/namespaces/prod%00/secrets', code: 'ERR_REQUEST_PATH', message: `request path "/api/v1/namespaces/prod%00/secrets" has an encoded control character (%00); ${because}` },
  { name: 'refuses an encoded newline', path: '/api/v1/namespaces/prod%0A/secrets', code: 'ERR_REQUEST_PATH', message: `request path "/api/v1/namespaces/prod%0A/secrets" has an encoded control character (%0A); ${because}` },
  { name: 'refuses an invalid percent-encoding', path: '/api/v1/namespaces/%zzprod/secrets', code: 'ERR_REQUEST_PATH', message: `request path "/api/v1/namespaces/%zzprod/secrets" has an invalid percent-encoding "%zz"; ${because}` },
  { name: 'refuses a truncated percent-encoding', path: '/api/v1/pods/a%4', code: 'ERR_REQUEST_PATH', message: `request path "/api/v1/pods/a%4" has an invalid percent-encoding "%4"; ${because}` },
  { name: 'refuses a percent-encoding that is not UTF-8', path: '/api/v1/pods/%ff', code: 'ERR_REQUEST_PATH', message: `request path "/api/v1/pods/%ff" is not valid UTF-8 once percent-decoded; ${because}` },
  { name: 'refuses a path that does not start with "/"', path: 'api/v1/secrets', code: 'ERR_REQUEST_PATH', message: `request path "api/v1/secrets" does not start with "/"; ${because}` },
  { name: 'refuses an absolute-form request target', path: 'https://cluster/api/v1/secrets', code: 'ERR_REQUEST_PATH', message: `request path "https://cluster/api/v1/secrets" does not start with "/"; ${because}` },
  { name: 'refuses the asterisk-form request target', method: 'OPTIONS', path: '*', code: 'ERR_REQUEST_PATH', message: `request path "*" does not start with "/"; ${because}` },
  { name: 'refuses an empty path', path: '', code: 'ERR_REQUEST_PATH', message: `request path "" does not start with "/"; ${because}` },
  { name: 'refuses a raw "#"', path: '/api/v1/namespaces/dev/pods#/x', code: 'ERR_REQUEST_PATH', message: `request path "/api/v1/namespaces/dev/pods#/x" has a character that is not allowed raw in a request path (space, control, non-ASCII, "#" or "\\"); ${because}` },
  { name: 'refuses a raw backslash, which WHATWG URLs read as "/"', path: '/api/v1/namespaces/dev\\..\\prod/secrets', code: 'ERR_REQUEST_PATH', message: `request path "/api/v1/namespaces/dev\\\\..\\\\prod/secrets" has a character that is not allowed raw in a request path (space, control, non-ASCII, "#" or "\\"); ${because}` },
  { name: 'refuses a raw non-ASCII character', path: '/api/v1/namespaces/pröd/pods', code: 'ERR_REQUEST_PATH', message: `request path "/api/v1/namespaces/pröd/pods" has a character that is not allowed raw in a request path (space, control, non-ASCII, "#" or "\\"); ${because}` },
  { name: 'refuses the watch prefix without a resource, as the API server does', path: '/api/v1/watch', code: 'ERR_REQUEST_PATH', message: 'request path "/api/v1/watch" names the "watch" verb but no resource; the API server cannot tell kind and namespace from it' },
  { name: 'refuses the proxy prefix without a resource', path: '/apis/apps/v1/proxy', code: 'ERR_REQUEST_PATH', message: 'request path "/apis/apps/v1/proxy" names the "proxy" verb but no resource; the API server cannot tell kind and namespace from it' },
  { name: 'shortens a very long path in the message', path: `/api/v1/${'a'.repeat(300)}/..`, code: 'ERR_REQUEST_PATH', message: `request path "/api/v1/${'a'.repeat(192)}…" has a ".." segment; ${because}` },
  { name: 'refuses a raw ";" in the query', path: '/api/v1/pods', query: 'watch=false;fieldSelector=x', code: 'ERR_REQUEST_INVALID', message: 'query "watch=false;fieldSelector=x" contains ";", which Go servers read differently by version; encode it as %3B' },
  { name: 'refuses a query value that is not UTF-8', path: '/api/v1/pods', query: 'labelSelector=%ff', code: 'ERR_REQUEST_INVALID', message: 'query parameter "%ff" is not valid UTF-8 once decoded' },
  { name: 'refuses exec on the Lambda runtime', path: '/api/v1/namespaces/dev/pods/web/exec', query: 'command=sh', runtime: 'lambda', code: 'ERR_UPGRADE_UNSUPPORTED', message: 'pods/exec needs an HTTP connection upgrade, which a Lambda function URL cannot carry; use a Gatehouse running on the Node runtime for kubectl exec, attach, cp and port-forward' },
  { name: 'refuses port-forward on the Lambda runtime', method: 'POST', path: '/api/v1/namespaces/dev/pods/web/portforward', runtime: 'lambda', code: 'ERR_UPGRADE_UNSUPPORTED', message: 'pods/portforward needs an HTTP connection upgrade, which a Lambda function URL cannot carry; use a Gatehouse running on the Node runtime for kubectl exec, attach, cp and port-forward' },
];

describe('classifyRequest refuses what the API server could read differently', () => {
  for (const r of refusals) {
    test(r.name, () => {
      assert.throws(
        () => classifyRequest(r.method ?? 'GET', r.path, r.query ?? '', { runtime: r.runtime ?? 'node' }),
        (error: unknown) => {
          assert.ok(error instanceof GatehouseError);
          assert.equal(error.code, r.code);
          assert.equal(error.message, r.message);
          return true;
        },
      );
    });
  }

  test('answers a refused path with 400 BadRequest', () => {
    try {
      classifyRequest('GET', '/api/v1/../secrets', '', node);
      assert.fail('expected a refusal');
    } catch (error) {
      assert.ok(error instanceof GatehouseError);
      assert.equal(error.httpStatus, 400);
      assert.equal(error.reason, 'BadRequest');
    }
  });

  test('lets logs through on the Lambda runtime (no upgrade needed)', () => {
    assert.equal(classifyRequest('GET', '/api/v1/namespaces/dev/pods/web/log', 'follow=true', { runtime: 'lambda' }).subresource, 'log');
  });
});
