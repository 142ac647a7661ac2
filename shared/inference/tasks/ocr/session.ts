import * as ort from 'onnxruntime-node';

/**
 * The one place OCR networks are loaded. The engine only needs `run` and the graph's names, so the
 * integrator can pass a factory of its own (shared sessions, thread settings) in its place.
 */

export type OcrSession = Pick<ort.InferenceSession, 'run' | 'inputNames' | 'outputNames' | 'outputMetadata'>;
export type SessionFactory = (modelPath: string) => Promise<OcrSession>;

export const createOcrSession: SessionFactory = (modelPath) =>
  ort.InferenceSession.create(modelPath, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    // Idle intra-op threads sleep instead of spinning, leaving the CPU to decoding and cropping.
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  });

/** A float32 NCHW tensor for a session's only input. */
export const floatTensor = (data: Float32Array, dims: readonly number[]) => new ort.Tensor('float32', data, dims);

/** Run a single-input, single-output network and return its output's values and shape. */
export async function runSingle(session: OcrSession, data: Float32Array, dims: readonly number[]): Promise<{ data: Float32Array; dims: readonly number[] }> {
  const outputs = await session.run({ [session.inputNames[0]!]: floatTensor(data, dims) });
  const output = outputs[session.outputNames[0]!]!;
  return { data: output.data as Float32Array, dims: output.dims };
}
