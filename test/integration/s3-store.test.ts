import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, stat, truncate, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsCommand,
  ListPartsCommand,
  NotFound,
  PutObjectCommand,
  S3Client,
  type S3ServiceException,
  UploadPartCommand,
  paginateListObjectsV2,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import pLimit from 'p-limit';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { BUCKET_CORS } from '#shared/storage/bucket-cors.ts';
import { type LocalS3, type ObjectCreatedEvent, startLocalS3 } from '../../scripts/local-cloud/s3/server.ts';

/** The local S3's promises beyond the protocol basics: crash safety, atomic overwrites, paging, multipart, CORS, events. */

const BUCKET = 'store-test';
const REGION = 'us-east-1';
const CREDENTIALS = { accessKeyId: 'crash-test-key', secretAccessKey: 'crash-test-secret' };
const CHILD_SCRIPT = fileURLToPath(new URL('../helpers/local-s3-child.ts', import.meta.url));
const MiB = 1024 * 1024;

const dirs: string[] = [];
const running: { s3: LocalS3; client: S3Client }[] = [];
const children: ChildProcess[] = [];

afterEach(async () => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
  for (const { s3, client } of running.splice(0)) {
    client.destroy();
    await s3.close();
  }
});
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'local-s3-'));
  dirs.push(dir);
  return dir;
}

function clientFor(url: string, extra: Partial<ConstructorParameters<typeof S3Client>[0]> = {}): S3Client {
  return new S3Client({
    endpoint: url,
    forcePathStyle: true,
    region: REGION,
    credentials: CREDENTIALS,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    ...extra,
  });
}

async function serve(directory: string, warnings: string[] = []): Promise<{ s3: LocalS3; client: S3Client }> {
  const s3 = await startLocalS3({ directory, region: REGION, credentials: [CREDENTIALS], buckets: [BUCKET], warn: (m) => warnings.push(m) });
  const started = { s3, client: clientFor(s3.url) };
  running.push(started);
  return started;
}

async function read(client: S3Client, key: string): Promise<Buffer> {
  const out = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  return Buffer.from(await out.Body!.transformToByteArray());
}

async function exists(client: S3Client, key: string): Promise<boolean> {
  try {
    await client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
    return true;
  } catch (error) {
    if (error instanceof NotFound) return false;
    throw error;
  }
}

const md5 = (bytes: Buffer) => createHash('md5').update(bytes).digest('hex');

/** The file an object lives in (store.ts layout), to damage it on purpose. */
function objectFile(directory: string, key: string): string {
  const hash = createHash('sha256').update(key, 'utf8').digest('hex');
  return path.join(directory, 'buckets', BUCKET, hash.slice(0, 2), `${hash}.obj`);
}

async function until(condition: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 2_000; i += 1) {
    if (await condition()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('overwrites', () => {
  it('are atomic: concurrent readers of a 5 MB object always get a whole old or whole new object', async () => {
    const { client } = await serve(await tempDir());
    const versions = [randomBytes(5 * MiB), randomBytes(5 * MiB), randomBytes(5 * MiB)];
    const known = new Set(versions.map(md5));
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'big.bin', Body: versions[0] }));
    const seen = new Set<string>();
    const writes = Array.from({ length: 6 }, (_, i) => client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'big.bin', Body: versions[(i % 2) + 1] })));
    const reads = Array.from({ length: 12 }, async () => {
      const out = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'big.bin' }));
      const body = Buffer.from(await out.Body!.transformToByteArray());
      expect(body.length).toBe(5 * MiB);
      expect(known.has(md5(body))).toBe(true);
      expect(out.ETag).toBe(`"${md5(body)}"`);
      seen.add(md5(body));
    });
    await Promise.all([...writes, ...reads]);
    expect(seen.size).toBeGreaterThanOrEqual(1);
  });

  it('keep the previous object when the body fails its Content-MD5', async () => {
    const { s3, client } = await serve(await tempDir());
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'digest.txt', Body: 'kept' }));
    const url = await getSignedUrl(client, new PutObjectCommand({ Bucket: BUCKET, Key: 'digest.txt' }), { expiresIn: 60 });
    const res = await fetch(url, { method: 'PUT', headers: { 'content-md5': createHash('md5').update('other').digest('base64') }, body: 'changed' });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('<Code>BadDigest</Code>');
    expect((await read(client, 'digest.txt')).toString()).toBe('kept');
    expect(s3.url).toBeTruthy();
  });
});

describe('damaged store entries', () => {
  it('are reported with their key at start, quarantined, and the key then answers 404', async () => {
    const dir = await tempDir();
    const first = await serve(dir);
    await first.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'good.txt', Body: 'good' }));
    await first.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'uploads/torn é.png', Body: randomBytes(4096) }));
    first.client.destroy();
    await first.s3.close();
    running.splice(0);
    // A torn object file (cut mid-body) and a write that never finished.
    await truncate(objectFile(dir, 'uploads/torn é.png'), 1000);
    await writeFile(path.join(dir, 'tmp', 'left-over.tmp'), Buffer.from('S3OBJv1\n\0\0\0\x0buploads/abc partial body'));

    const warnings: string[] = [];
    const { s3, client } = await serve(dir, warnings);
    expect(s3.quarantined.map((q) => q.key).sort()).toEqual(['uploads/abc', 'uploads/torn é.png']);
    expect(warnings.some((w) => w.includes('"uploads/torn é.png"'))).toBe(true);
    expect(await readdir(path.join(dir, 'quarantine'))).toHaveLength(2);
    expect(await exists(client, 'uploads/torn é.png')).toBe(false);
    const get = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'uploads/torn é.png' })).catch((e: unknown) => e);
    expect((get as S3ServiceException).$metadata.httpStatusCode).toBe(404);
    expect((await read(client, 'good.txt')).toString()).toBe('good');
  });

  it('found while running read as 404, not as an error', async () => {
    const dir = await tempDir();
    const { s3, client } = await serve(dir, []);
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'rot.txt', Body: 'soon damaged' }));
    await truncate(objectFile(dir, 'rot.txt'), 20);
    const get = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'rot.txt' })).catch((e: unknown) => e);
    expect((get as S3ServiceException).name).toBe('NoSuchKey');
    expect(await exists(client, 'rot.txt')).toBe(false);
    const listed = await client.send(new ListObjectsCommand({ Bucket: BUCKET }));
    expect(listed.Contents ?? []).toEqual([]);
    expect(s3.quarantined.map((q) => q.key)).toEqual(['rot.txt']);
  });
});

/** Start the server in a child process on `directory`; resolves to its URL. */
async function spawnServer(directory: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD_SCRIPT, directory, BUCKET], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('\n')) resolve(out.trim());
    });
    child.once('exit', (code) => reject(new Error(`child exited (${code}) before listening`)));
  });
  return { child, url };
}

function killed(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

describe('a server SIGKILLed during a large PUT', () => {
  const SIZE = 24 * MiB;
  // Killed with a quarter, half or nearly all of the body on disk, and once the whole body was sent.
  for (const fraction of [0.25, 0.5, 0.95, 1]) {
    it(`leaves the old object or the new one, never a broken one (killed at ${fraction * 100}% of the body)`, async () => {
      const dir = await tempDir();
      const { child, url } = await spawnServer(dir);
      const client = clientFor(url);
      const previous = Buffer.from('the previous object');
      await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'uploads/overwritten', Body: previous }));
      const body = randomBytes(SIZE);
      const sent: Promise<void>[] = [];
      for (const key of ['uploads/overwritten', 'uploads/fresh']) {
        const target = await getSignedUrl(client, new PutObjectCommand({ Bucket: BUCKET, Key: key }), { expiresIn: 60 });
        const req = http.request(target, { method: 'PUT', headers: { 'content-length': String(SIZE) } });
        req.on('error', () => undefined);
        sent.push(
          new Promise((resolve) => {
            req.end(body, () => resolve());
          }),
        );
      }
      client.destroy();
      if (fraction === 1) {
        await Promise.all(sent);
      } else {
        await until(async () => {
          const temps = await readdir(path.join(dir, 'tmp'));
          const sizes = await Promise.all(temps.map((t) => stat(path.join(dir, 'tmp', t)).then((s) => s.size, () => 0)));
          return sizes.filter((s) => s >= SIZE * fraction).length > 0;
        }, `${fraction * 100}% of a body on disk`);
      }
      await killed(child);

      const warnings: string[] = [];
      const restarted = await serve(dir, warnings);
      const overwritten = await read(restarted.client, 'uploads/overwritten');
      expect([md5(previous), md5(body)]).toContain(md5(overwritten));
      if (await exists(restarted.client, 'uploads/fresh')) expect(md5(await read(restarted.client, 'uploads/fresh'))).toBe(md5(body));
      // Whatever was cut short was reported under its key and set aside.
      if (fraction < 1) expect(restarted.s3.quarantined.length).toBeGreaterThanOrEqual(1);
      for (const entry of restarted.s3.quarantined) expect(['uploads/overwritten', 'uploads/fresh']).toContain(entry.key);
      expect(warnings).toHaveLength(restarted.s3.quarantined.length);
      expect(await readdir(path.join(dir, 'tmp'))).toEqual([]);
    });
  }
});

describe('listing', () => {
  it('pages ListObjectsV2 through 2,500 keys in UTF-8 order, and groups them by delimiter', async () => {
    const { client } = await serve(await tempDir());
    const keys = Array.from({ length: 2_500 }, (_, i) => `many/${['a', 'b', 'c'][i % 3]}/${String(i).padStart(4, '0')}`);
    const limit = pLimit(16);
    await Promise.all(keys.map((Key) => limit(() => client.send(new PutObjectCommand({ Bucket: BUCKET, Key, Body: Key })))));

    const listed: string[] = [];
    let pages = 0;
    for await (const page of paginateListObjectsV2({ client }, { Bucket: BUCKET, Prefix: 'many/' })) {
      pages += 1;
      expect(page.KeyCount).toBeLessThanOrEqual(1000);
      listed.push(...(page.Contents ?? []).map((o) => o.Key!));
    }
    expect(pages).toBe(3);
    expect(listed).toEqual([...keys].sort());

    const grouped = await client.send(new ListObjectsCommand({ Bucket: BUCKET, Prefix: 'many/', Delimiter: '/' }));
    expect(grouped.CommonPrefixes?.map((p) => p.Prefix)).toEqual(['many/a/', 'many/b/', 'many/c/']);
    expect(grouped.Contents ?? []).toEqual([]);

    const small: string[] = [];
    for await (const page of paginateListObjectsV2({ client, pageSize: 2 }, { Bucket: BUCKET, Prefix: 'many/', Delimiter: '/', StartAfter: 'many/a/' })) {
      small.push(...(page.CommonPrefixes ?? []).map((p) => p.Prefix!));
    }
    expect(small).toEqual(['many/b/', 'many/c/']);
  });
});

describe('multipart uploads', () => {
  it('assemble the parts, with the ETag S3 computes, and notify once', async () => {
    const { s3, client } = await serve(await tempDir());
    const events: ObjectCreatedEvent[] = [];
    s3.onObjectCreated((event) => {
      events.push(event);
    });
    const parts = [randomBytes(5 * MiB), randomBytes(5 * MiB), randomBytes(MiB)];
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'uploads/multi', ContentType: 'image/png' }));
    const eTags: string[] = [];
    for (const [i, Body] of parts.entries()) {
      const { ETag } = await client.send(new UploadPartCommand({ Bucket: BUCKET, Key: 'uploads/multi', UploadId, PartNumber: i + 1, Body }));
      eTags.push(ETag!);
    }
    expect((await client.send(new ListPartsCommand({ Bucket: BUCKET, Key: 'uploads/multi', UploadId }))).Parts?.map((p) => p.Size)).toEqual(parts.map((p) => p.length));
    const done = await client.send(
      new CompleteMultipartUploadCommand({
        Bucket: BUCKET,
        Key: 'uploads/multi',
        UploadId,
        MultipartUpload: { Parts: eTags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
      }),
    );
    const expected = `"${createHash('md5').update(Buffer.concat(parts.map((p) => createHash('md5').update(p).digest()))).digest('hex')}-3"`;
    expect(done.ETag).toBe(expected);
    const head = await client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'uploads/multi' }));
    expect([head.ETag, head.ContentType, head.ContentLength]).toEqual([expected, 'image/png', 11 * MiB]);
    expect(md5(await read(client, 'uploads/multi'))).toBe(md5(Buffer.concat(parts)));
    expect(events.map((e) => [e.key, e.eventName, e.size, e.eTag])).toEqual([['uploads/multi', 'ObjectCreated:CompleteMultipartUpload', 11 * MiB, expected]]);
  });

  it('refuse a part under 5 MiB before the last, and forget an aborted upload', async () => {
    const { client } = await serve(await tempDir());
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'small' }));
    const a = await client.send(new UploadPartCommand({ Bucket: BUCKET, Key: 'small', UploadId, PartNumber: 1, Body: 'tiny' }));
    const b = await client.send(new UploadPartCommand({ Bucket: BUCKET, Key: 'small', UploadId, PartNumber: 2, Body: 'end' }));
    const err = await client
      .send(new CompleteMultipartUploadCommand({ Bucket: BUCKET, Key: 'small', UploadId, MultipartUpload: { Parts: [{ ETag: a.ETag, PartNumber: 1 }, { ETag: b.ETag, PartNumber: 2 }] } }))
      .catch((e: unknown) => e);
    expect((err as S3ServiceException).name).toBe('EntityTooSmall');
    await client.send(new AbortMultipartUploadCommand({ Bucket: BUCKET, Key: 'small', UploadId }));
    const gone = await client.send(new ListPartsCommand({ Bucket: BUCKET, Key: 'small', UploadId })).catch((e: unknown) => e);
    expect((gone as S3ServiceException).name).toBe('NoSuchUpload');
    expect(await exists(client, 'small')).toBe(false);
  });
});

describe('ObjectCreated events', () => {
  it('are handed off after the object is durable and before the upload is answered', async () => {
    const { s3, client } = await serve(await tempDir());
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const received: ObjectCreatedEvent[] = [];
    let readable: boolean | undefined;
    s3.onObjectCreated(async (event) => {
      received.push(event);
      readable = await exists(client, event.key);
      await held;
    });
    let answered = false;
    const put = client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'uploads/evented', Body: 'abc' })).then((out) => {
      answered = true;
      return out;
    });
    await until(async () => readable !== undefined, 'the event');
    expect(readable).toBe(true);
    expect(answered).toBe(false);
    release();
    const out = await put;
    expect(received).toEqual([{ bucket: BUCKET, key: 'uploads/evented', size: 3, eTag: out.ETag, eventName: 'ObjectCreated:Put', sourceIp: '127.0.0.1' }]);
  });

  it('are not emitted for deletes, and DeleteObjects removes every listed key', async () => {
    const { s3, client } = await serve(await tempDir());
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'd/1', Body: '1' }));
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'd/2', Body: '2' }));
    const events: ObjectCreatedEvent[] = [];
    s3.onObjectCreated((e) => {
      events.push(e);
    });
    const out = await client.send(new DeleteObjectsCommand({ Bucket: BUCKET, Delete: { Objects: [{ Key: 'd/1' }, { Key: 'd/2' }, { Key: 'd/never' }] } }));
    expect(out.Deleted?.map((d) => d.Key)).toEqual(['d/1', 'd/2', 'd/never']);
    expect([await exists(client, 'd/1'), await exists(client, 'd/2')]).toEqual([false, false]);
    expect(events).toEqual([]);
  });
});

describe('bucket CORS (the AWS stack rule)', () => {
  const ORIGIN = 'http://app.localhost';

  it('puts CORS headers on error replies, so a browser can read the S3 error', async () => {
    const { client } = await serve(await tempDir());
    const url = await getSignedUrl(client, new PutObjectCommand({ Bucket: BUCKET, Key: 'uploads/x.png', ContentType: 'image/png' }), {
      signableHeaders: new Set(['content-type']),
    });
    const res = await fetch(url, { method: 'PUT', headers: { origin: ORIGIN, 'content-type': 'image/jpeg' }, body: 'x' });
    expect(res.status).toBe(403);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-expose-headers')).toBe('ETag');
    expect(await res.text()).toContain('<Code>SignatureDoesNotMatch</Code>');
  });

  it('answers a preflight for the headers the stack allows, and refuses any other header or method', async () => {
    const { s3 } = await serve(await tempDir());
    const preflight = (method: string, headers: string) =>
      fetch(`${s3.url}/${BUCKET}/uploads/x.png`, {
        method: 'OPTIONS',
        headers: { origin: ORIGIN, 'access-control-request-method': method, 'access-control-request-headers': headers },
      });
    const allowed = await preflight('PUT', 'content-type');
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get('access-control-allow-methods')).toBe(BUCKET_CORS.allowedMethods.join(', '));
    expect(allowed.headers.get('access-control-max-age')).toBe(String(BUCKET_CORS.maxAgeSeconds));
    const extraHeader = await preflight('PUT', 'content-type,x-amz-meta-owner');
    expect(extraHeader.status).toBe(403);
    expect(extraHeader.headers.get('access-control-allow-origin')).toBeNull();
    expect((await preflight('DELETE', '')).status).toBe(403);
  });
});
