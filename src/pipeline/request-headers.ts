/**
 * The client's request headers as stages read them without building a Headers object: on
 * the Node runtime the raw list Node parsed (repeats kept, names as sent), elsewhere the
 * request's Headers. Building a Headers from the lightweight Node request (which
 * @hono/node-server otherwise answers `get` from Node's own parse) costs every call.
 */
import type { GatehouseContext } from '../context.ts';

/** Flat [name, value, …]: raw on Node (repeats kept, names as sent), Headers entries (lower-case) elsewhere. */
export function clientHeaderPairs(c: GatehouseContext): string[] {
  const raw = c.env?.incoming?.rawHeaders;
  if (raw !== undefined) return raw;
  const flat: string[] = [];
  c.req.raw.headers.forEach((value, name) => flat.push(name, value));
  return flat;
}
