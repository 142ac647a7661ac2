import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { PipelineClient, uploadToPresignedUrl } from '#shared/client/pipeline-client.ts';
import { describePreset } from '#shared/inference/gemini/presets/describe.ts';
import type { Endpoints } from '../../scripts/local-cloud/cloud.ts';
import { type FakeGemini, reply, startFakeGemini } from '../helpers/fake-gemini.ts';
import { startTestCloud } from '../helpers/local-cloud.ts';
import { RED, twoTone, WHITE } from '../helpers/images.ts';
import { until } from '../helpers/waiting.ts';

/**
 * Ctrl-C on `npm start` finishes the running jobs: the process may receive SIGINT twice within
 * milliseconds (npm and tsx both forward it), and that must not abort them.
 */

const API_KEY = 'test-key';
/** The fake model answers this late, so the job is surely running when Ctrl-C arrives. */
const MODEL_DELAY_MS = 2_500;
let gemini: FakeGemini;
let stateDir: string;
let child: ChildProcess | undefined;

beforeAll(async () => {
  gemini = await startFakeGemini({ apiKey: API_KEY });
  stateDir = mkdtempSync(join(tmpdir(), 'pipeline-shutdown-'));
});
afterAll(async () => {
  child?.kill('SIGKILL');
  await gemini?.close();
  rmSync(stateDir, { recursive: true, force: true });
});


it('finishes a running job when SIGINT arrives twice 20 ms apart, and exits 0', async () => {
  child = spawn(process.execPath, ['--import', 'tsx', 'scripts/local-cloud/main.ts', '--state-dir', stateDir], {
    env: {
      ...process.env,
      PORT: '0',
      EDGE_PORT: '0',
      POWERTOOLS_LOG_LEVEL: 'ERROR',
      GEMINI_API_KEY: API_KEY,
      GEMINI_BASE_URL: gemini.url,
      GEMINI_MODEL_FAST: 'fake-flash-lite',
      GEMINI_MODEL_BALANCED: 'fake-flash',
      GEMINI_MODEL_ACCURATE: 'fake-pro',
      GEMINI_CALL_TIMEOUT_MS: '20000',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const endpointsFile = join(stateDir, 'endpoints.json');
  const endpoints = await until(
    () => (existsSync(endpointsFile) ? (JSON.parse(readFileSync(endpointsFile, 'utf8')) as Endpoints) : undefined),
    `endpoints.json (output so far: ${output})`,
    60_000,
  );
  const client = new PipelineClient(endpoints.apiUrl, endpoints.apiKey);

  gemini.script({ ...reply.answer(describePreset.example), delayMs: MODEL_DELAY_MS });
  const image = await twoTone('jpeg', 64, 48, RED, WHITE);
  const job = await client.createJob({ contentType: 'image/jpeg', contentLength: image.length, model: 'gemini/describe' });
  await uploadToPresignedUrl(job.upload, image);
  await until(async () => ((await client.getJob(job.jobId)).job.status === 'running' ? true : undefined), 'the job to run', 60_000);

  child.kill('SIGINT');
  await new Promise((r) => setTimeout(r, 20));
  child.kill('SIGINT');
  expect(await exited).toBe(0);
  child = undefined;

  // What the stopped cloud left in its table: the job finished on its first attempt.
  const restarted = await startTestCloud({ stateDir });
  try {
    const { job: view } = await restarted.client.getJob(job.jobId);
    expect(view.status).toBe('succeeded');
    expect(view.attempts).toBe(1);
  } finally {
    await restarted.stop();
  }
}, 120_000);
