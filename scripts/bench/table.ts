/**
 * The benchmark's report: one row per figure, each beside the limit it is measured against, and
 * the target (a ratio to that limit) where the issue sets one. Rendered as a terminal table and
 * as Markdown for docs/benchmarks.md; the same rows go to the JSON report.
 */

export type Unit = 'ms' | 'img/s' | 'req/s' | 'MB' | '%';

export interface Reference {
  /** What the limit is, e.g. "limit (1)", "PutItem c=32", "target". */
  label: string;
  value: number;
  unit: Unit;
}

/** A goal on value ÷ limit: at most (`max`) or at least (`min`) this ratio. */
export interface Target {
  kind: 'max' | 'min';
  ratio: number;
}

export interface Row {
  /** Stable key for the JSON report, e.g. `worker.resnet18.1mp.p50`. */
  id: string;
  /** The measurement it belongs to, e.g. `2. Worker`. */
  section: string;
  measure: string;
  /** null: not measurable in this run (the note says why). */
  value: number | null;
  unit: Unit;
  limit?: Reference;
  target?: Target;
  note?: string;
}

export type Verdict = 'met' | 'missed';

/** value ÷ limit, when both exist and the limit is not zero. */
export function ratioOf(row: Row): number | undefined {
  if (row.value === null || !row.limit || row.limit.value === 0) return undefined;
  return row.value / row.limit.value;
}

export function verdictOf(row: Row): Verdict | undefined {
  const ratio = ratioOf(row);
  if (ratio === undefined || !row.target) return undefined;
  const met = row.target.kind === 'max' ? ratio <= row.target.ratio : ratio >= row.target.ratio;
  return met ? 'met' : 'missed';
}

/** Three significant-ish digits: 0.412, 4.12, 41.2, 412, 4123. */
export function formatNumber(value: number): string {
  const magnitude = Math.abs(value);
  if (magnitude >= 100) return Math.round(value).toString();
  if (magnitude >= 10) return value.toFixed(1);
  if (magnitude >= 1) return value.toFixed(2);
  return value.toFixed(3);
}

export function formatQuantity(value: number | null, unit: Unit): string {
  return value === null ? 'n/a' : `${formatNumber(value)} ${unit}`;
}

function formatTarget(target: Target): string {
  return `target ${target.kind === 'max' ? '≤' : '≥'} ${target.ratio}×`;
}

/** The four cells of a row: measure | value | limit / target | ratio. */
export function cellsOf(row: Row): [string, string, string, string] {
  const limit = row.limit ? `${row.limit.label} ${formatQuantity(row.limit.value, row.limit.unit)}` : '';
  const target = row.target ? formatTarget(row.target) : '';
  const ratio = ratioOf(row);
  const verdict = verdictOf(row);
  const ratioCell = ratio === undefined ? '' : `${ratio.toFixed(2)}${verdict ? (verdict === 'met' ? ' ✓' : ' ✗') : ''}`;
  return [row.measure, formatQuantity(row.value, row.unit), [limit, target].filter(Boolean).join(' · '), ratioCell];
}

const HEADER = ['measure', 'value', 'limit / target', 'ratio'] as const;

/** A plain-text table, one block per section, notes under their row. */
export function renderTable(rows: readonly Row[]): string {
  const cells = rows.map(cellsOf);
  const widths = HEADER.map((h, i) => Math.max(h.length, ...cells.map((c) => [...c[i]!].length)));
  const line = (c: readonly string[]) =>
    c.map((text, i) => (i === 1 || i === 3 ? text.padStart(widths[i]!) : text.padEnd(widths[i]!))).join('  ').trimEnd();
  const out = [line(HEADER), widths.map((w) => '─'.repeat(w)).join('  ')];
  let section: string | undefined;
  rows.forEach((row, i) => {
    if (row.section !== section) {
      section = row.section;
      out.push(section);
    }
    out.push(line(cells[i]!));
    if (row.note) out.push(`    ${row.note}`);
  });
  return out.join('\n');
}

const escapeCell = (text: string) => text.replaceAll('|', '\\|');

/** The same table as Markdown: one table per section under its own heading, notes under their measure. */
export function renderMarkdown(rows: readonly Row[], headingLevel = 3): string {
  const out: string[] = [];
  let section: string | undefined;
  for (const row of rows) {
    if (row.section !== section) {
      section = row.section;
      if (out.length > 0) out.push('');
      out.push(`${'#'.repeat(headingLevel)} ${section}`, '', '| measure | value | limit / target | ratio |', '|---|--:|---|--:|');
    }
    const [measure, value, limit, ratio] = cellsOf(row).map(escapeCell);
    const note = row.note ? `<br><sub>${escapeCell(row.note)}</sub>` : '';
    out.push(`| ${measure}${note} | ${value} | ${limit} | ${ratio} |`);
  }
  return out.join('\n');
}
