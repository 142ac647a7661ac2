/** The run cannot go on as asked (bad options, a refused key or model): retrying will not help. The CLI exits 2. */
export class BackfillError extends Error {
  override readonly name: string = 'BackfillError';
}

/**
 * The results or state file cannot be opened or written (ENOSPC, EACCES, EROFS, ENOTDIR…): the
 * machine's problem, not the API's. Exit 2 as for a usage error; `resumable` says whether earlier
 * work is on record, so the message can tell the user to fix the cause and run again with --resume.
 */
export class JournalError extends BackfillError {
  override readonly name = 'JournalError';
  /** Set by the run once it has recorded anything worth resuming. */
  resumable = false;
  constructor(
    readonly path: string,
    readonly code: string,
    readonly description: string,
  ) {
    super(`cannot write ${path}: ${code} (${description})`);
  }

  static from(path: string, error: unknown): JournalError {
    const e = error as NodeJS.ErrnoException;
    // Node's message is "ENOSPC: no space left on device, write": keep the middle.
    const description = /^[A-Z0-9_]+: ([^,]+)/.exec(e?.message ?? '')?.[1] ?? e?.message ?? String(error);
    return new JournalError(path, e?.code ?? 'EIO', description);
  }
}
