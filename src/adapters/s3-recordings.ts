/**
 * Adapter: recording objects in S3 (or the local stand-in), one PutObject per write, one
 * GetObject per read, one ListObjects per page of keys (MaxKeys, and Marker: the last key of
 * the page before). Not ListObjectsV2's continuation tokens: the S3 stand-in (s3rver 3.7)
 * makes them with DES, which OpenSSL 3 (Node 20+) does not offer, so every truncated V2
 * listing fails there with InternalError; a marker is also a key the caller can check, where
 * a token is opaque. SDK failures become ERR_RECORD_UNAVAILABLE (a missing object
 * ERR_NOT_FOUND); they never leak as SDK errors.
 */
import { GetObjectCommand, ListObjectsCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { S3ClientConfig } from '@aws-sdk/client-s3';
import { GatehouseError } from '../errors.ts';
import type { RecordingObjects } from '../recordings/store.ts';
import { recordsClientConfig, storeUnavailable } from './s3-records.ts';

export interface S3RecordingsOptions {
  bucket: string;
  client?: S3Client;
  clientConfig?: S3ClientConfig;
}

export function createS3RecordingObjects(options: S3RecordingsOptions): RecordingObjects {
  const { bucket } = options;
  const client = options.client ?? new S3Client(recordsClientConfig(options.clientConfig));
  const location = `s3://${bucket}/`;
  return {
    location,
    async put(key, body) {
      try {
        await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: 'application/gzip' }));
      } catch (error) {
        throw storeUnavailable(`recording store s3://${bucket}/${key}`, error);
      }
    },
    async get(key) {
      try {
        const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        if (object.Body === undefined) throw new GatehouseError('ERR_NOT_FOUND', `recording s3://${bucket}/${key} is empty`);
        return await object.Body.transformToByteArray();
      } catch (error) {
        if (error instanceof GatehouseError) throw error;
        if (error instanceof Error && (error.name === 'NoSuchKey' || error.name === 'NotFound')) {
          throw new GatehouseError('ERR_NOT_FOUND', `no recording at s3://${bucket}/${key}`, { cause: error });
        }
        throw storeUnavailable(`recording store s3://${bucket}/${key}`, error);
      }
    },
    async list(prefix, page) {
      let listed;
      try {
        listed = await client.send(new ListObjectsCommand({ Bucket: bucket, Prefix: prefix, MaxKeys: page.maxKeys, Marker: page.startAfter }));
      } catch (error) {
        throw storeUnavailable(`recording store s3://${bucket}/${prefix}`, error);
      }
      const keys = (listed.Contents ?? []).flatMap((object) => (object.Key === undefined ? [] : [object.Key]));
      return { keys, truncated: listed.IsTruncated === true };
    },
  };
}
