/**
 * End to end, every installed kubectl (1.27–1.33): exec, exec -it with the stand-in's shell in
 * a pseudo-terminal, attach, cp both ways and port-forward, through Gatehouse to the
 * stand-in. kubectl ≤1.29 speaks SPDY/3.1, ≥1.30 WebSocket for exec/attach/cp (port-forward
 * falls back to SPDY/3.1: Gatehouse refuses it over WebSocket). Each case checks what kubectl
 * printed, and that the recording Gatehouse made holds byte for byte what the stand-in's
 * process read and wrote (its transcript) — or, for port-forward, what went over the local port.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { installedKubectlVersions } from '../support/harness.ts';
import { E2E_POLICY } from '../support/kubectl-fixtures.ts';
import { channelBytes, forwardedBytes } from '../support/memory-recordings.ts';
import { runInTerminal } from '../support/terminal.ts';
import { assertSameBytes, httpOverPort, kubectlArgv, minor, recordingOf, recordOf, streamHarness, terminalEnv, transcriptOf, waitUntil } from './support.ts';

const stand = streamHarness(E2E_POLICY);

for (const version of installedKubectlVersions()) {
  describe(`kubectl ${version}: streams through Gatehouse, recorded`, () => {
    const protocol = minor(version) < 30 ? 'SPDY/3.1' : 'WebSocket';

    test(`exec runs a command over ${protocol}; the recording holds its output and exit`, async () => {
      const from = { transcripts: stand.h.api.transcripts.length, recordings: stand.h.recordings.sessions.length, requests: stand.h.mark() };
      const ok = await stand.h.kubectl(version, ['exec', 'web', '-c', 'main', '--', 'echo', 'hello', 'from', 'web']);
      assert.equal(ok.code, 0, ok.stderr);
      assert.equal(ok.stdout, 'hello from web\n');
      const upgrade = stand.h.receivedSince(from.requests).find((r) => r.path === '/api/v1/namespaces/default/pods/web/exec');
      assert.equal(upgrade?.method, minor(version) < 30 ? 'POST' : 'GET', 'the protocol kubectl chose');
      const recording = await recordingOf(stand.h, from.recordings, 'echo');
      assert.deepEqual(recording.info.command, ['echo', 'hello', 'from', 'web']);
      assert.equal(recording.info.container, 'main');
      assert.equal(recording.info.user, stand.h.user);
      assert.equal(recording.closed?.reason, 'command exited 0');
      assertSameBytes(recording, transcriptOf(stand.h, from.transcripts, 'echo'));
      // The call's record is written when the session ended, and links its recording.
      const record = await recordOf(stand.h, recording.info.requestId);
      assert.equal(record?.recording_key, `memory/${recording.info.requestId}`);
      assert.equal(record?.stream_end_reason, 'command exited 0');
      assert.equal(record?.stream_stdout_bytes, 'hello from web\n'.length);

      const failed = await stand.h.kubectl(version, ['exec', 'web', '-c', 'main', '--', 'ls', '/nowhere']);
      assert.equal(failed.code, 2, failed.stderr);
      const failedRecording = await recordingOf(stand.h, from.recordings, 'ls');
      assert.equal(failedRecording.closed?.reason, 'command terminated with non-zero exit code: exit status 2');
      assert.equal(channelBytes(failedRecording, 'stderr').toString(), "ls: cannot access '/nowhere': No such file or directory\n");
      assertSameBytes(failedRecording, transcriptOf(stand.h, from.transcripts, 'ls'));
    });

    test(`exec -it runs the shell in a terminal over ${protocol}; keystrokes, screen and size are recorded byte for byte`, async () => {
      const from = { transcripts: stand.h.api.transcripts.length, recordings: stand.h.recordings.sessions.length };
      const terminal = runInTerminal(kubectlArgv(stand.h, version, ['exec', '-it', 'web', '-c', 'main', '--', 'sh']), { env: terminalEnv(stand.h), cols: 100, rows: 30 });
      await terminal.waitFor('web:/# ');
      terminal.type('echo typed here\r');
      await terminal.waitFor('typed here\r\n');
      terminal.type('cd /etc\r');
      await terminal.waitFor('web:/etc# ');
      terminal.type('exit\r');
      const exited = await terminal.exited;
      assert.equal(exited.code, 0, exited.output);
      const recording = await recordingOf(stand.h, from.recordings, 'sh');
      assert.equal(recording.info.tty, true);
      assert.equal(recording.closed?.reason, 'command exited 0');
      assert.equal(channelBytes(recording, 'stdin').toString(), 'echo typed here\rcd /etc\rexit\r');
      assertSameBytes(recording, transcriptOf(stand.h, from.transcripts, 'sh'));
      const resize = recording.events.find((e) => e.type === 'resize');
      assert.deepEqual(resize === undefined ? undefined : { cols: resize.cols, rows: resize.rows }, { cols: 100, rows: 30 }, 'the terminal size kubectl sent');
    });

    test(`cp copies a file into the pod and back out over ${protocol}; the recordings hold the tar both ways`, async () => {
      const from = { transcripts: stand.h.api.transcripts.length, recordings: stand.h.recordings.sessions.length };
      const content = Buffer.concat([Buffer.from(`kubectl ${version} was here\n`), Buffer.from([0, 1, 2, 254, 255]), Buffer.alloc(70_000, 0x61), randomBytes(3_000_000)]);
      const local = join(stand.h.dir, `upload-${version}.bin`);
      writeFileSync(local, content);
      const up = await stand.h.kubectl(version, ['cp', local, `web:/tmp/upload-${version}.bin`, '-c', 'main']);
      assert.equal(up.code, 0, up.stderr);
      assert.deepEqual(stand.h.api.writtenFiles.get('default/web/main')?.get(`/tmp/upload-${version}.bin`), content, 'the file arrived whole');
      const extract = await recordingOf(stand.h, from.recordings, 'tar');
      assert.equal(extract.info.command?.includes('-xmf'), true, extract.info.command?.join(' '));
      assert.equal(extract.closed?.reason, 'command exited 0');
      assertSameBytes(extract, transcriptOf(stand.h, from.transcripts, 'tar'));
      assert.ok(channelBytes(extract, 'stdin').includes(content), 'the recording carries the file inside the tar');

      const back = { transcripts: stand.h.api.transcripts.length, recordings: stand.h.recordings.sessions.length };
      const copy = join(stand.h.dir, `download-${version}.bin`);
      const down = await stand.h.kubectl(version, ['cp', `web:/tmp/upload-${version}.bin`, copy, '-c', 'main']);
      assert.equal(down.code, 0, down.stderr);
      assert.deepEqual(readFileSync(copy), content, 'the file came back whole');
      const create = await recordingOf(stand.h, back.recordings, 'tar');
      assert.deepEqual(create.info.command, ['tar', 'cf', '-', `/tmp/upload-${version}.bin`]);
      assertSameBytes(create, transcriptOf(stand.h, back.transcripts, 'tar'));
    });

    test(`attach -i talks to the container's main process over ${protocol}, recorded`, async () => {
      const from = { transcripts: stand.h.api.transcripts.length, recordings: stand.h.recordings.sessions.length };
      const attached = await stand.h.kubectl(version, ['attach', '-i', 'web', '-c', 'main'], { input: 'echo attached\n' });
      assert.equal(attached.code, 0, attached.stderr);
      assert.match(attached.stdout, /^attached\n/);
      const recording = await recordingOf(stand.h, from.recordings, 'attach');
      assert.equal(recording.info.kind, 'attach');
      assert.equal(recording.info.command, undefined);
      assert.equal(channelBytes(recording, 'stdin').toString(), 'echo attached\n');
      assertSameBytes(recording, transcriptOf(stand.h, from.transcripts, '(attach)'));
    });

    test('port-forward carries a connection over SPDY/3.1; the recording counts the bytes each way', async () => {
      const from = { recordings: stand.h.recordings.sessions.length };
      const forward = stand.h.startKubectl(version, ['port-forward', 'pod/web', ':8080']);
      try {
        const line = await forward.waitFor(/Forwarding from 127\.0\.0\.1:(\d+) -> 8080/);
        const port = Number(/Forwarding from 127\.0\.0\.1:(\d+) -> 8080/.exec(line)?.[1]);
        const { sent, received } = await httpOverPort(port, '/');
        assert.match(received.toString(), /hello from pod web, port 8080/);
        const recording = stand.h.recordings.sessions.slice(from.recordings).find((s) => s.info.kind === 'portforward');
        assert.ok(recording !== undefined, 'the port-forward is recorded');
        await waitUntil(() => forwardedBytes(recording, 8080, 'out').length >= received.length);
        assert.deepEqual(forwardedBytes(recording, 8080, 'in'), sent, 'what went in, byte for byte');
        assert.deepEqual(forwardedBytes(recording, 8080, 'out'), received, 'what came out, byte for byte');
      } finally {
        await forward.stop();
      }
      const recording = await recordingOf(stand.h, from.recordings, 'portforward');
      assert.equal(recording.closed?.reason, 'client closed the connection');
    });
  });
}

