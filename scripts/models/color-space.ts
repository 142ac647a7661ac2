/**
 * sRGB → CIELAB (D65), the perceptual space the colours model compares in: equal distances there
 * look roughly equally different to a person, which RGB distances do not (olive grass is nearer to
 * brown than to green in RGB, not in Lab). These constants feed the ONNX graph, and
 * {@link srgbToLab} is the same arithmetic in float64, used to place prototypes and to check the
 * graph.
 */

export type Triple = readonly [number, number, number];

/** IEC 61966-2-1: below this encoded value the sRGB curve is linear. */
export const SRGB_LINEAR_KNEE = 0.04045;
export const SRGB_LINEAR_SLOPE = 12.92;
export const SRGB_OFFSET = 0.055;
export const SRGB_GAMMA = 2.4;

/** Linear sRGB → CIE XYZ, rows X, Y, Z. */
export const SRGB_TO_XYZ: readonly Triple[] = [
  [0.4124564, 0.3575761, 0.1804375],
  [0.2126729, 0.7151522, 0.072175],
  [0.0193339, 0.119192, 0.9503041],
];

/** The D65 white point, which Lab divides by so that white is L=100, a=b=0. */
export const D65_WHITE: Triple = [0.95047, 1.0, 1.08883];

/** CIE: δ = 6/29; the cube root is replaced by a line below δ³, so f stays finite-sloped at black. */
const DELTA = 6 / 29;
export const LAB_KNEE = DELTA ** 3;
export const LAB_LINEAR_SLOPE = 1 / (3 * DELTA * DELTA);
export const LAB_LINEAR_OFFSET = 4 / 29;

/**
 * Lab from f(X/Xn), f(Y/Yn), f(Z/Zn): L = 116 fy − 16, a = 500 (fx − fy), b = 200 (fy − fz);
 * rows L, a, b as a linear map plus offset.
 */
export const F_TO_LAB: readonly Triple[] = [
  [0, 116, 0],
  [500, -500, 0],
  [0, 200, -200],
];
export const F_TO_LAB_OFFSET: Triple = [-16, 0, 0];

export function srgbToLinear(c: number): number {
  return c <= SRGB_LINEAR_KNEE ? c / SRGB_LINEAR_SLOPE : ((c + SRGB_OFFSET) / (1 + SRGB_OFFSET)) ** SRGB_GAMMA;
}

function labF(t: number): number {
  return t > LAB_KNEE ? Math.cbrt(t) : t * LAB_LINEAR_SLOPE + LAB_LINEAR_OFFSET;
}

/** An sRGB colour on [0,1] to CIELAB (L on [0,100]). */
export function srgbToLab(rgb: Triple): Triple {
  const linear = rgb.map(srgbToLinear);
  const f = SRGB_TO_XYZ.map((row, i) => labF(dot(row, linear) / D65_WHITE[i]!));
  return F_TO_LAB.map((row, i) => dot(row, f) + F_TO_LAB_OFFSET[i]!) as unknown as Triple;
}

function dot(a: readonly number[], b: readonly number[]): number {
  return a.reduce((sum, v, i) => sum + v * b[i]!, 0);
}
