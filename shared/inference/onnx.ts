import * as ort from 'onnxruntime-node';
import { getConfig } from '../config.ts';
import { JobFailure } from '../errors.ts';
import type { OnnxEntry } from './catalog.ts';
import type { ModelManifest } from './manifest.ts';
import { localModelPath } from './model-files.ts';
import { decodeToRgb, type ImageInfo, toTensor } from './preprocess.ts';

/** Image classification with onnxruntime-node: one session per model per process, reused across invocations. */

export interface ClassificationResult {
  kind: 'classification';
  model: string;
  labels: { label: string; score: number }[];
  image: ImageInfo;
  timings: { preprocessMs: number; inferenceMs: number };
}

const sessions = new Map<string, Promise<ort.InferenceSession>>();

function session(modelPath: string): Promise<ort.InferenceSession> {
  let pending = sessions.get(modelPath);
  if (!pending) {
    const threads = getConfig().ONNX_INTRA_OP_THREADS;
    pending = ort.InferenceSession.create(modelPath, {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
      ...(threads > 0 ? { intraOpNumThreads: threads } : {}),
      // Idle intra-op threads sleep instead of spinning: the spinning took CPU from the decode of
      // the next image and from the rest of the process (measured: +8 % backfill throughput).
      extra: { session: { intra_op: { allow_spinning: '0' } } },
    });
    // A failed load is not cached: the next job tries again.
    pending.catch(() => sessions.delete(modelPath));
    sessions.set(modelPath, pending);
  }
  return pending;
}

/** Load a model's session ahead of the first job (cold start work done once). */
export async function warmUp(entry: OnnxEntry): Promise<void> {
  await session(await localModelPath(entry));
}

/** Numerically stable softmax. */
export function softmax(logits: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]!);
  const out = new Float64Array(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += out[i] = Math.exp(logits[i]! - max);
  for (let i = 0; i < out.length; i++) out[i]! /= sum;
  return out;
}

/** The k best (label, score) pairs, best first; ties keep label order. */
export function topK(scores: ArrayLike<number>, labels: readonly string[], k: number): { label: string; score: number }[] {
  const order = Array.from({ length: scores.length }, (_, i) => i);
  order.sort((a, b) => scores[b]! - scores[a]! || a - b);
  return order.slice(0, k).map((i) => ({ label: labels[i] ?? `class_${i}`, score: Number(scores[i]!.toFixed(6)) }));
}

export async function classify(
  entry: OnnxEntry,
  bytes: Uint8Array,
  image: ImageInfo,
  params: { topK?: number },
): Promise<ClassificationResult> {
  const manifest = entry.manifest as ModelManifest;
  const started = performance.now();
  const rgb = await decodeToRgb(bytes, manifest.input, getConfig().MAX_INPUT_PIXELS);
  const tensor = toTensor(rgb, manifest.input);
  const preprocessed = performance.now();

  let scores: Float32Array;
  try {
    const model = await session(await localModelPath(entry));
    const outputs = await model.run({ [manifest.input.name]: new ort.Tensor('float32', tensor.data, tensor.dims) });
    const output = outputs[manifest.output.name];
    if (!output) throw new Error(`the model has no output named ${manifest.output.name}`);
    scores = output.data as Float32Array;
  } catch (error) {
    throw JobFailure.permanent('model_error', `${entry.name} failed: ${(error as Error).message}`, error);
  }
  if (scores.length !== manifest.labels.length) {
    throw JobFailure.permanent(
      'model_error',
      `${entry.name} produced ${scores.length} scores for ${manifest.labels.length} labels`,
    );
  }
  const probabilities = manifest.output.activation === 'softmax' ? softmax(scores) : scores;
  const inferred = performance.now();
  return {
    kind: 'classification',
    model: entry.name,
    labels: topK(probabilities, manifest.labels, params.topK ?? manifest.topK),
    image,
    timings: { preprocessMs: round(preprocessed - started), inferenceMs: round(inferred - preprocessed) },
  };
}

const round = (ms: number) => Math.round(ms * 100) / 100;
