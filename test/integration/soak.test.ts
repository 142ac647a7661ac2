import { describe, expect, it } from 'vitest';
import { runSoak } from '../../scripts/soak/run.ts';

/**
 * The soak in small: 30 images and 3 bad files through the backfill CLI against the local cloud
 * (both child processes), the cloud killed twice and the CLI once and resumed, at seeded moments.
 * Afterwards every file has exactly one row, no job is left unfinished, nothing was uploaded or
 * processed twice, and every good image succeeded (`npm run soak` runs the long one).
 */

describe('the soak', () => {
  it('ends with every file answered once and nothing stuck, sent twice or lost, after two cloud kills and a CLI kill', async () => {
    const report = await runSoak({ images: 30, bad: 3, cloudKills: 2, cliKills: 1, seed: 7, maxMinutes: 3 });
    const failed = report.checks.filter((c) => !c.ok);
    expect(failed, JSON.stringify(failed, null, 2)).toEqual([]);
    expect(report.fired.map((f) => f.disruption.target).sort()).toEqual(['cli', 'cloud', 'cloud']);
    // The CLI was SIGKILLed once, so it ran at least twice, the last time resumed.
    expect(report.cliRuns.length).toBeGreaterThanOrEqual(2);
    expect(report.cliRuns.at(-1)!.resumed).toBe(true);
  }, 200_000);
});
