/**
 * MCP on a deployment of several clusters: one endpoint per cluster at /clusters/<name>/mcp,
 * each its own protected resource (RFC 9728 path-suffixed metadata), tool calls routed to that
 * cluster as kubectl's are, records and approval mail naming it; /mcp names the per-cluster URLs.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { discoverOAuthProtectedResourceMetadata } from '@modelcontextprotocol/sdk/client/auth.js';
import { APPROVER, startMcpFixture, structured, textOf, type McpFixture } from './support.ts';

let f: McpFixture;
before(async () => {
  f = await startMcpFixture({ clusters: ['alpha', 'beta'] });
});
after(async () => {
  await f?.close();
});

const post = (path: string, headers: Record<string, string>) =>
  fetch(`${f.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers }, body: '{"jsonrpc":"2.0","id":1,"method":"tools/list"}' });

describe('MCP per cluster', () => {
  test("each cluster's metadata names its own resource, and the SDK discovers it from the endpoint URL", async () => {
    for (const name of ['alpha', 'beta']) {
      const discovered = await discoverOAuthProtectedResourceMetadata(`${f.url}/clusters/${name}/mcp`);
      assert.equal(discovered.resource, `${f.url}/clusters/${name}/mcp`);
      assert.deepEqual(discovered.authorization_servers, [f.people.issuer, f.ci.issuer, f.cluster.issuer]);
    }
  });

  test("a request without a token is challenged with its cluster's metadata URL", async () => {
    const reply = await post('/clusters/beta/mcp', {});
    assert.equal(reply.status, 401);
    assert.equal(reply.headers.get('www-authenticate'), `Bearer resource_metadata="${f.url}/.well-known/oauth-protected-resource/clusters/beta/mcp", scope="openid email groups"`);
  });

  test('a tool call reaches only its cluster, and its records name the cluster', async () => {
    const beta = await f.connect(f.aliceToken, { endpoint: `${f.url}/clusters/beta/mcp` });
    const alphaBefore = f.apis['alpha']?.received.length ?? 0;
    const betaBefore = f.apis['beta']?.received.length ?? 0;
    const result = await beta.callTool({ name: 'rollout_status', arguments: { namespace: 'dev', name: 'web' } });
    assert.notEqual(result.isError, true, textOf(result));
    assert.equal(f.apis['alpha']?.received.length, alphaBefore, 'alpha saw nothing');
    assert.deepEqual(f.apis['beta']?.received.slice(betaBefore).map((r) => `${r.user} ${r.method} ${r.path}`), ['alice@example.com GET /apis/apps/v1/namespaces/dev/deployments/web']);
    const records = (await f.records()).filter((r) => r.phase === 'outcome' && r.mcp_tool === 'rollout_status');
    assert.deepEqual(records.map((r) => `${r.cluster} ${r.method} ${r.path}`), ['beta GET /apis/apps/v1/namespaces/dev/deployments/web']);
  });

  test('an approval an agent asks for on one cluster is mailed naming that cluster', async () => {
    const alpha = await f.connect(f.aliceToken, { endpoint: `${f.url}/clusters/alpha/mcp` });
    const result = await alpha.callTool({ name: 'scale', arguments: { namespace: 'prod', name: 'payments', replicas: 5 } });
    const id = String(structured(result)['approvalId']);
    const mail = (await f.approvals.mail.messages(APPROVER)).find((m) => (m.body.text ?? '').includes(id));
    assert.match(mail?.subject ?? '', /alice@example\.com \(via an AI agent\) wants to patch deployments\.apps\/scale "payments" in namespace "prod" on cluster alpha/);
  });

  test('/mcp names no cluster: a signed-in caller is told the per-cluster URLs', async () => {
    const reply = await post('/mcp', { authorization: `Bearer ${f.aliceToken}` });
    assert.equal(reply.status, 404);
    assert.equal(
      ((await reply.json()) as { message: string }).message,
      `/mcp names no cluster: this Gatehouse fronts several clusters and serves MCP at one URL per cluster: ${f.url}/clusters/alpha/mcp, ${f.url}/clusters/beta/mcp`,
    );
  });

  test('/mcp without a token is 401 and names nothing', async () => {
    const reply = await post('/mcp', {});
    assert.equal(reply.status, 401);
    assert.equal(reply.headers.get('www-authenticate'), 'Bearer scope="openid email groups"');
    assert.doesNotMatch(await reply.text(), /alpha|beta/);
  });

  test('the root metadata is 404, saying where each cluster\'s is, without naming them', async () => {
    const reply = await fetch(`${f.url}/.well-known/oauth-protected-resource`);
    assert.equal(reply.status, 404);
    const text = ((await reply.json()) as { message: string }).message;
    assert.equal(text, `this Gatehouse fronts several clusters and serves MCP per cluster: the metadata of each is at ${f.url}/.well-known/oauth-protected-resource/clusters/<name>/mcp`);
  });
});
