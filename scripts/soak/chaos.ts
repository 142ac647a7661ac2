import { seededRandom } from '../lib/seeded-random.ts';

/**
 * When the soak hurts the run, decided from the seed before it starts: each disruption fires once
 * the run has made a seeded share of its progress (uploads on record plus result rows), so the
 * same seed hits the same stage of the run on a fast machine and a slow one.
 */

export type Disruption =
  | { target: 'cloud'; signal: 'SIGKILL' | 'SIGINT'; atShare: number; downtimeMs: number }
  | { target: 'cli'; signal: 'SIGKILL'; atShare: number };

/** Disruptions fall between these shares of the progress: never before the run has begun, and with some run left after. */
const SHARE_RANGE = { from: 0.03, to: 0.85 } as const;
/** The share of cloud disruptions that are one Ctrl-C (a draining stop) rather than a SIGKILL. */
const CTRL_C_SHARE = 0.3;
/** How long the cloud stays down before it is started again, ms. */
const DOWNTIME_MS = { min: 200, max: 3_000 } as const;

export function planDisruptions(counts: { cloudKills: number; cliKills: number }, seed: number): Disruption[] {
  // A stream of its own, so the corpus and the plan do not shift each other when counts change.
  const random = seededRandom(seed ^ 0x5eed);
  const share = () => SHARE_RANGE.from + random() * (SHARE_RANGE.to - SHARE_RANGE.from);
  const plan: Disruption[] = [];
  for (let i = 0; i < counts.cloudKills; i++) {
    const signal = random() < CTRL_C_SHARE ? 'SIGINT' : 'SIGKILL';
    plan.push({ target: 'cloud', signal, atShare: share(), downtimeMs: Math.round(DOWNTIME_MS.min + random() * (DOWNTIME_MS.max - DOWNTIME_MS.min)) });
  }
  for (let i = 0; i < counts.cliKills; i++) plan.push({ target: 'cli', signal: 'SIGKILL', atShare: share() });
  return plan.sort((a, b) => a.atShare - b.atShare);
}
