/**
 * The request tables the Lambda adapter is tested with, shared by the shim-driven tests
 * (handler.test.ts) and the real runtime interface client (runtime-interface-client.test.ts),
 * so both runtimes answer the same cases.
 */
import assert from 'node:assert/strict';
import { MAX_REQUEST_PAYLOAD_BYTES } from '../../functions/lambda-handler.ts';
import type { RawRequest } from './function-url-event.ts';

/** The Authorization header line of the test user. */
export type Bearer = () => [string, string];

export interface SameOutcomeCase {
  name: string;
  request: () => RawRequest;
  status: number;
  message?: RegExp;
}

export interface RefusalCase {
  name: string;
  request: () => RawRequest;
  code: number;
  reason: string;
  message: string | RegExp;
}

export const kubectlHeadersWith = (bearer: Bearer): [string, string][] => [
  bearer(),
  ['User-Agent', 'kubectl/v1.33.1 (linux/amd64) kubernetes/8adc0f0'],
  ['Kubectl-Command', 'kubectl get'],
  ['Kubectl-Session', '0b4c8f2e-6a4e-4d5e-9b0c-1f2e3d4c5b6a'],
];

/** Requests both runtimes (Node and Lambda) must end the same way. */
export const sameOutcomeCases = (bearer: Bearer): SameOutcomeCase[] => {
  const kubectlHeaders = (): [string, string][] => kubectlHeadersWith(bearer);
  return [
  {
    name: 'lists pods as the caller (impersonated upstream)',
    request: () => ({ method: 'GET', target: '/api/v1/namespaces/default/pods?limit=500', headers: [...kubectlHeaders(), ['Accept', 'application/json']] }),
    status: 200,
  },
  {
    name: 'joins a repeated Accept header with commas and still negotiates a Table',
    request: () => ({
      method: 'GET',
      target: '/api/v1/namespaces/default/pods',
      headers: [...kubectlHeaders(), ['Accept', 'application/json;as=Table;v=v1;g=meta.k8s.io'], ['Accept', 'application/json']],
    }),
    status: 200,
  },
  {
    name: 'refuses a request without a token',
    request: () => ({ method: 'GET', target: '/api/v1/namespaces/default/pods', headers: [['Accept', 'application/json']] }),
    status: 401,
  },
  {
    name: "refuses a client's own Impersonate-Group headers",
    request: () => ({ method: 'GET', target: '/api/v1/pods', headers: [bearer(), ['Impersonate-Group', 'admins'], ['Impersonate-Group', 'ops']] }),
    status: 403,
  },
  {
    name: 'refuses reading Secrets in kube-system by policy',
    request: () => ({ method: 'GET', target: '/api/v1/namespaces/kube-system/secrets', headers: kubectlHeaders() }),
    status: 403,
    message: /no-system-secrets/,
  },
  {
    name: 'reads %2F in a name the same way (never decoded twice)',
    request: () => ({ method: 'GET', target: '/api/v1/namespaces/default/pods/a%2Fb', headers: kubectlHeaders() }),
    status: 400,
  },
  {
    name: 'reads .. in the path the same way (never normalised into another namespace)',
    request: () => ({ method: 'GET', target: '/api/v1/namespaces/default/pods/../../kube-system/secrets', headers: kubectlHeaders() }),
    status: 400,
  },
  {
    name: 'reads // in the path the same way',
    request: () => ({ method: 'GET', target: '//api/v1/namespaces/default/pods', headers: kubectlHeaders() }),
    status: 400,
  },
  {
    name: 'passes cookies without letting them change the outcome',
    request: () => ({ method: 'GET', target: '/api/v1/namespaces/default/pods/web', headers: [...kubectlHeaders(), ['Cookie', 'a=1; b=2'], ['Accept', 'application/json']] }),
    status: 200,
  },
];
};

/** What the Lambda runtime refuses before anything reaches the cluster (its own limits, upgrades). */
export const lambdaRefusalCases = (bearer: Bearer): RefusalCase[] => [
  {
    name: 'refuses kubectl exec with a Status that points at the Node runtime',
    request: () => ({ method: 'POST', target: '/api/v1/namespaces/default/pods/web/exec?command=sh&stdin=true&tty=true', headers: [bearer(), ['X-Stream-Protocol-Version', 'v5.channel.k8s.io']] }),
    code: 400,
    reason: 'BadRequest',
    message:
      'pods/exec needs an HTTP connection upgrade, which a Lambda function URL cannot carry; use a Gatehouse running on the Node runtime for kubectl exec, attach, cp and port-forward',
  },
  {
    name: 'refuses kubectl port-forward the same way',
    request: () => ({ method: 'GET', target: '/api/v1/namespaces/default/pods/web/portforward', headers: [bearer(), ['Upgrade', 'websocket'], ['Connection', 'Upgrade']] }),
    code: 400,
    reason: 'BadRequest',
    message: /^pods\/portforward needs an HTTP connection upgrade, which a Lambda function URL cannot carry; use a Gatehouse running on the Node runtime/,
  },
  {
    name: 'refuses kubectl attach the same way',
    request: () => ({ method: 'POST', target: '/api/v1/namespaces/default/pods/web/attach?stdout=true', headers: [bearer()] }),
    code: 400,
    reason: 'BadRequest',
    message: /^pods\/attach needs an HTTP connection upgrade/,
  },
  {
    name: 'refuses an HTTP Upgrade on any other path',
    request: () => ({ method: 'GET', target: '/api/v1/namespaces/default/pods/web/proxy/', headers: [bearer(), ['Upgrade', 'websocket'], ['Connection', 'Upgrade']] }),
    code: 400,
    reason: 'BadRequest',
    message:
      'user "alice@example.com" asked for an HTTP Upgrade to "websocket" for /api/v1/namespaces/default/pods/web/proxy/, which a Lambda function URL cannot carry; use a Gatehouse running on the Node runtime for upgraded connections',
  },
  {
    name: 'refuses a body over the 6 MB payload limit with 413',
    request: () => ({ method: 'POST', target: '/api/v1/namespaces/default/configmaps', headers: [bearer(), ['Content-Type', 'application/json']], body: Buffer.alloc(MAX_REQUEST_PAYLOAD_BYTES + 1, 0x20) }),
    code: 413,
    reason: 'RequestEntityTooLarge',
    message: `the request body of POST /api/v1/namespaces/default/configmaps is ${MAX_REQUEST_PAYLOAD_BYTES + 1} bytes; Gatehouse on AWS Lambda accepts at most ${MAX_REQUEST_PAYLOAD_BYTES} bytes (the Lambda payload limit)`,
  },
  {
    name: 'refuses a base64 body that decodes to over 6 MB with 413',
    request: () => ({ method: 'PUT', target: '/api/v1/namespaces/default/configmaps/big', headers: [bearer()], body: Buffer.alloc(MAX_REQUEST_PAYLOAD_BYTES + 3, 1), base64: true }),
    code: 413,
    reason: 'RequestEntityTooLarge',
    message: /^the request body of PUT \/api\/v1\/namespaces\/default\/configmaps\/big is \d+ bytes; Gatehouse on AWS Lambda accepts at most 6291456 bytes/,
  },
  {
    name: 'refuses a header value that is not ASCII (never re-encoded on the way)',
    request: () => ({ method: 'GET', target: '/api/v1/pods', headers: [bearer(), ['X-Display-Name', 'Zoë']] }),
    code: 400,
    reason: 'BadRequest',
    message: 'header x-display-name of GET /api/v1/pods carries non-ASCII characters, which Gatehouse does not pass on',
  },
  {
    name: 'refuses a GET that carries a body',
    request: () => ({ method: 'GET', target: '/api/v1/pods', headers: [bearer()], body: Buffer.from('{}') }),
    code: 400,
    reason: 'BadRequest',
    message: 'a GET request cannot carry a body (/api/v1/pods)',
  },
];

/** Asserts that `body` is the Status a refusal case expects: kind, code, reason and message. */
export function assertRefusalStatus(body: string, expected: RefusalCase): void {
  const status = JSON.parse(body) as { kind: string; code: number; reason: string; message: string };
  assert.equal(status.kind, 'Status');
  assert.equal(status.code, expected.code);
  assert.equal(status.reason, expected.reason);
  if (typeof expected.message === 'string') assert.equal(status.message, expected.message);
  else assert.match(status.message, expected.message);
}
