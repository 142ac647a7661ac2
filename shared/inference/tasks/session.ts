import { JobFailure } from '../../errors.ts';
import { decodeToRgb, toTensor } from '../image.ts';
import type { FittedInput } from './classification/settings.ts';

/**
 * The seam between a task and the ONNX runtime: a task builds its feeds and reads its outputs as
 * plain float32 tensors, and the caller supplies the function that runs the session (the worker's
 * cached onnxruntime session; a test's session over a graph built in the test). So task modules
 * never import onnxruntime, and their post-processing is tested against real graphs.
 */

export interface FloatTensor {
  data: Float32Array;
  dims: readonly number[];
}

export type RunSession = (feeds: Record<string, FloatTensor>) => Promise<Record<string, FloatTensor>>;

/** Runs the session; a runtime error or a missing output is the model's fault (model_error, permanent). */
export async function runOrFail(
  model: string,
  runSession: RunSession,
  feeds: Record<string, FloatTensor>,
  outputNames: readonly string[],
): Promise<Record<string, FloatTensor>> {
  let outputs: Record<string, FloatTensor>;
  try {
    outputs = await runSession(feeds);
  } catch (error) {
    throw JobFailure.permanent('model_error', `${model} failed: ${(error as Error).message}`, error);
  }
  for (const name of outputNames) {
    if (!outputs[name]) throw JobFailure.permanent('model_error', `${model} has no output named ${name}`);
  }
  return outputs;
}

/** Two decimals, as results show milliseconds and box coordinates. */
export const round2 = (value: number): number => Math.round(value * 100) / 100;

/**
 * The image fitted and normalised to the model's one input, run, and its one output read: the
 * part classification and embedding share. Timings cover the fitting and the run.
 */
export async function runFittedImage(
  request: { model: string; bytes: Uint8Array; maxPixels: number },
  input: FittedInput,
  outputName: string,
  runSession: RunSession,
): Promise<{ output: FloatTensor; timings: { preprocessMs: number; inferenceMs: number } }> {
  const started = performance.now();
  const tensor = toTensor(await decodeToRgb(request.bytes, input, request.maxPixels), input);
  const preprocessed = performance.now();
  const outputs = await runOrFail(request.model, runSession, { [input.name]: tensor }, [outputName]);
  return {
    output: outputs[outputName]!,
    timings: { preprocessMs: round2(preprocessed - started), inferenceMs: round2(performance.now() - preprocessed) },
  };
}
