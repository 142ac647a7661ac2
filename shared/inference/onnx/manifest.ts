import { z } from 'zod';

/**
 * An ONNX model is a manifest `models/<name>.json` beside its `.onnx` file; it is served as
 * `onnx/<name>`. The manifest says how to turn an image into the model's input tensor and how to
 * read its output. Checked at load: a bad manifest names the model and the field.
 */

const rgb = z.tuple([z.number(), z.number(), z.number()]);

export const ManifestSchema = z
  .object({
    /** Only image classification for now: one score per label. */
    task: z.literal('classification'),
    description: z.string().min(1),
    /** The .onnx file, relative to the manifest. */
    file: z.string().regex(/^[\w.-]+\.onnx$/, 'a file name ending in .onnx, beside the manifest'),
    input: z.object({
      /** The graph input's name. */
      name: z.string().min(1),
      /** NCHW (PyTorch exports) or NHWC (TensorFlow exports). */
      layout: z.enum(['NCHW', 'NHWC']),
      width: z.number().int().min(1).max(4096),
      height: z.number().int().min(1).max(4096),
      /**
       * How the image is fitted to width×height: `fill` stretches, `cover` scales then
       * centre-crops (the usual ImageNet eval transform), `contain` letterboxes in black.
       */
      resize: z.enum(['fill', 'cover', 'contain']).default('cover'),
      /** Per-channel (R, G, B) normalisation applied to pixel/255: (x - mean) / std. */
      mean: rgb.default([0, 0, 0]),
      std: rgb.refine((s) => s.every((v) => v > 0), 'std values must be > 0').default([1, 1, 1]),
    }),
    output: z.object({
      /** The graph output holding one score per label. */
      name: z.string().min(1),
      /** `softmax` if the model emits logits; `none` if it already emits probabilities. */
      activation: z.enum(['softmax', 'none']),
    }),
    labels: z.array(z.string().min(1)).min(1),
    /** How many labels the result lists, best first. */
    topK: z.number().int().min(1).max(100).default(5),
  })
  .strict();

export type ModelManifest = z.infer<typeof ManifestSchema>;
