/**
 * One object, one file: its key up front, then the body, then its metadata, written to a temporary
 * file beside the store, fsynced and renamed over the object's name. A rename is atomic, so at any
 * instant (SIGKILL included) the name holds a whole old object, a whole new one, or nothing; a
 * reader that opened the old file keeps reading it after the rename.
 *
 *   "S3OBJv1\n" | key length (u32 BE) | key (UTF-8) | body | metadata JSON | JSON length (u32 BE) | "S3OBJEND"
 *
 * The key comes first so a damaged file still says whose it was; the metadata comes last because the
 * body's size and MD5 are known only once it has been written (streamed, never held in memory).
 */
import { createHash, randomUUID, type Hash } from 'node:crypto';
import { constants } from 'node:fs';
import { type FileHandle, mkdir, open, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';

const HEAD_MAGIC = Buffer.from('S3OBJv1\n', 'latin1');
const TAIL_MAGIC = Buffer.from('S3OBJEND', 'latin1');
const LENGTH_BYTES = 4;
/** S3 keys are at most 1,024 bytes of UTF-8. */
export const MAX_KEY_BYTES = 1024;
/** Far above any real metadata (S3 caps user metadata at 2 KB); a bigger length means a damaged file. */
const MAX_META_BYTES = 1024 * 1024;
/** Where writes in progress live: `.tmp`, so a scan knows a leftover for what it is. */
export const TEMP_SUFFIX = '.tmp';

export const objectMetaSchema = z.object({
  key: z.string(),
  size: z.number().int().nonnegative(),
  /** Quoted, as S3 sends it: `"<md5 hex>"` or `"<md5 of part md5s>-<parts>"`. */
  eTag: z.string(),
  lastModified: z.string(),
  contentType: z.string(),
  /** x-amz-meta-* without the prefix, names lowercased. */
  userMetadata: z.record(z.string(), z.string()),
  /** Stored representation headers returned on GET (content-disposition, cache-control…). */
  headers: z.record(z.string(), z.string()),
});
export type ObjectMeta = z.infer<typeof objectMetaSchema>;

/** Why a file on disk is not a whole object. */
export class DamagedObjectFile extends Error {
  override readonly name = 'DamagedObjectFile';
  constructor(
    readonly file: string,
    readonly reason: string,
    /** The key, when the file's head is intact. */
    readonly key: string | undefined,
  ) {
    super(`${file}: ${reason}`);
  }
}

export class ObjectFileWriter {
  #md5: Hash = createHash('md5');
  #sha256: Hash = createHash('sha256');
  #bodyBytes = 0;
  #position: number;
  #done = false;
  #pending: Buffer[] = [];
  #pendingBytes = 0;

  private constructor(
    readonly tempFile: string,
    readonly key: string,
    private readonly handle: FileHandle,
    headBytes: number,
  ) {
    this.#position = headBytes;
  }

  /** A new temporary file in tempDir (same filesystem as the store, so the final rename is atomic). */
  static async create(tempDir: string, key: string): Promise<ObjectFileWriter> {
    const tempFile = path.join(tempDir, `${randomUUID()}${TEMP_SUFFIX}`);
    const handle = await open(tempFile, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o644);
    const keyBytes = Buffer.from(key, 'utf8');
    const head = Buffer.concat([HEAD_MAGIC, u32(keyBytes.length), keyBytes]);
    try {
      await handle.write(head, 0, head.length, 0);
    } catch (error) {
      await handle.close().catch(() => undefined);
      await unlink(tempFile).catch(() => undefined);
      throw error;
    }
    return new ObjectFileWriter(tempFile, key, handle, head.length);
  }

  get size(): number {
    return this.#bodyBytes;
  }

  /** MD5 of the body so far, hex. */
  md5Hex(): string {
    return this.#md5.copy().digest('hex');
  }

  md5Base64(): string {
    return this.#md5.copy().digest('base64');
  }

  sha256Hex(): string {
    return this.#sha256.copy().digest('hex');
  }

  async append(chunk: Buffer): Promise<void> {
    this.#md5.update(chunk);
    this.#sha256.update(chunk);
    this.#bodyBytes += chunk.length;
    // Gathered into few large writes: one write per 64 KB network chunk cost more CPU than the hashing.
    this.#pending.push(chunk);
    this.#pendingBytes += chunk.length;
    if (this.#pendingBytes >= WRITE_BATCH_BYTES) await this.#flush();
  }

  async #flush(): Promise<void> {
    if (this.#pendingBytes === 0) return;
    const data = this.#pending.length === 1 ? this.#pending[0]! : Buffer.concat(this.#pending, this.#pendingBytes);
    this.#pending = [];
    this.#pendingBytes = 0;
    let offset = 0;
    while (offset < data.length) {
      const { bytesWritten } = await this.handle.write(data, offset, data.length - offset, this.#position);
      offset += bytesWritten;
      this.#position += bytesWritten;
    }
  }

  /** Seal the file with its metadata, make it durable, and rename it to finalFile. */
  async commit(finalFile: string, meta: Omit<ObjectMeta, 'key' | 'size'>): Promise<ObjectMeta> {
    const full: ObjectMeta = { ...meta, key: this.key, size: this.#bodyBytes };
    const json = Buffer.from(JSON.stringify(full), 'utf8');
    const tail = Buffer.concat([json, u32(json.length), TAIL_MAGIC]);
    try {
      await this.#flush();
      await this.handle.write(tail, 0, tail.length, this.#position);
      await this.handle.sync();
    } finally {
      this.#done = true;
      await this.handle.close();
    }
    await mkdir(path.dirname(finalFile), { recursive: true });
    await rename(this.tempFile, finalFile);
    await syncDirectory(path.dirname(finalFile));
    return full;
  }

  /** Drop the write: the temporary file goes, nothing else changed. */
  async discard(): Promise<void> {
    if (!this.#done) {
      this.#done = true;
      await this.handle.close().catch(() => undefined);
    }
    await unlink(this.tempFile).catch(() => undefined);
  }
}

/** Body bytes gathered before one write to the temporary file. */
const WRITE_BATCH_BYTES = 1024 * 1024;

/** A rename is durable once the directory holding the new name is synced. */
export async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, constants.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export interface OpenObject {
  handle: FileHandle;
  meta: ObjectMeta;
  /** Offset of the body's first byte in the file. */
  bodyStart: number;
}

/** Open an object file and read its metadata; undefined if there is no such file. The caller closes the handle. */
export async function openObjectFile(file: string): Promise<OpenObject | undefined> {
  let handle: FileHandle;
  try {
    handle = await open(file, constants.O_RDONLY);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    return { handle, ...(await readLayout(handle, file)) };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/** Check a file on disk: its metadata, or throws DamagedObjectFile. */
export async function inspectObjectFile(file: string): Promise<ObjectMeta> {
  const handle = await open(file, constants.O_RDONLY);
  try {
    return (await readLayout(handle, file)).meta;
  } finally {
    await handle.close();
  }
}

/** The key a file's head names, if its head is intact (for reporting a damaged file). */
export async function readKey(handle: FileHandle, fileSize: number): Promise<string | undefined> {
  const fixed = HEAD_MAGIC.length + LENGTH_BYTES;
  if (fileSize < fixed) return undefined;
  const head = await readAt(handle, 0, fixed);
  if (!head.subarray(0, HEAD_MAGIC.length).equals(HEAD_MAGIC)) return undefined;
  const keyLength = head.readUInt32BE(HEAD_MAGIC.length);
  if (keyLength > MAX_KEY_BYTES || fixed + keyLength > fileSize) return undefined;
  return (await readAt(handle, fixed, keyLength)).toString('utf8');
}

async function readLayout(handle: FileHandle, file: string): Promise<{ meta: ObjectMeta; bodyStart: number }> {
  const { size: fileSize } = await handle.stat();
  const key = await readKey(handle, fileSize);
  if (key === undefined) throw new DamagedObjectFile(file, 'the head is missing or unreadable', undefined);
  const bodyStart = HEAD_MAGIC.length + LENGTH_BYTES + Buffer.byteLength(key, 'utf8');
  const damaged = (reason: string) => new DamagedObjectFile(file, reason, key);
  const trailer = TAIL_MAGIC.length + LENGTH_BYTES;
  if (fileSize < bodyStart + trailer) throw damaged('the file ends before its metadata (a partial write)');
  const end = await readAt(handle, fileSize - trailer, trailer);
  if (!end.subarray(LENGTH_BYTES).equals(TAIL_MAGIC)) throw damaged('the metadata trailer is missing (a partial write)');
  const metaLength = end.readUInt32BE(0);
  if (metaLength > MAX_META_BYTES || bodyStart + metaLength + trailer > fileSize) throw damaged('the metadata length is out of range');
  let meta: ObjectMeta;
  try {
    meta = objectMetaSchema.parse(JSON.parse((await readAt(handle, fileSize - trailer - metaLength, metaLength)).toString('utf8')));
  } catch {
    throw damaged('the metadata is not valid JSON of the expected shape');
  }
  if (meta.key !== key) throw damaged('the metadata names another key');
  if (bodyStart + meta.size + metaLength + trailer !== fileSize) throw damaged('the body length does not match the metadata');
  return { meta, bodyStart };
}

async function readAt(handle: FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  let offset = 0;
  while (offset < length) {
    const { bytesRead } = await handle.read(buffer, offset, length - offset, position + offset);
    if (bytesRead === 0) break;
    offset += bytesRead;
  }
  return buffer.subarray(0, offset);
}

function u32(value: number): Buffer {
  const buffer = Buffer.alloc(LENGTH_BYTES);
  buffer.writeUInt32BE(value);
  return buffer;
}
