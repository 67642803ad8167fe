/**
 * The tunnel fails closed at the wire: a client that sends a frame Gatehouse cannot read, or
 * one it will not carry, ends its session — the client is told why on the exec error channel,
 * the recording closes with that reason, and nothing of the bad frame reaches the stand-in's
 * process. Raw HTTP/1.1 over TLS, so every byte is the test's own; the upgrade is refused
 * before anything is recorded when the client offers no protocol Gatehouse reads, or asks
 * for a WebSocket port-forward, or the recording cannot be opened.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { HeaderDeflater } from '../../src/streams/spdy-headers.ts';
import { spdyControlFrame, spdyDataFrame, SPDY_FLAG_FIN, SPDY_TYPE } from '../../src/streams/spdy-frame.ts';
import { wsFrame, WS_OPCODE } from '../../src/streams/ws-frame.ts';
import { clientToken } from '../support/harness.ts';
import { E2E_POLICY } from '../support/kubectl-fixtures.ts';
import { rawRequest } from '../support/raw-https.ts';
import { streamHarness } from './support.ts';

const stand = streamHarness(E2E_POLICY);

const EXEC = '/api/v1/namespaces/default/pods/web/exec?command=sh&stdin=true&stdout=true&stderr=true&container=main';
const MASK = Buffer.from([1, 2, 3, 4]);

function wsHandshake(path: string, protocols: string): string[] {
  return [`GET ${path} HTTP/1.1`, 'Host: gatehouse', `Authorization: Bearer ${clientToken(stand.h)}`, 'Connection: Upgrade', 'Upgrade: websocket', 'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', `Sec-WebSocket-Protocol: ${protocols}`, 'Origin: https://gatehouse'];
}

function spdyHandshake(path: string, protocol: string): string[] {
  return [`POST ${path} HTTP/1.1`, 'Host: gatehouse', `Authorization: Bearer ${clientToken(stand.h)}`, 'Connection: Upgrade', 'Upgrade: SPDY/3.1', `X-Stream-Protocol-Version: ${protocol}`, 'Content-Length: 0'];
}

/** A SYN_STREAM from the client with these headers (compressed with the client's own zlib stream). */
function synStream(id: number, headers: [string, string][], deflater: HeaderDeflater): Buffer {
  const fixed = Buffer.alloc(10);
  fixed.writeUInt32BE(id, 0);
  return spdyControlFrame(SPDY_TYPE.synStream, 0, Buffer.concat([fixed, deflater.block(headers)]));
}

function spdyStreams(types: string[]): { frames: Buffer; deflater: HeaderDeflater } {
  const deflater = new HeaderDeflater();
  return { frames: Buffer.concat(types.map((type, i) => synStream(2 * i + 1, [['streamtype', type]], deflater))), deflater };
}

const stdinMessage = (text: string): Buffer => wsFrame(WS_OPCODE.binary, Buffer.concat([Buffer.from([0]), Buffer.from(text)]), MASK);

interface BadFrameCase {
  name: string;
  lines: () => string[];
  frames: () => Buffer;
  reason: string;
  /** False where no stream is open yet to say it on: then the connection ends with a GOAWAY. */
  told?: false;
}

const badFrames: BadFrameCase[] = [
  {
    name: 'a WebSocket text frame (the base64 protocols are not offered)',
    lines: () => wsHandshake(EXEC, 'v5.channel.k8s.io'),
    frames: () => Buffer.concat([stdinMessage('echo before\n'), wsFrame(WS_OPCODE.text, Buffer.from('AGVjaG8gaGkK'), MASK)]),
    reason: 'refused a frame from the client: the client sent a text frame; v5.channel.k8s.io carries binary frames only',
  },
  {
    name: 'an unmasked WebSocket frame from the client',
    lines: () => wsHandshake(EXEC, 'v4.channel.k8s.io'),
    frames: () => Buffer.concat([stdinMessage('echo before\n'), wsFrame(WS_OPCODE.binary, Buffer.from([0, 0x6c, 0x73, 0x0a]))]),
    reason: 'refused a frame from the client: a WebSocket frame from the client is not masked',
  },
  {
    name: 'a WebSocket frame with reserved bits (an extension nobody negotiated)',
    lines: () => wsHandshake(EXEC, 'v5.channel.k8s.io'),
    frames: () => {
      const frame = stdinMessage('ls\n');
      frame[0] = (frame[0] as number) | 0x40;
      return Buffer.concat([stdinMessage('echo before\n'), frame]);
    },
    reason: 'refused a frame from the client: a WebSocket frame sets reserved bits (no extension is negotiated through Gatehouse)',
  },
  {
    name: 'the client writing on the stdout channel',
    lines: () => wsHandshake(EXEC, 'v5.channel.k8s.io'),
    frames: () => Buffer.concat([stdinMessage('echo before\n'), wsFrame(WS_OPCODE.binary, Buffer.from([1, 0x68, 0x69]), MASK)]),
    reason: 'refused a frame from the client: the client wrote on channel 1, which v5.channel.k8s.io does not let it write',
  },
  {
    name: 'a SPDY stream of a type exec does not have',
    lines: () => spdyHandshake(EXEC, 'v4.channel.k8s.io'),
    frames: () => spdyStreams(['error', 'stdin', 'stdout', 'stderr', 'shell']).frames,
    reason: 'refused a frame from the client: the client opened a SPDY stream of type "shell"; exec has only error, stdin, stdout, stderr, resize',
  },
  {
    name: 'SPDY data on a stream the client never opened',
    lines: () => spdyHandshake(EXEC, 'v4.channel.k8s.io'),
    frames: () => Buffer.concat([spdyStreams(['error', 'stdin', 'stdout', 'stderr']).frames, spdyDataFrame(99, 0, Buffer.from('ls\n'))]),
    reason: 'refused a frame from the client: the client used SPDY stream 99, which the client never opened',
  },
  {
    name: 'a SPDY header block that does not inflate',
    lines: () => spdyHandshake(EXEC, 'v4.channel.k8s.io'),
    frames: () => {
      const fixed = Buffer.alloc(10);
      fixed.writeUInt32BE(1, 0);
      return spdyControlFrame(SPDY_TYPE.synStream, 0, Buffer.concat([fixed, Buffer.from('not zlib at all')]));
    },
    reason: 'refused a frame from the client: a SPDY header block does not inflate: incorrect header check',
    told: false,
  },
  {
    name: 'a SPDY control frame of another version',
    lines: () => spdyHandshake(EXEC, 'v4.channel.k8s.io'),
    frames: () => {
      const frame = spdyControlFrame(SPDY_TYPE.ping, 0, Buffer.from([0, 0, 0, 1]));
      frame.writeUInt16BE(0x8002, 0);
      return frame;
    },
    reason: 'refused a frame from the client: a SPDY control frame of version 2, not 3',
    told: false,
  },
  {
    name: 'a SPDY stream opened out of order',
    lines: () => spdyHandshake(EXEC, 'v4.channel.k8s.io'),
    frames: () => {
      const deflater = new HeaderDeflater();
      return Buffer.concat([synStream(3, [['streamtype', 'error']], deflater), synStream(1, [['streamtype', 'stdin']], deflater), spdyDataFrame(1, SPDY_FLAG_FIN, Buffer.alloc(0))]);
    },
    reason: 'refused a frame from the client: the client opened SPDY stream 1 out of order (last 3)',
  },
];

describe('a frame Gatehouse cannot read or will not carry ends the session (fail closed)', () => {
  for (const c of badFrames) {
    test(`ends the session on ${c.name}`, async () => {
      const from = stand.h.recordings.sessions.length;
      const transcripts = stand.h.api.transcripts.length;
      const reply = await rawRequest(stand.h.gatehouse.url, stand.h.gatehouse.caPem, c.lines(), c.frames(), { timeoutMs: 20_000 });
      assert.equal(reply.status, 101, reply.head);
      const recording = stand.h.recordings.sessions[from];
      assert.ok(recording !== undefined, 'the session was recorded');
      const closed = await recording.whenClosed;
      assert.equal(closed.reason, c.reason);
      assert.equal(reply.ended, 'closed', 'Gatehouse closed the connection');
      const said = JSON.stringify(`Gatehouse ended the session: ${c.reason}`).slice(1, -1);
      if (c.told === false) assert.ok(reply.bytes.includes(Buffer.from([0x80, 0x03, 0x00, SPDY_TYPE.goAway])), 'the connection ended with a GOAWAY');
      else assert.ok(reply.bytes.includes(Buffer.from(said)), `the client was told why: ${JSON.stringify(reply.bytes.toString('latin1'))}`);
      const ran = stand.h.api.transcripts.slice(transcripts);
      for (const transcript of ran) assert.ok(!Buffer.concat(transcript.stdin).toString().includes('ls'), 'nothing of the refused frame reached the process');
    });
  }
});

describe('an upgrade Gatehouse would not read is refused before anything is recorded', () => {
  const cases: { name: string; lines: () => string[]; status: number; message: string }[] = [
    {
      name: 'a WebSocket exec offering only the base64 protocols',
      lines: () => wsHandshake(EXEC, 'base64.channel.k8s.io, v4.base64.channel.k8s.io'),
      status: 400,
      message: 'user "you@example.com" offered the stream protocols base64.channel.k8s.io, v4.base64.channel.k8s.io for WebSocket exec; Gatehouse reads only v5.channel.k8s.io, v4.channel.k8s.io',
    },
    {
      name: 'a WebSocket port-forward (kubectl falls back to SPDY/3.1)',
      lines: () => wsHandshake('/api/v1/namespaces/default/pods/web/portforward?ports=8080', 'SPDY/3.1+portforward.k8s.io, portforward.k8s.io'),
      status: 400,
      message: 'user "you@example.com" asked for a port-forward over WebSocket; Gatehouse reads port-forward streams over SPDY/3.1 only (kubectl falls back to it by itself)',
    },
    {
      name: 'a SPDY exec offering no channel protocol',
      lines: () => spdyHandshake(EXEC, 'v5.channel.k8s.io'),
      status: 400,
      message: 'user "you@example.com" offered the stream protocols v5.channel.k8s.io for SPDY/3.1 exec; Gatehouse reads only v4.channel.k8s.io, v3.channel.k8s.io, v2.channel.k8s.io, channel.k8s.io',
    },
  ];
  for (const c of cases) {
    test(`refuses ${c.name}, naming what it reads`, async () => {
      const from = { recordings: stand.h.recordings.sessions.length, requests: stand.h.mark() };
      const reply = await rawRequest(stand.h.gatehouse.url, stand.h.gatehouse.caPem, c.lines(), '');
      assert.equal(reply.status, c.status, reply.head);
      const status = JSON.parse(reply.body.toString()) as { kind: string; code: number; message: string };
      assert.equal(status.kind, 'Status');
      assert.equal(status.code, c.status);
      assert.equal(status.message, c.message);
      assert.equal(stand.h.recordings.sessions.length, from.recordings, 'nothing was recorded');
      assert.equal(stand.h.receivedSince(from.requests).length, 0, 'nothing reached the cluster');
    });
  }

  test('refuses every session (503) while recordings cannot be opened, passing on the store\'s reason, and asks nothing of the cluster', async () => {
    const from = stand.h.mark();
    stand.h.recordings.failOpen = 'the exec session into pod "web" in namespace "default" was not started: it cannot be recorded (the records bucket answered 503 SlowDown)';
    try {
      const result = await stand.h.kubectl('1.33', ['exec', 'web', '-c', 'main', '--', 'ls']);
      assert.equal(result.code, 1);
      assert.match(
        result.stderr,
        /Error from server \(ServiceUnavailable\): the exec session into pod "web" in namespace "default" was not started: it cannot be recorded \(the records bucket answered 503 SlowDown\)/,
      );
      const old = await stand.h.kubectl('1.27', ['exec', 'web', '-c', 'main', '--', 'ls']);
      assert.match(old.stderr, /it cannot be recorded \(the records bucket answered 503 SlowDown\)/);
    } finally {
      stand.h.recordings.failOpen = undefined;
    }
    assert.equal(stand.h.receivedSince(from).filter((r) => r.path.endsWith('/exec')).length, 0, 'no exec reached the cluster');
  });
});
