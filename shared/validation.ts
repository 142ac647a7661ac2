import type { z } from 'zod';

/**
 * The one way a zod failure is told: as `details` entries for an API refusal, or as one line for
 * a log, an error message or a listing. Where and what, never the raw input.
 */

export interface IssueDetail {
  path: string;
  message: string;
}

export function issueDetails(error: z.ZodError, prefix: readonly (string | number)[] = []): IssueDetail[] {
  return error.issues.map((issue) => ({ path: [...prefix, ...issue.path.map(String)].join('.'), message: issue.message }));
}

/** `path: message; path: message` (at most `max` issues), `root` naming the value itself, each path after `prefix`. */
export function issuesLine(error: z.ZodError, options: number | { max?: number; root?: string; prefix?: string } = {}): string {
  const { max = 10, root = '(root)', prefix = '' } = typeof options === 'number' ? { max: options } : options;
  return error.issues
    .slice(0, max)
    .map((issue) => `${prefix}${issue.path.map(String).join('.') || root}: ${issue.message}`)
    .join('; ');
}
