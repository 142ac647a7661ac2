import { createRemoteJWKSet, errors, type JWTVerifyGetKey, jwtVerify } from 'jose';
import { getConfig } from '../config.ts';

/**
 * Bearer JWTs, checked as API Gateway's JWT authorizer checks them: signature against the
 * issuer's key set, `iss`, expiry, and the audience in `aud` or — Cognito access tokens carry no
 * `aud` — in `client_id`. The caller is the token's `sub`.
 */

export interface JwtSettings {
  issuer: string;
  audience: string;
}

export interface JwtIdentity {
  sub: string;
  scopes: string[];
}

export type JwtCheck = { identity: JwtIdentity } | { problem: string };

/** Seconds of clock difference tolerated between the issuer and us. */
export const JWT_CLOCK_TOLERANCE_SECONDS = 30;

export function bearerToken(authorization: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)$/i.exec(authorization?.trim() ?? '');
  return match?.[1];
}

export async function verifyJwt(token: string, keys: JWTVerifyGetKey, settings: JwtSettings): Promise<JwtCheck> {
  try {
    const { payload } = await jwtVerify(token, keys, { issuer: settings.issuer, clockTolerance: JWT_CLOCK_TOLERANCE_SECONDS });
    const audiences = typeof payload.aud === 'string' ? [payload.aud] : (payload.aud ?? []);
    if (!audiences.includes(settings.audience) && payload.client_id !== settings.audience) {
      return { problem: 'token audience does not match' };
    }
    if (typeof payload.sub !== 'string' || payload.sub === '') return { problem: 'token has no sub' };
    const scopes = typeof payload.scope === 'string' ? payload.scope.split(' ').filter(Boolean) : [];
    return { identity: { sub: payload.sub, scopes } };
  } catch (error) {
    if (error instanceof errors.JOSEError) return { problem: `invalid token (${error.code})` };
    throw error;
  }
}

let remoteKeys: { url: string; keys: JWTVerifyGetKey } | undefined;

/** The configured issuer's settings and key set (fetched and cached by jose), or undefined when JWTs are not configured. */
export function configuredJwt(): { settings: JwtSettings; keys: JWTVerifyGetKey } | undefined {
  const c = getConfig();
  if (!c.JWT_ISSUER || !c.JWT_AUDIENCE) return undefined;
  const url = c.JWT_JWKS_URL ?? `${c.JWT_ISSUER.replace(/\/$/, '')}/.well-known/jwks.json`;
  if (remoteKeys?.url !== url) remoteKeys = { url, keys: createRemoteJWKSet(new URL(url)) };
  return { settings: { issuer: c.JWT_ISSUER, audience: c.JWT_AUDIENCE }, keys: remoteKeys.keys };
}
