import { h } from './dom.ts';
import { type FileJob, type FileState, isFinished, type JobRunner, STATE_ORDER } from './jobs.ts';
import { rawJson, renderResult } from './render.ts';
import type { InferenceResult } from './types.ts';

/** The jobs table, the counts above it, and the selected job's details below it. */

const STATE_WORDS: Record<FileState, string> = {
  waiting: 'waiting',
  creating: 'creating',
  uploading: 'uploading',
  awaiting_upload: 'awaiting upload',
  queued: 'queued',
  running: 'running',
  succeeded: 'succeeded',
  failed: 'failed',
  canceled: 'canceled',
  expired: 'expired',
  refused: 'refused',
  error: 'error',
};

const TONE: Partial<Record<FileState, string>> = { succeeded: 'good', failed: 'bad', refused: 'bad', error: 'bad', canceled: 'quiet', expired: 'quiet' };

export function stateBadge(state: FileState): HTMLElement {
  return h('span', { class: `badge ${TONE[state] ?? 'busy'}`, 'data-state': state }, STATE_WORDS[state]);
}

/** One line about a result, for the table. */
function summaryOf(job: FileJob): string {
  if (job.error && isFinished(job)) return job.error.code;
  const result: InferenceResult | undefined = job.result;
  if (!result) return job.state === 'uploading' ? `${Math.round(job.uploadProgress * 100)}%` : '';
  switch (result.kind) {
    case 'classification':
      return result.labels.slice(0, 3).map((l) => `${l.label} ${Math.round(l.score * 100)}%`).join(', ');
    case 'ocr':
      return `${result.lines.length} lines: ${result.lines[0]?.text ?? ''}`;
    case 'detection':
      return `${result.objects.length} objects`;
    case 'embedding':
      return `${result.dimensions} dimensions`;
    case 'analysis': {
      const caption = (result.data as { caption?: unknown } | null)?.caption;
      return typeof caption === 'string' ? caption : 'analysis';
    }
    default:
      return '';
  }
}

export class JobsView {
  private readonly rows = new Map<number, HTMLTableRowElement>();
  private selected: FileJob | undefined;
  /** The state the detail panel was drawn for: redrawn on a change of state, not on every progress tick. */
  private detailDrawnFor: string | undefined;

  constructor(
    private readonly runner: JobRunner,
    private readonly elements: {
      table: HTMLTableElement;
      body: HTMLTableSectionElement;
      counts: HTMLElement;
      detail: HTMLElement;
      download: HTMLButtonElement;
      clear: HTMLButtonElement;
      announcer: HTMLElement;
    },
  ) {}

  select(job: FileJob): void {
    this.selected = job;
    this.detailDrawnFor = undefined;
    for (const [key, row] of this.rows) row.classList.toggle('selected', key === job.key);
    this.drawDetail();
  }

  /** A file's job changed: its row, the counts, and the details if it is the one shown. */
  changed(job: FileJob): void {
    const previous = this.rows.get(job.key)?.dataset.state;
    this.drawRow(job);
    this.drawCounts();
    if (job === this.selected) this.drawDetail();
    if (previous !== job.state && isFinished(job)) {
      this.elements.announcer.textContent = `${job.name}: ${STATE_WORDS[job.state]}${job.error ? `, ${job.error.code}` : ''}`;
    }
  }

  /** After "Clear finished": drop rows whose job is gone. */
  redrawAll(): void {
    const present = new Set(this.runner.jobs.map((j) => j.key));
    for (const [key, row] of this.rows) {
      if (!present.has(key)) {
        row.remove();
        this.rows.delete(key);
      }
    }
    if (this.selected && !present.has(this.selected.key)) {
      this.selected = undefined;
      this.elements.detail.hidden = true;
    }
    this.drawCounts();
  }

  private drawRow(job: FileJob): void {
    let row = this.rows.get(job.key);
    if (!row) {
      row = h('tr', { 'data-key': job.key });
      this.rows.set(job.key, row);
      this.elements.body.append(row);
    }
    row.dataset.state = job.state;
    const show = h('button', { type: 'button', class: 'link', title: job.name }, job.name);
    show.addEventListener('click', () => this.select(job));
    const status = h('td', {}, stateBadge(job.state));
    if (job.state === 'uploading') status.append(progressBar(job.uploadProgress, `Upload of ${job.name}`));
    row.replaceChildren(h('td', { class: 'file' }, show), status, h('td', { class: 'summary-col' }, summaryOf(job)), h('td', { class: 'actions' }, this.cancelButton(job)));
    row.classList.toggle('selected', job === this.selected);
  }

  private cancelButton(job: FileJob): HTMLElement | null {
    if (isFinished(job)) return null;
    const button = h('button', { type: 'button', class: 'secondary small-button', 'aria-label': `Cancel ${job.name}` }, 'Cancel');
    button.addEventListener('click', () => {
      button.disabled = true;
      void this.runner.cancel(job);
    });
    return button;
  }

  private drawCounts(): void {
    const { table, counts, download, clear } = this.elements;
    const total = this.runner.jobs.length;
    table.hidden = total === 0;
    download.disabled = total === 0;
    clear.disabled = !this.runner.jobs.some(isFinished);
    if (total === 0) {
      counts.replaceChildren('No jobs yet.');
      return;
    }
    const byState = this.runner.counts();
    const chips = STATE_ORDER.filter((s) => byState.has(s)).map((s) => h('span', { class: 'chip', 'data-state': s }, stateBadge(s), ` ${byState.get(s)}`));
    counts.replaceChildren(h('strong', {}, `${total} ${total === 1 ? 'file' : 'files'}`), ...chips);
  }

  private drawDetail(): void {
    const job = this.selected;
    const { detail } = this.elements;
    if (!job) return;
    const drawnFor = `${job.key}:${job.state}:${job.result ? 1 : 0}`;
    if (drawnFor === this.detailDrawnFor) {
      // Only the upload moved: update the bar in place.
      const bar = detail.querySelector('progress');
      if (bar) bar.value = job.uploadProgress;
      return;
    }
    this.detailDrawnFor = drawnFor;
    detail.hidden = false;
    const heading = h('div', { class: 'row spread' }, h('h3', {}, job.name), h('div', { class: 'row' }, stateBadge(job.state), this.cancelButton(job)));
    const facts = h('p', { class: 'muted small' }, job.model, job.job ? ' · job ' : '', job.job ? h('span', { class: 'mono' }, job.job.jobId) : '');
    const parts: (HTMLElement | null)[] = [heading, facts];
    if (job.state === 'uploading') parts.push(progressBar(job.uploadProgress, `Upload of ${job.name}`));
    if (job.error) parts.push(errorBlock(job));
    if (job.result) parts.push(renderResult(job.result, job.imageUrl));
    else if (!isFinished(job) || job.state !== 'refused') parts.push(h('img', { class: 'preview', src: job.imageUrl, alt: `Preview of ${job.name}` }));
    if (job.job) parts.push(rawJson(job.job, 'Job as the API returned it'));
    detail.replaceChildren(...parts.filter((p): p is HTMLElement => p !== null));
  }
}

function progressBar(fraction: number, label: string): HTMLProgressElement {
  const bar = h('progress', { max: 1, 'aria-label': label });
  bar.value = fraction;
  return bar;
}

const ERROR_LEAD: Partial<Record<FileState, string>> = {
  refused: 'The request was refused',
  failed: 'The job failed',
  error: 'The page lost contact with the API',
  canceled: 'Canceled',
  expired: 'Expired: no upload arrived in time',
};

function errorBlock(job: FileJob): HTMLElement {
  const error = job.error!;
  const tone = job.state === 'canceled' || job.state === 'expired' ? 'notice' : 'problem';
  return h(
    'div',
    { class: `message ${tone}`, role: tone === 'problem' ? 'alert' : 'status' },
    h('strong', {}, `${ERROR_LEAD[job.state] ?? 'Error'}: `),
    error.message,
    ' ',
    h('code', {}, error.code),
  );
}
