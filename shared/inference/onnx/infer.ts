import { JobFailure } from '../../errors.ts';
import { inspectImage } from '../image.ts';
import * as classification from '../tasks/classification/classify.ts';
import type { ClassificationParams } from '../tasks/classification/params.ts';
import type { ClassificationResult } from '../tasks/classification/result.ts';
import * as detection from '../tasks/detection/index.ts';
import * as embedding from '../tasks/embedding/index.ts';
import type { RunSession } from '../tasks/session.ts';
import type { ModelManifest } from './manifest.ts';
import { floatRunSession, session } from './session.ts';

/**
 * One ONNX job from bytes to result: validate the image, load (or reuse) the session, run the
 * manifest's task. Everything it is given is plain data, so it runs the same on the worker's main
 * thread and in an inference pool thread (pool/thread.ts).
 */

export interface OnnxRequest {
  /** The model's public name, e.g. `onnx/colors`. */
  model: string;
  manifest: ModelManifest;
  /** The local .onnx file (a bucket model is downloaded before the request is made). */
  modelPath: string;
  bytes: Uint8Array;
  /** Checked against the task's params schema when the job was created. */
  params: Record<string, unknown>;
  maxPixels: number;
  /** onnxruntime intra-op threads per session; 0 = one per core. */
  intraOpThreads: number;
}

/** What an ONNX model returns before the worker stores anything: embeddings are still inline here. */
export type OnnxResult = ClassificationResult | detection.DetectionResult | embedding.InlineEmbeddingResult;

export async function inferOnnx(request: OnnxRequest): Promise<OnnxResult> {
  const image = await inspectImage(request.bytes, request.maxPixels);
  const runSession = await loadSession(request);
  const input = { model: request.model, bytes: request.bytes, image, maxPixels: request.maxPixels };
  const { manifest, params } = request;
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
async function loadSession(request: OnnxRequest): Promise<RunSession> {
  try {
    return floatRunSession(await session(request.modelPath, request.intraOpThreads));
  } catch (error) {
    throw JobFailure.permanent('model_error', `${request.model} could not be loaded: ${(error as Error).message}`, error);
  }
}

/** Load a model's session ahead of its first job (cold-start work done once per thread). */
export async function warmUpSession(modelPath: string, intraOpThreads: number): Promise<void> {
  await session(modelPath, intraOpThreads);
}
