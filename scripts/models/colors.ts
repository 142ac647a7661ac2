import type { ClassificationManifest } from '#shared/inference/onnx/manifest.ts';
import {
  D65_WHITE,
  F_TO_LAB,
  F_TO_LAB_OFFSET,
  LAB_KNEE,
  LAB_LINEAR_OFFSET,
  LAB_LINEAR_SLOPE,
  SRGB_GAMMA,
  SRGB_LINEAR_KNEE,
  SRGB_LINEAR_SLOPE,
  SRGB_OFFSET,
  SRGB_TO_XYZ,
  srgbToLab,
  type Triple,
} from './color-space.ts';
import { type BuiltModel, GraphBuilder } from './onnx-writer.ts';

/**
 * The demo model `onnx/colors`: names the dominant colours of a photo. It is built from arithmetic,
 * not training, so the project ships a real ONNX classifier without downloading weights.
 *
 * The graph converts each pixel from sRGB to CIELAB (the sRGB curve, a 3×3 matrix to XYZ, the Lab
 * cube root), because a person's sense of "same colour" follows Lab, not RGB. Each colour name has
 * several prototypes (grass is olive, leaf green and deep green; sky is deep and pale blue), and a
 * pixel is scored against every prototype p_j by negative squared (weighted) Lab distance over a
 * temperature T: s_j = -|x - p_j|² / T = (2 p_j·x - |p_j|² - |x|²) / T. The -|x|² term is the same
 * for every j and cancels in the softmax, so the score is affine in x: a MatMul over pixel rows.
 * Softmax over the prototypes gives each pixel a soft vote, a 0/1 MatMul sums the votes of each
 * name's prototypes, and a mean over pixels turns votes into each name's share of the image; the
 * shares sum to 1.
 */

/** A colour name and the sRGB colours (0–255) a person would give that name, typical first. */
export interface ColorName {
  label: string;
  prototypes: readonly Triple[];
}

/**
 * Picked by eye against scenes: a colour joins a name where a person would use that name for it
 * (browns are dark oranges and yellows, olive is green, pale sky is blue, sand is beige). Nearest
 * prototype wins, so a boundary lies midway between neighbouring names' prototypes; a colour
 * named wrongly gets a prototype, not a threshold.
 */
export const COLOR_NAMES: readonly ColorName[] = [
  { label: 'red', prototypes: [[230, 25, 25], [190, 20, 30], [255, 70, 60], [140, 20, 25]] },
  { label: 'orange', prototypes: [[255, 140, 0], [235, 120, 30], [215, 95, 20], [255, 170, 80]] },
  { label: 'yellow', prototypes: [[255, 230, 40], [245, 215, 60], [255, 245, 130], [215, 195, 30]] },
  {
    label: 'green',
    prototypes: [
      [38, 166, 51],
      [107, 142, 35],
      [85, 107, 47],
      [60, 90, 35],
      [150, 200, 80],
      [20, 90, 30],
      [140, 215, 140],
      [30, 130, 70],
    ],
  },
  { label: 'teal', prototypes: [[0, 140, 140], [50, 180, 170], [0, 95, 100]] },
  {
    label: 'blue',
    prototypes: [
      [25, 64, 217],
      [40, 100, 200],
      [135, 190, 235],
      [175, 210, 240],
      [20, 35, 110],
      [70, 130, 180],
    ],
  },
  { label: 'purple', prototypes: [[130, 40, 170], [85, 30, 110], [170, 120, 210]] },
  { label: 'pink', prototypes: [[255, 140, 190], [235, 90, 150], [255, 190, 210]] },
  { label: 'brown', prototypes: [[130, 80, 30], [92, 64, 45], [60, 40, 28], [150, 100, 60], [110, 70, 50]] },
  { label: 'beige', prototypes: [[225, 200, 155], [200, 175, 130], [240, 225, 195]] },
  { label: 'black', prototypes: [[10, 10, 10], [35, 35, 38]] },
  { label: 'gray', prototypes: [[128, 128, 128], [88, 90, 92], [165, 165, 165], [60, 60, 62], [195, 195, 195]] },
  { label: 'white', prototypes: [[245, 245, 245], [228, 230, 233]] },
];

/**
 * Weights of L, a and b in the distance. Lightness counts half: a shadowed and a sunlit leaf are
 * the same green to a person, while the same lightness step between two greys still separates
 * black, gray and white (whose prototypes are far apart in L).
 */
export const LAB_DISTANCE_WEIGHTS: Triple = [0.5, 1, 1];

/**
 * Softmax temperature in squared weighted-Lab units. A pixel whose squared distance to one
 * prototype is 40 less than to the next (10 vs 12 Lab units) gives it e^4 ≈ 55× the weight: a
 * near-hard vote for the nearest, with a smooth split midway.
 */
export const COLOR_TEMPERATURE = 10;

/** The input side: small, because colour shares need no detail, and `fill` so every pixel counts. */
export const COLOR_INPUT_SIZE = 64;

/** A prototype in the space the graph compares in: Lab scaled by √weight per axis. */
export function comparedLab(rgb255: Triple): Triple {
  const lab = srgbToLab(rgb255.map((c) => c / 255) as unknown as Triple);
  return lab.map((v, i) => v * Math.sqrt(LAB_DISTANCE_WEIGHTS[i]!)) as unknown as Triple;
}

/** The name whose prototype is nearest in the compared space: what the graph's vote peaks on. */
export function nearestColorName(rgb255: Triple): string {
  const x = comparedLab(rgb255);
  let best = { label: '', distance: Infinity };
  for (const { label, prototypes } of COLOR_NAMES) {
    for (const p of prototypes) {
      const distance = comparedLab(p).reduce((sum, v, i) => sum + (v - x[i]!) ** 2, 0);
      if (distance < best.distance) best = { label, distance };
    }
  }
  return best.label;
}

const scalar = (value: number) => Float32Array.of(value);

/** A [rows, cols] matrix for MatMul on pixel rows: the transpose of `rows` given as output rows. */
function transposed(outputRows: readonly (readonly number[])[]): Float32Array {
  const inputs = outputRows[0]!.length;
  const matrix = new Float32Array(inputs * outputRows.length);
  outputRows.forEach((row, out) => row.forEach((v, i) => (matrix[i * outputRows.length + out] = v)));
  return matrix;
}

/**
 * Nodes from `pixels` ([H·W, 3] sRGB on [0,1], one row per pixel) to `lab` ([H·W, 3], √weight-scaled
 * L, a, b). Pixel rows rather than NCHW planes, so every later step is a MatMul over rows and the
 * softmax runs over contiguous memory (over NCHW's channel axis it took 5 of 7 ms per image).
 */
function addLabConversion(graph: GraphBuilder): void {
  // XYZ divided by the white point, folded into the matrix rows.
  const toXyz = transposed(SRGB_TO_XYZ.map((row, i) => row.map((v) => v / D65_WHITE[i]!)));
  const weights = LAB_DISTANCE_WEIGHTS.map(Math.sqrt);
  const toLab = transposed(F_TO_LAB.map((row, i) => row.map((v) => v * weights[i]!)));
  const labBias = Float32Array.from(F_TO_LAB_OFFSET, (v, i) => v * weights[i]!);

  graph
    .initializer('srgb_knee', [], scalar(SRGB_LINEAR_KNEE))
    .initializer('srgb_linear_scale', [], scalar(1 / SRGB_LINEAR_SLOPE))
    .initializer('srgb_offset', [], scalar(SRGB_OFFSET))
    .initializer('srgb_curve_scale', [], scalar(1 / (1 + SRGB_OFFSET)))
    .initializer('srgb_gamma', [], scalar(SRGB_GAMMA))
    .node('Greater', ['pixels', 'srgb_knee'], ['on_curve'])
    .node('Mul', ['pixels', 'srgb_linear_scale'], ['linear_toe'])
    .node('Add', ['pixels', 'srgb_offset'], ['curve_shifted'])
    .node('Mul', ['curve_shifted', 'srgb_curve_scale'], ['curve_base'])
    .node('Pow', ['curve_base', 'srgb_gamma'], ['linear_curve'])
    .node('Where', ['on_curve', 'linear_curve', 'linear_toe'], ['linear'])
    .initializer('xyz_matrix', [3, 3], toXyz)
    .node('MatMul', ['linear', 'xyz_matrix'], ['xyz'])
    .initializer('lab_knee', [], scalar(LAB_KNEE))
    .initializer('lab_cube_root', [], scalar(1 / 3))
    .initializer('lab_linear_scale', [], scalar(LAB_LINEAR_SLOPE))
    .initializer('lab_linear_offset', [], scalar(LAB_LINEAR_OFFSET))
    .node('Greater', ['xyz', 'lab_knee'], ['above_knee'])
    .node('Pow', ['xyz', 'lab_cube_root'], ['f_root'])
    .node('Mul', ['xyz', 'lab_linear_scale'], ['f_line_scaled'])
    .node('Add', ['f_line_scaled', 'lab_linear_offset'], ['f_line'])
    .node('Where', ['above_knee', 'f_root', 'f_line'], ['f'])
    .initializer('lab_matrix', [3, 3], toLab)
    .initializer('lab_offset', [3], labBias)
    .node('MatMul', ['f', 'lab_matrix'], ['lab_unshifted'])
    .node('Add', ['lab_unshifted', 'lab_offset'], ['lab']);
}

export function buildColorsModel(): BuiltModel {
  const size = COLOR_INPUT_SIZE;
  const prototypes = COLOR_NAMES.flatMap(({ prototypes }, name) => prototypes.map((rgb) => ({ name, lab: comparedLab(rgb) })));
  const k = COLOR_NAMES.length;
  const p = prototypes.length;

  // Computed in float64 and rounded once to float32, so the bytes are the same on every machine.
  const weights = new Float32Array(3 * p);
  const bias = new Float32Array(p);
  const membership = new Float32Array(p * k);
  prototypes.forEach(({ name, lab }, j) => {
    lab.forEach((v, axis) => (weights[axis * p + j] = (2 * v) / COLOR_TEMPERATURE));
    bias[j] = -lab.reduce((sum, v) => sum + v * v, 0) / COLOR_TEMPERATURE;
    membership[j * k + name] = 1;
  });

  const graph = new GraphBuilder('colors', 'Share of pixels nearest each named colour, compared in CIELAB.')
    .input('image', [1, 3, size, size])
    .output('colors', [1, k])
    .initializer('planes_shape', [2], BigInt64Array.of(3n, BigInt(size * size)))
    .node('Reshape', ['image', 'planes_shape'], ['planes'])
    .node('Transpose', ['planes'], ['pixels'], { perm: [1, 0] });
  addLabConversion(graph);
  const onnx = graph
    .initializer('prototype_weights', [3, p], weights)
    .initializer('prototype_bias', [p], bias)
    .node('MatMul', ['lab', 'prototype_weights'], ['scores_unshifted'])
    .node('Add', ['scores_unshifted', 'prototype_bias'], ['scores'])
    .node('Softmax', ['scores'], ['votes'], { axis: 1 })
    .initializer('name_membership', [p, k], membership)
    .node('MatMul', ['votes', 'name_membership'], ['name_votes'])
    .node('ReduceMean', ['name_votes'], ['colors'], { axes: [0], keepdims: 1 })
    .toBytes();

  const manifest: ClassificationManifest = {
    task: 'classification',
    description:
      `Dominant colours of a photo: the share of its pixels nearest each of ${k} named colours, compared in CIELAB. ` +
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
    labels: COLOR_NAMES.map((c) => c.label),
    topK: 3,
  };

  return { onnx, manifest };
}
