/**
 * `npm run bench:streams` — benchmark 9 alone (bench/scenarios/streams.ts): keystroke echo and
 * `kubectl cp` of 1, 20 and 100 MB (SPDY/3.1 and WebSocket kubectl) through Gatehouse vs direct
 * to the stand-in. `--quick`: 200 keys, 1 and 10 MB once.
 */
import { parseArgs } from 'node:util';
import { streamsBench, streamsOptions } from './scenarios/streams.ts';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false } } });
const quick = values.quick === true;
console.log('9 streams: keystroke echo and kubectl cp');
await streamsBench(streamsOptions(quick), (line) => console.log(line));
