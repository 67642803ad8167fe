// @ts-check
/**
 * Gatehouse's shutdown extension: an external Lambda extension that registers for the
 * SHUTDOWN event and does nothing else. Lambda sends the function's runtime SIGTERM before it
 * shuts an execution environment down only when an external extension is registered; on
 * SIGTERM the function writes the session records it carried over between invocations
 * (functions/invocation-end.ts). Without it they would be lost at every shutdown.
 *
 * Extensions API (2020-01-01): POST /extension/register with `Lambda-Extension-Name` (this
 * file's name in /opt/extensions) and the events, then GET /extension/event/next with the
 * `Lambda-Extension-Identifier` it answered, until the SHUTDOWN event. No dependencies, no
 * timeouts on the long poll (an idle environment is frozen with it open).
 */
import { request } from 'node:http';

const NAME = 'gatehouse-shutdown';
const api = process.env.AWS_LAMBDA_RUNTIME_API;

/**
 * @param {'GET' | 'POST'} method
 * @param {string} path
 * @param {Record<string, string>} headers
 * @param {string} [body]
 * @returns {Promise<{ status: number; headers: import('node:http').IncomingHttpHeaders; body: string }>}
 */
function call(method, path, headers, body) {
  return new Promise((resolve, reject) => {
    // No agent: no keep-alive socket timeout can cut the long poll.
    const req = request(`http://${api}/2020-01-01/extension/${path}`, { method, headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** @param {string} message */
function fail(message) {
  process.stderr.write(`${JSON.stringify({ extension: NAME, level: 'error', message })}\n`);
  process.exit(1);
}

if (api === undefined || api === '') fail('AWS_LAMBDA_RUNTIME_API is not set: not running as a Lambda extension');
const registered = await call('POST', 'register', { 'Lambda-Extension-Name': NAME, 'Content-Type': 'application/json' }, JSON.stringify({ events: ['SHUTDOWN'] }));
const id = registered.headers['lambda-extension-identifier'];
if (registered.status !== 200 || typeof id !== 'string') fail(`registering with the Extensions API failed (${registered.status}): ${registered.body}`);
for (;;) {
  const next = await call('GET', 'event/next', { 'Lambda-Extension-Identifier': String(id) });
  if (next.status !== 200) fail(`the Extensions API answered ${next.status} for the next event: ${next.body}`);
  const event = /** @type {{ eventType?: string }} */ (JSON.parse(next.body));
  if (event.eventType === 'SHUTDOWN') process.exit(0);
}
