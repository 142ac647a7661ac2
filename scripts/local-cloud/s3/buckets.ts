/** Service and bucket routes: ListBuckets, Create/Head/DeleteBucket, GetBucketLocation, ListObjects v1/v2, DeleteObjects. */
import { readSmallBody, reply, requireBucket, type S3Context } from './context.ts';
import { S3Error, s3Errors } from './errors.ts';
import { decodeContinuationToken, listPage, listV1Xml, listV2Xml, parseMaxKeys } from './list.ts';
import { ObjectStore } from './store.ts';
import { queryValue } from './target.ts';
import { xmlBlocks, xmlElement, xmlEscape, xmlRoot, xmlText } from './xml.ts';

/** S3 deletes at most 1,000 keys per DeleteObjects call. */
export const MAX_DELETE_KEYS = 1000;
const MAX_XML_BODY_BYTES = 2 * 1024 * 1024;
const OWNER = [xmlElement('ID', 'localcloudowner'), xmlElement('DisplayName', 'local')];

export function listBuckets(ctx: S3Context): void {
  ctx.req.resume();
  const buckets = ctx.store
    .listBuckets()
    .map((b) => xmlElement('Bucket', [xmlElement('Name', b.name), xmlElement('CreationDate', b.created.toISOString())]));
  reply(ctx, 200, {}, xmlRoot('ListAllMyBucketsResult', [xmlElement('Owner', OWNER), xmlElement('Buckets', buckets)]));
}

export async function createBucket(ctx: S3Context): Promise<void> {
  ctx.req.resume();
  const { bucket } = ctx.target;
  if (!ObjectStore.isValidBucketName(bucket)) throw new S3Error(400, 'InvalidBucketName', 'The specified bucket is not valid.', { BucketName: bucket });
  if (!(await ctx.store.createBucket(bucket))) {
    throw new S3Error(409, 'BucketAlreadyOwnedByYou', 'Your previous request to create the named bucket succeeded and you already own it.', {
      BucketName: bucket,
    });
  }
  reply(ctx, 200, { location: `/${bucket}` });
}

export function headBucket(ctx: S3Context): void {
  ctx.req.resume();
  requireBucket(ctx);
  reply(ctx, 200, { 'x-amz-bucket-region': 'us-east-1' });
}

export async function deleteBucket(ctx: S3Context): Promise<void> {
  ctx.req.resume();
  requireBucket(ctx);
  if (!(await ctx.store.deleteBucket(ctx.target.bucket))) {
    throw new S3Error(409, 'BucketNotEmpty', 'The bucket you tried to delete is not empty', { BucketName: ctx.target.bucket });
  }
  reply(ctx, 204);
}

export function getBucketLocation(ctx: S3Context, region: string): void {
  ctx.req.resume();
  requireBucket(ctx);
  // us-east-1 is the empty LocationConstraint, as on S3.
  const constraint = region === 'us-east-1' ? '' : region;
  reply(ctx, 200, {}, xmlRoot('LocationConstraint', [xmlEscape(constraint)]));
}

function encodingType(ctx: S3Context): 'url' | undefined {
  const value = queryValue(ctx.target, 'encoding-type');
  if (value === undefined) return undefined;
  if (value !== 'url') throw s3Errors.invalidArgument('Invalid Encoding Method specified in Request', 'encoding-type', value);
  return 'url';
}

export function listObjects(ctx: S3Context): void {
  ctx.req.resume();
  requireBucket(ctx);
  const { bucket } = ctx.target;
  const prefix = queryValue(ctx.target, 'prefix') ?? '';
  const delimiter = queryValue(ctx.target, 'delimiter') || undefined;
  const maxKeys = parseMaxKeys(queryValue(ctx.target, 'max-keys'));
  const lookup = (key: string) => ctx.store.head(bucket, key);
  if (queryValue(ctx.target, 'list-type') === '2') {
    const continuationToken = queryValue(ctx.target, 'continuation-token');
    const startAfter = queryValue(ctx.target, 'start-after');
    const after = continuationToken !== undefined ? decodeContinuationToken(continuationToken) : startAfter || undefined;
    const query = { prefix, delimiter, after, maxKeys };
    const page = listPage(ctx.store.sortedKeys(bucket), query);
    const fetchOwner = queryValue(ctx.target, 'fetch-owner') === 'true';
    reply(ctx, 200, {}, listV2Xml({ bucket, query, page, continuationToken, startAfter, encodingType: encodingType(ctx), fetchOwner }, lookup));
    return;
  }
  const marker = queryValue(ctx.target, 'marker') ?? '';
  const query = { prefix, delimiter, after: marker || undefined, maxKeys };
  const page = listPage(ctx.store.sortedKeys(bucket), query);
  reply(ctx, 200, {}, listV1Xml({ bucket, query, page, marker, encodingType: encodingType(ctx) }, lookup));
}

export async function deleteObjects(ctx: S3Context): Promise<void> {
  requireBucket(ctx);
  const body = await readSmallBody(ctx, MAX_XML_BODY_BYTES);
  const keys = xmlBlocks(body, 'Object').map((object) => xmlText(object, 'Key'));
  if (keys.length === 0 || keys.some((k) => k === undefined)) throw s3Errors.malformedXml();
  if (keys.length > MAX_DELETE_KEYS) throw s3Errors.malformedXml();
  const quiet = (xmlText(body, 'Quiet') ?? 'false').trim() === 'true';
  const deleted: string[] = [];
  for (const key of keys as string[]) {
    await ctx.store.delete(ctx.target.bucket, key);
    if (!quiet) deleted.push(xmlElement('Deleted', [xmlElement('Key', key)]));
  }
  reply(ctx, 200, {}, xmlRoot('DeleteResult', deleted));
}
