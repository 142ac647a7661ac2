import { type Normalization, type RgbImage, writePlanes } from './image.ts';
import { type OcrSession, runSingle } from './session.ts';

/**
 * Line recognition: strips of text through the CRNN-style recogniser, batched by width, read with
 * greedy CTC decoding (best class per time step, repeats merged, blanks dropped).
 */

/** The recogniser's classes: CTC blank first, then the dictionary, then the space. */
export interface Charset {
  classes: readonly string[];
}

/** Class 0 is CTC's blank: "no new character here". */
export const CTC_BLANK = 0;

/** A dictionary file (one character a line) as the recogniser's classes. */
export function charsetFromDictionary(text: string): Charset {
  const lines = text.split(/\r?\n/);
  if (lines.at(-1) === '') lines.pop();
  // PaddleOCR's recognisers append the space as the last class, after the dictionary.
  return { classes: ['', ...lines, ' '] };
}

export interface ReadLine {
  text: string;
  /** Mean of the winning class probabilities of the characters kept. */
  confidence: number;
}

/** Greedy CTC decoding of one line's [steps × classes] probabilities, starting at `offset`. */
export function ctcDecode(scores: Float32Array, steps: number, charset: Charset, offset = 0): ReadLine {
  const classCount = charset.classes.length;
  let text = '';
  let sum = 0;
  let kept = 0;
  let previous = -1;
  for (let t = 0; t < steps; t++) {
    const base = offset + t * classCount;
    let best = 0;
    let bestScore = -Infinity;
    for (let k = 0; k < classCount; k++) {
      const s = scores[base + k]!;
      if (s > bestScore) {
        bestScore = s;
        best = k;
      }
    }
    if (best !== CTC_BLANK && best !== previous) {
      text += charset.classes[best];
      sum += bestScore;
      kept++;
    }
    previous = best;
  }
  return { text, confidence: kept === 0 ? 0 : sum / kept };
}

export interface RecognitionSettings extends Normalization {
  height: number;
  minWidth: number;
  batchSize: number;
}

/** Read each strip; strips of similar width share a batch so little of it is padding. */
export async function recognizeLines(session: OcrSession, strips: readonly RgbImage[], settings: RecognitionSettings, charset: Charset): Promise<ReadLine[]> {
  const order = strips.map((_, i) => i).sort((a, b) => strips[a]!.width - strips[b]!.width);
  const results: ReadLine[] = new Array(strips.length);
  for (let start = 0; start < order.length; start += settings.batchSize) {
    const batch = order.slice(start, start + settings.batchSize);
    const width = Math.max(settings.minWidth, ...batch.map((i) => strips[i]!.width));
    const input = new Float32Array(batch.length * 3 * settings.height * width);
    batch.forEach((stripIndex, slot) => writePlanes(strips[stripIndex]!, settings, input, slot, width, settings.height));
    const output = await runSingle(session, input, [batch.length, 3, settings.height, width]);
    const [, steps = 0, classes = 0] = output.dims;
    if (classes !== charset.classes.length) {
      throw new Error(`the recogniser has ${classes} classes; the dictionary gives ${charset.classes.length}`);
    }
    batch.forEach((stripIndex, slot) => {
      results[stripIndex] = ctcDecode(output.data, steps, charset, slot * steps * classes);
    });
  }
  return results;
}

export interface ClassifierSettings extends Normalization {
  height: number;
  width: number;
  threshold: number;
}

/** Classifier strips are small and fixed-size: this many per run. */
const CLASSIFIER_BATCH = 16;

/** Which strips are upside down, by the 0°/180° classifier (output: [N, 2] probabilities of 0° and 180°). */
export async function findUpsideDown(session: OcrSession, strips: readonly RgbImage[], settings: ClassifierSettings): Promise<boolean[]> {
  const flags: boolean[] = [];
  for (let start = 0; start < strips.length; start += CLASSIFIER_BATCH) {
    const batch = strips.slice(start, start + CLASSIFIER_BATCH);
    const input = new Float32Array(batch.length * 3 * settings.height * settings.width);
    batch.forEach((strip, slot) => writePlanes(strip, settings, input, slot, settings.width, settings.height));
    const output = await runSingle(session, input, [batch.length, 3, settings.height, settings.width]);
    batch.forEach((_, slot) => flags.push(output.data[slot * 2 + 1]! >= settings.threshold));
  }
  return flags;
}
