import type { JobView } from '#shared/jobs/views.ts';
import { type PipelineClient, uploadToPresignedUrl } from '#shared/client/pipeline-client.ts';
import type { BenchImage, BenchModel } from './fixtures.ts';
import { type Summary, summarize } from './stats.ts';
import { succeededResult } from './worker.ts';
import { isTerminal } from '#shared/jobs/model.ts';

/**
 * Measurement 3, end to end: what a client sees from POST /v1/jobs to the result (create, PUT to
 * the presigned URL, poll), one job at a time on the running local cloud, and where the time goes.
 * Timestamps on the job (startedAt, completedAt) come from the same clock: the cloud runs in this
 * process.
 *
 * Polling bounds the figure, so two pollers are measured:
 * - `client`: PipelineClient.waitForJob as shipped (first poll at once, then 100, 200, 400 … ms up
 *   to Retry-After): what an app using the client sees;
 * - `poll10`: PipelineClient.getJob every 10 ms: the pipeline's own overhead, give or take 10 ms.
 */

export type Poller = 'client' | 'poll10';

const TIGHT_POLL_MS = 10;
const JOB_TIMEOUT_MS = 60_000;

async function pollEvery(client: PipelineClient, jobId: string, intervalMs: number): Promise<JobView> {
  const deadline = Date.now() + JOB_TIMEOUT_MS;
  for (;;) {
    const { job } = await client.getJob(jobId);
    if (isTerminal(job.status)) return job;
    if (Date.now() > deadline) throw new Error(`job ${jobId} is still ${job.status}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export interface EndToEndMeasurement {
  model: string;
  image: string;
  poller: Poller;
  totalMs: Summary;
  /** total − (completedAt − startedAt): everything but the worker's own run. */
  overheadMs: Summary;
  /** Where the time goes, per job. */
  createMs: Summary;
  uploadMs: Summary;
  /** Upload done → the worker claims the job: notification, queue, event source. */
  queueMs: Summary;
  /** startedAt → completedAt, as the job records it. */
  workerMs: Summary;
  /** completedAt → the client has the result: the polling lag. */
  resultSeenMs: Summary;
}

export async function measureEndToEnd(options: {
  client: PipelineClient;
  model: BenchModel;
  images: BenchImage[];
  poller: Poller;
  iterations: number;
  warmup: number;
}): Promise<EndToEndMeasurement> {
  const { client, model } = options;
  const samples = { totalMs: [], overheadMs: [], createMs: [], uploadMs: [], queueMs: [], workerMs: [], resultSeenMs: [] } as Record<
    Exclude<keyof EndToEndMeasurement, 'model' | 'image' | 'poller'>,
    number[]
  >;
  for (let i = 0; i < options.warmup + options.iterations; i++) {
    const image = options.images[i % options.images.length]!;
    const start = Date.now();
    const t0 = performance.now();
    const created = await client.createJob({ model: model.name, contentType: 'image/jpeg', contentLength: image.bytes.length });
    const createdAt = Date.now();
    await uploadToPresignedUrl(created.upload, image.bytes);
    const uploadedAt = Date.now();
    const job =
      options.poller === 'client'
        ? await client.waitForJob(created.jobId, { timeoutMs: JOB_TIMEOUT_MS })
        : await pollEvery(client, created.jobId, TIGHT_POLL_MS);
    const total = performance.now() - t0;
    const seenAt = Date.now();
    succeededResult(job);
    if (i < options.warmup) continue;
    const startedAt = Date.parse(job.startedAt!);
    const completedAt = Date.parse(job.completedAt!);
    samples.totalMs.push(total);
    samples.overheadMs.push(total - (completedAt - startedAt));
    samples.createMs.push(createdAt - start);
    samples.uploadMs.push(uploadedAt - createdAt);
    samples.queueMs.push(startedAt - uploadedAt);
    samples.workerMs.push(completedAt - startedAt);
    samples.resultSeenMs.push(seenAt - completedAt);
  }
  const summaries = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, summarize(v)])) as Record<keyof typeof samples, Summary>;
  return { model: model.label, image: options.images[0]!.size.label, poller: options.poller, ...summaries };
}
