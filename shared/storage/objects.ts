import { GetObjectCommand, ListObjectsV2Command, NoSuchKey, NotFound, PutObjectCommand } from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';
import { s3Client } from '../aws.ts';
import { getConfig } from '../config.ts';
import { JobFailure } from '../errors.ts';
import { resultKey, uploadKey, vectorKey } from './keys.ts';

function isMissing(error: unknown): boolean {
  return error instanceof NoSuchKey || error instanceof NotFound || (error as Error)?.name === 'NotFound' || (error as Error)?.name === 'NoSuchKey';
}

/**
 * Whether the client's upload for a job has landed, and its size. Asked by listing the exact key
 * rather than by HeadObject: S3 answers HEAD of a missing key with 403 (not 404) unless the caller
 * may list the whole bucket, while a listing under the key's own prefix needs only the
 * `s3:prefix`-conditioned ListBucket the functions hold. So a missing upload is never an error.
 */
export async function findUpload(jobId: string): Promise<{ size: number } | undefined> {
  const key = uploadKey(jobId);
  const { Contents } = await s3Client().send(new ListObjectsV2Command({ Bucket: getConfig().BUCKET_NAME, Prefix: key, MaxKeys: 1 }));
  const object = Contents?.find((o) => o.Key === key);
  return object ? { size: object.Size ?? 0 } : undefined;
}

/**
 * Read a job's upload into memory, refusing more than maxBytes even if the object grew past
 * what was signed (the stream is cut, not buffered to the end).
 */
export async function readUpload(jobId: string, maxBytes: number): Promise<Buffer> {
  let response;
  try {
    response = await s3Client().send(new GetObjectCommand({ Bucket: getConfig().BUCKET_NAME, Key: uploadKey(jobId) }));
  } catch (error) {
    if (isMissing(error)) throw JobFailure.permanent('upload_mismatch', 'the uploaded object no longer exists', error);
    throw error;
  }
  if ((response.ContentLength ?? 0) > maxBytes) {
    (response.Body as Readable | undefined)?.destroy?.();
    throw JobFailure.permanent('image_too_large', `the upload is ${response.ContentLength} bytes; the limit is ${maxBytes}`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response.Body as Readable) {
    size += chunk.length;
    if (size > maxBytes) {
      (response.Body as Readable).destroy();
      throw JobFailure.permanent('image_too_large', `the upload exceeds the limit of ${maxBytes} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, size);
}

async function putJson(key: string, body: string): Promise<string> {
  await s3Client().send(
    new PutObjectCommand({ Bucket: getConfig().BUCKET_NAME, Key: key, Body: body, ContentType: 'application/json' }),
  );
  return key;
}

export function putResult(jobId: string, body: string): Promise<string> {
  return putJson(resultKey(jobId), body);
}

/** An embedding too large for its result, as a JSON array of numbers. */
export function putVector(jobId: string, vector: readonly number[]): Promise<string> {
  return putJson(vectorKey(jobId), JSON.stringify(vector));
}
