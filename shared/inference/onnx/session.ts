import * as ort from 'onnxruntime-node';
import type { FloatTensor, RunSession } from '../tasks/session.ts';

/**
 * The ONNX runtime: one onnxruntime-node session per model file per thread (the worker's main
 * thread, or each inference pool thread), reused across invocations. Imports neither the config
 * nor AWS, so a pool thread loads only what inference needs.
 */

const sessions = new Map<string, Promise<ort.InferenceSession>>();

/** `intraOpThreads` 0 leaves onnxruntime its default: one thread per core. */
export function session(modelPath: string, intraOpThreads: number): Promise<ort.InferenceSession> {
  let pending = sessions.get(modelPath);
  if (!pending) {
    pending = ort.InferenceSession.create(modelPath, {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
      ...(intraOpThreads > 0 ? { intraOpNumThreads: intraOpThreads } : {}),
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

/**
 * A session as the tasks see it: float32 tensors in and out. An output of another type (int64
 * labels, uint8 masks) is refused by name, and runOrFail reports it as the model's fault.
 */
export function floatRunSession(model: ort.InferenceSession): RunSession {
  return async (feeds) => {
    const outputs = await model.run(
      Object.fromEntries(Object.entries(feeds).map(([name, t]) => [name, new ort.Tensor('float32', t.data, [...t.dims])])),
    );
    return Object.fromEntries(
      Object.entries(outputs).map(([name, t]): [string, FloatTensor] => {
        if (t.type !== 'float32') throw new Error(`output ${name} is ${t.type}; only float32 outputs are read`);
        return [name, { data: t.data as Float32Array, dims: t.dims }];
      }),
    );
  };
}
