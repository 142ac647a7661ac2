import { JobFailure } from '../../errors.ts';

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
