import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { parseConfig } from '#shared/config.ts';
import { decodeToRgb, type Tensor, toTensor } from '#shared/inference/image.ts';
import type { BenchImage, BenchModel } from './fixtures.ts';
import { type Summary, summarize } from './stats.ts';

/**
 * Measurement 1, the limit: the project's own preprocessing (decodeToRgb + toTensor) alone, and
 * onnxruntime inference alone, per image, with nothing else running. Two settings:
 * - as the worker runs them (onnx.ts session options, libvips on every core): the latency limit;
 * - on one core (one libvips thread, one ORT thread): per-image compute in core-milliseconds, so
 *   cores ÷ that is the compute-bound throughput limit.
 * Plus diagnostics: how busy inference keeps the JavaScript thread, and images per second through
 * decode + inference with one image per core at once (the worker's CPU slots), per session setting.
 */

/** The worker's pixel limit (shared/config.ts default), read rather than copied. */
const MAX_INPUT_PIXELS = parseConfig({ TABLE_NAME: 'bench', BUCKET_NAME: 'bench' }).MAX_INPUT_PIXELS;

/** Session options of shared/inference/onnx.ts with ONNX_INTRA_OP_THREADS unset (0). */
export const WORKER_SESSION_OPTIONS: ort.InferenceSession.SessionOptions = {
  executionProviders: ['cpu'],
  graphOptimizationLevel: 'all',
};

export interface LimitOptions {
  iterations: number;
  warmup: number;
}

export interface PreprocessLimit {
  model: string;
  image: string;
  /** As the worker runs it. */
  wallMs: Summary;
  /** One libvips thread. */
  singleCoreMs: Summary;
}

export interface InferenceLimit {
  model: string;
  wallMs: Summary;
  singleCoreMs: Summary;
  /**
   * Share of the wall time the JavaScript thread was busy while inferences ran back to back:
   * onnxruntime-node runs a session synchronously (in a setImmediate), so this is ~1.
   */
  eventLoopUtilization: number;
}

async function timeEach(iterations: number, warmup: number, work: () => Promise<unknown>): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await work();
  const samples: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const start = performance.now();
    await work();
    samples.push(performance.now() - start);
  }
  return samples;
}

export async function preprocess(model: BenchModel, image: BenchImage): Promise<Tensor> {
  return toTensor(await decodeToRgb(image.bytes, model.manifest.input, MAX_INPUT_PIXELS), model.manifest.input);
}

function infer(session: ort.InferenceSession, model: BenchModel, tensor: Tensor) {
  return session.run({ [model.manifest.input.name]: new ort.Tensor('float32', tensor.data, tensor.dims) });
}

/** Run with libvips limited to one thread, then restore what it was. */
async function onOneVipsThread<T>(work: () => Promise<T>): Promise<T> {
  const before = sharp.concurrency();
  sharp.concurrency(1);
  try {
    return await work();
  } finally {
    sharp.concurrency(before);
  }
}

export async function measurePreprocess(model: BenchModel, image: BenchImage, options: LimitOptions): Promise<PreprocessLimit> {
  const work = () => preprocess(model, image);
  const wall = await timeEach(options.iterations, options.warmup, work);
  const single = await onOneVipsThread(() => timeEach(options.iterations, options.warmup, work));
  return { model: model.label, image: image.size.label, wallMs: summarize(wall), singleCoreMs: summarize(single) };
}

export async function measureInference(model: BenchModel, input: BenchImage, options: LimitOptions): Promise<InferenceLimit> {
  const tensor = await preprocess(model, input);
  const session = await ort.InferenceSession.create(model.modelPath, WORKER_SESSION_OPTIONS);
  const oneThread = await ort.InferenceSession.create(model.modelPath, { ...WORKER_SESSION_OPTIONS, intraOpNumThreads: 1 });
  try {
    const before = performance.eventLoopUtilization();
    const wall = await timeEach(options.iterations, options.warmup, () => infer(session, model, tensor));
    const { utilization } = performance.eventLoopUtilization(before);
    const single = await timeEach(options.iterations, options.warmup, () => infer(oneThread, model, tensor));
    return { model: model.label, wallMs: summarize(wall), singleCoreMs: summarize(single), eventLoopUtilization: utilization };
  } finally {
    await session.release();
    await oneThread.release();
  }
}

/** The session settings the diagnostics compare: as onnx.ts makes it, and one intra-op thread (ONNX_INTRA_OP_THREADS=1). */
export const SESSION_VARIANTS = {
  asShipped: WORKER_SESSION_OPTIONS,
  oneThread: { ...WORKER_SESSION_OPTIONS, intraOpNumThreads: 1 },
} satisfies Record<string, ort.InferenceSession.SessionOptions>;

export type SessionVariant = keyof typeof SESSION_VARIANTS;

/**
 * Images per second through decode + inference with `concurrency` images at once, as the worker
 * runs a batch (shared/inference/runners.ts: one CPU slot per core), per session setting.
 */
export async function measureComputeThroughput(
  model: BenchModel,
  images: BenchImage[],
  concurrency: number,
  count: number,
): Promise<Record<SessionVariant, number>> {
  const result = {} as Record<SessionVariant, number>;
  for (const [variant, sessionOptions] of Object.entries(SESSION_VARIANTS) as [SessionVariant, ort.InferenceSession.SessionOptions][]) {
    const session = await ort.InferenceSession.create(model.modelPath, sessionOptions);
    const one = async (i: number) => infer(session, model, await preprocess(model, images[i % images.length]!));
    try {
      for (let i = 0; i < concurrency; i++) await one(i);
      let next = 0;
      const start = performance.now();
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (next < count) await one(next++);
        }),
      );
      result[variant] = (count * 1000) / (performance.now() - start);
    } finally {
      await session.release();
    }
  }
  return result;
}
