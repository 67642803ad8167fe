/**
 * A readable summary of a Kubernetes protobuf body (kubectl sends core objects such as
 * ConfigMaps as `application/vnd.kubernetes.protobuf`). Field names are not on the wire and
 * Gatehouse carries no schemas, so the summary is the envelope's apiVersion/kind and the
 * text the object holds, in wire order — enough for an approver to see names, keys and
 * values. Secrets show their metadata and keys only, values masked. Pure.
 *
 * Wire format: "k8s\0" + runtime.Unknown { 1: TypeMeta { 1: apiVersion, 2: kind }, 2: raw object }.
 */

const MAGIC = [0x6b, 0x38, 0x73, 0x00];
const MAX_DEPTH = 12;

interface Field {
  number: number;
  /** Length-delimited payload; undefined for varint/fixed fields. */
  bytes?: Uint8Array;
}

/** Parses one message level; undefined when the bytes are not a well-formed message. */
function parseMessage(bytes: Uint8Array): Field[] | undefined {
  const fields: Field[] = [];
  let at = 0;
  const varint = (): number | undefined => {
    let value = 0;
    for (let shift = 0; shift < 64; shift += 7) {
      const byte = bytes[at++];
      if (byte === undefined) return undefined;
      value += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return value;
    }
    return undefined;
  };
  while (at < bytes.length) {
    const key = varint();
    if (key === undefined) return undefined;
    const number = Math.floor(key / 8);
    const wire = key % 8;
    if (number === 0) return undefined;
    if (wire === 0) {
      if (varint() === undefined) return undefined;
      fields.push({ number });
    } else if (wire === 1 || wire === 5) {
      at += wire === 1 ? 8 : 4;
      if (at > bytes.length) return undefined;
      fields.push({ number });
    } else if (wire === 2) {
      const length = varint();
      if (length === undefined || at + length > bytes.length) return undefined;
      fields.push({ number, bytes: bytes.subarray(at, at + length) });
      at += length;
    } else {
      return undefined;
    }
  }
  return fields;
}

function asText(bytes: Uint8Array): string | undefined {
  if (bytes.length === 0) return undefined;
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return /^[\P{Cc}\t\n\r]+$/u.test(text) ? text : undefined;
  } catch {
    return undefined;
  }
}

/** Every text value in the message tree, in wire order. */
function texts(bytes: Uint8Array, depth: number, out: string[]): void {
  const text = asText(bytes);
  if (text !== undefined) {
    out.push(text);
    return;
  }
  if (depth >= MAX_DEPTH) return;
  for (const field of parseMessage(bytes) ?? []) if (field.bytes !== undefined) texts(field.bytes, depth + 1, out);
}

function field(fields: Field[] | undefined, number: number): Uint8Array | undefined {
  return fields?.find((f) => f.number === number)?.bytes;
}

/** Secret: metadata (1) and type (3) as text; data (2) and stringData (4) as "key: <masked>". */
function secretTexts(object: Uint8Array): string[] {
  const out: string[] = [];
  for (const f of parseMessage(object) ?? []) {
    if (f.bytes === undefined) continue;
    if (f.number === 2 || f.number === 4) {
      const key = asText(field(parseMessage(f.bytes), 1) ?? new Uint8Array(0));
      out.push(`${key ?? '?'}: <masked>`);
    } else {
      texts(f.bytes, 1, out);
    }
  }
  return out;
}

/** The summary text, or undefined when the bytes are not a Kubernetes protobuf object. */
export function summarizeProtobuf(body: Uint8Array, resource: string): string | undefined {
  if (body.length < MAGIC.length || MAGIC.some((b, i) => body[i] !== b)) return undefined;
  const envelope = parseMessage(body.subarray(MAGIC.length));
  const typeMeta = parseMessage(field(envelope, 1) ?? new Uint8Array(0));
  const apiVersion = asText(field(typeMeta, 1) ?? new Uint8Array(0)) ?? '?';
  const kind = asText(field(typeMeta, 2) ?? new Uint8Array(0)) ?? '?';
  const object = field(envelope, 2);
  if (envelope === undefined || object === undefined) return undefined;
  const found: string[] = [];
  if (kind === 'Secret' || resource === 'secrets') found.push(...secretTexts(object));
  else texts(object, 0, found);
  return [`kind: ${kind} (${apiVersion}), sent as protobuf; the text it holds, in order:`, ...found.map((t) => `  ${JSON.stringify(t)}`)].join('\n');
}
