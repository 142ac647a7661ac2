import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CreateJobInput, PipelineClient, uploadToPresignedUrl } from '#shared/client/pipeline-client.ts';
import type { JobView } from '#shared/jobs/views.ts';
import { type LocalCloud, type LocalCloudOptions, startLocalCloud } from '../../scripts/local-cloud/cloud.ts';

/** A local cloud on free ports with fresh state in a temporary folder, for one test file. */
export interface TestCloud {
  cloud: LocalCloud;
  client: PipelineClient;
  stateDir: string;
  stop(): Promise<void>;
}

export async function startTestCloud(options: Omit<LocalCloudOptions, 'stateDir' | 'fresh' | 'apiPort'> & { stateDir?: string } = {}): Promise<TestCloud> {
  const stateDir = options.stateDir ?? mkdtempSync(join(tmpdir(), 'pipeline-test-'));
  const cloud = await startLocalCloud({
    ...options,
    stateDir,
    fresh: !options.stateDir,
    apiPort: 0,
    env: { POWERTOOLS_LOG_LEVEL: 'ERROR', POWERTOOLS_METRICS_DISABLED: 'true', ...options.env },
    worker: {
      timeoutSeconds: 30,
      // Redelivery after a failure within seconds rather than 6 × the timeout, so retries are testable;
      // long enough that a slow (loaded machine) first delivery is not redelivered while it still runs.
      visibilityTimeoutSeconds: 4,
      ...options.worker,
    },
  });
  return {
    cloud,
    client: new PipelineClient(cloud.endpoints.apiUrl, cloud.endpoints.apiKey),
    stateDir,
    async stop() {
      await cloud.stop();
      if (!options.stateDir) rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

/** Create a job for these bytes, upload them, and wait for the job to end. */
export async function submitBytes(
  client: PipelineClient,
  bytes: Buffer,
  contentType: string,
  input: Partial<CreateJobInput> = {},
): Promise<JobView> {
  const job = await client.createJob({ contentType, contentLength: bytes.length, ...input });
  await uploadToPresignedUrl(job.upload, bytes);
  return client.waitForJob(job.jobId, { timeoutMs: 45_000, minIntervalMs: 50 });
}
