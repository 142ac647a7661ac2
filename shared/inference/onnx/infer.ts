import { JobFailure } from '../../errors.ts';
import { inspectImage } from '../image.ts';
import * as classification from '../tasks/classification/classify.ts';
import type { ClassificationParams } from '../tasks/classification/params.ts';
import type { ClassificationResult } from '../tasks/classification/result.ts';
import * as detection from '../tasks/detection/index.ts';
import * as embedding from '../tasks/embedding/index.ts';
import { ocrEngineFor, type OcrEngine } from '../tasks/ocr/pipeline.ts';
import type { OcrParams } from '../tasks/ocr/params.ts';
import type { OcrResult } from '../tasks/ocr/result.ts';
import type { RunSession } from '../tasks/session.ts';
import type { ManifestOf, ModelManifest } from './manifest.ts';
import { floatRunSession, session } from './session.ts';

/**
 * One ONNX job from bytes to result: validate the image, load (or reuse) the session, run the
 * manifest's task. Everything it is given is plain data, so it runs the same on the worker's main
 * thread and in an inference pool thread (pool/thread.ts).
 */

/** Where a model's weights are on this machine (one of the two, by the manifest's task). */
export interface ModelFiles {
  /** A single-file model's local .onnx file (a bucket model is downloaded before the request is made) … */
  modelPath?: string;
  /** … or the folder an OCR manifest's files are found from (beside it, or in a package installed there). */
  manifestDir?: string;
}

export interface OnnxRequest extends ModelFiles {
  /** The model's public name, e.g. `onnx/colors`. */
  model: string;
  manifest: ModelManifest;
  bytes: Uint8Array;
  /** Checked against the task's params schema when the job was created. */
  params: Record<string, unknown>;
  maxPixels: number;
  /** onnxruntime intra-op threads per session; 0 = one per core. */
  intraOpThreads: number;
}

/** What an ONNX model returns before the worker stores anything: embeddings are still inline here. */
export type OnnxResult = ClassificationResult | detection.DetectionResult | embedding.InlineEmbeddingResult | OcrResult;

export async function inferOnnx(request: OnnxRequest): Promise<OnnxResult> {
  const image = await inspectImage(request.bytes, request.maxPixels);
  const { manifest, params } = request;
  if (manifest.task === 'ocr') {
    const engine = await loadOcrEngine(request.model, manifest, request.manifestDir, request.intraOpThreads);
    return engine.read(request.bytes, params as OcrParams, { maxInputPixels: request.maxPixels });
  }
  const runSession = await loadSession(request.model, request.modelPath, request.intraOpThreads);
  const input = { model: request.model, bytes: request.bytes, image, maxPixels: request.maxPixels };
  switch (manifest.task) {
    case 'classification':
      return classification.run(input, manifest, params as ClassificationParams, runSession);
    case 'detection':
      return detection.run(input, manifest, params as detection.DetectionParams, runSession);
    case 'embedding':
      return embedding.run(input, manifest, params as embedding.EmbeddingParams, runSession);
  }
}

/** A model that cannot be loaded fails its jobs as the model's fault, not the image's. */
async function loadSession(model: string, modelPath: string | undefined, intraOpThreads: number): Promise<RunSession> {
  try {
    if (!modelPath) throw new Error('its request names no .onnx file');
    return floatRunSession(await session(modelPath, intraOpThreads));
  } catch (error) {
    throw JobFailure.permanent('model_error', `${model} could not be loaded: ${(error as Error).message}`, error);
  }
}

/**
 * An OCR model's engine, once per thread: its networks are loaded through the same session cache
 * as every other model (one session per file per thread, the same thread settings).
 */
async function loadOcrEngine(model: string, manifest: ManifestOf<'ocr'>, manifestDir: string | undefined, intraOpThreads: number): Promise<OcrEngine> {
  try {
    if (!manifestDir) throw new Error("its request names no manifest folder to find the model's files from");
    return await ocrEngineFor(model, manifest, manifestDir, (path) => session(path, intraOpThreads));
  } catch (error) {
    throw JobFailure.permanent('model_error', `${model} could not be loaded: ${(error as Error).message}`, error);
  }
}

/** What to load ahead of the first job: a single-file model's .onnx file, or an OCR model's engine. */
export type WarmUpTarget = string | { model: string; manifest: ManifestOf<'ocr'>; manifestDir: string };

/** Load a model ahead of its first job (cold-start work done once per thread). */
export async function warmUpSession(target: WarmUpTarget, intraOpThreads: number): Promise<void> {
  if (typeof target === 'string') await session(target, intraOpThreads);
  else await loadOcrEngine(target.model, target.manifest, target.manifestDir, intraOpThreads);
}
