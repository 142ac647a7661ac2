import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiRequestError } from '#shared/client/pipeline-client.ts';
import { startTestCloud, type TestCloud } from '../helpers/local-cloud.ts';

/** Without a Gemini key the local cloud still runs: presets are listed unavailable, and jobs for them are refused up front. */

let t: TestCloud;

beforeAll(async () => {
  // A key in the developer's shell must not leak into this test.
  delete process.env.GEMINI_API_KEY;
  delete process.env.GEMINI_API_KEY_SECRET_ARN;
  t = await startTestCloud();
});
afterAll(() => t?.stop());

describe('Gemini without a key', () => {
  it('lists the presets as unavailable with the reason, and the ONNX models as available', async () => {
    const models = await t.client.listModels();
    const describePreset = models.find((m) => m.name === 'gemini/describe');
    expect(describePreset).toMatchObject({ kind: 'gemini', available: false });
    expect(describePreset!.reason).toMatch(/GEMINI_API_KEY is not set/);
    expect(models.find((m) => m.name === 'onnx/colors')).toMatchObject({ available: true });
  });

  it('refuses POST /v1/jobs for a preset with 422 model_unavailable and the reason, before any upload URL', async () => {
    const refusal = await t.client
      .createJob({ model: 'gemini/describe', contentType: 'image/jpeg', contentLength: 1000, params: { speed: 'fast' } })
      .catch((e: unknown) => e);
    expect(refusal).toBeInstanceOf(ApiRequestError);
    const error = refusal as ApiRequestError;
    expect(error.status).toBe(422);
    expect(error.code).toBe('model_unavailable');
    expect(error.message).toMatch(/gemini\/describe is unavailable: GEMINI_API_KEY is not set/);
  });
});
