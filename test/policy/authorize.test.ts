import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Hono } from 'hono';
import '../../src/context.ts';
import { authorize } from '../../src/pipeline/authorize.ts';
import { asGatehouseError, statusResponse } from '../../src/errors.ts';
import { compilePolicy, parsePolicy } from '../../src/policy/policy-file.ts';
import { classifyRequest } from '../../src/request-info.ts';
import type { Identity } from '../../src/types.ts';

const policy = compilePolicy(
  parsePolicy(
    `apiVersion: gatehouse/v1
rules:
  - name: no-prod-deletes
    effect: deny
    verbs: [delete]
    resources: [namespaces, deployments]
    namespaces: ["prod*"]
    reason: production namespaces are deleted through change management
  - name: prod-exec
    effect: review
    resources: [pods/exec]
    namespaces: ["prod*"]
    review: { approvers: [lead@example.com] }
  - { name: everything, effect: allow, resources: ["*"] }
`,
    'authorize-test.yaml',
  ),
);

const alice: Identity = { user: 'alice@example.com', groups: ['dev', 'oncall'], claims: {} };
const solo: Identity = { user: 'solo@example.com', groups: [], claims: {} };

/** A Hono app with the stages before authorize replaced by fixed values, and a handler that echoes the decision. */
function appFor(identity: Identity): Hono {
  const app = new Hono();
  app.onError((error) => statusResponse(asGatehouseError(error)));
  app.use('*', async (c, next) => {
    c.set('identity', identity);
    const url = new URL(c.req.url);
    c.set('kubeRequest', classifyRequest(c.req.method, url.pathname, url.search.slice(1), { runtime: 'node' }));
    await next();
  });
  app.use('*', authorize(policy));
  app.all('*', (c) => c.json(c.get('decision')));
  return app;
}

interface Denial {
  name: string;
  identity: Identity;
  method: string;
  path: string;
  message: string;
  details: Record<string, string>;
}

const denials: Denial[] = [
  {
    name: 'refuses a denied request naming user, groups, verb, resource, name and rule',
    identity: alice,
    method: 'DELETE',
    path: '/api/v1/namespaces/prod',
    message:
      'user "alice@example.com" (groups: dev, oncall) may not delete namespaces "prod": denied by rule "no-prod-deletes" (production namespaces are deleted through change management)',
    details: { name: 'prod', kind: 'namespaces' },
  },
  {
    name: 'names the API group and namespace of a denied namespaced object',
    identity: alice,
    method: 'DELETE',
    path: '/apis/apps/v1/namespaces/prod-eu/deployments/web',
    message:
      'user "alice@example.com" (groups: dev, oncall) may not delete deployments.apps "web" in namespace "prod-eu": denied by rule "no-prod-deletes" (production namespaces are deleted through change management)',
    details: { name: 'web', group: 'apps', kind: 'deployments' },
  },
  {
    name: 'says "no rule allows it (default deny)" when nothing matched',
    identity: solo,
    method: 'GET',
    path: '/metrics',
    message: 'user "solo@example.com" (no groups) may not get path "/metrics": no rule allows it (default deny)',
    details: {},
  },
];

describe('authorize', () => {
  for (const d of denials) {
    test(d.name, async () => {
      const response = await appFor(d.identity).request(d.path, { method: d.method });
      assert.equal(response.status, 403);
      assert.deepEqual(await response.json(), {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: d.message,
        reason: 'Forbidden',
        details: d.details,
        code: 403,
      });
    });
  }

  test('passes an allowed request on with its decision', async () => {
    const response = await appFor(alice).request('/api/v1/namespaces/dev/pods', { method: 'GET' });
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { effect: 'allow', rule: 'everything', reason: 'allowed by rule "everything"' });
  });

  test('passes a review decision on to the approve stage', async () => {
    const response = await appFor(alice).request('/api/v1/namespaces/prod/pods/web/exec?command=sh', { method: 'POST' });
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), {
      effect: 'review',
      rule: 'prod-exec',
      reason: 'requires approval under rule "prod-exec"',
      review: { approvers: ['lead@example.com'], grant: 'once', windowSeconds: 0 },
    });
  });
});
