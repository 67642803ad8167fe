/**
 * Counts the session records Gatehouse wrote to the S3 emulator during the bench (gzip JSON
 * Lines objects under the records prefix), to show that every call got its record.
 */
import { gunzipSync } from 'node:zlib';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';

export async function countRecords(endpoint: string, bucket: string): Promise<{ objects: number; records: number }> {
  const client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
  try {
    let objects = 0;
    let records = 0;
    let token: string | undefined;
    do {
      const page = await attempt(`list ${bucket}`, () => client.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token })));
      for (const object of page.Contents ?? []) {
        const bytes = await attempt(`get ${object.Key}`, async () => {
          const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: object.Key }));
          return got.Body?.transformToByteArray();
        });
        if (bytes === undefined) continue;
        const text = gunzipSync(bytes).toString('utf8');
        objects++;
        let lines = 0;
        for (let at = text.indexOf('\n'); at !== -1; at = text.indexOf('\n', at + 1)) lines++;
        records += lines;
        if (process.env.BENCH_DEBUG_RECORDS !== undefined) console.log(object.Key, lines);
      }
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return { objects, records };
  } finally {
    client.destroy();
  }
}

/** The emulator now and then answers 500 under load; a few tries, then an error naming the step. */
async function attempt<T>(what: string, run: () => Promise<T>): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await run();
    } catch (error) {
      if (i >= 5) throw new Error(`counting records: ${what} failed: ${error instanceof Error ? error.message : String(error)}`);
      await new Promise((resolve) => setTimeout(resolve, 200 * i));
    }
  }
}
