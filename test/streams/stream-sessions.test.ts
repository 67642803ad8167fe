/**
 * Sessions under policy and how they end, with the real kubectl — one version per protocol
 * (1.27: SPDY/3.1, 1.33: WebSocket; the full 1.27–1.33 matrix of the plain paths is
 * kubectl-streams.test.ts): argv rules (allow, deny, review), a port the policy refuses, an
 * approver's terminate from the approval page, an upstream that breaks mid-session and a
 * client that goes away. Each checks what kubectl printed and the recording's close reason.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { request as httpsRequest } from 'node:https';
import { describe, test } from 'node:test';
import { channelBytes } from '../support/memory-recordings.ts';
import { runInTerminal } from '../support/terminal.ts';
import { httpOverPort, kubectlArgv, recordingOf, streamHarness, terminalEnv, transcriptOf } from './support.ts';

const POLICY = `
apiVersion: gatehouse/v1
rules:
  - name: no-rm
    effect: deny
    resources: [pods/exec]
    commands: [[rm, "..."]]
    reason: "files are not removed by hand"
  - name: shells-need-review
    effect: review
    resources: [pods/exec]
    shells: true
    reason: "a shell runs anything"
    review: { approvers: [lead@example.com], grant: once }
  - name: read-only-commands
    effect: allow
    resources: [pods/exec]
    commands: [[ls, "..."], [echo, "..."]]
  - name: ssh-port-never
    effect: deny
    resources: [pods/portforward]
    ports: [5432]
    reason: "the database is reached through the bastion"
  - name: port-forward
    effect: allow
    resources: [pods/portforward]
  - name: discovery
    effect: allow
    verbs: [get]
    nonResourceURLs: ["/api", "/api/*", "/apis", "/apis/*", "/openapi/*", "/version"]
  - name: reads
    effect: allow
    verbs: [get, list, watch]
    resources: ["*"]
`;

const stand = streamHarness(POLICY);

/** The approver's link from the local mail stand-in. */
async function linkFor(approvalId: string): Promise<URL> {
  const mails = (await stand.h.gatehouse.mail?.messages('lead@example.com')) ?? [];
  const text = mails.find((m) => m.body.text?.includes(approvalId))?.body.text ?? '';
  const link = /https:\/\/\S+\/_gatehouse\/approvals\/\S+/.exec(text)?.[0];
  assert.ok(link !== undefined, `a mail with the link of approval ${approvalId}`);
  return new URL(link);
}

/** The approval page as the approver's browser would use it: GET, or POST from the page itself. */
function page(link: URL, form?: Record<string, string>): Promise<{ status: number; text: string }> {
  const body = form === undefined ? '' : new URLSearchParams(form).toString();
  const headers: Record<string, string> = form === undefined ? {} : { origin: stand.h.gatehouse.url, 'sec-fetch-site': 'same-origin', 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(Buffer.byteLength(body)) };
  return new Promise((resolve, reject) => {
    const req = httpsRequest(link, { method: form === undefined ? 'GET' : 'POST', ca: stand.h.gatehouse.caPem, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const formTokenOf = (html: string): string => /name="formToken" value="([^"]+)"/.exec(html)?.[1] ?? '';

for (const version of ['1.27', '1.33']) {
  const protocol = version === '1.27' ? 'SPDY/3.1' : 'WebSocket';
  describe(`kubectl ${version} (${protocol}): sessions under policy`, () => {
    test('an argv rule allows ls, denies rm naming the rule, and sends a shell to review', async () => {
      const from = stand.h.mark();
      const ls = await stand.h.kubectl(version, ['exec', 'web', '-c', 'main', '--', 'ls', '/etc']);
      assert.equal(ls.code, 0, ls.stderr);
      assert.equal(ls.stdout, 'hostname\nos-release\n');
      const rm = await stand.h.kubectl(version, ['exec', 'web', '-c', 'main', '--', 'rm', '-rf', '/etc']);
      assert.equal(rm.code, 1);
      assert.match(rm.stderr, /Error from server \(Forbidden\): user "you@example.com" \(groups: developers\) may not create pods\/exec "web" in namespace "default": denied by rule "no-rm" \(files are not removed by hand\)/);
      const shell = await stand.h.kubectl(version, ['exec', 'web', '-c', 'main', '--', 'sh', '-c', 'rm -rf /etc']);
      assert.equal(shell.code, 1);
      assert.match(shell.stderr, /without approval \(rule "shells-need-review"\): approval [0-9a-f]+ is pending, asked lead@example.com/);
      const execs = stand.h.receivedSince(from).filter((r) => r.path.endsWith('/exec'));
      assert.deepEqual(
        execs.map((r) => new URLSearchParams(r.query).getAll('command').join(' ')),
        ['ls /etc'],
        'only the allowed command reached the cluster',
      );
    });

    test('a port the policy refuses is answered by Gatehouse, and never opened upstream', async () => {
      const from = stand.h.recordings.sessions.length;
      const forward = stand.h.startKubectl(version, ['port-forward', 'pod/web', ':5432']);
      try {
        const out = await forward.waitFor(/-> 5432/);
        const port = Number(/127\.0\.0\.1:(\d+) -> 5432/.exec(out)?.[1]);
        await httpOverPort(port, '/').catch(() => undefined);
        // kubectl ≥1.33 logs the error with its quotes escaped.
        await forward.waitForStderr(/may not forward port 5432 of pod default\/web: denied by rule \\?"ssh-port-never\\?" \(the database is reached through the bastion\)/);
      } finally {
        await forward.stop();
      }
      const recording = stand.h.recordings.sessions.slice(from).find((s) => s.info.kind === 'portforward');
      assert.ok(recording !== undefined);
      await recording.whenClosed;
      assert.equal(recording.events.length, 0, 'nothing of the refused port was forwarded');
    });

    test('an approver terminates an approved interactive session from the approval page; the recording says who', async () => {
      const args = ['exec', '-it', 'web', '-c', 'main', '--', 'sh'];
      const asked = await stand.h.kubectl(version, ['exec', '-i', 'web', '-c', 'main', '--', 'sh']);
      const approvalId = /approval ([0-9a-f]+) is pending/.exec(asked.stderr)?.[1];
      assert.ok(approvalId !== undefined, asked.stderr);
      // The -it run is another request (tty=true): approve the one kubectl will send.
      const terminalAsk = runInTerminal(kubectlArgv(stand.h, version, args), { env: terminalEnv(stand.h), cols: 80, rows: 24 });
      const pending = await terminalAsk.exited;
      const ttyApproval = /approval ([0-9a-f]+) is pending/.exec(pending.output)?.[1];
      assert.ok(ttyApproval !== undefined, pending.output);
      const link = await linkFor(ttyApproval);
      const opened = await page(link);
      assert.match(opened.text, /<ol id="argv" start="0"><li><code>sh<\/code><\/li><\/ol>/, 'the page shows the exact argv');
      const approved = await page(link, { formToken: formTokenOf(opened.text), verdict: 'approve' });
      assert.equal(approved.status, 303, approved.text);

      const from = { recordings: stand.h.recordings.sessions.length, transcripts: stand.h.api.transcripts.length };
      const terminal = runInTerminal(kubectlArgv(stand.h, version, args), { env: terminalEnv(stand.h), cols: 80, rows: 24 });
      await terminal.waitFor('web:/# ');
      terminal.type('echo still here\r');
      await terminal.waitFor('still here\r\n');
      const live = await page(link);
      assert.match(live.text, /Terminate session/, 'the page offers to end the running session');
      const forged = await page(link, { formToken: 'not-the-pages', verdict: 'terminate' });
      assert.equal(forged.status, 403, 'a terminate without the page\'s form token is refused');
      assert.match(forged.text, /this terminate did not come from the approval page: its form token is missing or does not match the link/);
      terminal.type('echo after the forgery\r');
      await terminal.waitFor('after the forgery\r\n');
      const ended = await page(link, { formToken: formTokenOf(live.text), verdict: 'terminate' });
      assert.equal(ended.status, 200, ended.text);
      assert.match(ended.text, /Ended the session this approval let in; its recording says lead@example.com ended it\./, 'the page says how many sessions ended');
      assert.doesNotMatch(ended.text, /Terminate session/);
      const exited = await terminal.exited;
      assert.notEqual(exited.code, 0);
      assert.match(exited.output, /Gatehouse ended the session: terminated by lead@example.com/);
      const recording = await recordingOf(stand.h, from.recordings, 'sh');
      assert.equal(recording.closed?.reason, 'terminated by lead@example.com');
      assert.equal(channelBytes(recording, 'stdin').toString(), 'echo still here\recho after the forgery\r');
      assert.deepEqual(channelBytes(recording, 'stdout'), Buffer.concat(transcriptOf(stand.h, from.transcripts, 'sh').stdout));
      const after = await page(link);
      assert.doesNotMatch(after.text, /Terminate session/, 'nothing left to terminate');
      const again = await page(link, { formToken: formTokenOf(live.text), verdict: 'terminate' });
      assert.equal(again.status, 400);
      assert.match(again.text, new RegExp(`no session let in by approval ${ttyApproval} is running on this Gatehouse`));
    });

    test('an upstream that breaks mid-session ends it: kubectl is told, the recording says why', async () => {
      const from = stand.h.recordings.sessions.length;
      const terminal = runInTerminal(kubectlArgv(stand.h, version, ['exec', '-i', 'web', '-c', 'main', '--', 'ls']), { env: terminalEnv(stand.h), cols: 80, rows: 24 });
      // ls with stdin waits for its input: the session is live until the API server goes away.
      await waitForSession(from);
      stand.h.api.dropStreams();
      const exited = await terminal.exited;
      assert.notEqual(exited.code, 0, exited.output);
      const recording = await recordingOf(stand.h, from, 'ls');
      assert.match(recording.closed?.reason ?? '', /^upstream (closed the connection before the session ended|connection lost \(\w+\))$/);
      assert.match(exited.output, /Gatehouse ended the session: upstream/);
    });

    test('a client that goes away ends the session; the recording says the client left', async () => {
      const from = stand.h.recordings.sessions.length;
      // kubectl itself is killed, its stdin still open: in a terminal, killing `script` hangs the
      // pty up first, kubectl then closes stdin cleanly and the command runs to its end.
      const [program, ...args] = kubectlArgv(stand.h, version, ['exec', '-i', 'web', '-c', 'main', '--', 'ls']);
      const kubectl = spawn(program as string, args, { env: terminalEnv(stand.h), stdio: ['pipe', 'ignore', 'ignore'] });
      await waitForSession(from);
      kubectl.kill('SIGKILL');
      const recording = await recordingOf(stand.h, from, 'ls');
      assert.match(recording.closed?.reason ?? '', /^client (closed the connection|connection lost \(\w+\))$/);
    });
  });
}

/** Waits until a session recorded after `from` is open (its recording started). */
async function waitForSession(from: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (stand.h.recordings.sessions.length <= from) {
    if (Date.now() > deadline) throw new Error('no session started');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  // The recording opens before the upstream is asked: give the 101 time to arrive.
  await new Promise((resolve) => setTimeout(resolve, 300));
}
