import type { ImageFormat } from '../../formats.ts';
import type { Quad } from './geometry.ts';

/** What an OCR job returns. A leaf module, so the result union can import it without the engine. */

export interface OcrLine {
  text: string;
  /** Mean probability of the characters read, 0–1. */
  confidence: number;
  /** Corners in the oriented image's pixels, clockwise from the text's top-left. */
  box: Quad;
}

export interface OcrResult {
  kind: 'ocr';
  model: string;
  /** The image as a viewer shows it (after EXIF orientation). */
  image: { format: ImageFormat; width: number; height: number };
  /** In reading order. */
  lines: OcrLine[];
  /** The lines joined by newlines. */
  text: string;
  timings: { decodeMs: number; detectMs: number; classifyMs: number; recognizeMs: number; totalMs: number };
}
