import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { JobFailure } from '../../errors.ts';
import type { OnnxRequest, OnnxResult, WarmUpTarget } from '../onnx/infer.ts';
import { THREAD_BUNDLE } from './entry.ts';
import { deserializeFailure, type ThreadReply, type ThreadTask } from './protocol.ts';

/**
 * ONNX inference in worker threads. onnxruntime-node runs `session.run` synchronously on the
 * calling JS thread, and the tensor loops around it are JS too; in the pool they leave the
 * process's JS thread to its I/O (a batch's S3 and DynamoDB calls; locally the API and emulators).
 * Threads start on demand up to `size`, each runs one job at a time with its own session cache,
 * and a thread that dies fails only its own job (transient: SQS redelivers it) and is replaced.
 */

type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;
/** A task before the pool numbers it. */
type Task = WithoutId<ThreadTask>;

interface Pending {
  task: Task;
  transfer: ArrayBuffer[];
  settle: (reply: ThreadReply | JobFailure) => void;
}

interface Thread {
  worker: Worker;
  current?: Pending;
  /** The uncaught error that is about to end the thread, for the failure message. */
  crash?: Error;
}

export class InferencePool {
  private readonly all = new Set<Thread>();
  private readonly idle: Thread[] = [];
  private readonly queue: Pending[] = [];
  private nextId = 1;
  private closed = false;

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new Error(`a pool needs at least one thread, not ${size}`);
  }

  /** The live threads (for supervision, and for tests that end one). */
  get threads(): Worker[] {
    return [...this.all].map((t) => t.worker);
  }

  /** Run one ONNX job in a thread. The request's bytes are handed over: transferred, not copied, when they own their memory. */
  async infer(request: OnnxRequest): Promise<OnnxResult> {
    const bytes = ownedBytes(request.bytes);
    const reply = await this.submit({ kind: 'infer', request: { ...request, bytes } }, [bytes.buffer as ArrayBuffer]);
    if (!reply.result) throw JobFailure.transient('internal', 'the inference thread answered without a result');
    return reply.result;
  }

  /** Start every thread and load a model (its session, or its OCR engine) in each, so no job pays for either. */
  async warmUp(target: WarmUpTarget, intraOpThreads: number): Promise<void> {
    await Promise.all(Array.from({ length: this.size }, () => this.submit({ kind: 'warm', target, intraOpThreads }, [])));
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const pending of this.queue.splice(0)) pending.settle(JobFailure.transient('internal', 'the inference pool closed'));
    await Promise.all(this.threads.map((worker) => worker.terminate()));
  }

  private submit(task: Task, transfer: ArrayBuffer[]): Promise<Extract<ThreadReply, { ok: true }>> {
    if (this.closed) return Promise.reject(JobFailure.transient('internal', 'the inference pool is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({
        task,
        transfer,
        settle: (reply) => {
          if (reply instanceof JobFailure) reject(reply);
          else if (reply.ok) resolve(reply);
          else reject(deserializeFailure(reply.failure));
        },
      });
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      const thread = this.idle.pop() ?? (this.all.size < this.size ? this.spawn() : undefined);
      if (!thread) return;
      const pending = this.queue.shift()!;
      thread.current = pending;
      // A busy thread keeps the process alive (a CLI awaiting its result); an idle one does not.
      thread.worker.ref();
      const message = { ...pending.task, id: this.nextId++ };
      try {
        thread.worker.postMessage(message, pending.transfer);
      } catch (error) {
        // Node marks some buffers untransferable (Node 24 more than 20, e.g. the SDK's response
        // bodies): those are copied instead of moved.
        if ((error as Error)?.name !== 'DataCloneError') throw error;
        thread.worker.postMessage(message);
      }
    }
  }

  private spawn(): Thread {
    const worker = startThread();
    worker.unref();
    const thread: Thread = { worker };
    this.all.add(thread);
    worker.on('message', (reply: ThreadReply) => {
      const pending = thread.current;
      thread.current = undefined;
      worker.unref();
      this.idle.push(thread);
      pending?.settle(reply);
      this.dispatch();
    });
    worker.on('error', (error) => {
      thread.crash = error;
    });
    worker.on('exit', (code) => {
      this.all.delete(thread);
      const at = this.idle.indexOf(thread);
      if (at >= 0) this.idle.splice(at, 1);
      const pending = thread.current;
      thread.current = undefined;
      const why = thread.crash ? thread.crash.message : `exit code ${code}`;
      pending?.settle(JobFailure.transient('internal', `the inference thread stopped (${why}) during the job`, thread.crash));
      if (!this.closed) this.dispatch();
    });
    return thread;
  }
}

/**
 * Memory the thread may take: the bytes' own ArrayBuffer when they span all of it; a copy when
 * they are a view into a larger one (Node's small-Buffer pool), which must not be detached.
 */
function ownedBytes(bytes: Uint8Array): Uint8Array {
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer) {
    return new Uint8Array(bytes.buffer);
  }
  return new Uint8Array(bytes);
}

/**
 * A new pool thread. Bundled (AWS), this module is part of index.mjs and the thread is the
 * second bundled file beside it; from source (local cloud, tests, benches) the thread is
 * thread.ts, loaded through tsx's loader registered inside the new thread (a worker thread
 * does not inherit its parent's loader, and Node 20 ignores `--import` in a worker's execArgv).
 */
function startThread(): Worker {
  const here = import.meta.url;
  const execArgv = threadExecArgv(process.execArgv);
  if (!here.endsWith('.ts')) return new Worker(new URL(`./${THREAD_BUNDLE}`, here), { execArgv });
  const tsx = tsxLoaderApi(here);
  const source = new URL('./thread.ts', here).href;
  const bootstrap = `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(source)}); });`;
  return new Worker(bootstrap, { eval: true, execArgv });
}

/**
 * The parent's Node options, less those about its own entry: a thread inherits them, and a
 * process started as `node --input-type=module -e …` would otherwise refuse to load the thread's
 * file (ERR_INPUT_TYPE_NOT_ALLOWED).
 */
export function threadExecArgv(parent: readonly string[]): string[] {
  const kept: string[] = [];
  for (let i = 0; i < parent.length; i++) {
    const option = parent[i]!;
    if (option.startsWith('--input-type')) continue;
    if (['-e', '--eval', '-p', '--print'].includes(option)) {
      i++; // and its code
      continue;
    }
    if (/^--(eval|print)=/.test(option)) continue;
    kept.push(option);
  }
  return kept;
}

/**
 * The ESM build of tsx's loader API. require.resolve would give its CommonJS build, whose
 * register() cannot find its own ESM hooks from inside a worker thread; so the package's exports
 * map is read for the `import` condition.
 */
function tsxLoaderApi(from: string): string {
  const manifestPath = createRequire(from).resolve('tsx/package.json');
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { exports: Record<string, { import: { default: string } }> };
  const api = manifest.exports['./esm/api']?.import.default;
  if (!api) throw new Error(`tsx at ${manifestPath} exports no ESM loader API`);
  return pathToFileURL(join(dirname(manifestPath), api)).href;
}
