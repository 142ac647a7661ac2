import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startLocalCloud } from '../local-cloud/cloud.ts';
import { summarize } from './stats.ts';

/**
 * What per-key limits add to a request: the API function's one extra call, chargeRequest (one
 * conditional UpdateItem on the caller's limits item), timed against the local cloud's DynamoDB,
 * beside the whole authenticated request (GET /v1/models) for scale.
 * `npx tsx scripts/bench/rate-limit.ts [--requests N]`
 */

export interface RateLimitCost {
  requests: number;
  /** p50 of chargeRequest alone: what the limits add to each request. */
  addedP50Ms: number;
  addedP95Ms: number;
  /** p50 of a whole GET /v1/models with a key, the charge included. */
  requestP50Ms: number;
}

export async function measureRateLimitCost(requests = 500): Promise<RateLimitCost> {
  const stateDir = mkdtempSync(join(tmpdir(), 'bench-rate-limit-'));
  const cloud = await startLocalCloud({ stateDir, fresh: true, apiPort: 0, env: { POWERTOOLS_LOG_LEVEL: 'ERROR' } });
  try {
    const { chargeRequest } = await import('#shared/auth/rate-limits.ts');
    const plan = { rate: 1_000_000, burst: 1_000_000, quota: 1_000_000_000, quotaPeriod: 'day' } as const;
    const charge: number[] = [];
    const whole: number[] = [];
    for (let i = 0; i < requests + 20; i++) {
      let start = performance.now();
      await chargeRequest('apikey:bench', plan);
      const charged = performance.now() - start;
      start = performance.now();
      const response = await fetch(`${cloud.endpoints.apiUrl}/v1/models`, { headers: { 'x-api-key': cloud.endpoints.apiKey } });
      await response.arrayBuffer();
      // The first 20 warm the connections, the authorizer cache and the limiter's branch guess.
      if (i >= 20) {
        charge.push(charged);
        whole.push(performance.now() - start);
      }
    }
    const added = summarize(charge);
    return { requests, addedP50Ms: added.p50, addedP95Ms: added.p95, requestP50Ms: summarize(whole).p50 };
  } finally {
    await cloud.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const index = process.argv.indexOf('--requests');
  const result = await measureRateLimitCost(index > 0 ? Number(process.argv[index + 1]) : 500);
  console.log(JSON.stringify(result, null, 2));
  process.exit(0);
}
