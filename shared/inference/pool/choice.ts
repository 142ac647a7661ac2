import { availableParallelism } from 'node:os';
import type { Config } from '../../config.ts';
import type { OnnxEntry } from '../types.ts';

/**
 * Whether a model's jobs run in the inference pool (INFERENCE_POOL) or on the calling thread.
 *
 * `auto`, from `tsx scripts/bench/pool.ts` (2 threads, 1 MP JPEGs, 2 shared cores):
 * - ResNet-18 (224×224): pool 16.5 jobs/s vs 9.8 inline; the calling thread's event-loop delay
 *   p99 6 ms vs 142 ms (inline, each session.run holds the JS thread for the whole inference).
 * - onnx/colors (64×64): inline 144 jobs/s vs 110 in the pool; its run is too short for the
 *   hand-over (structured clone, a second decode context) to pay, and the loop is held ~12 ms.
 * So the pool takes models whose input is at least POOL_MIN_INPUT_PIXELS, on more than one core.
 */

/** 128×128: between the colour model (64×64, faster inline) and ImageNet-sized inputs (224×224, faster pooled). */
export const POOL_MIN_INPUT_PIXELS = 128 * 128;

export function runsInPool(config: Pick<Config, 'INFERENCE_POOL'>, entry: OnnxEntry): boolean {
  if (config.INFERENCE_POOL !== 'auto') return config.INFERENCE_POOL === 'on';
  return availableParallelism() > 1 && inputPixels(entry) >= POOL_MIN_INPUT_PIXELS;
}

/**
 * The pixels a model's network takes in. OCR's detector takes the image scaled to its side limit
 * (960 px by default) and the recogniser runs once per line: hundreds of milliseconds a job, so
 * always heavy enough for the pool.
 */
function inputPixels(entry: OnnxEntry): number {
  const { manifest } = entry;
  if (manifest.task === 'ocr') return manifest.detection.sideLimit ** 2;
  return manifest.input.width * manifest.input.height;
}
