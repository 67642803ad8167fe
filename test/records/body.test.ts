import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { recordBody, recordSentBody } from '../../src/records/body.ts';
import type { BodyOptions, CapturedBody, DocumentMasker, RecordedBody } from '../../src/records/body.ts';
import { recordBodyMasking } from '../../src/records/masker.ts';
import { classifyRequest } from '../../src/request-info.ts';

/** Stands in for the masking module: replaces every `data` value with "***". */
const maskData: DocumentMasker = (document) => {
  let masked = false;
  const visit = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(visit);
    if (value === null || typeof value !== 'object') return value;
    const out: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(value)) {
      if (key === 'data' && inner !== null && typeof inner === 'object') {
        masked = true;
        out[key] = Object.fromEntries(Object.keys(inner).map((k) => [k, '***']));
      } else out[key] = visit(inner);
    }
    return out;
  };
  return { document: visit(document), masked };
};

const whole = (text: string): CapturedBody => {
  const bytes = Buffer.from(text);
  return { head: bytes, totalBytes: bytes.byteLength, complete: true };
};
const startOf = (text: string, keep: number): CapturedBody => {
  const bytes = Buffer.from(text);
  return { head: bytes.subarray(0, keep), totalBytes: bytes.byteLength, complete: false };
};
const options = (over: Partial<BodyOptions> = {}): BodyOptions => ({
  contentType: 'application/json',
  maxBodyBytes: 1000,
  mask: maskData,
  request: undefined,
  alreadyMasked: false,
  ...over,
});

const secret = JSON.stringify({ kind: 'Secret', metadata: { name: 's' }, data: { password: 'c2VjcmV0' } });
const watchStream = [
  JSON.stringify({ type: 'ADDED', object: { kind: 'Secret', data: { a: 'QQ==' } } }),
  JSON.stringify({ type: 'MODIFIED', object: { kind: 'Secret', data: { a: 'Qg==' } } }),
  '',
].join('\n');

describe('recordBody', () => {
  const cases: { name: string; captured: CapturedBody; options: BodyOptions; expected: RecordedBody }[] = [
    {
      name: 'records nothing for an empty body',
      captured: whole(''),
      options: options(),
      expected: { text: null, bytes: 0, truncated: false, masked: false },
    },
    {
      name: 'masks a JSON document before recording it',
      captured: whole(secret),
      options: options(),
      expected: { text: JSON.stringify({ kind: 'Secret', metadata: { name: 's' }, data: { password: '***' } }), bytes: secret.length, truncated: false, masked: true },
    },
    {
      name: 'masks a watch stream event by event',
      captured: whole(watchStream),
      options: options(),
      expected: {
        text: [
          JSON.stringify({ type: 'ADDED', object: { kind: 'Secret', data: { a: '***' } } }),
          JSON.stringify({ type: 'MODIFIED', object: { kind: 'Secret', data: { a: '***' } } }),
        ].join('\n'),
        bytes: watchStream.length,
        truncated: false,
        masked: true,
      },
    },
    {
      name: 'cuts a masked document to maxBodyBytes and keeps the original size',
      captured: whole(secret),
      options: options({ maxBodyBytes: 10 }),
      expected: { text: '{"kind":"S', bytes: secret.length, truncated: true, masked: true },
    },
    {
      name: 'keeps the partial last event of a cut stream that already passed the mask stage',
      captured: startOf(watchStream, watchStream.indexOf('\n') + 20),
      options: options({ alreadyMasked: true }),
      expected: {
        text: `${JSON.stringify({ type: 'ADDED', object: { kind: 'Secret', data: { a: '***' } } })}\n${watchStream.slice(watchStream.indexOf('\n') + 1, watchStream.indexOf('\n') + 20)}`,
        bytes: watchStream.length,
        truncated: true,
        masked: true,
      },
    },
    {
      name: 'drops the partial last event of a cut stream that was sent unmasked (break-glass)',
      captured: startOf(watchStream, watchStream.indexOf('\n') + 20),
      options: options({ alreadyMasked: false }),
      expected: {
        text: JSON.stringify({ type: 'ADDED', object: { kind: 'Secret', data: { a: '***' } } }),
        bytes: watchStream.length,
        truncated: true,
        masked: true,
      },
    },
    {
      name: 'records only a note for the cut start of one unmasked document',
      captured: startOf(secret, 20),
      options: options({ alreadyMasked: false }),
      expected: {
        text: `[not recorded: the start of a ${secret.length}-byte response that was sent unmasked cannot be masked without the whole document]`,
        bytes: secret.length,
        truncated: false,
        masked: false,
      },
    },
    {
      name: 'records only a note for a protobuf body',
      captured: whole('\x6b\x38\x73\x00binary'),
      options: options({ contentType: 'application/vnd.kubernetes.protobuf' }),
      expected: { text: '[not recorded: application/vnd.kubernetes.protobuf body of 10 bytes cannot be masked]', bytes: 10, truncated: false, masked: false },
    },
    {
      name: 'keeps a protobuf body as the masked text a reader gives',
      captured: whole('k8s\x00secret-bytes'),
      options: options({ contentType: 'application/vnd.kubernetes.protobuf', readProtobuf: () => ({ text: 'kind: Secret; password: <masked>', masked: true }) }),
      expected: { text: 'kind: Secret; password: <masked>', bytes: 16, truncated: false, masked: true },
    },
    {
      name: 'records only a note for a protobuf body the reader cannot mask',
      captured: whole('k8s\x00cm-bytes'),
      options: options({ contentType: 'application/vnd.kubernetes.protobuf', readProtobuf: () => undefined }),
      expected: { text: '[not recorded: application/vnd.kubernetes.protobuf body of 12 bytes cannot be masked]', bytes: 12, truncated: false, masked: false },
    },
    {
      name: 'records only a note for JSON that does not parse',
      captured: whole('{"kind":"Secret","data":{"a":"QQ=="'),
      options: options(),
      expected: { text: '[not recorded: 35 bytes of application/json that do not parse, so cannot be masked]', bytes: 35, truncated: false, masked: false },
    },
    {
      name: 'masks a YAML body (server-side apply) and records it as JSON',
      captured: whole('kind: Secret\ndata:\n  token: c2VjcmV0\n'),
      options: options({ contentType: 'application/apply-patch+yaml' }),
      expected: { text: '{"kind":"Secret","data":{"token":"***"}}', bytes: 37, truncated: false, masked: true },
    },
    {
      name: 'keeps plain text (container logs) as it is, cut to size',
      captured: whole('line one\nline two\n'),
      options: options({ contentType: 'text/plain', maxBodyBytes: 8 }),
      expected: { text: 'line one', bytes: 18, truncated: true, masked: false },
    },
    {
      name: 'never cuts inside a UTF-8 character',
      captured: whole('ééé'),
      options: options({ contentType: 'text/plain', maxBodyBytes: 3 }),
      expected: { text: 'é', bytes: 6, truncated: true, masked: false },
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.deepEqual(recordBody(c.captured, c.options), c.expected);
    });
  }
});

describe('recordSentBody', () => {
  const maskedSecret = JSON.stringify({ kind: 'Secret', metadata: { name: 's' }, data: { password: '***' } });
  const cases: { name: string; sent: string; passedMaskStage: boolean; options: BodyOptions; expected: RecordedBody }[] = [
    {
      name: 'keeps JSON the mask stage masked as it was sent, without masking it again',
      sent: maskedSecret,
      passedMaskStage: true,
      options: options({ mask: () => assert.fail('masked a second time') }),
      expected: { text: maskedSecret, bytes: maskedSecret.length, truncated: false, masked: false },
    },
    {
      name: 'cuts masked JSON to size, never inside a UTF-8 character',
      sent: '{"a":"ééé"}',
      passedMaskStage: true,
      options: options({ maxBodyBytes: 9 }),
      expected: { text: '{"a":"é', bytes: 14, truncated: true, masked: false },
    },
    {
      name: 'masks JSON that did not pass the mask stage (break-glass, or no masking planned)',
      sent: secret,
      passedMaskStage: false,
      options: options(),
      expected: { text: maskedSecret, bytes: secret.length, truncated: false, masked: true },
    },
    {
      name: 'masks a body that is not JSON even when it passed the mask stage (YAML)',
      sent: 'kind: Secret\ndata:\n  token: c2VjcmV0\n',
      passedMaskStage: true,
      options: options({ contentType: 'application/yaml' }),
      expected: { text: '{"kind":"Secret","data":{"token":"***"}}', bytes: 37, truncated: false, masked: true },
    },
    {
      name: 'records only a note for the cut-off start of a longer unmasked document, as a tee would',
      sent: secret,
      passedMaskStage: false,
      options: options({ maxBodyBytes: 20 }),
      expected: { text: `[not recorded: the start of a ${secret.length}-byte response that was sent unmasked cannot be masked without the whole document]`, bytes: secret.length, truncated: false, masked: false },
    },
    {
      name: 'records nothing for an empty body',
      sent: '',
      passedMaskStage: true,
      options: options(),
      expected: { text: null, bytes: 0, truncated: false, masked: false },
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.deepEqual(recordSentBody(Buffer.from(c.sent), c.options, c.passedMaskStage), c.expected);
    });
  }
});

describe('recordBody with the records masker, on YAML read as the API server reads it', () => {
  const { mask, readProtobuf } = recordBodyMasking(undefined);
  const request = classifyRequest('POST', '/api/v1/namespaces/prod/secrets', '', { runtime: 'node' });
  const yamlOptions = options({ contentType: 'application/yaml', mask, readProtobuf, request });
  // YAML 1.1 with merge keys (sigs.k8s.io/yaml): the API server stores stringData.password here.
  for (const [name, text] of [
    ['stringData merged in with <<', 'apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData:\n  <<: {password: hunter2}\n'],
    ['stringData as a flow map', 'apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {password: hunter2}\n'],
  ] as const) {
    test(`masks a Secret's value given by ${name}, under the key the API server stores`, () => {
      const recorded = recordBody(whole(text), yamlOptions);
      assert.equal(recorded.masked, true);
      assert.ok(recorded.text !== null && !recorded.text.includes('hunter2'), String(recorded.text));
      assert.deepEqual(Object.keys((JSON.parse(recorded.text) as { stringData: Record<string, string> }).stringData), ['password']);
    });
  }
});

