/**
 * The S3 emulator of the bench (s3rver, through the local runtime's `startLocalS3`), in its
 * own process: in production S3 is another machine, so its work must not land on
 * Gatehouse's event loop.
 *
 * Usage: tsx bench/s3.ts <directory> <bucket>   (announces `{ endpoint }`)
 */
import { startLocalS3 } from '../src/local/s3.ts';
import { announce } from './children.ts';

const [directory, bucket] = process.argv.slice(2);
if (directory === undefined || bucket === undefined) throw new Error('usage: s3.ts <directory> <bucket>');
const s3 = await startLocalS3({ directory, buckets: [bucket] });
announce({ endpoint: s3.endpoint });
process.on('SIGTERM', () => {
  void s3.close().then(() => process.exit(0));
});
