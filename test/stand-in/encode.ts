/**
 * The wire encodings kube-apiserver answers in besides JSON, so that a test sees what a client
 * that asked for them would get — and a Secret value leaking through Gatehouse in any of them:
 *
 * - YAML (`application/yaml`): the object as YAML (not for watches, which the API server
 *   serves in JSON, protobuf and CBOR only).
 * - protobuf (`application/vnd.kubernetes.protobuf`): the `k8s\0` envelope around a
 *   `runtime.Unknown` holding the typed message. Encoded here for the kinds the masking tests
 *   need — Secret, SecretList, Table (meta.k8s.io/v1) — with the field numbers of the
 *   generated.proto files; Secret `data` values travel as raw bytes (not base64). Other kinds
 *   are not offered in protobuf (as the API server does for custom resources). Watch events
 *   are length-prefixed `WatchEvent` messages (`;stream=watch`).
 * - CBOR (`application/cbor`, 1.32+; `application/cbor-seq` for watches): the self-described
 *   CBOR tag, then the object as a map; Secret `data` values are byte strings (raw bytes).
 */
import { stringify as toYaml } from 'yaml';

export type Encoding = 'json' | 'yaml' | 'protobuf' | 'cbor';

/** Kinds the stand-in encodes in protobuf. */
export function protobufEncodes(kind: string | undefined): boolean {
  return kind === 'Secret' || kind === 'SecretList' || kind === 'Table';
}

/** One answer body in `encoding`. */
export function encodeBody(body: unknown, encoding: Encoding): Buffer {
  switch (encoding) {
    case 'json':
      return Buffer.from(JSON.stringify(body));
    case 'yaml':
      return Buffer.from(toYaml(body));
    case 'protobuf':
      return protobufEnvelope(body as Obj);
    case 'cbor':
      return Buffer.concat([SELF_DESCRIBED, cbor(withSecretBytes(body))]);
  }
}

/** One watch event in `encoding` (JSON: a line; protobuf: length-prefixed WatchEvent; CBOR: one item of a sequence). */
export function encodeWatchEvent(type: string, object: unknown, encoding: Exclude<Encoding, 'yaml'>): Buffer {
  switch (encoding) {
    case 'json':
      return Buffer.from(`${JSON.stringify({ type, object })}\n`);
    case 'protobuf': {
      const event = Buffer.concat([pbString(1, type), pbMessage(2, pbBytes(1, protobufEnvelope(object as Obj)))]);
      const length = Buffer.alloc(4);
      length.writeUInt32BE(event.length);
      return Buffer.concat([length, event]);
    }
    case 'cbor':
      return Buffer.concat([SELF_DESCRIBED, cbor(withSecretBytes({ type, object }))]);
  }
}

type Obj = Record<string, unknown>;

// ─── protobuf ───────────────────────────────────────────────────────────────

const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

function varint(value: number): Buffer {
  const out: number[] = [];
  let n = BigInt(value);
  do {
    let byte = Number(n & 0x7fn);
    n >>= 7n;
    if (n > 0n) byte |= 0x80;
    out.push(byte);
  } while (n > 0n);
  return Buffer.from(out);
}

const key = (field: number, wire: number): Buffer => varint(field * 8 + wire);
const pbBytes = (field: number, bytes: Buffer): Buffer => Buffer.concat([key(field, 2), varint(bytes.length), bytes]);
const pbMessage = pbBytes;
const pbString = (field: number, value: unknown): Buffer => (typeof value === 'string' ? pbBytes(field, Buffer.from(value)) : Buffer.alloc(0));
const pbInt = (field: number, value: unknown): Buffer => (typeof value === 'number' ? Buffer.concat([key(field, 0), varint(value)]) : Buffer.alloc(0));
const pbBool = (field: number, value: unknown): Buffer => (typeof value === 'boolean' ? Buffer.concat([key(field, 0), varint(value ? 1 : 0)]) : Buffer.alloc(0));

function pbMap(field: number, record: unknown, value: (v: string) => Buffer): Buffer {
  if (record === null || typeof record !== 'object') return Buffer.alloc(0);
  return Buffer.concat(Object.entries(record as Record<string, string>).map(([k, v]) => pbMessage(field, Buffer.concat([pbString(1, k), pbBytes(2, value(String(v)))]))));
}

const utf8 = (v: string): Buffer => Buffer.from(v);

function objectMeta(meta: unknown): Buffer {
  const m = (meta ?? {}) as Obj;
  const created = typeof m.creationTimestamp === 'string' ? Math.floor(Date.parse(m.creationTimestamp) / 1000) : undefined;
  return Buffer.concat([
    pbString(1, m.name),
    pbString(2, m.generateName),
    pbString(3, m.namespace),
    pbString(5, m.uid),
    pbString(6, m.resourceVersion),
    created === undefined || Number.isNaN(created) ? Buffer.alloc(0) : pbMessage(8, pbInt(1, created)),
    pbMap(11, m.labels, utf8),
    pbMap(12, m.annotations, utf8),
  ]);
}

function listMeta(meta: unknown): Buffer {
  const m = (meta ?? {}) as Obj;
  return Buffer.concat([pbString(2, m.resourceVersion), pbString(3, m.continue), pbInt(4, m.remainingItemCount)]);
}

function secret(object: Obj): Buffer {
  return Buffer.concat([
    pbMessage(1, objectMeta(object.metadata)),
    pbMap(2, object.data, (v) => Buffer.from(v, 'base64')),
    pbString(3, object.type),
    pbMap(4, object.stringData, utf8),
    pbBool(5, object.immutable),
  ]);
}

const rawExtension = (field: number, value: unknown): Buffer => (value === undefined || value === null ? Buffer.alloc(0) : pbMessage(field, pbBytes(1, Buffer.from(JSON.stringify(value)))));

function table(object: Obj): Buffer {
  const columns = (object.columnDefinitions ?? []) as Obj[];
  const rows = (object.rows ?? []) as Obj[];
  return Buffer.concat([
    pbMessage(1, listMeta(object.metadata)),
    ...columns.map((c) => pbMessage(2, Buffer.concat([pbString(1, c.name), pbString(2, c.type), pbString(3, c.format), pbString(4, c.description), pbInt(5, c.priority)]))),
    ...rows.map((r) => pbMessage(3, Buffer.concat([...((r.cells ?? []) as unknown[]).map((cell) => rawExtension(1, cell)), rawExtension(3, r.object)]))),
  ]);
}

function typed(object: Obj): Buffer {
  switch (object.kind) {
    case 'Secret':
      return secret(object);
    case 'SecretList':
      return Buffer.concat([pbMessage(1, listMeta(object.metadata)), ...((object.items ?? []) as Obj[]).map((item) => pbMessage(2, secret(item)))]);
    case 'Table':
      return table(object);
    default:
      throw new Error(`the stand-in encodes no ${String(object.kind)} in protobuf`);
  }
}

function protobufEnvelope(object: Obj): Buffer {
  const typeMeta = Buffer.concat([pbString(1, object.apiVersion), pbString(2, object.kind)]);
  return Buffer.concat([MAGIC, pbMessage(1, typeMeta), pbBytes(2, typed(object))]);
}

// ─── CBOR ───────────────────────────────────────────────────────────────────

/** Tag 55799: "self-described CBOR", which the API server writes first. */
const SELF_DESCRIBED = Buffer.from([0xd9, 0xd9, 0xf7]);

/** Secret `data` values (base64 in JSON) become bytes, as Go's []byte encodes in CBOR. */
function withSecretBytes(value: unknown, secretHere = false): unknown {
  if (Array.isArray(value)) return value.map((item) => withSecretBytes(item, secretHere));
  if (value === null || typeof value !== 'object') return value;
  const object = value as Obj;
  const isSecret = secretHere || object.kind === 'Secret';
  const out: Obj = {};
  for (const [name, child] of Object.entries(object)) {
    if (isSecret && name === 'data' && child !== null && typeof child === 'object') {
      out[name] = Object.fromEntries(Object.entries(child as Record<string, string>).map(([k, v]) => [k, Buffer.from(String(v), 'base64')]));
    } else out[name] = withSecretBytes(child, name === 'items' && object.kind === 'SecretList');
  }
  return out;
}

function head(major: number, length: number): Buffer {
  if (length < 24) return Buffer.from([(major << 5) | length]);
  if (length < 0x100) return Buffer.from([(major << 5) | 24, length]);
  if (length < 0x10000) return Buffer.from([(major << 5) | 25, length >> 8, length & 0xff]);
  const b = Buffer.alloc(5);
  b[0] = (major << 5) | 26;
  b.writeUInt32BE(length, 1);
  return b;
}

function cbor(value: unknown): Buffer {
  if (value === null || value === undefined) return Buffer.from([0xf6]);
  if (value === true) return Buffer.from([0xf5]);
  if (value === false) return Buffer.from([0xf4]);
  if (Buffer.isBuffer(value)) return Buffer.concat([head(2, value.length), value]);
  if (typeof value === 'string') {
    const bytes = Buffer.from(value);
    return Buffer.concat([head(3, bytes.length), bytes]);
  }
  if (typeof value === 'number') {
    if (Number.isInteger(value) && value >= 0 && value < 2 ** 32) return head(0, value);
    if (Number.isInteger(value) && value < 0 && value > -(2 ** 32)) return head(1, -1 - value);
    const b = Buffer.alloc(9);
    b[0] = 0xfb;
    b.writeDoubleBE(value, 1);
    return b;
  }
  if (Array.isArray(value)) return Buffer.concat([head(4, value.length), ...value.map(cbor)]);
  const entries = Object.entries(value as Obj).filter(([, v]) => v !== undefined);
  return Buffer.concat([head(5, entries.length), ...entries.flatMap(([k, v]) => [cbor(k), cbor(v)])]);
}
