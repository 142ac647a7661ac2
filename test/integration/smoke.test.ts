import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatReport, runSmoke } from '../../scripts/smoke/run.ts';
import { startTestCloud, type TestCloud } from '../helpers/local-cloud.ts';

/** The deployment smoke test, run against the local cloud (as it runs against a deployed stack). */

let t: TestCloud;
beforeAll(async () => {
  t = await startTestCloud();
});
afterAll(() => t?.stop());

describe('npm run smoke', () => {
  it('passes every step against a working pipeline, with timings', async () => {
    const report = await runSmoke({ apiUrl: t.cloud.endpoints.apiUrl, apiKey: t.cloud.endpoints.apiKey });
    expect(report.steps.filter((s) => !s.ok)).toEqual([]);
    expect(report.steps.map((s) => s.name)).toEqual([
      'health',
      'wrong key is refused',
      'models',
      'create job',
      'upload of another size is refused',
      'upload',
      'result',
      "someone else's job id is not found",
    ]);
    expect(report.steps.find((s) => s.name === 'result')!.detail).toMatch(/^blue \d\.\d\d, white/);
    expect(formatReport(report)).toContain('smoke test passed');
  });

  it('fails, naming the step, when the model is not served', async () => {
    const report = await runSmoke({ apiUrl: t.cloud.endpoints.apiUrl, apiKey: t.cloud.endpoints.apiKey, model: 'onnx/absent' });
    expect(report.ok).toBe(false);
    expect(report.steps.at(-1)).toMatchObject({ name: 'models', ok: false });
    expect(report.steps.at(-1)!.detail).toContain('onnx/absent is not served');
  });

  it('runs as a command and exits 1 on a bad key', async () => {
    // Asynchronously: the local cloud answering the command lives in this process.
    const run = await promisify(execFile)('npx', ['tsx', 'scripts/smoke/main.ts', '--api', t.cloud.endpoints.apiUrl, '--key', 'aip_wrong'], {
      encoding: 'utf8',
    }).then(
      ({ stdout }) => ({ status: 0, stdout }),
      (error: { code: number; stdout: string }) => ({ status: error.code, stdout: error.stdout }),
    );
    expect(run.status).toBe(1);
    expect(run.stdout).toMatch(/FAIL\s+models/);
    expect(run.stdout).toContain('smoke test FAILED');
  });
});
