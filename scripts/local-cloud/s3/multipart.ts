/**
 * Multipart uploads: each part is an object file of its own (written atomically like any object)
 * under multipart/<uploadId>/, and completing streams the listed parts into one new object file,
 * committed with S3's multipart ETag: MD5 of the parts' binary MD5s, then "-<number of parts>".
 */
import { createHash, randomBytes } from 'node:crypto';
import { type FileHandle, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { S3Error, s3Errors } from './errors.ts';
import { inspectObjectFile, type ObjectFileWriter, type ObjectMeta, openObjectFile, syncDirectory } from './object-file.ts';
import type { ObjectStore } from './store.ts';

/** S3's part numbers run 1..10,000. */
export const MAX_PART_NUMBER = 10_000;
/** Every part but the last must be at least 5 MiB, as on S3. */
export const MIN_PART_BYTES = 5 * 1024 * 1024;
const READ_CHUNK_BYTES = 1024 * 1024;

const uploadSchema = z.object({
  bucket: z.string(),
  key: z.string(),
  initiated: z.string(),
  contentType: z.string(),
  userMetadata: z.record(z.string(), z.string()),
  headers: z.record(z.string(), z.string()),
});
export type MultipartUpload = z.infer<typeof uploadSchema>;

export interface CompletedPart {
  partNumber: number;
  eTag: string;
}

const partFileName = (partNumber: number) => `part-${String(partNumber).padStart(5, '0')}.obj`;

export class MultipartUploads {
  constructor(private readonly store: ObjectStore) {}

  #dir(uploadId: string): string {
    if (!/^[0-9a-f]{32}$/.test(uploadId)) throw s3Errors.noSuchUpload(uploadId);
    return path.join(this.store.multipartDir, uploadId);
  }

  async create(upload: Omit<MultipartUpload, 'initiated'>): Promise<string> {
    const uploadId = randomBytes(16).toString('hex');
    const dir = this.#dir(uploadId);
    await mkdir(dir, { recursive: true });
    const temp = path.join(dir, 'upload.json.tmp');
    await writeFile(temp, JSON.stringify({ ...upload, initiated: new Date().toISOString() }), { flush: true });
    await rename(temp, path.join(dir, 'upload.json'));
    await syncDirectory(dir);
    return uploadId;
  }

  /** The upload, checked against the bucket and key the request names. */
  async get(uploadId: string, bucket: string, key: string): Promise<MultipartUpload> {
    let upload: MultipartUpload;
    try {
      upload = uploadSchema.parse(JSON.parse(await readFile(path.join(this.#dir(uploadId), 'upload.json'), 'utf8')));
    } catch (error) {
      if (error instanceof S3Error) throw error;
      throw s3Errors.noSuchUpload(uploadId);
    }
    if (upload.bucket !== bucket || upload.key !== key) throw s3Errors.noSuchUpload(uploadId);
    return upload;
  }

  /** Commit a part written into `writer`; returns its ETag. A part number sent again replaces the part. */
  async commitPart(uploadId: string, partNumber: number, writer: ObjectFileWriter): Promise<string> {
    const eTag = `"${writer.md5Hex()}"`;
    await writer.commit(path.join(this.#dir(uploadId), partFileName(partNumber)), {
      eTag,
      lastModified: new Date().toISOString(),
      contentType: 'application/octet-stream',
      userMetadata: {},
      headers: {},
    });
    return eTag;
  }

  async listParts(uploadId: string): Promise<{ partNumber: number; meta: ObjectMeta }[]> {
    const names = (await readdir(this.#dir(uploadId))).filter((name) => /^part-\d{5}\.obj$/.test(name)).sort();
    return Promise.all(
      names.map(async (name) => ({ partNumber: Number(name.slice(5, 10)), meta: await inspectObjectFile(path.join(this.#dir(uploadId), name)) })),
    );
  }

  /** Assemble the listed parts into the object; the upload is gone afterwards. */
  async complete(uploadId: string, upload: MultipartUpload, parts: readonly CompletedPart[]): Promise<ObjectMeta> {
    if (parts.length === 0) throw s3Errors.malformedXml();
    for (let i = 1; i < parts.length; i += 1) {
      if (parts[i]!.partNumber <= parts[i - 1]!.partNumber) {
        throw new S3Error(400, 'InvalidPartOrder', 'The list of parts was not in ascending order. The parts list must be specified in order by part number.');
      }
    }
    const writer = await this.store.startWrite(upload.key);
    try {
      const md5s: Buffer[] = [];
      for (const [i, part] of parts.entries()) {
        const opened = await openObjectFile(path.join(this.#dir(uploadId), partFileName(part.partNumber)));
        if (!opened || opened.meta.eTag !== normaliseETag(part.eTag)) {
          await opened?.handle.close();
          throw new S3Error(400, 'InvalidPart', 'One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part\'s entity tag.', {
            PartNumber: String(part.partNumber),
            ETag: part.eTag,
          });
        }
        try {
          if (i < parts.length - 1 && opened.meta.size < MIN_PART_BYTES) {
            throw new S3Error(400, 'EntityTooSmall', 'Your proposed upload is smaller than the minimum allowed object size.', {
              ProposedSize: String(opened.meta.size),
              MinSizeAllowed: String(MIN_PART_BYTES),
              PartNumber: String(part.partNumber),
            });
          }
          md5s.push(Buffer.from(opened.meta.eTag.replace(/"/g, ''), 'hex'));
          await copyBody(opened.handle, opened.bodyStart, opened.meta.size, writer);
        } finally {
          await opened.handle.close();
        }
      }
      const eTag = `"${createHash('md5').update(Buffer.concat(md5s)).digest('hex')}-${parts.length}"`;
      const stored = await this.store.commit(upload.bucket, writer, {
        eTag,
        lastModified: new Date().toISOString(),
        contentType: upload.contentType,
        userMetadata: upload.userMetadata,
        headers: upload.headers,
      });
      await this.abort(uploadId);
      return stored;
    } catch (error) {
      await writer.discard();
      throw error;
    }
  }

  async abort(uploadId: string): Promise<void> {
    await rm(this.#dir(uploadId), { recursive: true, force: true });
  }
}

/** Clients send part ETags quoted or not. */
function normaliseETag(eTag: string): string {
  return `"${eTag.replace(/"/g, '')}"`;
}

/** Append `size` body bytes starting at `start` of an open object file to a writer. */
export async function copyBody(
  handle: FileHandle,
  start: number,
  size: number,
  writer: ObjectFileWriter,
): Promise<void> {
  const buffer = Buffer.alloc(Math.min(READ_CHUNK_BYTES, Math.max(size, 1)));
  let copied = 0;
  while (copied < size) {
    const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, size - copied), start + copied);
    if (bytesRead === 0) throw new Error('object file ended early');
    await writer.append(Buffer.from(buffer.subarray(0, bytesRead)));
    copied += bytesRead;
  }
}
