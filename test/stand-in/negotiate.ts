/**
 * Content negotiation as kube-apiserver does it: the first entry of the client's Accept
 * list that the server can serve wins (q-values are not consulted). Covers the object,
 * `Table`, `PartialObjectMetadata(List)` and aggregated discovery media types, in JSON, YAML,
 * protobuf and CBOR (see encode.ts).
 */
import { protobufEncodes, type Encoding } from './encode.ts';

interface MediaRange {
  type: string;
  params: Record<string, string>;
}

export function parseAccept(header: string | undefined): MediaRange[] {
  if (header === undefined || header.trim() === '') return [{ type: '*/*', params: {} }];
  return header.split(',').map((entry) => {
    const [type = '', ...rest] = entry.split(';').map((s) => s.trim());
    const params: Record<string, string> = {};
    for (const p of rest) {
      const eq = p.indexOf('=');
      if (eq > 0) params[p.slice(0, eq).trim()] = p.slice(eq + 1).trim();
    }
    return { type: type.toLowerCase(), params };
  });
}

function isJson(range: MediaRange): boolean {
  return range.type === 'application/json' || range.type === 'application/*' || range.type === '*/*';
}

/** The encoding a media range asks for, or undefined for one the stand-in does not serve. */
function encodingOf(range: MediaRange, watch: boolean): Encoding | undefined {
  if (isJson(range)) return 'json';
  if (range.type === 'application/yaml') return watch ? undefined : 'yaml';
  if (range.type === 'application/vnd.kubernetes.protobuf') return 'protobuf';
  if (range.type === 'application/cbor' || (watch && range.type === 'application/cbor-seq')) return 'cbor';
  return undefined;
}

const MEDIA_TYPES: Record<Encoding, string> = {
  json: 'application/json',
  yaml: 'application/yaml',
  protobuf: 'application/vnd.kubernetes.protobuf',
  cbor: 'application/cbor',
};

export type ObjectRepresentation = { encoding: Encoding; contentType: string } & (
  | { as: 'object' }
  | { as: 'Table'; version: 'v1' | 'v1beta1' }
  | { as: 'PartialObjectMetadata'; version: 'v1' | 'v1beta1' }
);

export interface NegotiateOptions {
  /** The resource's kind: protobuf is offered only for kinds the stand-in encodes in it. */
  kind?: string;
  watch?: boolean;
}

/**
 * What to answer a get/list/watch with; undefined when nothing acceptable can be served (406).
 * JSON, YAML (not for watches), protobuf (for the kinds encode.ts knows, and Tables) and CBOR.
 */
export function negotiateObject(header: string | undefined, options: NegotiateOptions = {}): ObjectRepresentation | undefined {
  const watch = options.watch === true;
  for (const range of parseAccept(header)) {
    const encoding = encodingOf(range, watch);
    if (encoding === undefined) continue;
    const { as, g, v } = range.params;
    const base = MEDIA_TYPES[encoding];
    if (as === undefined) {
      if (encoding === 'protobuf' && !protobufEncodes(options.kind)) continue;
      return { as: 'object', encoding, contentType: base };
    }
    if (g !== 'meta.k8s.io' || (v !== 'v1' && v !== 'v1beta1')) continue;
    if (as === 'Table') return { as: 'Table', version: v, encoding, contentType: `${base};as=Table;v=${v};g=meta.k8s.io` };
    if ((as === 'PartialObjectMetadata' || as === 'PartialObjectMetadataList') && encoding !== 'protobuf') {
      return { as: 'PartialObjectMetadata', version: v, encoding, contentType: `${base};as=PartialObjectMetadata;v=${v};g=meta.k8s.io` };
    }
  }
  return undefined;
}

/** The Content-Type of a watch stream in this representation. */
export function watchContentType(rep: ObjectRepresentation): string {
  if (rep.encoding === 'protobuf') return `${MEDIA_TYPES.protobuf};stream=watch`;
  if (rep.encoding === 'cbor') return 'application/cbor-seq';
  return rep.as === 'object' ? 'application/json' : rep.contentType;
}

/** For `/api` and `/apis`: the aggregated discovery version asked for, or "legacy". */
export function negotiateDiscovery(header: string | undefined): 'v2' | 'v2beta1' | 'legacy' {
  for (const range of parseAccept(header)) {
    if (!isJson(range)) continue;
    const { as, g, v } = range.params;
    if (as === undefined) return 'legacy';
    if (as === 'APIGroupDiscoveryList' && g === 'apidiscovery.k8s.io' && (v === 'v2' || v === 'v2beta1')) return v;
  }
  return 'legacy';
}

export const NOT_ACCEPTABLE_MESSAGE =
  'only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf, application/cbor';
