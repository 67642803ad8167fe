/**
 * A large `kubectl cp` both ways through Gatehouse, with the oldest installed SPDY/3.1 kubectl
 * and the newest WebSocket one: the file arrives whole in the pod and comes back whole, the
 * recordings name it with its size, and Gatehouse's tunnel holds a bounded number of bytes
 * per direction however large the file — also while the pod stops reading its stdin for a
 * while (the stand-in's `stdinStall`), when kubectl keeps sending and only backpressure
 * through Gatehouse keeps it from piling up there. The bound is read from the tunnels' own
 * counter (bytes read from one socket and not yet handed to the kernel by the other), not
 * from timing or the process's memory.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startFakeApiServer, type FakeApiServer } from '../stand-in/apiserver.ts';
import { installedKubectlVersions, startGatehouseFront, type GatehouseFront } from '../support/harness.ts';
import { E2E_POLICY } from '../support/kubectl-fixtures.ts';
import { channelBytes } from '../support/memory-recordings.ts';
import { minor, recordingOf, streamPod } from './support.ts';

const FILE_BYTES = 40 * 1024 * 1024;
/** Two 1 MiB high-water marks (queue, destination) and a frame or chunk: what a direction may hold. */
const HELD_BOUND_BYTES = 4 * 1024 * 1024;
/** The pod stops reading after 8 MiB for 1.5 s: time enough for kubectl to send far more than the bound. */
const STALL = { afterBytes: 8 * 1024 * 1024, ms: 1500 };

const installed = installedKubectlVersions();
const spdy = installed.find((version) => minor(version) < 30);
const websocket = [...installed].reverse().find((version) => minor(version) >= 30);
const versions = [spdy, websocket].filter((version): version is string => version !== undefined);

/** What the stand-in's latest `program` read on stdin. */
function stdinOf(api: FakeApiServer, program: string): Buffer {
  const transcript = api.transcripts.filter((t) => t.command[0] === program).at(-1);
  assert.ok(transcript !== undefined, `the stand-in ran ${program}`);
  return Buffer.concat(transcript.stdin);
}

describe('a large kubectl cp through Gatehouse streams with bounded buffering', () => {
  let api: FakeApiServer;
  let front: GatehouseFront;
  const content = randomBytes(FILE_BYTES);
  before(async () => {
    api = await startFakeApiServer({ stdinStall: STALL });
    api.store.put(streamPod('web'));
    front = await startGatehouseFront(api.kubeconfigPath, { policy: E2E_POLICY });
  });
  after(async () => {
    await front?.close();
    await api?.close();
  });

  test('the kubectl versions under test include a SPDY/3.1 and a WebSocket one', () => {
    assert.deepEqual(
      versions.map((version) => (minor(version) < 30 ? 'SPDY/3.1' : 'WebSocket')),
      ['SPDY/3.1', 'WebSocket'],
      `installed: ${installed.join(', ')}`,
    );
  });

  for (const version of versions) {
    const protocol = minor(version) < 30 ? 'SPDY/3.1' : 'WebSocket';
    test(`kubectl ${version} copies 40 MiB into a pod that stalls and back out over ${protocol}, byte for byte, Gatehouse holding at most 4 MiB per direction`, async () => {
      const stats = front.gatehouse.tunnels?.stats;
      assert.ok(stats !== undefined, 'the local Gatehouse exposes its tunnels');
      const local = join(front.dir, `large-${version}.bin`);
      writeFileSync(local, content);
      const remote = `/tmp/large-${version}.bin`;

      stats.peakHeldBytes = 0;
      const from = front.recordings.sessions.length;
      const up = await front.kubectl(version, ['cp', local, `web:${remote}`, '-c', 'main'], { timeoutMs: 120_000 });
      assert.equal(up.code, 0, up.stderr);
      assert.ok(api.writtenFiles.get('default/web/main')?.get(remote)?.equals(content), 'the file arrived in the pod whole');
      const extract = await recordingOf(front, from, 'tar');
      assert.equal(extract.closed?.reason, 'command exited 0');
      assert.equal(channelBytes(extract, 'stdin').length, stdinOf(api, 'tar').length, 'the recorder saw every byte of the tar kubectl sent');
      const heldInto = stats.peakHeldBytes;
      assert.ok(heldInto > 0, 'the counter saw the transfer');
      assert.ok(heldInto <= HELD_BOUND_BYTES, `into the pod, one direction held ${heldInto} bytes at most; the bound is ${HELD_BOUND_BYTES}`);

      stats.peakHeldBytes = 0;
      const back = front.recordings.sessions.length;
      const copy = join(front.dir, `large-${version}.back.bin`);
      const down = await front.kubectl(version, ['cp', `web:${remote}`, copy, '-c', 'main'], { timeoutMs: 120_000 });
      assert.equal(down.code, 0, down.stderr);
      assert.ok(readFileSync(copy).equals(content), 'the file came back whole');
      const create = await recordingOf(front, back, 'tar');
      assert.equal(create.closed?.reason, 'command exited 0');
      assert.ok(channelBytes(create, 'stdout').length > FILE_BYTES, 'the recorder saw the whole tar the pod wrote');
      const heldOut = stats.peakHeldBytes;
      assert.ok(heldOut > 0 && heldOut <= HELD_BOUND_BYTES, `out of the pod, one direction held ${heldOut} bytes at most; the bound is ${HELD_BOUND_BYTES}`);
    });
  }
});
