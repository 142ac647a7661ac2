/** Multipart routes: Create, UploadPart, Complete, Abort, ListParts. */
import { declaredLength, metadataFromHeaders, readSmallBody, receiveBody, reply, requireBucket, type S3Context } from './context.ts';
import { s3Errors } from './errors.ts';
import { MAX_PART_NUMBER } from './multipart.ts';
import { requireKey, sourceIp } from './objects.ts';
import { queryValue } from './target.ts';
import { xmlBlocks, xmlElement, xmlRoot, xmlText } from './xml.ts';

const MAX_COMPLETE_BODY_BYTES = 4 * 1024 * 1024;

function uploadId(ctx: S3Context): string {
  return queryValue(ctx.target, 'uploadId') ?? '';
}

export async function createMultipartUpload(ctx: S3Context): Promise<void> {
  ctx.req.resume();
  requireBucket(ctx);
  requireKey(ctx);
  const { bucket, key } = ctx.target;
  const id = await ctx.uploads.create({ bucket, key, ...metadataFromHeaders(ctx) });
  reply(ctx, 200, {}, xmlRoot('InitiateMultipartUploadResult', [xmlElement('Bucket', bucket), xmlElement('Key', key), xmlElement('UploadId', id)]));
}

export async function uploadPart(ctx: S3Context): Promise<void> {
  requireBucket(ctx);
  const text = queryValue(ctx.target, 'partNumber') ?? '';
  const partNumber = Number(text);
  if (!/^\d+$/.test(text) || partNumber < 1 || partNumber > MAX_PART_NUMBER) {
    throw s3Errors.invalidArgument(`Part number must be an integer between 1 and ${MAX_PART_NUMBER}, inclusive`, 'partNumber', text);
  }
  if (ctx.req.headers['x-amz-copy-source'] !== undefined) throw s3Errors.notImplemented('UploadPartCopy');
  const id = uploadId(ctx);
  await ctx.uploads.get(id, ctx.target.bucket, ctx.target.key);
  const length = declaredLength(ctx);
  const writer = await ctx.store.startWrite(ctx.target.key);
  let eTag: string;
  try {
    await receiveBody(ctx, writer, length);
    eTag = await ctx.uploads.commitPart(id, partNumber, writer);
  } catch (error) {
    await writer.discard();
    throw error;
  }
  reply(ctx, 200, { etag: eTag });
}

export async function completeMultipartUpload(ctx: S3Context): Promise<void> {
  requireBucket(ctx);
  const id = uploadId(ctx);
  const upload = await ctx.uploads.get(id, ctx.target.bucket, ctx.target.key);
  const body = await readSmallBody(ctx, MAX_COMPLETE_BODY_BYTES);
  const parts = xmlBlocks(body, 'Part').map((part) => {
    const partNumber = Number(xmlText(part, 'PartNumber'));
    const eTag = xmlText(part, 'ETag');
    if (!Number.isInteger(partNumber) || eTag === undefined) throw s3Errors.malformedXml();
    return { partNumber, eTag };
  });
  const stored = await ctx.uploads.complete(id, upload, parts);
  const { bucket, key } = ctx.target;
  await ctx.objectCreated({ bucket, key, size: stored.size, eTag: stored.eTag, eventName: 'ObjectCreated:CompleteMultipartUpload', sourceIp: sourceIp(ctx) });
  reply(
    ctx,
    200,
    {},
    xmlRoot('CompleteMultipartUploadResult', [
      xmlElement('Location', `/${bucket}/${key}`),
      xmlElement('Bucket', bucket),
      xmlElement('Key', key),
      xmlElement('ETag', stored.eTag),
    ]),
  );
}

export async function abortMultipartUpload(ctx: S3Context): Promise<void> {
  ctx.req.resume();
  requireBucket(ctx);
  const id = uploadId(ctx);
  await ctx.uploads.get(id, ctx.target.bucket, ctx.target.key);
  await ctx.uploads.abort(id);
  reply(ctx, 204);
}

export async function listParts(ctx: S3Context): Promise<void> {
  ctx.req.resume();
  requireBucket(ctx);
  const id = uploadId(ctx);
  await ctx.uploads.get(id, ctx.target.bucket, ctx.target.key);
  const parts = await ctx.uploads.listParts(id);
  reply(
    ctx,
    200,
    {},
    xmlRoot('ListPartsResult', [
      xmlElement('Bucket', ctx.target.bucket),
      xmlElement('Key', ctx.target.key),
      xmlElement('UploadId', id),
      xmlElement('IsTruncated', false),
      ...parts.map((p) =>
        xmlElement('Part', [
          xmlElement('PartNumber', p.partNumber),
          xmlElement('LastModified', p.meta.lastModified),
          xmlElement('ETag', p.meta.eTag),
          xmlElement('Size', p.meta.size),
        ]),
      ),
    ]),
  );
}
