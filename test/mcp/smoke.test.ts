import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startMcpFixture, structured, textOf, type McpFixture } from './support.ts';

let f: McpFixture;
before(async () => { f = await startMcpFixture(); });
after(async () => { await f?.close(); });

test('smoke', async () => {
  const client = await f.connect(f.aliceToken);
  const tools = await client.listTools();
  console.log(tools.tools.map((t) => t.name));
  const r = await client.callTool({ name: 'list_resources', arguments: { resource: 'pods', namespace: 'dev' } });
  console.log(textOf(r).slice(0, 600));
  const p = await client.callTool({ name: 'scale', arguments: { namespace: 'prod', name: 'web', replicas: 3 } });
  console.log(textOf(p).slice(0, 600), structured(p));
  const l = await client.callTool({ name: 'pod_logs', arguments: { namespace: 'dev', name: 'nope' } });
  console.log(textOf(l).slice(0, 600));
  const d = await client.callTool({ name: 'describe_resource', arguments: { resource: 'pods', namespace: 'dev', name: String((structured(r).items as {name:string}[])[0]?.name) } });
  console.log(textOf(d).slice(0, 1500));
  const recs = await f.records();
  console.log(recs.map((x) => [x.mcp_tool, x.path, x.status_code, x.mcp_session, x.token_issuer]));
  assert.ok(true);
});
