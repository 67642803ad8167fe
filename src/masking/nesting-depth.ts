/**
 * How deep a JSON or YAML document nests, checked on its bytes before anything parses or
 * walks it: the masker walks documents recursively (and the YAML parser parses them so), so a
 * document nested deeper than any Kubernetes object ever is (a body of 100,000 `[`, or of
 * `- - - - …`) would otherwise end in a stack overflow — a 500 — or a parse that runs for
 * seconds, instead of a refusal that says why. Pure; nothing else about the document is checked.
 */
import { GatehouseError } from '../errors.ts';

/**
 * Deepest nesting Gatehouse reads. Kubernetes objects nest a few dozen levels (a CRD's
 * schema a few hundred at most); Go's encoding/json, which the API server uses, stops at 10,000.
 */
export const MAX_JSON_DEPTH = 1000;

/** Whether JSON `bytes` nests deeper than `limit` (objects and arrays, outside strings). */
export function exceedsJsonDepth(bytes: Uint8Array | string, limit = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i += 1) {
    const byte = codeAt(bytes, i);
    if (inString) {
      if (byte === 0x5c) i += 1;
      else if (byte === 0x22) inString = false;
    } else if (byte === 0x22) inString = true;
    else if (byte === 0x7b || byte === 0x5b) {
      depth += 1;
      if (depth > limit) return true;
    } else if (byte === 0x7d || byte === 0x5d) depth -= 1;
  }
  return false;
}

/**
 * Whether YAML text may nest deeper than `limit`: an upper bound per line — its indentation,
 * plus every block indicator (`- `, `? `, `: `) and flow bracket on it. Never smaller than the
 * real depth; far larger only for text no Kubernetes client writes.
 */
export function exceedsYamlDepth(bytes: Uint8Array | string, limit = MAX_JSON_DEPTH): boolean {
  let flow = 0;
  let line = 0;
  let atIndent = true;
  for (let i = 0; i < bytes.length; i += 1) {
    const byte = codeAt(bytes, i);
    if (byte === 0x0a) {
      line = 0;
      atIndent = true;
      continue;
    }
    if (atIndent && (byte === 0x20 || byte === 0x09)) line += 1;
    else {
      atIndent = false;
      const next = i + 1 < bytes.length ? codeAt(bytes, i + 1) : undefined;
      if ((byte === 0x2d || byte === 0x3f || byte === 0x3a) && (next === 0x20 || next === 0x0a || next === undefined)) line += 1;
      else if (byte === 0x5b || byte === 0x7b) flow += 1;
      else if ((byte === 0x5d || byte === 0x7d) && flow > 0) flow -= 1;
    }
    if (line + flow > limit) return true;
  }
  return false;
}

/** A byte (or, for text, a UTF-16 unit: the structural characters are ASCII either way). */
function codeAt(input: Uint8Array | string, i: number): number {
  return typeof input === 'string' ? input.charCodeAt(i) : (input[i] as number);
}

/** The refusal for a document nested too deep; `what` names it ("the request body", "the upstream's answer for …"). */
export function tooDeep(what: string): GatehouseError {
  return new GatehouseError('ERR_JSON_TOO_DEEP', `${what} nests deeper than ${MAX_JSON_DEPTH} levels; Gatehouse reads no deeper`);
}
