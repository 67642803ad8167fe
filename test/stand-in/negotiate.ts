/**
 * Content negotiation as kube-apiserver does it: the first entry of the client's Accept
 * list that the server can serve wins (q-values are not consulted). Covers the JSON
 * object, `Table`, `PartialObjectMetadata(List)` and aggregated discovery media types.
 */

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

export type ObjectRepresentation =
  | { as: 'object' }
  | { as: 'Table'; version: 'v1' | 'v1beta1'; contentType: string }
  | { as: 'PartialObjectMetadata'; version: 'v1' | 'v1beta1'; contentType: string };

/** What to answer a get/list/watch with; undefined when nothing acceptable can be served (406). */
export function negotiateObject(header: string | undefined): ObjectRepresentation | undefined {
  for (const range of parseAccept(header)) {
    if (!isJson(range)) continue;
    const { as, g, v } = range.params;
    if (as === undefined) return { as: 'object' };
    if (g !== 'meta.k8s.io' || (v !== 'v1' && v !== 'v1beta1')) continue;
    const contentType = `application/json;as=${as};v=${v};g=meta.k8s.io`;
    if (as === 'Table') return { as: 'Table', version: v, contentType };
    if (as === 'PartialObjectMetadata' || as === 'PartialObjectMetadataList') {
      return { as: 'PartialObjectMetadata', version: v, contentType: `application/json;as=PartialObjectMetadata;v=${v};g=meta.k8s.io` };
    }
  }
  return undefined;
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

export const NOT_ACCEPTABLE_MESSAGE = 'only the following media types are accepted: application/json';
