import { availableParallelism } from 'node:os';
import type { Config } from '../../config.ts';
import type { OnnxEntry } from '../types.ts';

/** Whether a model's jobs run in the inference pool (INFERENCE_POOL) or on the calling thread. */
export function runsInPool(config: Pick<Config, 'INFERENCE_POOL'>, entry: OnnxEntry): boolean {
  if (config.INFERENCE_POOL !== 'auto') return config.INFERENCE_POOL === 'on';
  // TODO(measure): decided by scripts/bench/pool.ts.
  return availableParallelism() > 1 && entry.manifest.input.width * entry.manifest.input.height >= 128 * 128;
}
