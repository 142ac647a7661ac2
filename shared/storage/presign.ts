import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { s3Client } from '../aws.ts';
import { getConfig } from '../config.ts';
import { RESULT_PREFIX, resultKey, uploadKey } from './keys.ts';

export interface UploadInstructions {
  url: string;
  method: 'PUT';
  /** Headers the client must send exactly: they are part of the signature. */
  headers: Record<string, string>;
  expiresAt: string;
}

/**
 * The headers a presigned upload signs. Signing content-type and content-length makes S3 refuse
 * any body of another type or size, so what reaches the worker is what the job declared.
 */
export const SIGNED_UPLOAD_HEADERS = ['content-type', 'content-length'] as const;

/** Parameters for the upload presign, separate so the signed headers can be checked in a unit test. */
export function uploadPresignParameters(jobId: string, contentType: string, contentLength: number) {
  const config = getConfig();
  return {
    input: { Bucket: config.BUCKET_NAME, Key: uploadKey(jobId), ContentType: contentType, ContentLength: contentLength },
    options: { expiresIn: config.UPLOAD_URL_TTL_SECONDS, signableHeaders: new Set<string>(SIGNED_UPLOAD_HEADERS) },
  };
}

export async function createUploadUrl(
  jobId: string,
  contentType: string,
  contentLength: number,
  now = Date.now(),
): Promise<UploadInstructions> {
  const { input, options } = uploadPresignParameters(jobId, contentType, contentLength);
  const url = await getSignedUrl(s3Client(), new PutObjectCommand(input), { ...options, signingDate: new Date(now) });
  return {
    url,
    method: 'PUT',
    headers: { 'content-type': contentType, 'content-length': String(contentLength) },
    expiresAt: new Date(now + options.expiresIn * 1000).toISOString(),
  };
}

/** A time-limited GET URL for a result stored in S3. */
export function createResultUrl(jobId: string): Promise<string> {
  return createResultObjectUrl(resultKey(jobId));
}

/** A time-limited GET URL for an object the worker stored beside a result (under results/ only). */
export function createResultObjectUrl(key: string): Promise<string> {
  if (!key.startsWith(RESULT_PREFIX)) throw new Error(`${key} is not a result object`);
  const config = getConfig();
  return getSignedUrl(s3Client(), new GetObjectCommand({ Bucket: config.BUCKET_NAME, Key: key }), {
    expiresIn: config.RESULT_URL_TTL_SECONDS,
  });
}
