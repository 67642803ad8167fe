/** Reading a stored recording back (the replay CLI, the recordings page): gunzip, then asciicast v2. */
import { gunzipSync } from 'node:zlib';
import type { Cast } from './asciicast.ts';
import { parseCast } from './asciicast.ts';
import type { RecordingObjects } from './store.ts';

/** The recording's text as stored (asciicast v2 lines). */
export async function readRecordingText(objects: RecordingObjects, key: string): Promise<string> {
  return gunzipSync(await objects.get(key)).toString('utf8');
}

export async function readRecording(objects: RecordingObjects, key: string): Promise<Cast> {
  return parseCast(await readRecordingText(objects, key));
}
