import { type LookupAddress, lookup as dnsLookup } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { BlockList, isIP } from 'node:net';

/**
 * One webhook call, made so it cannot be pointed at what the service itself can reach: only
 * https, only public addresses — checked on the addresses the connection actually uses (after DNS
 * resolution, so a name that resolves to 10.0.0.1 or the instance metadata service is refused,
 * and DNS rebinding between a check and the connect cannot happen) — and redirects are not
 * followed (a 3xx is a failed delivery). `allowPrivate` lifts both rules, for the local cloud.
 */

const BLOCKED = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24], ['203.0.113.0', 24],
  ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) BLOCKED.addSubnet(network, prefix, 'ipv4');
for (const [network, prefix] of [
  ['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8], ['2001:db8::', 32], ['64:ff9b::', 96], ['100::', 64],
] as const) BLOCKED.addSubnet(network, prefix, 'ipv6');

/** Whether an address is one a public webhook may not reach (private, loopback, link-local incl. metadata, reserved). */
export function isBlockedAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return true;
  if (family === 6) {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    if (mapped) return BLOCKED.check(mapped[1]!, 'ipv4');
    return BLOCKED.check(address, 'ipv6');
  }
  return BLOCKED.check(address, 'ipv4');
}

export interface SendResult {
  /** HTTP status, or undefined when no response came (refused, timed out, blocked). */
  status?: number;
  /** What went wrong, for the job's `webhook.lastError`. */
  error?: string;
}

/** A DNS lookup that fails for any blocked address among the answers. */
function guardedLookup(hostname: string, options: object, callback: (error: Error | null, address: string | LookupAddress[], family?: number) => void) {
  dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
    if (error) return callback(error, '');
    const list = addresses as LookupAddress[];
    const blocked = list.find((a) => isBlockedAddress(a.address));
    if (blocked) return callback(new Error(`${hostname} resolves to ${blocked.address}, which is not a public address`), '');
    if ((options as { all?: boolean }).all) return callback(null, list);
    return callback(null, list[0]!.address, list[0]!.family);
  });
}

export async function postWebhook(
  url: string,
  headers: Record<string, string>,
  body: string,
  options: { timeoutMs: number; allowPrivate: boolean },
): Promise<SendResult> {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return { error: 'the webhook URL is not valid' };
  }
  const secure = target.protocol === 'https:';
  if (!secure && !(options.allowPrivate && target.protocol === 'http:')) return { error: 'the webhook URL must be https' };
  const host = target.hostname.replace(/^\[|\]$/g, '');
  if (!options.allowPrivate && isIP(host) && isBlockedAddress(host)) return { error: `${host} is not a public address` };

  return new Promise<SendResult>((resolve) => {
    const request = (secure ? https : http).request(
      target,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), 'user-agent': 'inference-pipeline-webhooks', ...headers },
        timeout: options.timeoutMs,
        ...(options.allowPrivate ? {} : { lookup: guardedLookup }),
      },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          if (text.length < 512) text += chunk;
        });
        response.on('end', () => {
          const status = response.statusCode ?? 0;
          if (status >= 200 && status < 300) resolve({ status });
          else if (status >= 300 && status < 400) resolve({ status, error: `redirect (${status}) not followed` });
          else resolve({ status, error: `HTTP ${status}${text ? `: ${text.slice(0, 200)}` : ''}` });
        });
        response.on('error', (error) => resolve({ status: response.statusCode, error: error.message }));
      },
    );
    // One deadline for the whole call, not only between packets.
    const timer = setTimeout(() => request.destroy(new Error(`no answer within ${options.timeoutMs} ms`)), options.timeoutMs);
    request.on('timeout', () => request.destroy(new Error(`no answer within ${options.timeoutMs} ms`)));
    request.on('error', (error) => resolve({ error: error.message }));
    request.on('close', () => clearTimeout(timer));
    request.end(body);
  });
}
