import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { Config } from '../../config.ts';
import { JobFailure } from '../../errors.ts';

/**
 * The Gemini API key: GEMINI_API_KEY as is (local use), else the Secrets Manager secret
 * GEMINI_API_KEY_SECRET_ARN, read once per process (cold start) and kept. A failed read, or a
 * secret still holding the stack's placeholder, is not kept, so the next job reads again. The key
 * is never logged or put in an error.
 */

let secretClient: SecretsManagerClient | undefined;
let fromSecret: Promise<string> | undefined;

export function geminiApiKey(config: Pick<Config, 'AWS_REGION' | 'GEMINI_API_KEY' | 'GEMINI_API_KEY_SECRET_ARN'>): Promise<string> {
  if (config.GEMINI_API_KEY) return Promise.resolve(config.GEMINI_API_KEY);
  const secretId = config.GEMINI_API_KEY_SECRET_ARN;
  if (!secretId) return Promise.reject(JobFailure.permanent('model_error', 'Gemini is not configured: GEMINI_API_KEY is not set'));
  if (!fromSecret) {
    secretClient ??= new SecretsManagerClient({ region: config.AWS_REGION });
    fromSecret = readSecret(secretClient, secretId);
    fromSecret.catch(() => (fromSecret = undefined));
  }
  return fromSecret;
}

/** After Gemini refused the key (revoked, rotated): the next job reads the secret again. */
export function forgetApiKey(): void {
  fromSecret = undefined;
}

async function readSecret(client: SecretsManagerClient, secretId: string): Promise<string> {
  let secret: string | undefined;
  try {
    secret = (await client.send(new GetSecretValueCommand({ SecretId: secretId }))).SecretString;
  } catch (error) {
    // Access denied, throttling, a network hiccup: the job goes back to the queue and may succeed later.
    throw JobFailure.transient('provider_unavailable', `could not read the Gemini API key secret: ${(error as Error).name}`, error);
  }
  const key = apiKeyFromSecretString(secret);
  // Nothing to retry until someone puts the key: say so now rather than after every redelivery.
  if (!key) {
    throw JobFailure.permanent('provider_unavailable', 'Gemini is not set up: the API key secret holds no key yet (aws secretsmanager put-secret-value, docs/gemini.md)');
  }
  return key;
}

/** The secret as stored: the bare key, or JSON `{"apiKey": "…"}` / `{"GEMINI_API_KEY": "…"}` (the console's key/value form). */
export function apiKeyFromSecretString(secret: string | undefined): string | undefined {
  const text = secret?.trim();
  if (!text) return undefined;
  if (text.startsWith('{')) {
    try {
      const fields = JSON.parse(text) as Record<string, unknown>;
      const key = fields.apiKey ?? fields.GEMINI_API_KEY;
      return typeof key === 'string' && key.trim() ? key.trim() : undefined;
    } catch {
      return undefined;
    }
  }
  return text;
}
