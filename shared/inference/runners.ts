import { availableParallelism } from 'node:os';
import type { Logger } from '@aws-lambda-powertools/logger';
import pLimit from 'p-limit';
import { getConfig } from '../config.ts';
import { type CatalogEntry, ensureCatalog, findModel } from './catalog.ts';
import { analyzeImage } from './gemini/analyze.ts';
import { classify, warmUp } from './onnx.ts';
import { inspectImage } from './preprocess.ts';

/**
 * From a catalogue entry to a result: the worker's one entry point into inference, whatever the
 * model's kind. Each kind bounds its own concurrency: CPU-bound ONNX work to the cores; Gemini
 * its image fitting to the cores and its calls to GEMINI_MAX_CONCURRENCY.
 */

export interface InferenceInput {
  bytes: Buffer;
  params: Record<string, unknown>;
  /** Epoch ms by which the work must be done. */
  deadline: number;
  log: Logger;
}

/** CPU-bound work (decode, inference) is bounded per process; I/O of other records overlaps it. */
const cpuSlots = pLimit(availableParallelism());

export async function runModel(entry: CatalogEntry, input: InferenceInput): Promise<unknown> {
  const maxPixels = getConfig().MAX_INPUT_PIXELS;
  switch (entry.kind) {
    case 'onnx':
      return cpuSlots(async () => {
        const image = await inspectImage(input.bytes, maxPixels);
        return classify(entry, input.bytes, image, input.params);
      });
    case 'gemini':
      return analyzeImage(entry, input, cpuSlots);
  }
}

/** Load the default ONNX model's session now (a worker's init), so the first job does not pay for it. */
export async function warmUpDefaultModel(): Promise<void> {
  await ensureCatalog();
  const entry = findModel(getConfig().DEFAULT_MODEL);
  if (entry?.kind === 'onnx' && entry.available) await warmUp(entry);
}
