import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
// onnx-proto is CommonJS (`module.exports = { onnx }`); Node's ESM loader only exposes it as the
// default export, so a named import would be undefined at run time.
import onnxProto from 'onnx-proto';
import type { onnx as Onnx } from 'onnx-proto';
import type { ClassificationManifest } from '#shared/inference/onnx/manifest.ts';

/**
 * A small typed builder for ONNX graphs, so the project's models are made from code rather than
 * downloaded. It covers what our builders need (float inputs/outputs, float and int64 initializers,
 * nodes with int/float/string attributes) and no more.
 *
 * Output is deterministic: the same calls give the same bytes (fixed producer, no timestamps,
 * nodes/initializers in call order, tensors as little-endian raw_data), so a committed model can be
 * checked against a rebuild.
 */

const { onnx } = onnxProto;

/**
 * IR version 8 with the default-domain opset 13: both are what onnx-proto's schema (ONNX 1.10)
 * describes, and onnxruntime-node 1.30 loads them. Opset 13 has Clip's min/max as inputs, Softmax on
 * a single axis and Gemm with optional C, which is all our models use.
 */
export const IR_VERSION = 8;
export const OPSET_VERSION = 13;
const PRODUCER_NAME = 'async-inference-pipeline/scripts/models';
const PRODUCER_VERSION = '1';

/** A tensor dimension: a fixed size, or a symbolic name such as `'batch'`. */
export type Dim = number | string;

/** A float attribute, tagged because a JS number cannot say whether it is meant as INT or FLOAT. */
export interface FloatAttribute {
  readonly kind: 'float';
  readonly value: number;
}
/** A list-of-floats attribute (see {@link FloatAttribute}). */
export interface FloatsAttribute {
  readonly kind: 'floats';
  readonly value: readonly number[];
}

/**
 * An attribute value: a plain integer is INT, an integer array is INTS, a string is STRING; floats
 * go through {@link float} / {@link floats}. Most attributes in vision graphs are integers (kernel
 * shapes, strides, axes), so the common case stays terse.
 */
export type AttributeValue = number | readonly number[] | string | FloatAttribute | FloatsAttribute;

export const float = (value: number): FloatAttribute => ({ kind: 'float', value });
export const floats = (value: readonly number[]): FloatsAttribute => ({ kind: 'floats', value });

/** Initializer data; the array type decides the ONNX element type. */
export type TensorData = Float32Array | BigInt64Array;

const { DataType } = onnx.TensorProto;
const { AttributeType } = onnx.AttributeProto;

export class GraphBuilder {
  private readonly inputs: Onnx.IValueInfoProto[] = [];
  private readonly outputs: Onnx.IValueInfoProto[] = [];
  private readonly initializers: Onnx.ITensorProto[] = [];
  private readonly nodes: Onnx.INodeProto[] = [];
  /** Every value defined so far (inputs, initializers, node outputs), to catch wiring mistakes early. */
  private readonly defined = new Set<string>();

  constructor(
    private readonly name: string,
    private readonly docString = '',
  ) {}

  /** Declares a float32 graph input. */
  input(name: string, dims: readonly Dim[]): this {
    this.define(name);
    this.inputs.push(valueInfo(name, dims));
    return this;
  }

  /** Declares a float32 graph output; it must be produced by a node before {@link toBytes}. */
  output(name: string, dims: readonly Dim[]): this {
    this.outputs.push(valueInfo(name, dims));
    return this;
  }

  /** Adds a constant tensor (weights, biases, shapes). `data` is row-major and must fill `dims`. */
  initializer(name: string, dims: readonly number[], data: TensorData): this {
    const expected = dims.reduce((n, d) => n * d, 1);
    if (data.length !== expected) {
      throw new Error(`initializer ${name}: dims [${dims.join(',')}] need ${expected} values, got ${data.length}`);
    }
    this.define(name);
    this.initializers.push({
      name,
      dims: [...dims],
      dataType: data instanceof Float32Array ? DataType.FLOAT : DataType.INT64,
      rawData: littleEndianBytes(data),
    });
    return this;
  }

  /**
   * Adds a node. Nodes must be added in topological order (every input already defined), which is
   * what ONNX requires of a graph anyway; an empty input name marks an omitted optional input.
   */
  node(
    opType: string,
    inputs: readonly string[],
    outputs: readonly string[],
    attributes: Readonly<Record<string, AttributeValue>> = {},
  ): this {
    for (const input of inputs) {
      if (input !== '' && !this.defined.has(input)) {
        throw new Error(`${opType} node reads ${input}, which is not defined yet`);
      }
    }
    for (const output of outputs) this.define(output);
    this.nodes.push({
      // Named by position so names are unique and stable; ORT uses them in errors and profiles.
      name: `${opType}_${this.nodes.length}`,
      opType,
      input: [...inputs],
      output: [...outputs],
      // Sorted so attribute order never depends on how a caller wrote its object literal.
      attribute: Object.keys(attributes)
        .sort()
        .map((key) => attribute(key, attributes[key]!)),
    });
    return this;
  }

  /** Serialises the graph as an ONNX ModelProto. */
  toBytes(): Uint8Array {
    for (const out of this.outputs) {
      if (!this.defined.has(out.name!)) throw new Error(`graph output ${out.name} is never produced`);
    }
    const model: Onnx.IModelProto = {
      irVersion: IR_VERSION,
      opsetImport: [{ domain: '', version: OPSET_VERSION }],
      producerName: PRODUCER_NAME,
      producerVersion: PRODUCER_VERSION,
      graph: {
        name: this.name,
        docString: this.docString,
        input: this.inputs,
        output: this.outputs,
        initializer: this.initializers,
        node: this.nodes,
      },
    };
    return onnx.ModelProto.encode(model).finish();
  }

  private define(name: string): void {
    if (this.defined.has(name)) throw new Error(`value ${name} is defined twice`);
    this.defined.add(name);
  }
}

function valueInfo(name: string, dims: readonly Dim[]): Onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: DataType.FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function attribute(name: string, value: AttributeValue): Onnx.IAttributeProto {
  if (typeof value === 'string') {
    return { name, type: AttributeType.STRING, s: new TextEncoder().encode(value) };
  }
  if (typeof value === 'number') {
    return { name, type: AttributeType.INT, i: checkedInt(name, value) };
  }
  if (isFloatAttribute(value)) return { name, type: AttributeType.FLOAT, f: value.value };
  if (isFloatsAttribute(value)) return { name, type: AttributeType.FLOATS, floats: [...value.value] };
  return { name, type: AttributeType.INTS, ints: value.map((v) => checkedInt(name, v)) };
}

function isFloatAttribute(value: AttributeValue): value is FloatAttribute {
  return typeof value === 'object' && 'kind' in value && value.kind === 'float';
}
function isFloatsAttribute(value: AttributeValue): value is FloatsAttribute {
  return typeof value === 'object' && 'kind' in value && value.kind === 'floats';
}

/** A non-integer passed as INT is almost certainly a float that lost its `float()` tag. */
function checkedInt(name: string, value: number): number {
  if (!Number.isSafeInteger(value)) throw new Error(`attribute ${name}: ${value} is not an integer; use float()`);
  return value;
}

/** ONNX raw_data is little-endian whatever the host; DataView makes that explicit. */
function littleEndianBytes(data: TensorData): Uint8Array {
  const bytes = new Uint8Array(data.length * data.BYTES_PER_ELEMENT);
  const view = new DataView(bytes.buffer);
  if (data instanceof Float32Array) {
    for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i]!, true);
  } else {
    for (let i = 0; i < data.length; i++) view.setBigInt64(i * 8, data[i]!, true);
  }
  return bytes;
}

/** A model made by one of our builders: the graph and the manifest that says how to feed and read it. */
export interface BuiltModel {
  onnx: Uint8Array;
  manifest: ClassificationManifest;
}

/**
 * Writes `<name>.onnx` and `<name>.json` into `dir` (created if missing), the layout the registry
 * serves as `onnx/<name>`. The manifest's `file` is set to match, so a model can be dropped under
 * any name. The JSON is pretty-printed with a trailing newline, as committed manifests are.
 */
export async function writeModel(
  dir: string,
  name: string,
  model: BuiltModel,
): Promise<{ onnxPath: string; manifestPath: string }> {
  const onnxPath = join(dir, `${name}.onnx`);
  const manifestPath = join(dir, `${name}.json`);
  const manifest: ClassificationManifest = { ...model.manifest, file: `${name}.onnx` };
  await mkdir(dir, { recursive: true });
  await writeFile(onnxPath, model.onnx);
  await writeFile(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
  return { onnxPath, manifestPath };
}
