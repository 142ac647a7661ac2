/**
 * The on-disk object store. Every change is one rename of a fully written, fsynced file (see
 * object-file.ts), so a crash at any instant leaves each key with its old object, its new one, or
 * none. On open, a scan finds what a crash or a damaged disk left behind (temporary files, files
 * that do not parse), reports each with its key and moves it to quarantine/: a key whose file was
 * damaged answers 404, never an error forever.
 *
 *   <root>/buckets/<bucket>/<hh>/<sha256(key)>.obj   objects (hashed names: keys are arbitrary UTF-8, up to 1 KB)
 *   <root>/multipart/<uploadId>/…                    multipart uploads in progress (multipart.ts)
 *   <root>/tmp/                                      writes in progress
 *   <root>/quarantine/                               what the scan set aside
 *
 * Listing order comes from an in-memory index (keys in UTF-8 byte order, as S3 lists), built by the
 * scan and kept in step with every commit; one server process owns a root at a time.
 */
import { createHash } from 'node:crypto';
import { mkdir, open, readdir, rename, rm, rmdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { DamagedObjectFile, inspectObjectFile, type ObjectMeta, ObjectFileWriter, type OpenObject, openObjectFile, readKey } from './object-file.ts';

const OBJECT_SUFFIX = '.obj';
/** S3's bucket naming rules (the subset path-style addressing needs). */
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

export interface QuarantinedFile {
  file: string;
  /** The key the file was for, when its head was readable. */
  key: string | undefined;
  reason: string;
  movedTo: string;
}

export interface StoreOptions {
  /** Told about each file the start-up scan quarantines; default console.warn. */
  warn?: (message: string) => void;
}

interface BucketIndex {
  created: Date;
  objects: Map<string, ObjectMeta>;
  /** The keys of `objects`, sorted in UTF-8 byte order. */
  sortedKeys: string[];
}

/** S3 lists keys in UTF-8 binary order (which JavaScript's UTF-16 comparison differs from above U+FFFF). */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Index of the first key ≥ target (binary search). */
export function lowerBound(sortedKeys: readonly string[], target: string): number {
  let low = 0;
  let high = sortedKeys.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (compareKeys(sortedKeys[mid]!, target) < 0) low = mid + 1;
    else high = mid;
  }
  return low;
}

export class ObjectStore {
  readonly quarantined: QuarantinedFile[] = [];
  readonly tempDir: string;
  readonly multipartDir: string;
  readonly #buckets = new Map<string, BucketIndex>();
  /** Commits and deletes of one key run one at a time, so the index ends as the disk does. */
  readonly #keyLocks = new Map<string, Promise<unknown>>();
  readonly #warn: (message: string) => void;

  private constructor(
    readonly root: string,
    options: StoreOptions,
  ) {
    this.tempDir = path.join(root, 'tmp');
    this.multipartDir = path.join(root, 'multipart');
    this.#warn = options.warn ?? ((message) => console.warn(message));
  }

  static async open(root: string, options: StoreOptions = {}): Promise<ObjectStore> {
    const store = new ObjectStore(path.resolve(root), options);
    await Promise.all(['buckets', 'tmp', 'multipart', 'quarantine'].map((dir) => mkdir(path.join(store.root, dir), { recursive: true })));
    await store.#scan();
    return store;
  }

  static isValidBucketName(name: string): boolean {
    return BUCKET_NAME.test(name) && !name.includes('..');
  }

  listBuckets(): { name: string; created: Date }[] {
    return [...this.#buckets.entries()].map(([name, index]) => ({ name, created: index.created })).sort((a, b) => compareKeys(a.name, b.name));
  }

  hasBucket(name: string): boolean {
    return this.#buckets.has(name);
  }

  /** Creates the bucket; false if it existed already. */
  async createBucket(name: string): Promise<boolean> {
    if (this.#buckets.has(name)) return false;
    await mkdir(this.#bucketDir(name), { recursive: true });
    this.#buckets.set(name, { created: new Date(), objects: new Map(), sortedKeys: [] });
    return true;
  }

  /** Deletes an empty bucket; false if it holds objects. */
  async deleteBucket(name: string): Promise<boolean> {
    const index = this.#buckets.get(name);
    if (!index) return true;
    if (index.sortedKeys.length > 0) return false;
    await rm(this.#bucketDir(name), { recursive: true, force: true });
    this.#buckets.delete(name);
    return true;
  }

  /** The keys of a bucket in listing order (a live view: do not hold across awaits). */
  sortedKeys(bucket: string): readonly string[] {
    return this.#buckets.get(bucket)?.sortedKeys ?? [];
  }

  head(bucket: string, key: string): ObjectMeta | undefined {
    return this.#buckets.get(bucket)?.objects.get(key);
  }

  /** A temporary file to stream a new object into; commit or discard it. */
  startWrite(key: string): Promise<ObjectFileWriter> {
    return ObjectFileWriter.create(this.tempDir, key);
  }

  /** Make the written object the key's object: durable once this resolves. */
  commit(bucket: string, writer: ObjectFileWriter, meta: Omit<ObjectMeta, 'key' | 'size'>): Promise<ObjectMeta> {
    const index = this.#buckets.get(bucket);
    if (!index) return writer.discard().then(() => Promise.reject(new Error(`no bucket ${bucket}`)));
    return this.#withKeyLock(bucket, writer.key, async () => {
      const stored = await writer.commit(this.#objectFile(bucket, writer.key), meta);
      this.#indexPut(index, stored);
      return stored;
    });
  }

  /** The object's open file (the caller closes it), or undefined. A damaged file is quarantined and reads as absent. */
  async open(bucket: string, key: string): Promise<OpenObject | undefined> {
    const file = this.#objectFile(bucket, key);
    try {
      return await openObjectFile(file);
    } catch (error) {
      if (!(error instanceof DamagedObjectFile)) throw error;
      await this.#withKeyLock(bucket, key, async () => {
        await this.#quarantine(file, key, error.reason);
        const index = this.#buckets.get(bucket);
        if (index) this.#indexDelete(index, key);
      });
      return undefined;
    }
  }

  /** Deletes the key's object (S3 answers success whether or not it existed). */
  async delete(bucket: string, key: string): Promise<void> {
    const index = this.#buckets.get(bucket);
    if (!index) return;
    await this.#withKeyLock(bucket, key, async () => {
      await rm(this.#objectFile(bucket, key), { force: true });
      this.#indexDelete(index, key);
    });
  }

  #bucketDir(bucket: string): string {
    return path.join(this.root, 'buckets', bucket);
  }

  #objectFile(bucket: string, key: string): string {
    const hash = createHash('sha256').update(key, 'utf8').digest('hex');
    return path.join(this.#bucketDir(bucket), hash.slice(0, 2), `${hash}${OBJECT_SUFFIX}`);
  }

  async #withKeyLock<T>(bucket: string, key: string, work: () => Promise<T>): Promise<T> {
    const lockKey = `${bucket}/${key}`;
    const previous = this.#keyLocks.get(lockKey) ?? Promise.resolve();
    const result = previous.then(work, work);
    const settled = result.catch(() => undefined);
    this.#keyLocks.set(lockKey, settled);
    void settled.then(() => {
      if (this.#keyLocks.get(lockKey) === settled) this.#keyLocks.delete(lockKey);
    });
    return result;
  }

  #indexPut(index: BucketIndex, meta: ObjectMeta): void {
    if (!index.objects.has(meta.key)) index.sortedKeys.splice(lowerBound(index.sortedKeys, meta.key), 0, meta.key);
    index.objects.set(meta.key, meta);
  }

  #indexDelete(index: BucketIndex, key: string): void {
    if (!index.objects.delete(key)) return;
    const at = lowerBound(index.sortedKeys, key);
    if (index.sortedKeys[at] === key) index.sortedKeys.splice(at, 1);
  }

  async #quarantine(file: string, key: string | undefined, reason: string): Promise<void> {
    const movedTo = path.join(this.root, 'quarantine', `${new Date().toISOString().replace(/[:.]/g, '-')}-${path.basename(file)}`);
    await rename(file, movedTo);
    this.quarantined.push({ file, key, reason, movedTo });
    this.#warn(`local S3: quarantined ${key === undefined ? 'an object of unknown key' : `object ${JSON.stringify(key)}`} (${reason}): ${file} → ${movedTo}`);
  }

  async #scan(): Promise<void> {
    for (const leftover of await readdir(this.tempDir)) {
      const file = path.join(this.tempDir, leftover);
      await this.#quarantine(file, await keyOf(file), 'an unfinished write (the server stopped before it completed)');
    }
    for (const bucket of await readdir(path.join(this.root, 'buckets'))) {
      const dir = this.#bucketDir(bucket);
      const index: BucketIndex = { created: (await stat(dir)).birthtime, objects: new Map(), sortedKeys: [] };
      for (const shard of await readdir(dir)) {
        for (const name of await readdir(path.join(dir, shard))) {
          const file = path.join(dir, shard, name);
          try {
            const meta = await inspectObjectFile(file);
            if (this.#objectFile(bucket, meta.key) !== file) throw new DamagedObjectFile(file, 'the file name does not match its key', meta.key);
            index.objects.set(meta.key, meta);
          } catch (error) {
            if (!(error instanceof DamagedObjectFile)) throw error;
            await this.#quarantine(file, error.key, error.reason);
          }
        }
        await rmdir(path.join(dir, shard)).catch(() => undefined); // only if the shard is now empty
      }
      index.sortedKeys = [...index.objects.keys()].sort(compareKeys);
      this.#buckets.set(bucket, index);
    }
  }
}

async function keyOf(file: string): Promise<string | undefined> {
  const handle = await open(file, 'r');
  try {
    return await readKey(handle, (await handle.stat()).size);
  } finally {
    await handle.close();
  }
}
