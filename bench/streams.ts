/**
 * `npm run bench:streams` — benchmark 9 alone (bench/scenarios/streams.ts): keystroke echo and
 * `kubectl cp` of 100 MB through Gatehouse vs direct to the stand-in. `--quick`: 200 keys, 10 MB.
 */
import { parseArgs } from 'node:util';
import { streamsBench } from './scenarios/streams.ts';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false } } });
const quick = values.quick === true;
console.log('9 streams: keystroke echo and kubectl cp');
await streamsBench({ keystrokes: quick ? 200 : 2000, cpBytes: quick ? 10_000_000 : 100_000_000, kubectl: ['1.33'] }, (line) => console.log(line));
