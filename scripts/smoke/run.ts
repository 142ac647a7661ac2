import sharp from 'sharp';
import { ApiRequestError, PipelineClient, UploadError, uploadToPresignedUrl } from '#shared/client/pipeline-client.ts';

/**
 * An end-to-end check of a deployment (AWS or the local cloud), as a client sees it: health, auth,
 * models, create, upload, poll, and the refusals that protect the pipeline. Each step is timed.
 */

export interface SmokeStep {
  name: string;
  ok: boolean;
  ms: number;
  detail: string;
}

export interface SmokeReport {
  ok: boolean;
  steps: SmokeStep[];
}

export interface SmokeOptions {
  apiUrl: string;
  apiKey: string;
  model?: string;
  /** An image to submit; a generated 1024×768 JPEG by default. */
  image?: { bytes: Buffer; contentType: string };
  timeoutMs?: number;
}

async function sampleImage(): Promise<Buffer> {
  // Two colour bands: the demo model names both, so a wrong answer is visible.
  return sharp({ create: { width: 1024, height: 768, channels: 3, background: { r: 30, g: 70, b: 210 } } })
    .composite([{ input: { create: { width: 1024, height: 256, channels: 3, background: { r: 240, g: 240, b: 240 } } }, top: 0, left: 0 }])
    .jpeg({ quality: 90 })
    .toBuffer();
}

export async function runSmoke(options: SmokeOptions): Promise<SmokeReport> {
  const steps: SmokeStep[] = [];
  const client = new PipelineClient(options.apiUrl, options.apiKey);
  const step = async (name: string, work: () => Promise<string>): Promise<boolean> => {
    const started = performance.now();
    try {
      const detail = await work();
      steps.push({ name, ok: true, ms: performance.now() - started, detail });
      return true;
    } catch (error) {
      steps.push({ name, ok: false, ms: performance.now() - started, detail: (error as Error).message });
      return false;
    }
  };
  const expectRefusal = async (work: () => Promise<unknown>, status: number): Promise<string> => {
    const outcome = await work().then(
      () => undefined,
      (error: unknown) => error,
    );
    if (outcome instanceof ApiRequestError || outcome instanceof UploadError) {
      if (outcome.status === status) return `${outcome.status} ${outcome.code}`;
      throw new Error(`expected ${status}, got ${outcome.status} ${outcome.code}: ${outcome.message}`);
    }
    throw new Error(`expected a ${status} refusal, got ${outcome ? String(outcome) : 'success'}`);
  };

  await step('health', async () => {
    const response = await fetch(new URL('/v1/health', options.apiUrl));
    if (response.status !== 200) throw new Error(`status ${response.status}`);
    return 'ok';
  });
  await step('wrong key is refused', () => expectRefusal(() => new PipelineClient(options.apiUrl, 'aip_smoke-invalid').listModels(), 401));
  const model = options.model ?? 'onnx/colors';
  const listed = await step('models', async () => {
    const models = await client.listModels();
    const entry = models.find((m) => m.name === model);
    if (!entry) throw new Error(`${model} is not served (${models.map((m) => m.name).join(', ')})`);
    if (!entry.available) throw new Error(`${model} is unavailable: ${entry.reason}`);
    return `${models.length} models; ${model} available`;
  });
  if (!listed) return { ok: false, steps };

  const image = options.image ?? { bytes: await sampleImage(), contentType: 'image/jpeg' };
  let jobId = '';
  let upload: Awaited<ReturnType<PipelineClient['createJob']>>['upload'] | undefined;
  await step('create job', async () => {
    const job = await client.createJob({ model, contentType: image.contentType, contentLength: image.bytes.length, metadata: { source: 'smoke' } });
    jobId = job.jobId;
    upload = job.upload;
    return job.jobId;
  });
  if (!upload) return { ok: false, steps };
  await step('upload of another size is refused', () =>
    expectRefusal(() => uploadToPresignedUrl({ ...upload!, headers: { ...upload!.headers, 'content-length': String(image.bytes.length - 1) } }, image.bytes.subarray(1)), 403),
  );
  const uploaded = await step('upload', async () => {
    await uploadToPresignedUrl(upload!, image.bytes);
    return `${image.bytes.length} bytes`;
  });
  if (!uploaded) return { ok: false, steps };
  await step('result', async () => {
    const done = await client.waitForJob(jobId, { timeoutMs: options.timeoutMs ?? 120_000 });
    if (done.status !== 'succeeded') throw new Error(`${done.status}: ${done.error?.code} ${done.error?.message}`);
    const labels = (done.result as { labels?: { label: string; score: number }[] } | undefined)?.labels;
    const summary = labels ? labels.map((l) => `${l.label} ${l.score.toFixed(2)}`).join(', ') : done.resultUrl ? 'result in S3' : 'result';
    const workerMs = done.startedAt && done.completedAt ? Date.parse(done.completedAt) - Date.parse(done.startedAt) : undefined;
    return `${summary}${workerMs === undefined ? '' : ` (worker ${workerMs} ms)`}`;
  });
  await step("someone else's job id is not found", () =>
    expectRefusal(() => client.getJob('00000000-0000-4000-8000-000000000000'), 404),
  );
  return { ok: steps.every((s) => s.ok), steps };
}

export function formatReport(report: SmokeReport): string {
  const width = Math.max(...report.steps.map((s) => s.name.length));
  const lines = report.steps.map((s) => `${s.ok ? 'ok  ' : 'FAIL'}  ${s.name.padEnd(width)}  ${s.ms.toFixed(0).padStart(6)} ms  ${s.detail}`);
  lines.push(report.ok ? 'smoke test passed' : 'smoke test FAILED');
  return lines.join('\n');
}
