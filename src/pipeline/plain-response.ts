/**
 * Responses built from a plain header object, and reading their headers from that object.
 *
 * Reading `response.headers` builds a Headers object (on the Node runtime the Response is
 * @hono/node-server's lightweight one, which otherwise writes the plain object as is), and
 * a Headers built is a Headers the runtime must then iterate to write: on a proxied small GET
 * that is a measurable share of the call. Stages that build a response (forward, mask) build
 * it here; stages that read one (record) read with `headerOf`, which falls back to
 * `response.headers` for any other Response (a Status from errors.ts, a test's).
 *
 * The object is the response's headers: nothing edits it after the response is built (a
 * stage that needs other headers builds another response).
 */
export interface PlainInit {
  readonly status: number;
  readonly statusText?: string | undefined;
  /** Lower-case names. */
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * The plain headers ride on the response itself, under a module-private symbol: a WeakMap
 * keyed by per-call objects costs the garbage collector on every call (its entries are
 * ephemerons, tracked apart and cleared only by full collections).
 */
const PLAIN_HEADERS = Symbol('gatehouse.plainHeaders');

type PlainResponse = Response & { [PLAIN_HEADERS]?: Readonly<Record<string, string>> };

export function plainResponse(body: ConstructorParameters<typeof Response>[0], init: PlainInit): Response {
  const response: PlainResponse = new Response(body, init as ResponseInit);
  response[PLAIN_HEADERS] = init.headers;
  return response;
}

/** A response header by lower-case name, or null; without building a Headers for a plain response. */
export function headerOf(response: Response, name: string): string | null {
  const plain = (response as PlainResponse)[PLAIN_HEADERS];
  if (plain === undefined) return response.headers.get(name);
  return plain[name] ?? null;
}
