import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uploadFile } from '#shared/client/pipeline-client.ts';
import type { ResultLine } from '../../scripts/backfill/journal.ts';
import { type BackfillOptions, runBackfill } from '../../scripts/backfill/run.ts';
import { BLUE, GREEN, RED, twoTone } from '../helpers/images.ts';
import { startTestCloud, type TestCloud } from '../helpers/local-cloud.ts';

/**
 * The backfill survives what a soak threw at it: a full disk, an unwritable output folder, a crash
 * that cut its state file's last line, an S3 that went away mid-run (the local cloud restarted),
 * and uploads whose object landed though the reply was lost. Nothing is written final that the
 * job disagrees with, and --resume finishes the work without uploading anything twice.
 */

let t: TestCloud;
let work: string;
let images: string;
const COLOURS = [
  ['red', RED],
  ['green', GREEN],
  ['blue', BLUE],
] as const;
const IMAGES = 12;
/** Quick retries: the cloud is away for good within one test run. */
const QUICK_RETRY = { attempts: 2, baseDelayMs: 10, maxDelayMs: 20 };
const mounts: string[] = [];

beforeAll(async () => {
  t = await startTestCloud({ worker: { visibilityTimeoutSeconds: 60 } });
  work = mkdtempSync(join(tmpdir(), 'backfill-crash-'));
  images = join(work, 'images');
  mkdirSync(images);
  for (let i = 0; i < IMAGES; i++) {
    const [name, colour] = COLOURS[i % 3]!;
    writeFileSync(join(images, `img-${String(i).padStart(2, '0')}-${name}.png`), await twoTone('png', 24 + i, 24, colour, colour));
  }
});

afterAll(async () => {
  for (const dir of mounts) execFileSync('umount', [dir]);
  await t?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** A tmpfs of this size at a fresh folder (the tests run as root). */
function mountTmpfs(name: string, options: string): string {
  const dir = join(work, name);
  mkdirSync(dir);
  execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir]);
  mounts.push(dir);
  return dir;
}

function readLines<T>(path: string): T[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as T);
}

function backfillCli(args: string[], cloud = t): { child: ChildProcess; done: Promise<{ code: number | null; stdout: string; stderr: string }> } {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'scripts/backfill/main.ts', ...args, '--progress', 'none', '--api', cloud.cloud.endpoints.apiUrl, '--key', cloud.cloud.endpoints.apiKey],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c) => (stdout += c));
  child.stderr!.on('data', (c) => (stderr += c));
  return { child, done: new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr }))) };
}

const options = (out: string, cloud = t): BackfillOptions => ({
  inputs: images,
  model: 'onnx/colors',
  out,
  apiUrl: cloud.cloud.endpoints.apiUrl,
  apiKey: cloud.cloud.endpoints.apiKey,
  pollIntervalMs: 50,
  retry: QUICK_RETRY,
});

/** Every image succeeded with its own colour, exactly once. */
function expectAllSucceeded(lines: ResultLine[]) {
  expect(lines).toHaveLength(IMAGES);
  expect(new Set(lines.map((l) => l.path)).size).toBe(IMAGES);
  for (const line of lines) {
    expect(line, line.path).toMatchObject({ status: 'succeeded' });
    expect(line.path).toContain(`-${(line.result as { labels: { label: string }[] }).labels[0]!.label}.png`);
  }
}

describe('backfill crash safety', () => {
  it('stops with exit 2 naming the file when the disk fills (ENOSPC), and resumes once there is room', async () => {
    const disk = mountTmpfs('full-disk', 'size=64k');
    // Two 4 KiB pages left: the run record and first batches fit, the results do not.
    writeFileSync(join(disk, 'filler'), Buffer.alloc(56 * 1024));
    const out = join(disk, 'results.jsonl');
    const before = t.cloud.eventSource.stats.records;
    const full = await backfillCli([images, '--model', 'onnx/colors', '--out', out, '--batch-size', '4']).done;
    expect(full.code).toBe(2);
    expect(full.stderr).toMatch(new RegExp(`backfill: cannot write ${out}(\\.state)?: ENOSPC \\(no space left on device\\)`));
    expect(full.stderr).toMatch(/what was done so far is kept: fix that, then run again with --resume/);
    expect(full.stderr).not.toMatch(/\n\s+at /);

    rmSync(join(disk, 'filler'));
    const resumed = await backfillCli([images, '--model', 'onnx/colors', '--out', out, '--resume']).done;
    expect(resumed.stderr).toBe('');
    expect(resumed.code).toBe(0);
    expectAllSucceeded(readLines<ResultLine>(out));
    await t.cloud.eventSource.idle();
    expect(t.cloud.eventSource.stats.records - before).toBe(IMAGES);
  });

  it('refuses an output folder it cannot write (EROFS, ENOTDIR) with exit 2, and does not offer --resume for a run that never began', async () => {
    const readOnly = mountTmpfs('read-only', 'ro,size=64k');
    const refused = await backfillCli([images, '--out', join(readOnly, 'results.jsonl')]).done;
    expect(refused.code).toBe(2);
    expect(refused.stderr).toBe(`backfill: cannot write ${join(readOnly, 'results.jsonl')}: EROFS (read-only file system)\nnothing was sent\n`);

    const file = join(work, 'a-file');
    writeFileSync(file, '');
    const underFile = await backfillCli([images, '--out', join(file, 'results.jsonl')]).done;
    expect(underFile.code).toBe(2);
    expect(underFile.stderr).toMatch(/cannot write .*a-file\/results\.jsonl: ENOTDIR \(not a directory\)\nnothing was sent/);
    expect(underFile.stderr).not.toMatch(/--resume/);
  });

  it('recovers a batch whose state line a crash cut short: the same batch and jobs get the uploads', async () => {
    const out = join(work, 'cut.jsonl');
    const state = `${out}.state`;
    const stop = new AbortController();
    let batchId: string | undefined;
    // Stopped the instant the batch exists, before any upload; then the batch's line is cut as a crash would cut it.
    const first = await runBackfill({
      ...options(out),
      signal: stop.signal,
      onEvent: (e) => {
        if (e.type === 'batch') {
          batchId = e.batchId;
          stop.abort();
        }
      },
    });
    expect(first.interrupted).toBe(true);
    const lines = readFileSync(state, 'utf8').split('\n').filter(Boolean);
    expect(JSON.parse(lines.at(-1)!)).toMatchObject({ t: 'batch', batchId });
    truncateSync(state, statSync(state).size - 40);

    const summary = await runBackfill({ ...options(out), resume: true });
    expect(summary).toMatchObject({ succeeded: IMAGES, failed: 0, unfinished: 0 });
    const results = readLines<ResultLine>(out);
    expectAllSucceeded(results);
    // Not orphaned: the batch made before the crash is the one that ran.
    const { batch } = await t.client.getBatch(batchId!);
    expect(batch.counts.succeeded).toBe(IMAGES);
    expect(new Set(results.map((r) => r.jobId))).toEqual(new Set(batch.jobs.map((j) => j.jobId)));
  });

  it('writes the job’s real outcome when the object landed but the upload’s reply was lost', async () => {
    const out = join(work, 'lost-reply.jsonl');
    const jobIds = new Set<string>();
    const summary = await runBackfill({
      ...options(out),
      // The PUT reaches S3, then the connection drops before the reply; every retry finds S3 gone.
      sendFile: async (upload, path, opts) => {
        const jobId = new URL(upload.url).pathname.split('/').pop()!;
        if (jobIds.has(jobId)) throw Object.assign(new Error(`connect ECONNREFUSED ${new URL(upload.url).host}`), { code: 'ECONNREFUSED' });
        jobIds.add(jobId);
        await uploadFile(upload, path, opts);
        throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
      },
    });
    expect(summary, JSON.stringify(summary)).toMatchObject({ succeeded: IMAGES, failed: 0, unfinished: 0 });
    const results = readLines<ResultLine>(out);
    expectAllSucceeded(results);
    for (const line of results) expect((await t.client.getJob(line.jobId!)).job.status).toBe('succeeded');
  });
});

describe('backfill across a restart of the local cloud', () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'backfill-restart-'));
  afterAll(() => rmSync(stateDir, { recursive: true, force: true }));

  it('leaves uploads refused by a vanished S3 (ECONNREFUSED) for --resume, which renews their URLs and finishes them', async () => {
    const out = join(work, 'restart.jsonl');
    const first = await startTestCloud({ stateDir, worker: { visibilityTimeoutSeconds: 60 } });
    let batchId: string | undefined;
    const gone = await runBackfill({
      ...options(out, first),
      onEvent: (e) => {
        // S3 goes away the instant the batch exists: every upload meets a closed port.
        if (e.type === 'batch') {
          batchId = e.batchId;
          void first.cloud.s3Gateway.close();
        }
      },
    }).finally(() => first.stop());
    expect(gone).toMatchObject({ files: 0, unfinished: IMAGES, thisRun: { uploaded: 0 } });
    expect(readFileSync(out, 'utf8')).toBe('');

    const second = await startTestCloud({ stateDir, worker: { visibilityTimeoutSeconds: 60 } });
    try {
      const summary = await runBackfill({ ...options(out, second), resume: true });
      expect(summary).toMatchObject({ succeeded: IMAGES, failed: 0, unfinished: 0, thisRun: { uploaded: IMAGES } });
      const results = readLines<ResultLine>(out);
      expectAllSucceeded(results);
      const { batch } = await second.client.getBatch(batchId!);
      expect(new Set(results.map((r) => r.jobId))).toEqual(new Set(batch.jobs.map((j) => j.jobId)));
      await second.cloud.eventSource.idle();
      expect(second.cloud.eventSource.stats.records).toBe(IMAGES);
    } finally {
      await second.stop();
    }
  });
});
