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

const plainHeaders = new WeakMap<Response, Readonly<Record<string, string>>>();

export function plainResponse(body: ConstructorParameters<typeof Response>[0], init: PlainInit): Response {
  const response = new Response(body, init as ResponseInit);
  plainHeaders.set(response, init.headers);
  return response;
}

/** A response header by lower-case name, or null; without building a Headers for a plain response. */
export function headerOf(response: Response, name: string): string | null {
  const plain = plainHeaders.get(response);
  if (plain === undefined) return response.headers.get(name);
  return plain[name] ?? null;
}
