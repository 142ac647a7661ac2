import { ApiClient, RequestError } from './api.ts';
import { byId, h } from './dom.ts';
import { fromDrop, fromInput, type PickedFile } from './files.ts';
import { JobRunner } from './jobs.ts';
import type { ModelInfo } from './types.ts';
import { JobsView } from './view.ts';

/**
 * The page: an API key, a model and its params, files in; a table of jobs and each job's result
 * out. The API is the page's own origin, or `?api=https://…` for a page hosted elsewhere.
 */

function apiBaseUrl(): string {
  const requested = new URLSearchParams(location.search).get('api');
  if (requested) {
    try {
      const url = new URL(requested);
      if (url.protocol === 'http:' || url.protocol === 'https:') return url.origin;
    } catch {
      // Not a URL: fall back to this origin.
    }
  }
  return location.origin;
}

const apiBase = apiBaseUrl();
/** Keys are stored per API origin, so a page pointed at another API (?api=) never sends it a key saved for this one. */
const keyStorageName = `inference-api-key:${apiBase}`;

let api: ApiClient | undefined;
let models: ModelInfo[] = [];

const el = {
  apiBase: byId('api-base'),
  openapi: byId<HTMLAnchorElement>('openapi-link'),
  keyForm: byId<HTMLFormElement>('key-form'),
  keyInput: byId<HTMLInputElement>('api-key'),
  keySaved: byId('key-saved'),
  keyHint: byId('key-hint'),
  forgetKey: byId<HTMLButtonElement>('forget-key'),
  setupStatus: byId('setup-status'),
  modelSection: byId('model-section'),
  model: byId<HTMLSelectElement>('model'),
  modelDescription: byId('model-description'),
  params: byId<HTMLFieldSetElement>('params'),
  paramsFields: byId('params-fields'),
  drop: byId('drop'),
  pickFiles: byId<HTMLButtonElement>('pick-files'),
  pickFolder: byId<HTMLButtonElement>('pick-folder'),
  files: byId<HTMLInputElement>('files'),
  folder: byId<HTMLInputElement>('folder'),
};

const runner = new JobRunner(
  () => {
    if (!api) throw new RequestError(401, 'unauthorized', 'no API key saved');
    return api;
  },
  (job) => view.changed(job),
);
const view = new JobsView(runner, {
  table: byId('jobs-table'),
  body: byId('jobs-body'),
  counts: byId('counts'),
  detail: byId('detail'),
  download: byId('download'),
  clear: byId('clear'),
  announcer: byId('announcer'),
});

function setStatus(text: string, tone: 'problem' | 'ok' | '' = ''): void {
  el.setupStatus.textContent = text;
  el.setupStatus.className = `status ${tone}`;
}

function describeError(error: unknown): string {
  if (error instanceof RequestError) return `${error.message} (${error.code})`;
  return `the API did not answer (${error instanceof Error ? error.message : String(error)})`;
}

async function useKey(key: string): Promise<void> {
  api = new ApiClient(apiBase, key);
  setStatus('Loading models…');
  try {
    models = await api.listModels();
  } catch (error) {
    setStatus(`Could not list the models: ${describeError(error)}`, 'problem');
    showKeyForm();
    return;
  }
  localStorage.setItem(keyStorageName, key);
  el.keyForm.hidden = true;
  el.keySaved.hidden = false;
  el.keyHint.textContent = `${key.slice(0, 8)}…`;
  setStatus('');
  drawModels();
}

function showKeyForm(): void {
  el.keyForm.hidden = false;
  el.keySaved.hidden = true;
  el.modelSection.hidden = true;
  el.keyInput.focus();
}

function drawModels(): void {
  const options = models.map((m) =>
    h('option', { value: m.name, disabled: !m.available, selected: m.default && m.available }, m.available ? m.name : `${m.name} (unavailable)`),
  );
  el.model.replaceChildren(...options);
  el.modelSection.hidden = false;
  drawModel();
}

function selectedModel(): ModelInfo | undefined {
  return models.find((m) => m.name === el.model.value);
}

function drawModel(): void {
  const model = selectedModel();
  el.modelDescription.textContent = model ? `${model.description}${model.reason ? ` (unavailable: ${model.reason})` : ''}` : '';
  const names = Object.keys(model?.params ?? {});
  el.params.hidden = names.length === 0;
  el.paramsFields.replaceChildren(
    ...names.map((name) => {
      const id = `param-${name}`;
      return h(
        'div',
        { class: 'param' },
        h('label', { for: id }, h('span', { class: 'mono' }, name)),
        h('input', { id, name, type: 'text', autocomplete: 'off', 'aria-describedby': `${id}-doc`, 'data-param': name }),
        h('p', { id: `${id}-doc`, class: 'muted small' }, model!.params[name]!),
      );
    }),
  );
}

/** The params form as the API's `params`: JSON where the text parses (5, true, [1,2]), the text otherwise. */
function paramsValue(): Record<string, unknown> | undefined {
  const params: Record<string, unknown> = {};
  for (const input of el.paramsFields.querySelectorAll<HTMLInputElement>('input[data-param]')) {
    const text = input.value.trim();
    if (!text) continue;
    try {
      params[input.dataset.param!] = JSON.parse(text);
    } catch {
      params[input.dataset.param!] = text;
    }
  }
  return Object.keys(params).length > 0 ? params : undefined;
}

function submit(files: PickedFile[]): void {
  if (files.length === 0) {
    setStatus('No images found in what was dropped.', 'problem');
    return;
  }
  setStatus('');
  const added = runner.add(files, el.model.value, paramsValue());
  view.select(added[0]!);
}

function downloadResults(): void {
  const blob = new Blob([runner.toJsonLines()], { type: 'application/x-ndjson' });
  const url = URL.createObjectURL(blob);
  const link = h('a', { href: url, download: `results-${new Date().toISOString().slice(0, 19).replace(/:/g, '-')}.jsonl` });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function wire(): void {
  el.apiBase.textContent = apiBase;
  el.openapi.href = new URL('/v1/openapi.json', apiBase).href;
  el.keyForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const key = el.keyInput.value.trim();
    if (key) void useKey(key);
  });
  el.forgetKey.addEventListener('click', () => {
    localStorage.removeItem(keyStorageName);
    api = undefined;
    el.keyInput.value = '';
    showKeyForm();
  });
  el.model.addEventListener('change', drawModel);
  el.pickFiles.addEventListener('click', () => el.files.click());
  el.pickFolder.addEventListener('click', () => el.folder.click());
  for (const [input, folder] of [[el.files, false], [el.folder, true]] as const) {
    input.addEventListener('change', () => {
      submit(fromInput(input, folder));
      input.value = '';
    });
  }
  el.drop.addEventListener('dragover', (event) => {
    event.preventDefault();
    el.drop.classList.add('over');
  });
  el.drop.addEventListener('dragleave', () => el.drop.classList.remove('over'));
  el.drop.addEventListener('drop', (event) => {
    event.preventDefault();
    el.drop.classList.remove('over');
    if (event.dataTransfer) fromDrop(event.dataTransfer).then(submit, (error: unknown) => setStatus(`Could not read the drop: ${describeError(error)}`, 'problem'));
  });
  byId('download').addEventListener('click', downloadResults);
  byId('clear').addEventListener('click', () => {
    runner.clearFinished();
    view.redrawAll();
  });
  const saved = localStorage.getItem(keyStorageName);
  if (saved) void useKey(saved);
  else showKeyForm();
}

wire();
