import type { ModelManifest } from '#shared/inference/onnx/manifest.ts';
import { GraphBuilder, type BuiltModel } from './onnx-writer.ts';

/**
 * The demo model `onnx/colors`: names the dominant colours of a photo. It is built from arithmetic,
 * not training, so the project ships a real ONNX classifier without downloading weights.
 *
 * Each pixel p is scored against every named prototype colour c_k by negative squared distance over
 * a temperature T: s_k = -|p - c_k|² / T = (2 c_k·p - |c_k|² - |p|²) / T. The -|p|² term is the same
 * for every k and cancels in the softmax, so the score is affine in p: a 1×1 Conv with weights
 * 2c_k/T and bias -|c_k|²/T. Softmax over the colour channel gives each pixel a soft vote, and
 * GlobalAveragePool turns votes into each colour's share of the image; the shares sum to 1.
 */

/** A named colour and its RGB point on [0,1]. */
export interface ColorPrototype {
  label: string;
  rgb: readonly [r: number, g: number, b: number];
}

/**
 * Prototypes in sRGB on [0,1] (the manifest feeds pixel/255 with no normalisation). Picked as what
 * people call the colour, a little inside the cube's corners so saturated photo colours and pure
 * primaries both land on them; the closest pair (orange, yellow) is 0.13 apart in squared distance.
 */
export const COLOR_PROTOTYPES: readonly ColorPrototype[] = [
  { label: 'red', rgb: [0.9, 0.1, 0.1] },
  { label: 'orange', rgb: [1.0, 0.55, 0.0] },
  { label: 'yellow', rgb: [1.0, 0.9, 0.1] },
  { label: 'green', rgb: [0.15, 0.65, 0.2] },
  { label: 'teal', rgb: [0.0, 0.55, 0.55] },
  { label: 'blue', rgb: [0.1, 0.25, 0.85] },
  { label: 'purple', rgb: [0.5, 0.15, 0.65] },
  { label: 'pink', rgb: [1.0, 0.55, 0.75] },
  { label: 'brown', rgb: [0.5, 0.3, 0.12] },
  { label: 'black', rgb: [0.05, 0.05, 0.05] },
  { label: 'gray', rgb: [0.5, 0.5, 0.5] },
  { label: 'white', rgb: [0.95, 0.95, 0.95] },
];

/**
 * Softmax temperature in squared-RGB-distance units. At 0.01 a pixel 0.1 closer (squared) to one
 * prototype than another gives it e^10 ≈ 22000× the weight, so a pixel counts for its nearest colour
 * (a near-hard vote), while pixels midway between two colours still split smoothly. Scores stay
 * below ~600, far from float32 trouble, and ORT's softmax subtracts the max anyway.
 */
export const COLOR_TEMPERATURE = 0.01;

/** The input side: small, because colour shares need no detail, and `fill` so every pixel counts. */
export const COLOR_INPUT_SIZE = 64;

export function buildColorsModel(): BuiltModel {
  const size = COLOR_INPUT_SIZE;
  const k = COLOR_PROTOTYPES.length;

  // Computed in float64 and rounded once to float32, so the bytes are the same on every machine.
  const weights = new Float32Array(k * 3);
  const bias = new Float32Array(k);
  COLOR_PROTOTYPES.forEach(({ rgb }, i) => {
    rgb.forEach((c, channel) => {
      weights[i * 3 + channel] = (2 * c) / COLOR_TEMPERATURE;
    });
    bias[i] = -rgb.reduce((sum, c) => sum + c * c, 0) / COLOR_TEMPERATURE;
  });

  const onnx = new GraphBuilder('colors', 'Share of pixels nearest each named colour prototype.')
    .input('image', [1, 3, size, size])
    .output('colors', [1, k])
    .initializer('prototype_weights', [k, 3, 1, 1], weights)
    .initializer('prototype_bias', [k], bias)
    .node('Conv', ['image', 'prototype_weights', 'prototype_bias'], ['scores'], { kernel_shape: [1, 1] })
    .node('Softmax', ['scores'], ['votes'], { axis: 1 })
    .node('GlobalAveragePool', ['votes'], ['shares'])
    .node('Flatten', ['shares'], ['colors'], { axis: 1 })
    .toBytes();

  const manifest: ModelManifest = {
    task: 'classification',
    description:
      'Dominant colours of a photo: the share of its pixels nearest each of 12 named colours. ' +
      'Built from code (no trained weights); scores are pixel shares and sum to 1.',
    file: 'colors.onnx',
    input: {
      name: 'image',
      layout: 'NCHW',
      width: size,
      height: size,
      resize: 'fill',
      mean: [0, 0, 0],
      std: [1, 1, 1],
    },
    // The graph already ends in shares (a probability distribution), so no softmax on top.
    output: { name: 'colors', activation: 'none' },
    labels: COLOR_PROTOTYPES.map((p) => p.label),
    topK: 3,
  };

  return { onnx, manifest };
}
