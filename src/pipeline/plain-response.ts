/**
 * Responses built from a plain header object, and reading their headers from that object.
 *
 * Reading `response.headers` builds a Headers object (on the Node runtime the Response is
 * @hono/node-server's lightweight one, which otherwise writes the plain object as is), and
 * a Headers built is a Headers the runtime must then iterate to write: on a proxied small GET
 * that is a measurable share of the call. Stages that build a response (forward, mask) build
 * it here, which leaves a ForwardedResponse in the context (`forwarded`); stages after them
 * read it with `forwardedOf` and headers with `headerOf`, which falls back to
 * `c.res.headers` for any other response (a Status from errors.ts, a test's).
 *
 * The object is the response's headers: nothing edits it after the response is built (a
 * stage that needs other headers builds another response).
 */
import type { Context } from 'hono';
import type { ForwardedResponse } from '../context.ts';

export function plainResponse(
  c: Context,
  body: ConstructorParameters<typeof Response>[0],
  init: ForwardedResponse['init'],
  taken: Pick<ForwardedResponse, 'bytes' | 'stream'> = {},
): Response {
  const response = new Response(body, init as ResponseInit);
  c.set('forwarded', { response, init, ...taken });
  return response;
}

/** What the stage that built `c.res` left about it, while `c.res` is still that response. */
export function forwardedOf(c: Context): ForwardedResponse | undefined {
  const forwarded = c.get('forwarded');
  return forwarded !== undefined && forwarded.response === c.res ? forwarded : undefined;
}

/** A header of `c.res` by lower-case name, or null; without building a Headers for a plain response. */
export function headerOf(c: Context, name: string): string | null {
  const forwarded = forwardedOf(c);
  if (forwarded === undefined) return c.res.headers.get(name);
  return forwarded.init.headers[name] ?? null;
}
