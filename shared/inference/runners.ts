import { availableParallelism } from 'node:os';
import pLimit from 'p-limit';
import { type Config, getConfig } from '../config.ts';
import { JobFailure } from '../errors.ts';
import { putVector } from '../storage/objects.ts';
import { ensureCatalog, findModel } from './catalog.ts';
import { analyzeImage } from './gemini/analyze.ts';
import { inferOnnx, type ModelFiles, type OnnxRequest, type OnnxResult, type WarmUpTarget, warmUpSession } from './onnx/infer.ts';
import { localModelFiles } from './onnx/model-files.ts';
import { runsInPool } from './pool/choice.ts';
import { InferencePool } from './pool/pool.ts';
import { fitsInline } from './tasks/embedding/index.ts';
import type { EmbeddingResult } from './tasks/embedding/index.ts';
import type { CatalogEntry, InferenceInput, InferenceResult, OnnxEntry } from './types.ts';

/**
 * From a catalogue entry to a result: the worker's one entry point into inference, whatever the
 * model's runtime and task. ONNX work runs in the inference pool's threads or, for models too
 * light to pay for the hand-over, on this thread bounded to the cores; Gemini bounds its image
 * fitting to the cores and its calls to GEMINI_MAX_CONCURRENCY.
 */

/** CPU-bound work done on this thread (decode, inference) is bounded per process; I/O of other records overlaps it. */
const cpuSlots = pLimit(availableParallelism());

/**
 * An embedding stays in its result up to this much JSON (a 2048-dimension float32 vector takes
 * about 22 KB); a larger one is stored as its own object, so the job item stays small and the
 * result never takes the whole-result-in-S3 path just for its vector.
 */
export const EMBEDDING_INLINE_MAX_BYTES = 64 * 1024;

let pool: InferencePool | undefined;

function inferencePool(config: Config): InferencePool {
  pool ??= new InferencePool(config.INFERENCE_POOL_THREADS || availableParallelism());
  return pool;
}

export async function runModel(entry: CatalogEntry, input: InferenceInput): Promise<InferenceResult> {
  if (!entry.available) throw JobFailure.permanent('model_error', `model ${entry.name} is unavailable: ${entry.unavailableReason}`);
  switch (entry.runtime) {
    case 'onnx': {
      const result = await runOnnx(entry, input);
      return result.kind === 'embedding' ? placeVector(result, input.jobId) : result;
    }
    case 'gemini':
      return analyzeImage(entry, input, cpuSlots);
  }
}

async function runOnnx(entry: OnnxEntry, input: InferenceInput): Promise<OnnxResult> {
  const config = getConfig();
  let files: ModelFiles;
  try {
    files = await localModelFiles(entry);
  } catch (error) {
    throw JobFailure.permanent('model_error', `${entry.name} failed: ${(error as Error).message}`, error);
  }
  const request: OnnxRequest = {
    ...files,
    model: entry.name,
    manifest: entry.manifest,
    bytes: input.bytes,
    params: input.params,
    maxPixels: config.MAX_INPUT_PIXELS,
    intraOpThreads: config.ONNX_INTRA_OP_THREADS,
  };
  if (runsInPool(config, entry)) return inferencePool(config).infer({ ...request, intraOpThreads: poolIntraOpThreads(config) });
  return cpuSlots(() => inferOnnx(request));
}

/**
 * In the pool, parallelism comes from the threads: each session gets one intra-op thread unless
 * configured, so N threads do not each start N more and fight over the cores.
 */
function poolIntraOpThreads(config: Config): number {
  return config.ONNX_INTRA_OP_THREADS || 1;
}

/** Keep the vector in the result when it is small; otherwise store it and record its key. */
async function placeVector(result: Extract<OnnxResult, { kind: 'embedding' }>, jobId: string): Promise<EmbeddingResult> {
  if (fitsInline(result.vector, EMBEDDING_INLINE_MAX_BYTES)) return result;
  const { vector, ...rest } = result;
  return { ...rest, vectorKey: await putVector(jobId, vector) };
}

/** Load the default ONNX model's session now (a worker's init), so the first job does not pay for it. */
export async function warmUpDefaultModel(): Promise<void> {
  await ensureCatalog();
  const config = getConfig();
  const entry = findModel(config.DEFAULT_MODEL);
  if (entry?.runtime !== 'onnx' || !entry.available) return;
  const target = await warmUpTarget(entry);
  if (runsInPool(config, entry)) await inferencePool(config).warmUp(target, poolIntraOpThreads(config));
  else await warmUpSession(target, config.ONNX_INTRA_OP_THREADS);
}

/** The .onnx file to load, or for OCR the engine (its networks and dictionary). */
async function warmUpTarget(entry: OnnxEntry): Promise<WarmUpTarget> {
  const { modelPath, manifestDir } = await localModelFiles(entry);
  if (entry.manifest.task === 'ocr' && manifestDir) return { model: entry.name, manifest: entry.manifest, manifestDir };
  if (modelPath) return modelPath;
  throw new Error(`${entry.name} has no weights to load`);
}
