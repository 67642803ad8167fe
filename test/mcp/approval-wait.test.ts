/**
 * Waiting for an approval through MCP elicitation, and the tools' output schemas, with the
 * official SDK client against the Node server (stand-in upstream, approvals on dynalite + the
 * SES emulator): the approver decides through the real mailed link and page, over HTTP.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';
import { mailedLink } from '../approvals/support.ts';
import { APPROVER, decideByLink, startMcpFixture, structured, textOf, type ElicitationHandler, type McpFixture } from './support.ts';

let f: McpFixture;
before(async () => {
  f = await startMcpFixture();
});
after(async () => {
  await f?.close();
});

/** A client that answers Gatehouse's question with `action`, and tells the test what it was asked. */
async function elicitingClient(action: 'accept' | 'decline' | 'cancel'): Promise<{ client: Client; asked: Promise<string> }> {
  let tell: (message: string) => void = () => undefined;
  const asked = new Promise<string>((resolve) => (tell = resolve));
  const handler: ElicitationHandler = async (params) => {
    tell(params.message);
    return action === 'accept' ? { action, content: {} } : { action };
  };
  return { client: await f.connect(f.aliceToken, { elicitation: handler }), asked };
}

const scaleProd = (client: Client, replicas: number) => client.callTool({ name: 'scale', arguments: { namespace: 'prod', name: 'payments', replicas } });
const patchesSince = (count: number) => f.api.received.slice(count).filter((r) => r.method === 'PATCH');
const approvalIdIn = (message: string): string => /approval ([0-9a-f]{20})/.exec(message)?.[1] ?? assert.fail(`no approval id in ${message}`);

describe('waiting for an approval through elicitation', () => {
  test('accepted and approved through the mailed link: the call runs and returns the real result', async () => {
    const { client, asked } = await elicitingClient('accept');
    const before = f.api.received.length;
    const result = scaleProd(client, 7);
    const question = await asked;
    assert.match(question, new RegExp(`^Gatehouse: this call needs a person's approval first \\(approval [0-9a-f]{20}; asked: ${APPROVER}\\)\\. Wait here for their decision \\(up to 10 minutes\\)\\?`));
    assert.equal(patchesSince(before).length, 0, 'nothing changed before the approval');
    const link = await mailedLink(f.approvals.mail, APPROVER, approvalIdIn(question));
    assert.equal(await decideByLink(f.url, link, 'approve'), 303);
    const done = await result;
    assert.notEqual(done.isError, true, textOf(done));
    assert.match(textOf(done), /^Scaled deployments payments to 7 replicas\./);
    assert.deepEqual(structured(done)['replicas'], 7);
    const patches = patchesSince(before);
    assert.deepEqual(patches.map((r) => `${r.user} ${r.path}`), ['alice@example.com /apis/apps/v1/namespaces/prod/deployments/payments/scale']);
  });

  test('accepted and denied: a clear error result naming who denied it and why, nothing changed', async () => {
    const { client, asked } = await elicitingClient('accept');
    const before = f.api.received.length;
    const result = scaleProd(client, 8);
    const id = approvalIdIn(await asked);
    assert.equal(await decideByLink(f.url, await mailedLink(f.approvals.mail, APPROVER, id), 'deny', 'not during the freeze'), 303);
    const done = await result;
    assert.equal(done.isError, true);
    assert.equal(textOf(done), `DENIED: approval ${id} was denied by ${APPROVER} with the comment "not during the freeze". Nothing was changed; do not retry it unchanged.`);
    assert.equal(structured(done)['status'], 'denied');
    assert.equal(structured(done)['approvalId'], id);
    assert.equal(patchesSince(before).length, 0);
  });

  const notWaiting = [
    { name: 'declined: the pending result, saying the user did not want to wait', action: 'decline' as const, replicas: 9, wait: 'declined', text: /^The user declined to wait here for the approval\.\nPENDING APPROVAL [0-9a-f]{20}: a person must approve this first/ },
    { name: 'cancelled: the pending result, saying the question was dismissed', action: 'cancel' as const, replicas: 10, wait: 'cancelled', text: /^The user dismissed the question whether to wait for the approval\.\nPENDING APPROVAL / },
  ];
  for (const c of notWaiting) {
    test(c.name, async () => {
      const { client, asked } = await elicitingClient(c.action);
      const before = f.api.received.length;
      const done = await scaleProd(client, c.replicas);
      await asked;
      assert.notEqual(done.isError, true);
      assert.match(textOf(done), c.text);
      assert.equal(structured(done)['status'], 'pending_approval');
      assert.equal(structured(done)['wait'], c.wait);
      assert.deepEqual(structured(done)['approvers'], [APPROVER]);
      assert.equal(patchesSince(before).length, 0);
    });
  }

  test('a client without the elicitation capability is not asked: the pending result at once', async () => {
    const client = await f.connect(f.aliceToken);
    const done = await scaleProd(client, 11);
    assert.equal(structured(done)['status'], 'pending_approval');
    assert.equal(structured(done)['wait'], undefined);
    assert.match(textOf(done), /^PENDING APPROVAL /);
  });
});

describe('output schemas', () => {
  test('every tool declares an object output schema', async () => {
    const client = await f.connect(f.aliceToken);
    const { tools } = await client.listTools();
    assert.equal(tools.length, 12);
    for (const tool of tools) assert.equal(tool.outputSchema?.type, 'object', `${tool.name} declares an output schema`);
  });

  test('the SDK client validates successes, refusals and pending results against them', async () => {
    const client = await f.connect(f.aliceToken);
    await client.listTools(); // the client validates calls of the tools it has listed
    const calls: [string, Record<string, unknown>, string | undefined][] = [
      ['list_resources', { resource: 'pods', namespace: 'dev' }, undefined],
      ['get_resource', { resource: 'secrets', namespace: 'dev', name: 'web-db' }, undefined],
      ['describe_resource', { apiVersion: 'apps/v1', resource: 'deployments', namespace: 'dev', name: 'web' }, undefined],
      ['rollout_status', { namespace: 'dev', name: 'web' }, undefined],
      ['get_resource', { resource: 'secrets', namespace: 'kube-system', name: 'x' }, 'refused'],
      ['delete_resource', { resource: 'configmaps', namespace: 'prod', name: 'nothing-here' }, 'pending_approval'],
    ];
    for (const [name, args, status] of calls) {
      const result = await client.callTool({ name, arguments: args });
      assert.equal(structured(result)['status'], status, `${name}: ${textOf(result)}`);
    }
  });

  test('the schemas are not vacuous: content of the wrong shape fails them', async () => {
    const client = await f.connect(f.aliceToken);
    const { tools } = await client.listTools();
    const validator = new AjvJsonSchemaValidator();
    const schemaOf = (name: string) => tools.find((t) => t.name === name)?.outputSchema ?? assert.fail(`no ${name}`);
    const cases: [string, unknown, boolean][] = [
      ['rollout_status', { done: true, message: 'ok', workloadStatus: {} }, true],
      ['rollout_status', { done: 'yes' }, false],
      ['scale', { status: 'approved-by-myself' }, false],
      ['pod_logs', { log: 42 }, false],
    ];
    for (const [name, content, valid] of cases) assert.equal(validator.getValidator(schemaOf(name))(content).valid, valid, `${name} ${JSON.stringify(content)}`);
  });
});
