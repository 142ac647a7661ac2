import { availableParallelism } from 'node:os';
import pLimit from 'p-limit';
import { getConfig } from '../config.ts';
import { JobFailure } from '../errors.ts';
import { ensureCatalog, findModel } from './catalog.ts';
import { analyzeImage } from './gemini/analyze.ts';
import { inspectImage } from './image.ts';
import { sessionOf } from './onnx/session.ts';
import { classify } from './tasks/classification/classify.ts';
import type { CatalogEntry, InferenceInput, InferenceResult } from './types.ts';

/**
 * From a catalogue entry to a result: the worker's one entry point into inference, whatever the
 * model's runtime and task. Each runtime bounds its own concurrency: CPU-bound ONNX work to the
 * cores; Gemini its image fitting to the cores and its calls to GEMINI_MAX_CONCURRENCY.
 */

/** CPU-bound work (decode, inference) is bounded per process; I/O of other records overlaps it. */
const cpuSlots = pLimit(availableParallelism());

export async function runModel(entry: CatalogEntry, input: InferenceInput): Promise<InferenceResult> {
  if (!entry.available) throw JobFailure.permanent('model_error', `model ${entry.name} is unavailable: ${entry.unavailableReason}`);
  switch (entry.runtime) {
    case 'onnx':
      return cpuSlots(async () => {
        const image = await inspectImage(input.bytes, getConfig().MAX_INPUT_PIXELS);
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
  if (entry?.runtime === 'onnx' && entry.available) await sessionOf(entry);
}
