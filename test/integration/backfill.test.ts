import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResultLine } from '../../scripts/backfill/journal.ts';
import { runBackfill } from '../../scripts/backfill/run.ts';
import { BLUE, GREEN, RED, twoTone } from '../helpers/images.ts';
import { startTestCloud, type TestCloud } from '../helpers/local-cloud.ts';

/**
 * The backfill CLI against the local cloud: a folder of 60 files (57 images in three formats and
 * three colours, in nested folders, and 3 bad files) is accounted for line by line, and a run
 * stopped half-way is resumed without uploading anything twice.
 */

let t: TestCloud;
let work: string;
let images: string;
/** The colour each good image is, by path relative to the images folder; the bad files by the outcome expected. */
const expected = new Map<string, { label: string } | { status: 'failed' | 'skipped'; code: string }>();

const COLOURS = { red: RED, blue: BLUE, green: GREEN } as const;
const FORMATS = ['jpeg', 'png', 'webp'] as const;
const GOOD_IMAGES = 57;
/** Uploads: the good images and the truncated JPEG (whose bytes start like a JPEG). */
const UPLOADABLE = GOOD_IMAGES + 1;

beforeAll(async () => {
  // A long visibility timeout: every upload is then exactly one record delivered to the worker.
  t = await startTestCloud({ worker: { visibilityTimeoutSeconds: 60 } });
  work = mkdtempSync(join(tmpdir(), 'backfill-test-'));
  images = join(work, 'images');
  for (const dir of ['', 'a', 'a/deeper', 'b']) mkdirSync(join(images, dir), { recursive: true });
  const dirs = ['', 'a', 'a/deeper', 'b'];
  const names = Object.keys(COLOURS) as (keyof typeof COLOURS)[];
  await Promise.all(
    Array.from({ length: GOOD_IMAGES }, async (_, i) => {
      const format = FORMATS[i % 3]!;
      const colour = names[Math.floor(i / 3) % 3]!;
      const path = join(dirs[i % 4]!, `img-${String(i).padStart(2, '0')}-${colour}.${format === 'jpeg' ? 'jpg' : format}`);
      writeFileSync(join(images, path), await twoTone(format, 40, 40, COLOURS[colour], COLOURS[colour]));
      expected.set(path, { label: colour });
    }),
  );
  const jpeg = await twoTone('jpeg', 256, 256, RED, BLUE);
  writeFileSync(join(images, 'a/truncated.jpg'), jpeg.subarray(0, Math.floor(jpeg.length / 2)));
  expected.set('a/truncated.jpg', { status: 'failed', code: 'corrupt_image' });
  writeFileSync(join(images, 'notes.jpg'), 'a text file whose name says it is a JPEG\n');
  expected.set('notes.jpg', { status: 'skipped', code: 'not_an_image' });
  writeFileSync(join(images, 'b/empty.png'), '');
  expected.set('b/empty.png', { status: 'skipped', code: 'empty_file' });
  // Hidden files are not part of a walk (as a glob skips them).
  writeFileSync(join(images, '.DS_Store'), 'finder metadata');
  expect(expected.size).toBe(60);
});

afterAll(async () => {
  await t?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Records delivered to the worker: one per object S3 accepted under uploads/. */
const uploadsSeen = () => t.cloud.eventSource.stats.records;

function readLines<T>(path: string): T[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as T);
}

function backfillCli(args: string[]): { child: ChildProcess; done: Promise<{ code: number | null; stdout: string; stderr: string }> } {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'scripts/backfill/main.ts', ...args, '--api', t.cloud.endpoints.apiUrl, '--key', t.cloud.endpoints.apiKey],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c) => (stdout += c));
  child.stderr!.on('data', (c) => (stderr += c));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code) => resolve({ code, stdout, stderr })),
  );
  return { child, done };
}

/** Every one of the 60 files has exactly one line, with the outcome it should have. */
function expectAllAccountedFor(lines: ResultLine[]) {
  const byPath = new Map(lines.map((line) => [relative(images, line.path), line]));
  expect(lines).toHaveLength(60);
  expect([...byPath.keys()].sort()).toEqual([...expected.keys()].sort());
  for (const [path, want] of expected) {
    const line = byPath.get(path)!;
    if ('label' in want) {
      expect(line, path).toMatchObject({ status: 'succeeded', jobId: expect.any(String) });
      expect((line.result as { labels: { label: string }[] }).labels[0]!.label, path).toBe(want.label);
    } else {
      expect(line, path).toMatchObject({ status: want.status, error: { code: want.code, message: expect.any(String) } });
      if (want.status === 'skipped') expect(line.jobId).toBeUndefined();
      else expect(line.jobId).toEqual(expect.any(String));
    }
  }
}

describe('npm run backfill', () => {
  it('accounts for every file in the JSONL, retries refused uploads, and exits 1 when some failed', async () => {
    const out = join(work, 'full.jsonl');
    const before = uploadsSeen();
    // S3 answers the first three uploads 503 SlowDown: they are retried, not failed.
    const slowDown = t.cloud.s3Gateway.faults.add({ method: 'PUT', keyPrefix: 'uploads/', status: 503, code: 'SlowDown', times: 3 });
    const { code, stdout, stderr } = await backfillCli([images, '--model', 'onnx/colors', '--out', out, '--concurrency', '4', '--progress', 'lines']).done;
    expect(stderr).toMatch(/backfill: 60\/60 \(100%\) done: 57 succeeded, 1 failed, 2 skipped/);
    expect(code).toBe(1);
    expect(slowDown.hits).toBe(3);
    expect(stdout).toContain('60 files: 57 succeeded, 1 failed, 2 skipped');
    expect(stdout).toMatch(/failed or skipped by code: .*corrupt_image 1/);
    expect(stdout).toMatch(/not_an_image 1/);
    expect(stdout).toMatch(/empty_file 1/);
    expect(stdout).toMatch(/this run: 58 images in \S+ \([\d.]+ images\/s\), 58 uploaded/);
    expectAllAccountedFor(readLines<ResultLine>(out));
    await t.cloud.eventSource.idle();
    expect(uploadsSeen() - before).toBe(UPLOADABLE);

    // Resuming a finished run sends nothing; --allow-failures makes the same outcome exit 0.
    const again = await backfillCli([images, '--model', 'onnx/colors', '--out', out, '--resume', '--allow-failures', '--progress', 'none']).done;
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('60 files: 57 succeeded, 1 failed, 2 skipped (60 done by earlier runs)');
    expect(readLines(out)).toHaveLength(60);
    expect(uploadsSeen() - before).toBe(UPLOADABLE);
  });

  it('refuses to overwrite an earlier run without --resume, and names a missing input', async () => {
    const out = join(work, 'exists.jsonl');
    writeFileSync(out, '');
    const exists = await backfillCli([images, '--out', out]).done;
    expect(exists.code).toBe(2);
    expect(exists.stderr).toMatch(/already exists: pass --resume/);
    const missing = await backfillCli([join(work, 'nowhere'), '--out', join(work, 'missing.jsonl')]).done;
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/nowhere: no such file or directory/);
  });

  it('resumes a run stopped with Ctrl-C without uploading any image twice', async () => {
    const out = join(work, 'interrupted.jsonl');
    const state = `${out}.state`;
    const before = uploadsSeen();
    const uploadedIn = () => {
      try {
        return readLines<{ t: string; jobId?: string }>(state).filter((r) => r.t === 'up');
      } catch {
        return [];
      }
    };
    const { child, done } = backfillCli([images, '--model', 'onnx/colors', '--out', out, '--concurrency', '1', '--batch-size', '10', '--progress', 'none']);
    // Let some uploads through, then make S3 refuse the rest (the CLI backs off and retries) and press Ctrl-C.
    const deadline = Date.now() + 20_000;
    while (uploadedIn().length < 10 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    const stall = t.cloud.s3Gateway.faults.add({ method: 'PUT', keyPrefix: 'uploads/', status: 503, times: 1_000_000 });
    while (stall.hits === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    child.kill('SIGINT');
    const stopped = await done;
    t.cloud.s3Gateway.faults.clear();
    expect(stopped.code).toBe(130);
    expect(stopped.stdout).toMatch(/interrupted: run again with --resume/);
    const firstRun = uploadedIn().length;
    expect(firstRun).toBeGreaterThanOrEqual(10);
    expect(firstRun).toBeLessThan(UPLOADABLE);

    const summary = await runBackfill({
      inputs: images,
      model: 'onnx/colors',
      out,
      resume: true,
      apiUrl: t.cloud.endpoints.apiUrl,
      apiKey: t.cloud.endpoints.apiKey,
      pollIntervalMs: 50,
    });
    expect(summary).toMatchObject({ files: 60, succeeded: 57, failed: 1, skipped: 2, interrupted: false });
    expect(summary.failuresByCode).toEqual({ corrupt_image: 1, not_an_image: 1, empty_file: 1 });
    expect(summary.thisRun.uploaded).toBe(UPLOADABLE - firstRun);
    expectAllAccountedFor(readLines<ResultLine>(out));
    // Nothing uploaded twice: S3 accepted one object per uploadable file over both runs, each for another job.
    await t.cloud.eventSource.idle();
    expect(uploadsSeen() - before).toBe(UPLOADABLE);
    const ups = uploadedIn().map((r) => r.jobId);
    expect(ups).toHaveLength(UPLOADABLE);
    expect(new Set(ups).size).toBe(UPLOADABLE);
  });
});
