// What approvers read, in words: the Gatehouse name in the mail subject and on the page, what
// an exec runs and in which container, a namespace delete without "in namespace", and the
// rule's own reason once (not wrapped in the decision's words again).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { describeStreamCall, describeTarget } from '../../src/approvals/approval.ts';
import { approvalMailFor } from '../../src/approvals/messages.ts';
import { approvalPageHtml } from '../../src/approvals/page.tsx';
import { sampleApproval, T0 } from './support.ts';

const execTarget = {
  ...sampleApproval().target,
  method: 'GET',
  verb: 'create',
  subresource: 'exec',
  path: '/api/v1/namespaces/prod/pods/web-1/exec',
  query: 'command=sh&command=-c&command=cat+%2Fetc%2Fapp%2F*&container=web&stdin=true&stdout=true&tty=true',
};

describe('approval wording', () => {
  const targets = [
    { name: 'a namespace delete names the namespace once', target: { ...sampleApproval().target, resource: 'namespaces', namespace: 'prod', name: 'prod' }, words: 'delete namespaces "prod"' },
    { name: 'a pod delete says where', target: sampleApproval().target, words: 'delete pods "web-1" in namespace "prod"' },
    { name: 'an exec names its subresource', target: execTarget, words: 'create pods/exec "web-1" in namespace "prod"' },
  ];
  for (const { name, target, words } of targets) test(name, () => assert.equal(describeTarget(target), words));

  const streams = [
    { name: 'exec: the argv shell-quoted, the container, the streams', target: execTarget, expected: { command: "sh -c 'cat /etc/app/*'", argv: ['sh', '-c', 'cat /etc/app/*'], container: 'web', interactive: 'interactive: stdin and a terminal (TTY)' } },
    { name: 'exec without input', target: { ...execTarget, query: 'command=ls&command=%2F&stdout=true' }, expected: { command: 'ls /', argv: ['ls', '/'], container: '', interactive: 'no input' } },
    { name: 'not an exec: nothing to say', target: sampleApproval().target, expected: undefined },
  ];
  for (const { name, target, expected } of streams) test(name, () => assert.deepEqual(describeStreamCall(target), expected));

  test('the mail subject and text name the Gatehouse, what runs, and the rule with its own reason', () => {
    const mail = approvalMailFor(sampleApproval({ target: execTarget }), 'bob@example.com', 'https://gh.example/_gatehouse/approvals/a1?t=x', 'prod-eu Gatehouse');
    assert.equal(mail.subject, '[prod-eu Gatehouse] Approval needed: alice@example.com wants to create pods/exec "web-1" in namespace "prod" on cluster default');
    assert.match(mail.text, /\n {4}runs: sh -c 'cat \/etc\/app\/\*' in container web \(interactive: stdin and a terminal \(TTY\)\)\n {4}on: cluster default, through prod-eu Gatehouse\n/);
    assert.match(mail.text, /\nPolicy rule "prod-deletes" requires approval: deleting in prod needs a second person\n/);
    assert.doesNotMatch(mail.text, /\n\n\n/);
  });

  test('the page shows the Gatehouse name, what runs, the rule once and times as UTC for the script to localise', async () => {
    const html = String(await approvalPageHtml({ approval: sampleApproval({ target: execTarget }), approver: 'bob@example.com', formToken: 't', action: 'a1?t=x', now: T0 + 65_000, name: 'prod-eu Gatehouse' }));
    assert.match(html, /<p class="muted" id="gatehouse">prod-eu Gatehouse<\/p>/);
    assert.match(html, /<dd id="exec"><code>sh -c &#39;cat \/etc\/app\/\*&#39;<\/code> <span class="muted">in container web; interactive: stdin and a terminal \(TTY\)<\/span><\/dd>/);
    assert.match(html, /<dd id="rule">prod-deletes <span class="muted">— deleting in prod needs a second person<\/span><\/dd>/);
    assert.match(html, /<time datetime="2025-06-01T10:00:00.000Z">2025-06-01 10:00:00 UTC<\/time>/);
  });

  const agent = { tool: 'scale', arguments: '{"namespace":"prod","name":"web","replicas":4}', session: '0b0c7a3e-4c61-4f0f-9a55-1d2b3c4d5e6f' };

  test('the mail of an agent\'s request says it came from an AI agent, with the tool and its arguments', () => {
    const mail = approvalMailFor(sampleApproval({ agent, kubectlCommand: '' }), 'bob@example.com', 'https://gh.example/_gatehouse/approvals/a1?t=x');
    assert.equal(mail.subject, '[Gatehouse] Approval needed: alice@example.com (via an AI agent) wants to delete pods "web-1" in namespace "prod" on cluster default');
    assert.match(mail.text, /\n {4}asked by an AI agent through MCP, signed in as alice@example\.com: tool scale with arguments \{"namespace":"prod","name":"web","replicas":4\}\n/);
    assert.match(mail.html, /<p>Asked by an AI agent through MCP: tool <code>scale<\/code> with arguments <code>\{&#34;namespace&#34;:&#34;prod&#34;,&#34;name&#34;:&#34;web&#34;,&#34;replicas&#34;:4\}<\/code>\.<\/p>/);
  });

  test('the page of an agent\'s request shows the tool and its arguments', async () => {
    const html = String(await approvalPageHtml({ approval: sampleApproval({ agent }), approver: 'bob@example.com', formToken: 't', action: 'a1?t=x', now: T0 + 65_000, name: 'Gatehouse' }));
    assert.match(html, /<dt>AI agent<\/dt><dd id="agent">asked through MCP by an agent signed in as alice@example\.com: tool <code>scale<\/code> with arguments <code>\{&quot;namespace&quot;:&quot;prod&quot;,&quot;name&quot;:&quot;web&quot;,&quot;replicas&quot;:4\}<\/code><\/dd>/);
  });
});
