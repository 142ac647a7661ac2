import { availableParallelism } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import pLimit from 'p-limit';
import { inferOnnx, type OnnxRequest } from '#shared/inference/onnx/infer.ts';
import { InferencePool } from '#shared/inference/pool/pool.ts';
import { type BenchModel, createWorkspace, generatePhotos, IMAGE_SIZES } from './fixtures.ts';
import { perSecond, round, roundSummary, type Summary, summarize } from './stats.ts';

/**
 * Inference inline (on the calling JS thread, bounded to the cores, as runners.ts does with
 * INFERENCE_POOL=off) against the worker_threads pool (INFERENCE_POOL=on), per model, on 1 MP
 * photos: throughput with a batch's worth of jobs in flight, the latency of each job under that
 * load and alone, and how long the calling thread's event loop was held up meanwhile (what the
 * local cloud's API and emulators, or a Lambda batch's S3/DynamoDB calls, would have waited).
 *
 * `tsx scripts/bench/pool.ts [--images N] [--threads N]`
 */

export type PoolMode = 'inline' | 'pool';

export interface PoolMeasurement {
  model: string;
  mode: PoolMode;
  threads: number;
  images: number;
  jobsPerSecond: number;
  /** Each job's latency with `2 × threads` jobs in flight, ms. */
  loadedLatencyMs: Summary;
  /** One job at a time, ms. */
  aloneLatencyMs: Summary;
  /** Event-loop delay of the calling thread during the loaded run, ms (p99 and max). */
  eventLoopDelayMs: { p99: number; max: number };
}

export interface PoolBenchOptions {
  images?: number;
  threads?: number;
  log?: (line: string) => void;
}

export async function measurePool(options: PoolBenchOptions = {}): Promise<PoolMeasurement[]> {
  const images = options.images ?? 40;
  const threads = options.threads ?? Math.min(2, availableParallelism());
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const workspace = await createWorkspace();
  const photos = await generatePhotos(IMAGE_SIZES['1mp'], images, 1);
  const measurements: PoolMeasurement[] = [];
  for (const model of [workspace.models.colors, workspace.models.resnet18]) {
    for (const mode of ['inline', 'pool'] as const) {
      const run = mode === 'pool' ? poolRunner(threads) : inlineRunner(threads);
      const request = (bytes: Buffer): OnnxRequest => requestFor(model, bytes, mode === 'pool' ? 1 : 0);
      try {
        // Warm: sessions loaded (in every thread), code paths compiled.
        await Promise.all(photos.slice(0, threads * 2).map((p) => run.infer(request(Buffer.from(p.bytes)))));
        const alone: number[] = [];
        for (const photo of photos.slice(0, Math.min(10, images))) {
          const started = performance.now();
          await run.infer(request(Buffer.from(photo.bytes)));
          alone.push(performance.now() - started);
        }
        const delay = monitorEventLoopDelay({ resolution: 1 });
        const loaded: number[] = [];
        const inFlight = pLimit(threads * 2);
        delay.enable();
        const started = performance.now();
        await Promise.all(
          photos.map((photo) =>
            inFlight(async () => {
              const begun = performance.now();
              await run.infer(request(Buffer.from(photo.bytes)));
              loaded.push(performance.now() - begun);
            }),
          ),
        );
        const elapsed = performance.now() - started;
        delay.disable();
        const measurement: PoolMeasurement = {
          model: model.label,
          mode,
          threads,
          images,
          jobsPerSecond: round(perSecond(images, elapsed), 1),
          loadedLatencyMs: roundSummary(summarize(loaded), 1),
          aloneLatencyMs: roundSummary(summarize(alone), 1),
          eventLoopDelayMs: { p99: round(delay.percentile(99) / 1e6, 1), max: round(delay.max / 1e6, 1) },
        };
        log(describe(measurement));
        measurements.push(measurement);
      } finally {
        await run.close();
      }
    }
  }
  return measurements;
}

function requestFor(model: BenchModel, bytes: Buffer, intraOpThreads: number): OnnxRequest {
  return { model: model.name, manifest: model.manifest, modelPath: model.modelPath, bytes, params: {}, maxPixels: 40_000_000, intraOpThreads };
}

interface Runner {
  infer(request: OnnxRequest): Promise<unknown>;
  close(): Promise<void>;
}

/** As runners.ts with INFERENCE_POOL=off: on this thread, at most `threads` at once, onnxruntime's default intra-op threads. */
function inlineRunner(threads: number): Runner {
  const slots = pLimit(threads);
  return { infer: (request) => slots(() => inferOnnx(request)), close: async () => {} };
}

/** As runners.ts with INFERENCE_POOL=on: one job per pool thread, one intra-op thread per session. */
function poolRunner(threads: number): Runner {
  const pool = new InferencePool(threads);
  return { infer: (request) => pool.infer(request), close: () => pool.close() };
}

export function describe(m: PoolMeasurement): string {
  return (
    `${m.model.padEnd(9)} ${m.mode.padEnd(6)} ${String(m.jobsPerSecond).padStart(6)} jobs/s` +
    `  loaded p50 ${m.loadedLatencyMs.p50} p95 ${m.loadedLatencyMs.p95} ms` +
    `  alone p50 ${m.aloneLatencyMs.p50} ms` +
    `  event-loop delay p99 ${m.eventLoopDelayMs.p99} max ${m.eventLoopDelayMs.max} ms`
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({ options: { images: { type: 'string' }, threads: { type: 'string' } } });
  const results = await measurePool({
    images: values.images ? Number(values.images) : undefined,
    threads: values.threads ? Number(values.threads) : undefined,
  });
  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
}
