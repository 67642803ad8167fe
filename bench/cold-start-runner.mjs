// A fresh Node process doing what the Lambda runtime does on a cold start: load the
// bundled handler (its module-scope init runs: config from the environment, policy, OIDC
// verifier, upstream), then answer one Function URL event. Plain JavaScript, no loader, so
// nothing but the bundle is measured. Prints one JSON line with its timings (ms since the
// process started, from performance.now()) and the CPU time used by then.
//
// Usage: node bench/cold-start-runner.mjs <bundle.mjs> '<event JSON>'
import { Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';

const started = performance.now();
const [bundle, eventJson] = process.argv.slice(2);

// The runtime's globals for RESPONSE_STREAM functions: the prelude (JSON metadata + 8 NULs) then the body.
globalThis.awslambda = {
  streamifyResponse: (handler) => handler,
  HttpResponseStream: {
    from(stream, metadata) {
      stream.prelude = metadata;
      return stream;
    },
  },
};

const chunks = [];
const responseStream = new Writable({
  write(chunk, _encoding, callback) {
    chunks.push(chunk);
    callback();
  },
});

const { handler } = await import(pathToFileURL(bundle).href);
const loaded = performance.now();
const loadedCpu = process.cpuUsage();
await handler(JSON.parse(eventJson), responseStream, { awsRequestId: 'cold-start', getRemainingTimeInMillis: () => 900_000 });
if (!responseStream.writableEnded) responseStream.end();
const answered = performance.now();
const answeredCpu = process.cpuUsage();
const cpuMs = (usage) => (usage.user + usage.system) / 1000;
const body = Buffer.concat(chunks);
process.stdout.write(
  `${JSON.stringify({
    beforeImportMs: started,
    loadedMs: loaded,
    answeredMs: answered,
    // CPU time (all threads) — what the timings would be on an idle machine, roughly.
    loadedCpuMs: cpuMs(loadedCpu),
    answeredCpuMs: cpuMs(answeredCpu),
    statusCode: responseStream.prelude?.statusCode ?? null,
    bodyBytes: body.length,
    body: body.subarray(0, 300).toString('utf8'),
  })}\n`,
);
process.exit(0);
