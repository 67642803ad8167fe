/**
 * Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`), which kubectl's
 * typed clients send from 1.33 on (`create secret`, `create configmap`, `auth can-i`, …):
 * the `k8s\0` envelope around a `runtime.Unknown`, decoded into JSON objects for the kinds
 * kubectl creates that way. Other kinds are refused with 415, saying so. Protobuf answers are
 * encode.ts's.
 */
import { ApiError } from './status.ts';

type Fields = Map<number, (bigint | Buffer)[]>;

function readVarint(buf: Buffer, at: number): [bigint, number] {
  let result = 0n;
  let shift = 0n;
  let pos = at;
  for (;;) {
    const byte = buf[pos];
    if (byte === undefined) throw new Error('truncated varint');
    pos += 1;
    result |= BigInt(byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) return [result, pos];
    shift += 7n;
  }
}

/** One message's fields by number: varints as bigint, length-delimited as Buffer (fixed widths skipped). */
function fields(buf: Buffer): Fields {
  const out: Fields = new Map();
  let pos = 0;
  while (pos < buf.length) {
    const [key, next] = readVarint(buf, pos);
    pos = next;
    const number = Number(key >> 3n);
    const wire = Number(key & 7n);
    let value: bigint | Buffer;
    if (wire === 0) [value, pos] = readVarint(buf, pos);
    else if (wire === 2) {
      const [length, start] = readVarint(buf, pos);
      value = buf.subarray(start, start + Number(length));
      pos = start + Number(length);
    } else if (wire === 1 || wire === 5) {
      pos += wire === 1 ? 8 : 4;
      continue;
    } else throw new Error(`unsupported wire type ${wire}`);
    out.set(number, [...(out.get(number) ?? []), value]);
  }
  return out;
}

const str = (f: Fields, n: number): string | undefined => {
  const v = f.get(n)?.[0];
  return v instanceof Buffer ? v.toString('utf8') : undefined;
};
const msg = (f: Fields, n: number): Fields | undefined => {
  const v = f.get(n)?.[0];
  return v instanceof Buffer ? fields(v) : undefined;
};
const bool = (f: Fields, n: number): boolean | undefined => {
  const v = f.get(n)?.[0];
  return typeof v === 'bigint' ? v !== 0n : undefined;
};

/** map<string, V> entries: key = 1, value = 2. */
function map(f: Fields, n: number, value: (b: Buffer) => string): Record<string, string> | undefined {
  const entries = f.get(n);
  if (entries === undefined) return undefined;
  const out: Record<string, string> = {};
  for (const entry of entries) {
    if (!(entry instanceof Buffer)) continue;
    const e = fields(entry);
    const v = e.get(2)?.[0];
    out[str(e, 1) ?? ''] = v instanceof Buffer ? value(v) : '';
  }
  return out;
}

function compact(object: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(object).filter(([, v]) => v !== undefined));
}

/** k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta, the fields a client sets. */
function objectMeta(f: Fields | undefined): Record<string, unknown> {
  if (f === undefined) return {};
  const utf8 = (b: Buffer): string => b.toString('utf8');
  return compact({
    name: str(f, 1),
    generateName: str(f, 2),
    namespace: str(f, 3),
    resourceVersion: str(f, 6),
    labels: map(f, 11, utf8),
    annotations: map(f, 12, utf8),
    finalizers: f.get(14)?.map((b) => (b instanceof Buffer ? b.toString('utf8') : '')),
  });
}

const DECODERS: Record<string, (f: Fields) => Record<string, unknown>> = {
  // k8s.io.api.core.v1.Secret: metadata 1, data 2 (bytes), type 3, stringData 4, immutable 5.
  'v1/Secret': (f) =>
    compact({ metadata: objectMeta(msg(f, 1)), data: map(f, 2, (b) => b.toString('base64')), type: str(f, 3), stringData: map(f, 4, (b) => b.toString('utf8')), immutable: bool(f, 5) }),
  // k8s.io.api.core.v1.ConfigMap: metadata 1, data 2, binaryData 3 (bytes), immutable 4.
  'v1/ConfigMap': (f) =>
    compact({ metadata: objectMeta(msg(f, 1)), data: map(f, 2, (b) => b.toString('utf8')), binaryData: map(f, 3, (b) => b.toString('base64')), immutable: bool(f, 4) }),
  // k8s.io.api.authorization.v1.SelfSubjectAccessReview: metadata 1, spec 2
  // { resourceAttributes 1 { namespace 1, verb 2, group 3, version 4, resource 5, subresource 6, name 7 }, nonResourceAttributes 2 { path 1, verb 2 } }.
  'authorization.k8s.io/v1/SelfSubjectAccessReview': (f) => {
    const spec = msg(f, 2);
    const r = spec === undefined ? undefined : msg(spec, 1);
    const n = spec === undefined ? undefined : msg(spec, 2);
    return {
      metadata: objectMeta(msg(f, 1)),
      spec: compact({
        resourceAttributes: r === undefined ? undefined : compact({ namespace: str(r, 1), verb: str(r, 2), group: str(r, 3), version: str(r, 4), resource: str(r, 5), subresource: str(r, 6), name: str(r, 7) }),
        nonResourceAttributes: n === undefined ? undefined : compact({ path: str(n, 1), verb: str(n, 2) }),
      }),
    };
  },
};

const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

/** Decodes a protobuf request body into the JSON object it stands for, or refuses with 415. */
export function decodeProtobufBody(body: Buffer): Record<string, unknown> {
  if (!body.subarray(0, 4).equals(MAGIC)) throw new ApiError(400, 'BadRequest', 'the body of the request was in an unknown format: protobuf without the "k8s\\x00" prefix');
  let unknown: Fields;
  try {
    unknown = fields(body.subarray(4));
  } catch (error) {
    throw new ApiError(400, 'BadRequest', `the body of the request was in an unknown format: ${(error as Error).message}`);
  }
  const typeMeta = msg(unknown, 1);
  const apiVersion = typeMeta === undefined ? '' : (str(typeMeta, 1) ?? '');
  const kind = typeMeta === undefined ? '' : (str(typeMeta, 2) ?? '');
  const decode = DECODERS[`${apiVersion}/${kind}`];
  const raw = unknown.get(2)?.[0];
  if (decode === undefined || !(raw instanceof Buffer)) {
    throw new ApiError(415, 'UnsupportedMediaType', `the stand-in decodes protobuf bodies only for ${Object.keys(DECODERS).join(', ')}, not ${apiVersion}/${kind}`);
  }
  return { apiVersion, kind, ...decode(fields(raw)) };
}
