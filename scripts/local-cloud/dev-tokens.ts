import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLocalJWKSet, exportJWK, generateKeyPair, importJWK, type JSONWebKeySet, type JWK, type JWTVerifyGetKey, SignJWT } from 'jose';
import type { JwtSettings } from '#shared/auth/jwt.ts';

/**
 * The local cloud's token issuer, standing in for a Cognito user pool: one ES256 signing key,
 * made on first start and kept in the state folder, its public half served as a JWKS by the local
 * gateway (GET /.well-known/jwks.json), and dev tokens minted with it (`npm run token`).
 */

export const LOCAL_JWT: JwtSettings = { issuer: 'http://localhost/local-cloud', audience: 'local-cloud-app' };
const KEY_FILE = 'jwt-signing-key.json';
const ALGORITHM = 'ES256';
/** A dev token's default lifetime. */
export const DEV_TOKEN_TTL_SECONDS = 3600;

export interface LocalIssuer {
  settings: JwtSettings;
  jwks: JSONWebKeySet;
  keys: JWTVerifyGetKey;
}

async function signingKey(stateDir: string): Promise<JWK> {
  const file = join(stateDir, KEY_FILE);
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as JWK;
  const { privateKey } = await generateKeyPair(ALGORITHM, { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), kid: randomUUID(), alg: ALGORITHM, use: 'sig' };
  writeFileSync(file, `${JSON.stringify(jwk)}\n`, { mode: 0o600 });
  return jwk;
}

export async function localIssuer(stateDir: string): Promise<LocalIssuer> {
  const { d: _private, ...publicKey } = await signingKey(stateDir);
  const jwks = { keys: [publicKey] };
  return { settings: LOCAL_JWT, jwks, keys: createLocalJWKSet(jwks) };
}

export interface DevTokenOptions {
  sub: string;
  scopes?: string[];
  ttlSeconds?: number;
  /** Defaults to the local issuer's; tests pass another to be refused. */
  audience?: string;
}

export async function mintDevToken(stateDir: string, options: DevTokenOptions): Promise<string> {
  const jwk = await signingKey(stateDir);
  const key = await importJWK(jwk, ALGORITHM);
  return new SignJWT({ ...(options.scopes?.length ? { scope: options.scopes.join(' ') } : {}) })
    .setProtectedHeader({ alg: ALGORITHM, kid: jwk.kid!, typ: 'JWT' })
    .setIssuer(LOCAL_JWT.issuer)
    .setAudience(options.audience ?? LOCAL_JWT.audience)
    .setSubject(options.sub)
    .setIssuedAt()
    .setExpirationTime(`${options.ttlSeconds ?? DEV_TOKEN_TTL_SECONDS}s`)
    .sign(key);
}
