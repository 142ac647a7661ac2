import * as ort from 'onnxruntime-node';
import type { FloatTensor, RunSession } from '#shared/inference/tasks/session.ts';
import { GraphBuilder } from './onnx-writer.ts';

/**
 * Detector-shaped ONNX graphs whose outputs are known, for testing the detection (and embedding)
 * post-processing against a real onnxruntime session fed by the real preprocessing. A graph reads
 * its image (a mean over it, times zero) and adds constant tensors, so it is a true function of its
 * input with the output shapes of a YOLO or SSD export, and emits exactly the boxes a test wrote.
 */

export interface NamedTensor {
  name: string;
  dims: number[];
  data: Float32Array;
}

/** A graph with one float input that emits `outputs` whatever the image. */
export function constantOutputsGraph(input: { name: string; dims: number[] }, outputs: readonly NamedTensor[]): Uint8Array {
  const graph = new GraphBuilder('constant_detector', 'Known outputs for post-processing tests.').input(input.name, input.dims);
  graph
    .node('ReduceMean', [input.name], ['image_mean'], { keepdims: 0 })
    .initializer('zero', [], Float32Array.of(0))
    .node('Mul', ['image_mean', 'zero'], ['nothing']);
  for (const { name, dims, data } of outputs) {
    graph
      .output(name, dims)
      .initializer(`${name}_constant`, dims, data)
      .node('Add', [`${name}_constant`, 'nothing'], [name]);
  }
  return graph.toBytes();
}

/** One candidate box as a detector emits it: four numbers in the manifest's box format, and scores. */
export interface RawBox {
  box: readonly [number, number, number, number];
  objectness?: number;
  /** One per label (SSD: per score column, background first when it has one). */
  scores: readonly number[];
}

/** A YOLO-style output: `per-box` [1, N, A] or `per-attribute` [1, A, N], A = 4 (+1) + C. */
export function yoloOutput(name: string, boxes: readonly RawBox[], layout: 'per-box' | 'per-attribute', objectness: boolean): NamedTensor {
  const rows = boxes.map((b) => [...b.box, ...(objectness ? [b.objectness ?? 1] : []), ...b.scores]);
  const attributes = rows[0]!.length;
  const n = rows.length;
  const data = new Float32Array(n * attributes);
  rows.forEach((row, i) =>
    row.forEach((v, a) => {
      data[layout === 'per-box' ? i * attributes + a : a * n + i] = v;
    }),
  );
  return { name, dims: layout === 'per-box' ? [1, n, attributes] : [1, attributes, n], data };
}

/** SSD-style outputs: boxes [1, N, 4] and scores [1, N, C]. */
export function ssdOutputs(names: { boxes: string; scores: string }, boxes: readonly RawBox[]): NamedTensor[] {
  const columns = boxes[0]!.scores.length;
  return [
    { name: names.boxes, dims: [1, boxes.length, 4], data: Float32Array.from(boxes.flatMap((b) => b.box)) },
    { name: names.scores, dims: [1, boxes.length, columns], data: Float32Array.from(boxes.flatMap((b) => b.scores)) },
  ];
}

/**
 * A graph for embedding tests: the per-channel mean of the image, times a [3, D] matrix. Feeding a
 * solid colour gives a known vector.
 */
export function channelMeanEmbedder(input: { name: string; size: number }, output: string, projection: readonly (readonly number[])[]): Uint8Array {
  const dimensions = projection[0]!.length;
  return new GraphBuilder('channel_mean_embedder', 'A known linear embedding of the mean colour.')
    .input(input.name, [1, 3, input.size, input.size])
    .output(output, [1, dimensions])
    .initializer('projection', [3, dimensions], Float32Array.from(projection.flat()))
    .node('GlobalAveragePool', [input.name], ['channel_means'])
    .node('Flatten', ['channel_means'], ['mean_colour'], { axis: 1 })
    .node('MatMul', ['mean_colour', 'projection'], [output])
    .toBytes();
}

/** A RunSession over an in-memory graph: what the worker's cached session does, for tests and benches. */
export async function runSessionFor(onnx: Uint8Array): Promise<RunSession> {
  const session = await ort.InferenceSession.create(onnx);
  return async (feeds) => {
    const results = await session.run(
      Object.fromEntries(Object.entries(feeds).map(([name, t]) => [name, new ort.Tensor('float32', t.data, [...t.dims])])),
    );
    return Object.fromEntries(
      Object.entries(results).map(([name, t]): [string, FloatTensor] => [name, { data: t.data as Float32Array, dims: t.dims }]),
    );
  };
}
