import { readFile, stat } from 'node:fs/promises';
import sharp from 'sharp';
import { detectImageFormat } from '../../formats.ts';
import { cropLine } from './crop.ts';
import { detectText } from './detect.ts';
import { type RgbImage, rotate180 } from './image.ts';
import { type OcrFiles, type OcrManifest, resolveOcrFiles } from './manifest.ts';
import { readingOrder } from './order.ts';
import type { OcrParams } from './params.ts';
import { type Charset, charsetFromDictionary, findUpsideDown, recognizeLines } from './recognize.ts';
import type { OcrLine, OcrResult } from './result.ts';
import { createOcrSession, type OcrSession, type SessionFactory } from './session.ts';

/**
 * The whole OCR pipeline: decode and orient the image, find text boxes, optionally turn
 * upside-down lines over, read each line, and list the lines in reading order.
 */

/** Recognised strips wider than this (about 50 characters a strip at height 48) are squeezed. */
export const MAX_STRIP_WIDTH = 2400;

const round = (value: number, places: number) => Math.round(value * 10 ** places) / 10 ** places;

/** Load one network, or say which file is at fault. */
async function loadSession(role: string, path: string, createSession: SessionFactory): Promise<OcrSession> {
  try {
    await stat(path);
    return await createSession(path);
  } catch (error) {
    throw new Error(`the OCR ${role} model ${path} could not be loaded: ${(error as Error).message}`, { cause: error });
  }
}

export class OcrEngine {
  private constructor(
    readonly name: string,
    private readonly manifest: OcrManifest,
    private readonly detector: OcrSession,
    private readonly recognizer: OcrSession,
    private readonly classifier: OcrSession | undefined,
    private readonly charset: Charset,
  ) {}

  /** Load the networks and dictionary named by a manifest's resolved files; every failure names its file. */
  static async load(name: string, manifest: OcrManifest, files: OcrFiles, createSession: SessionFactory = createOcrSession): Promise<OcrEngine> {
    let dictionary: string;
    try {
      dictionary = await readFile(files.dictionary, 'utf8');
    } catch (error) {
      throw new Error(`the OCR dictionary ${files.dictionary} could not be read: ${(error as Error).message}`, { cause: error });
    }
    const charset = charsetFromDictionary(dictionary);
    const [detector, recognizer, classifier] = await Promise.all([
      loadSession('detection', files.detection, createSession),
      loadSession('recognition', files.recognition, createSession),
      files.classifier ? loadSession('classifier', files.classifier, createSession) : undefined,
    ]);
    const classes = recognizer.outputMetadata[0]?.isTensor ? recognizer.outputMetadata[0].shape.at(-1) : undefined;
    if (typeof classes === 'number' && classes !== charset.classes.length) {
      throw new Error(
        `the OCR dictionary ${files.dictionary} gives ${charset.classes.length} classes; the recognition model ${files.recognition} has ${classes}`,
      );
    }
    return new OcrEngine(name, manifest, detector, recognizer, classifier, charset);
  }

  get hasClassifier(): boolean {
    return this.classifier !== undefined;
  }

  async read(bytes: Uint8Array, params: OcrParams = {}, options: { maxInputPixels?: number } = {}): Promise<OcrResult> {
    const { detection, recognition, classifier: classifierSettings } = this.manifest;
    const started = performance.now();
    const format = detectImageFormat(bytes);
    if (!format) throw new Error('the bytes are not a JPEG, PNG, WebP, GIF, TIFF or AVIF image');
    const decoded = await sharp(bytes, { limitInputPixels: options.maxInputPixels ?? true, failOn: 'truncated' })
      .rotate() // EXIF orientation: boxes are in the image as a viewer shows it
      .removeAlpha()
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    const image: RgbImage = { data: decoded.data, width: decoded.info.width, height: decoded.info.height };
    const afterDecode = performance.now();

    const regions = await detectText(this.detector, image, detection, params.sideLimit ?? detection.sideLimit);
    const afterDetect = performance.now();

    let upsideDown: boolean[] = [];
    if (params.classifyOrientation && this.classifier && regions.length > 0) {
      const small = regions.map((r) => cropLine(image, r.quad, classifierSettings.height, classifierSettings.width));
      upsideDown = await findUpsideDown(this.classifier, small, { mean: recognition.mean, std: recognition.std, channelOrder: recognition.channelOrder, ...classifierSettings });
    }
    const afterClassify = performance.now();

    const strips = regions.map((r, i) => {
      const strip = cropLine(image, r.quad, recognition.height, MAX_STRIP_WIDTH);
      return upsideDown[i] ? rotate180(strip) : strip;
    });
    const read = strips.length > 0 ? await recognizeLines(this.recognizer, strips, recognition, this.charset) : [];
    const minConfidence = params.minConfidence ?? recognition.dropScore;
    const lines: OcrLine[] = readingOrder(
      read.flatMap((line, i) => {
        const text = line.text.trim();
        if (text === '' || line.confidence < minConfidence) return [];
        return [{ text, confidence: round(line.confidence, 4), box: regions[i]!.quad }];
      }),
    );
    const finished = performance.now();
    return {
      kind: 'ocr',
      model: this.name,
      image: { format, width: image.width, height: image.height },
      lines,
      text: lines.map((l) => l.text).join('\n'),
      timings: {
        decodeMs: round(afterDecode - started, 2),
        detectMs: round(afterDetect - afterDecode, 2),
        classifyMs: round(afterClassify - afterDetect, 2),
        recognizeMs: round(finished - afterClassify, 2),
        totalMs: round(finished - started, 2),
      },
    };
  }
}

const engines = new Map<string, Promise<OcrEngine>>();

/** One engine per model per process; a failed load is not cached, so the next job tries again. */
export function cachedOcrEngine(name: string, load: () => Promise<OcrEngine>): Promise<OcrEngine> {
  let pending = engines.get(name);
  if (!pending) {
    pending = load();
    pending.catch(() => engines.delete(name));
    engines.set(name, pending);
  }
  return pending;
}

/** The engine for a catalogue entry: its manifest, the folder it was read from, and optionally the integrator's session factory. */
export function ocrEngineFor(name: string, manifest: OcrManifest, manifestDir: string, createSession?: SessionFactory): Promise<OcrEngine> {
  return cachedOcrEngine(name, async () => OcrEngine.load(name, manifest, resolveOcrFiles(manifest, manifestDir), createSession));
}
