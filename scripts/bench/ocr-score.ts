/** How close OCR output is to the text drawn: character error rate and line recall. */

/** Runs of whitespace as one space, trimmed: layout spacing is not what OCR is scored on. */
export const normalizeWhitespace = (text: string) => text.replace(/\s+/g, ' ').trim();

/** Edit distance (insertions, deletions, substitutions) between two strings, by code point. */
export function levenshtein(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  let previous = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const current = [i];
    for (let j = 1; j <= y.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (x[i - 1] === y[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[y.length]!;
}

/** Character error rate of the read text against the expected lines (both joined, whitespace normalised). */
export function characterErrorRate(expected: readonly string[], read: string): { errors: number; characters: number } {
  const truth = normalizeWhitespace(expected.join('\n'));
  return { errors: levenshtein(truth, normalizeWhitespace(read)), characters: [...truth].length };
}

/** A line counts as found when some line read is within this share of its length in edits. */
export const LINE_MATCH_CER = 0.1;

/** How many expected lines were read, each matched to a distinct read line. */
export function linesFound(expected: readonly string[], read: readonly string[]): number {
  const unused = read.map(normalizeWhitespace);
  let found = 0;
  for (const line of expected.map(normalizeWhitespace)) {
    const index = unused.findIndex((r) => levenshtein(line, r) <= LINE_MATCH_CER * line.length);
    if (index >= 0) {
      found++;
      unused.splice(index, 1);
    }
  }
  return found;
}
