import type { CreateBatchInput } from '#shared/client/pipeline-client.ts';
import type { UploadInstructions } from '#shared/storage/presign.ts';

/**
 * The batches of a run that are open (created, some item still to upload or awaiting its result),
 * and where each item stands. The submitter opens batches, the uploader and the poller move their
 * items on, and a batch closes once no item has anything left to do in this run.
 */

/**
 * to_upload: the job awaits the file. uploaded: S3 has it; the result is polled for.
 * deferred: the upload could not be done now (the cloud was away): no result line, --resume retries it.
 * resolved: its result line is written.
 */
export type ItemPhase = 'to_upload' | 'uploaded' | 'deferred' | 'resolved';

export interface Item {
  readonly path: string;
  readonly jobId: string;
  /** The size the job was created for: the presigned URL accepts exactly this many bytes. */
  readonly contentLength: number;
  upload?: UploadInstructions;
  phase: ItemPhase;
  uploadedAt?: number;
}

export class OpenBatch {
  readonly items = new Map<string, Item>();
  readonly #count: Record<ItemPhase, number> = { to_upload: 0, uploaded: 0, deferred: 0, resolved: 0 };
  /** A replay of the create under way (fresh upload URLs), shared by the uploads that need it. */
  refreshing: Promise<void> | undefined;

  constructor(
    readonly batchId: string,
    /** The Idempotency-Key it was created with, and the request: replaying both returns this batch. */
    readonly key: string,
    readonly request: CreateBatchInput,
  ) {}

  add(item: Omit<Item, 'phase'>, phase: ItemPhase): void {
    this.items.set(item.jobId, { ...item, phase, ...(phase === 'uploaded' ? { uploadedAt: Date.now() } : {}) });
    this.#count[phase] += 1;
  }

  move(item: Item, phase: ItemPhase): void {
    this.#count[item.phase] -= 1;
    this.#count[phase] += 1;
    item.phase = phase;
    if (phase !== 'to_upload') item.upload = undefined;
    if (phase === 'uploaded') item.uploadedAt = Date.now();
  }

  /** Uploaded items without a result line: what polling waits for. */
  get awaitingResult(): number {
    return this.#count.uploaded;
  }

  /**
   * Polled once its uploads are all done: GET settles each job still awaiting its upload against
   * the bucket (a HEAD each), so polling mid-upload would pay for jobs not sent yet.
   */
  get pollable(): boolean {
    return this.#count.uploaded > 0 && this.#count.to_upload === 0;
  }

  /** Nothing left for this run: every item has its result line or waits for --resume. */
  get settled(): boolean {
    return this.#count.to_upload === 0 && this.#count.uploaded === 0;
  }
}

/** The open batches, and a signal for whoever waits on them to change. */
export class OpenBatches {
  readonly #batches = new Map<string, OpenBatch>();
  readonly #waiters = new Set<() => void>();

  get size(): number {
    return this.#batches.size;
  }

  values(): IterableIterator<OpenBatch> {
    return this.#batches.values();
  }

  open(batch: OpenBatch): void {
    if (!batch.settled) this.#batches.set(batch.batchId, batch);
    this.changed();
  }

  /** Move an item on; the batch closes once settled. */
  move(batch: OpenBatch, item: Item, phase: ItemPhase): void {
    batch.move(item, phase);
    if (batch.settled) this.#batches.delete(batch.batchId);
    this.changed();
  }

  /** Wake whoever waits (a batch closed, an upload landed). */
  changed(): void {
    for (const wake of this.#waiters) wake();
    this.#waiters.clear();
  }

  /** Resolves at the next change, on abort, or after timeoutMs. */
  nextChange(signal: AbortSignal, timeoutMs = 1_000): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.#waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      signal.addEventListener('abort', done, { once: true });
      this.#waiters.add(done);
    });
  }
}
