import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { RETRY_DELAYS_SECONDS, RETRY_JITTER, RETRY_SPAN_SECONDS, retryDelaySeconds } from '#shared/webhooks/schedule.ts';
import { isBlockedAddress, postWebhook } from '#shared/webhooks/send.ts';
import { signature, signedHeaders, verifyWebhook, WebhookVerificationError } from '#shared/webhooks/signing.ts';

describe('Standard Webhooks signatures', () => {
  // The specification's published example (standardwebhooks.com): secret, id, timestamp, body → signature.
  const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
  const ID = 'msg_p5jXN8AQM9LWM0D4loKWxJek';
  const TIMESTAMP = 1614265330;
  const BODY = '{"test": 2432232314}';

  it('signs the specification example as it says', () => {
    expect(signature(SECRET, ID, TIMESTAMP, BODY)).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });

  it('verifies a delivery within the tolerance and returns its payload', () => {
    const headers = signedHeaders([SECRET], ID, TIMESTAMP, BODY);
    expect(verifyWebhook(SECRET, headers, BODY, { now: TIMESTAMP * 1000 + 60_000 })).toEqual({ test: 2432232314 });
    expect(verifyWebhook(SECRET, new Headers(headers), Buffer.from(BODY), { now: TIMESTAMP * 1000 })).toEqual({ test: 2432232314 });
  });

  it('refuses a stale or future timestamp, a changed body, another secret, and missing headers', () => {
    const headers = signedHeaders([SECRET], ID, TIMESTAMP, BODY);
    const at = (seconds: number) => ({ now: (TIMESTAMP + seconds) * 1000 });
    expect(() => verifyWebhook(SECRET, headers, BODY, at(301))).toThrow(/too far/);
    expect(() => verifyWebhook(SECRET, headers, BODY, at(-301))).toThrow(/too far/);
    expect(() => verifyWebhook(SECRET, headers, BODY.replace('2', '3'), at(0))).toThrow(WebhookVerificationError);
    expect(() => verifyWebhook('whsec_aW52YWxpZHNlY3JldGludmFsaWRzZWNyZXQ=', headers, BODY, at(0))).toThrow(/no signature/);
    expect(() => verifyWebhook(SECRET, { 'webhook-id': ID }, BODY, at(0))).toThrow(/missing/);
  });

  it('sends one signature per active secret, space-separated, any of which verifies', () => {
    const other = 'whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD';
    const headers = signedHeaders([other, SECRET], ID, TIMESTAMP, BODY);
    expect(headers['webhook-signature']!.split(' ')).toHaveLength(2);
    for (const secret of [other, SECRET]) expect(verifyWebhook(secret, headers, BODY, { now: TIMESTAMP * 1000 })).toEqual({ test: 2432232314 });
  });
});

describe('who a webhook may call', () => {
  it.each(['127.0.0.1', '10.1.2.3', '172.16.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', 'fd00::1', 'fe80::1', '::ffff:10.0.0.1', '::ffff:127.0.0.1'])(
    'refuses %s',
    (address) => expect(isBlockedAddress(address)).toBe(true),
  );

  it.each(['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111', '::ffff:8.8.8.8'])('allows the public address %s', (address) => {
    expect(isBlockedAddress(address)).toBe(false);
  });

  it('refuses a name that resolves to loopback, and http, before any request is made', async () => {
    let requests = 0;
    const server = createServer((_req, res) => {
      requests++;
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const viaName = await postWebhook(`https://localhost:${port}/hook`, {}, '{}', { timeoutMs: 2000, allowPrivate: false });
      expect(viaName.status).toBeUndefined();
      expect(viaName.error).toMatch(/not a public address/);
      const literal = await postWebhook(`https://127.0.0.1:${port}/hook`, {}, '{}', { timeoutMs: 2000, allowPrivate: false });
      expect(literal.error).toMatch(/not a public address/);
      const plain = await postWebhook(`http://example.com/hook`, {}, '{}', { timeoutMs: 2000, allowPrivate: false });
      expect(plain.error).toMatch(/https/);
      expect(requests).toBe(0);
      // The local cloud's setting lets a loopback receiver be called; a redirect is a failure, not followed.
      server.removeAllListeners('request');
      server.on('request', (_req, res) => {
        requests++;
        res.writeHead(302, { location: 'http://169.254.169.254/' }).end();
      });
      const redirected = await postWebhook(`http://127.0.0.1:${port}/hook`, {}, '{}', { timeoutMs: 2000, allowPrivate: true });
      expect(redirected).toMatchObject({ status: 302, error: expect.stringMatching(/redirect/) });
      expect(requests).toBe(1);
    } finally {
      server.close();
    }
  });
});

describe('the retry schedule', () => {
  it('retries for at least a day, then gives up', () => {
    expect(RETRY_SPAN_SECONDS * (1 - RETRY_JITTER)).toBeGreaterThanOrEqual(24 * 3600 * 0.95);
    expect(RETRY_SPAN_SECONDS).toBeGreaterThanOrEqual(24 * 3600);
    expect(retryDelaySeconds(RETRY_DELAYS_SECONDS.length + 1)).toBeUndefined();
  });

  it('backs off exponentially-ish with jitter inside ±20 %', () => {
    for (let attempt = 1; attempt <= RETRY_DELAYS_SECONDS.length; attempt++) {
      const base = RETRY_DELAYS_SECONDS[attempt - 1]!;
      expect(retryDelaySeconds(attempt, () => 0)).toBe(Math.max(1, Math.round(base * 0.8)));
      expect(retryDelaySeconds(attempt, () => 1)).toBe(Math.round(base * 1.2));
      if (attempt > 1) expect(base).toBeGreaterThanOrEqual(RETRY_DELAYS_SECONDS[attempt - 2]!);
    }
  });
});
