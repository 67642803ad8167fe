/**
 * Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`), which kubectl's
 * typed clients send from 1.33 on (`create namespace`, `create secret`, `create deployment`,
 * `auth can-i`, `drain`'s evictions, …): the `k8s\0` envelope around a `runtime.Unknown`,
 * decoded into the JSON object it stands for, for every kind of the GA built-in API groups.
 * The field tables (proto/k8s-schema.json) are generated from k8s.io/api's and
 * k8s.io/apimachinery's generated.proto by proto/generate-schema.ts. Decoded as the API
 * server's JSON would carry it: Time as RFC 3339, IntOrString and Quantity as their JSON
 * forms, bytes as base64, RawExtension and FieldsV1 as JSON; zero values left out (what
 * the Go types' omitempty does). Other kinds are refused with 415, saying so. Protobuf
 * answers are encode.ts's.
 */
import { readFileSync } from 'node:fs';
import { ApiError } from './status.ts';

type Row = [number, string, string, number];
interface Schema {
  packages: Record<string, string>;
  messages: Record<string, Row[]>;
}
const SCHEMA = JSON.parse(readFileSync(new URL('./proto/k8s-schema.json', import.meta.url), 'utf8')) as Schema;

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

/** One message's fields by number: varints as bigint, length-delimited and fixed-width values as Buffer. */
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
      value = buf.subarray(pos, pos + (wire === 1 ? 8 : 4));
      pos += wire === 1 ? 8 : 4;
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
const int = (v: bigint | Buffer | undefined): number => (typeof v === 'bigint' ? Number(BigInt.asIntN(64, v)) : 0);

const META = 'k8s.io.apimachinery.pkg.apis.meta.v1';
/** Messages whose JSON form is not an object of their fields. */
const SPECIAL: Record<string, (f: Fields) => unknown> = {
  [`${META}.Time`]: (f) => time(f, 0),
  [`${META}.MicroTime`]: (f) => time(f, 6),
  [`${META}.Duration`]: (f) => `${int(f.get(1)?.[0]) / 1e9}s`,
  [`${META}.FieldsV1`]: (f) => rawJson(f.get(1)?.[0]),
  'k8s.io.apimachinery.pkg.runtime.RawExtension': (f) => rawJson(f.get(1)?.[0]),
  'k8s.io.apimachinery.pkg.api.resource.Quantity': (f) => str(f, 1),
  'k8s.io.apimachinery.pkg.util.intstr.IntOrString': (f) => (int(f.get(1)?.[0]) === 1 ? (str(f, 3) ?? '') : int(f.get(2)?.[0])),
};

/** Time {seconds 1, nanos 2} as RFC 3339; the zero time is "unset". */
function time(f: Fields, fractionDigits: number): string | undefined {
  const seconds = int(f.get(1)?.[0]);
  const nanos = int(f.get(2)?.[0]);
  if (seconds === 0 && nanos === 0) return undefined;
  const iso = new Date(seconds * 1000).toISOString().slice(0, 19);
  return fractionDigits === 0 ? `${iso}Z` : `${iso}.${String(nanos).padStart(9, '0').slice(0, fractionDigits)}Z`;
}

function rawJson(v: bigint | Buffer | undefined): unknown {
  if (!(v instanceof Buffer) || v.length === 0) return undefined;
  try {
    return JSON.parse(v.toString('utf8')) as unknown;
  } catch {
    return v.toString('base64');
  }
}

function scalar(type: string, v: bigint | Buffer): unknown {
  switch (type) {
    case 'string':
      return v instanceof Buffer ? v.toString('utf8') : undefined;
    case 'bytes':
      return v instanceof Buffer ? v.toString('base64') : undefined;
    case 'bool':
      return typeof v === 'bigint' ? v !== 0n : undefined;
    case 'double':
      return v instanceof Buffer && v.length === 8 ? v.readDoubleLE(0) : undefined;
    case 'float':
      return v instanceof Buffer && v.length === 4 ? v.readFloatLE(0) : undefined;
    default:
      return typeof v === 'bigint' ? int(v) : undefined;
  }
}

/** Packed repeated varints (wire type 2 where a number was declared). */
function unpack(buf: Buffer): bigint[] {
  const out: bigint[] = [];
  for (let pos = 0; pos < buf.length; ) {
    const [value, next] = readVarint(buf, pos);
    out.push(value);
    pos = next;
  }
  return out;
}

/** Zero values are left out, as the Go types' omitempty leaves them out of JSON. */
const isEmpty = (v: unknown): boolean =>
  v === undefined || v === '' || v === 0 || v === false || (typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 0);

function value(type: string, v: bigint | Buffer): unknown {
  if (SCALARS.has(type)) return scalar(type, v);
  return v instanceof Buffer ? decodeMessage(type, fields(v)) : undefined;
}

const SCALARS = new Set(['string', 'bytes', 'bool', 'int32', 'int64', 'uint32', 'uint64', 'double', 'float', 'fixed64', 'sint32', 'sint64']);

function decodeMessage(type: string, f: Fields): unknown {
  const special = SPECIAL[type];
  if (special !== undefined) return special(f);
  const rows = SCHEMA.messages[type];
  if (rows === undefined) throw new Error(`no field table for ${type}`);
  const out: Record<string, unknown> = {};
  for (const [number, name, fieldType, kind] of rows) {
    const values = f.get(number);
    if (values === undefined) continue;
    if (kind === 2) {
      const [keyType = 'string', valueType = 'string'] = fieldType.split(',');
      const entries: Record<string, unknown> = {};
      for (const entry of values) {
        if (!(entry instanceof Buffer)) continue;
        const e = fields(entry);
        const k = e.get(1)?.[0];
        const v = e.get(2)?.[0];
        entries[String(k === undefined ? '' : scalar(keyType, k))] = v === undefined ? (valueType === 'string' || valueType === 'bytes' ? '' : {}) : value(valueType, v);
      }
      out[name] = entries;
    } else if (kind === 1) {
      const numeric = SCALARS.has(fieldType) && !['string', 'bytes'].includes(fieldType);
      out[name] = values.flatMap((v) => (numeric && v instanceof Buffer && !['double', 'float'].includes(fieldType) ? unpack(v) : [v])).map((v) => value(fieldType, v));
    } else {
      const decoded = value(fieldType, values[values.length - 1] as bigint | Buffer);
      if (!isEmpty(decoded)) out[name] = decoded;
    }
  }
  return out;
}

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
  const pkg = SCHEMA.packages[apiVersion];
  const type = pkg === undefined ? undefined : `${pkg}.${kind}`;
  const raw = unknown.get(2)?.[0];
  if (type === undefined || SCHEMA.messages[type] === undefined || !(raw instanceof Buffer)) {
    throw new ApiError(415, 'UnsupportedMediaType', `the stand-in decodes protobuf bodies of the GA built-in API groups only, not ${apiVersion}/${kind}`);
  }
  try {
    return { apiVersion, kind, ...(decodeMessage(type, fields(raw)) as Record<string, unknown>) };
  } catch (error) {
    throw new ApiError(400, 'BadRequest', `the body of the request was in an unknown format: ${(error as Error).message}`);
  }
}
