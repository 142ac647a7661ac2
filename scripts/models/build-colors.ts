/**
 * `npm run build:models`: writes the demo model `models/colors.onnx` and its manifest
 * `models/colors.json`. The output is deterministic, and test/unit/colors-model.test.ts checks the
 * committed files against a rebuild, so rerun this after changing scripts/models/colors.ts.
 */
import { fileURLToPath } from 'node:url';
import { buildColorsModel } from './colors.ts';
import { writeModel } from './onnx-writer.ts';

const MODELS_DIR = fileURLToPath(new URL('../../models/', import.meta.url));

const model = buildColorsModel();
const { onnxPath, manifestPath } = await writeModel(MODELS_DIR, 'colors', model);
console.log(`wrote ${onnxPath} (${model.onnx.byteLength} bytes) and ${manifestPath}`);
