import type { ClassificationManifest } from '#shared/inference/onnx/manifest.ts';
import { GraphBuilder, type BuiltModel } from './onnx-writer.ts';
import { seededRandom } from '../lib/seeded-random.ts';

/**
 * Seeded random classifiers with the shapes (and so the cost) of real ImageNet networks, for tests
 * and benchmarks: they prove that any user classifier works when dropped into `models/` as an
 * `.onnx` plus a manifest, and give the worker realistic load, without downloading weights. Their
 * scores mean nothing. They are generated at test/bench time (tens of MB), never committed.
 *
 * BatchNorm is taken as folded into each conv (weights and bias), as exporters do for inference.
 * Weights are He-scaled uniform noise so activations keep roughly unit scale layer after layer;
 * the last conv of every residual branch is scaled down (like a folded BN with a small gamma) so the
 * residual sums do not double the variance at each block. The logits stay finite and vary with the
 * input instead of saturating to one constant.
 */

// Re-exported so test and bench code that generates these networks finds the writer beside them.
export { writeModel } from './onnx-writer.ts';

export interface RandomNetOptions {
  /** Same seed, same bytes. */
  seed: number;
  /** Defaults to `labels.length` when labels are given, else 1000 (ImageNet). */
  numClasses?: number;
  /** Defaults to `class_0` … `class_<numClasses-1>`. */
  labels?: readonly string[];
}

const INPUT_SIZE = 224;
const INPUT_NAME = 'input';
const OUTPUT_NAME = 'logits';
/** The usual torchvision ImageNet normalisation, so these nets are fed like real exports. */
const IMAGENET_MEAN: [number, number, number] = [0.485, 0.456, 0.406];
const IMAGENET_STD: [number, number, number] = [0.229, 0.224, 0.225];
/** Gain on the last layer of each residual branch; see the module comment. */
const RESIDUAL_BRANCH_GAIN = 0.25;


interface ConvOptions {
  kernel: number;
  stride?: number;
  group?: number;
  gain?: number;
}

/**
 * Builds a network layer by layer on a {@link GraphBuilder}, drawing weights from one seeded
 * stream in construction order (hence deterministic) and naming values `<prefix>_<n>`.
 */
class NetBuilder {
  readonly graph: GraphBuilder;
  private readonly random: () => number;
  private counter = 0;
  private relu6Bounds = false;

  constructor(name: string, docString: string, seed: number) {
    this.graph = new GraphBuilder(name, docString);
    this.random = seededRandom(seed);
  }

  /** Uniform on [-a, a] has variance a²/3; pick a for the wanted standard deviation. */
  private uniform(count: number, std: number): Float32Array {
    const a = std * Math.sqrt(3);
    const values = new Float32Array(count);
    for (let i = 0; i < count; i++) values[i] = (this.random() * 2 - 1) * a;
    return values;
  }

  private fresh(prefix: string): string {
    return `${prefix}_${this.counter++}`;
  }

  /**
   * A Conv with bias. `gain` is √2 before a ReLU (He) and 1 before a linear use; fan-in is
   * in/group × k × k, which for a depthwise conv is just k × k.
   */
  conv(x: string, inChannels: number, outChannels: number, options: ConvOptions): string {
    const { kernel, stride = 1, group = 1, gain = Math.SQRT2 } = options;
    const w = this.fresh('conv_w');
    const b = this.fresh('conv_b');
    const y = this.fresh('conv');
    const fanIn = (inChannels / group) * kernel * kernel;
    const pad = Math.floor(kernel / 2);
    const weights = this.uniform(outChannels * fanIn, gain / Math.sqrt(fanIn));
    this.graph
      .initializer(w, [outChannels, inChannels / group, kernel, kernel], weights)
      .initializer(b, [outChannels], this.uniform(outChannels, 0.01))
      .node('Conv', [x, w, b], [y], {
        kernel_shape: [kernel, kernel],
        strides: [stride, stride],
        pads: [pad, pad, pad, pad],
        group,
      });
    return y;
  }

  relu(x: string): string {
    const y = this.fresh('relu');
    this.graph.node('Relu', [x], [y]);
    return y;
  }

  /** ReLU6 as Clip(x, 0, 6), how PyTorch exports it at opset ≥ 11 (bounds are inputs, not attributes). */
  relu6(x: string): string {
    if (!this.relu6Bounds) {
      this.graph
        .initializer('relu6_min', [], new Float32Array([0]))
        .initializer('relu6_max', [], new Float32Array([6]));
      this.relu6Bounds = true;
    }
    const y = this.fresh('relu6');
    this.graph.node('Clip', [x, 'relu6_min', 'relu6_max'], [y]);
    return y;
  }

  add(a: string, b: string): string {
    const y = this.fresh('add');
    this.graph.node('Add', [a, b], [y]);
    return y;
  }

  maxPool(x: string, { kernel, stride }: { kernel: number; stride: number }): string {
    const y = this.fresh('maxpool');
    const pad = Math.floor(kernel / 2);
    this.graph.node('MaxPool', [x], [y], {
      kernel_shape: [kernel, kernel],
      strides: [stride, stride],
      pads: [pad, pad, pad, pad],
    });
    return y;
  }

  /** GlobalAveragePool → Flatten → Gemm (fully connected) to the named output. */
  classifierHead(x: string, channels: number, numClasses: number, output: string): void {
    const pooled = this.fresh('gap');
    const flat = this.fresh('flatten');
    const w = this.fresh('fc_w');
    const b = this.fresh('fc_b');
    this.graph
      .node('GlobalAveragePool', [x], [pooled])
      .node('Flatten', [pooled], [flat], { axis: 1 })
      // Stored [out, in] with transB, the layout PyTorch's Linear exports.
      .initializer(w, [numClasses, channels], this.uniform(numClasses * channels, 1 / Math.sqrt(channels)))
      .initializer(b, [numClasses], this.uniform(numClasses, 0.01))
      .node('Gemm', [flat, w, b], [output], { transB: 1 });
  }
}

function resolveLabels({ numClasses, labels }: RandomNetOptions): string[] {
  if (labels && numClasses !== undefined && labels.length !== numClasses) {
    throw new Error(`numClasses ${numClasses} does not match ${labels.length} labels`);
  }
  if (labels) return [...labels];
  return Array.from({ length: numClasses ?? 1000 }, (_, i) => `class_${i}`);
}

function randomNetDescription(architecture: string, seed: number): string {
  return (
    `${architecture}-shaped classifier with seeded random weights (seed ${seed}); ` +
    'for tests and benchmarks, its scores mean nothing.'
  );
}

function randomNetManifest(file: string, description: string, labels: string[]): ClassificationManifest {
  return {
    task: 'classification',
    description,
    file,
    input: {
      name: INPUT_NAME,
      layout: 'NCHW',
      width: INPUT_SIZE,
      height: INPUT_SIZE,
      resize: 'cover',
      mean: IMAGENET_MEAN,
      std: IMAGENET_STD,
    },
    output: { name: OUTPUT_NAME, activation: 'softmax' },
    labels,
    topK: 5,
  };
}

/**
 * MobileNetV2 (Sandler et al. 2018, width 1.0): stem conv 3×3/2 to 32 channels, 17 inverted
 * residual blocks, a 1×1 conv to 1280, global pooling and a linear classifier; ~3.5 M parameters.
 * As in the paper, the first block has expansion 1 and the other 16 expansion 6.
 */
export function buildMobileNetV2(options: RandomNetOptions): BuiltModel {
  const labels = resolveLabels(options);
  const description = randomNetDescription('MobileNetV2', options.seed);
  const net = new NetBuilder('mobilenetv2_random', description, options.seed);
  net.graph.input(INPUT_NAME, [1, 3, INPUT_SIZE, INPUT_SIZE]).output(OUTPUT_NAME, [1, labels.length]);

  let x = net.relu6(net.conv(INPUT_NAME, 3, 32, { kernel: 3, stride: 2 }));
  let channels = 32;
  // (expansion t, output channels c, repeats n, first stride s), the paper's Table 2.
  const stages: readonly [t: number, c: number, n: number, s: number][] = [
    [1, 16, 1, 1],
    [6, 24, 2, 2],
    [6, 32, 3, 2],
    [6, 64, 4, 2],
    [6, 96, 3, 1],
    [6, 160, 3, 2],
    [6, 320, 1, 1],
  ];
  for (const [expansion, outChannels, repeats, firstStride] of stages) {
    for (let r = 0; r < repeats; r++) {
      const stride = r === 0 ? firstStride : 1;
      const residual = stride === 1 && channels === outChannels;
      const hidden = channels * expansion;
      let h = x;
      if (expansion !== 1) h = net.relu6(net.conv(h, channels, hidden, { kernel: 1 }));
      h = net.relu6(net.conv(h, hidden, hidden, { kernel: 3, stride, group: hidden }));
      // The projection is linear (no activation): the "linear bottleneck".
      h = net.conv(h, hidden, outChannels, { kernel: 1, gain: residual ? RESIDUAL_BRANCH_GAIN : 1 });
      x = residual ? net.add(x, h) : h;
      channels = outChannels;
    }
  }
  x = net.relu6(net.conv(x, channels, 1280, { kernel: 1 }));
  net.classifierHead(x, 1280, labels.length, OUTPUT_NAME);

  return {
    onnx: net.graph.toBytes(),
    manifest: randomNetManifest('mobilenetv2.onnx', description, labels),
  };
}

/**
 * ResNet-18 (He et al. 2016): conv 7×7/2 to 64 channels, max pool 3×3/2, four stages of two basic
 * blocks (64, 128, 256, 512 channels; stages 2–4 start with stride 2 and a 1×1 downsample conv on the
 * shortcut), global pooling and a linear classifier; ~11.7 M parameters.
 */
export function buildResNet18(options: RandomNetOptions): BuiltModel {
  const labels = resolveLabels(options);
  const description = randomNetDescription('ResNet-18', options.seed);
  const net = new NetBuilder('resnet18_random', description, options.seed);
  net.graph.input(INPUT_NAME, [1, 3, INPUT_SIZE, INPUT_SIZE]).output(OUTPUT_NAME, [1, labels.length]);

  const stem = net.relu(net.conv(INPUT_NAME, 3, 64, { kernel: 7, stride: 2 }));
  let x = net.maxPool(stem, { kernel: 3, stride: 2 });
  let channels = 64;
  for (const [stage, outChannels] of [64, 128, 256, 512].entries()) {
    for (let block = 0; block < 2; block++) {
      const stride = stage > 0 && block === 0 ? 2 : 1;
      const downsample = stride !== 1 || channels !== outChannels;
      const shortcut = downsample ? net.conv(x, channels, outChannels, { kernel: 1, stride, gain: 1 }) : x;
      let h = net.relu(net.conv(x, channels, outChannels, { kernel: 3, stride }));
      h = net.conv(h, outChannels, outChannels, { kernel: 3, gain: RESIDUAL_BRANCH_GAIN });
      x = net.relu(net.add(shortcut, h));
      channels = outChannels;
    }
  }
  net.classifierHead(x, channels, labels.length, OUTPUT_NAME);

  return {
    onnx: net.graph.toBytes(),
    manifest: randomNetManifest('resnet18.onnx', description, labels),
  };
}
