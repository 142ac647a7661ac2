import { S3Error } from './errors.ts';

/** One query parameter, decoded. */
export interface QueryParam {
  name: string;
  value: string;
}

/** What a path-style S3 request addresses. */
export interface RequestTarget {
  /** The path as received, still percent-encoded (SigV4 canonicalises from it). */
  rawPath: string;
  query: QueryParam[];
  /** '' for service-level requests (ListBuckets). */
  bucket: string;
  /** Object key (decoded), '' for service- and bucket-level requests. */
  key: string;
}

export function decodeComponent(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new S3Error(400, 'InvalidURI', "Couldn't parse the specified URI.");
  }
}

export function parseTarget(url: string): RequestTarget {
  const q = url.indexOf('?');
  const rawPath = q === -1 ? url : url.slice(0, q);
  const rawQuery = q === -1 ? '' : url.slice(q + 1);
  if (!rawPath.startsWith('/')) throw new S3Error(400, 'InvalidURI', "Couldn't parse the specified URI.");
  const query = rawQuery
    .split('&')
    .filter((raw) => raw !== '')
    .map((raw) => {
      const eq = raw.indexOf('=');
      return { name: decodeComponent(eq === -1 ? raw : raw.slice(0, eq)), value: decodeComponent(eq === -1 ? '' : raw.slice(eq + 1)) };
    });
  const slash = rawPath.indexOf('/', 1);
  const bucket = decodeComponent(slash === -1 ? rawPath.slice(1) : rawPath.slice(1, slash));
  const key = slash === -1 ? '' : decodeComponent(rawPath.slice(slash + 1));
  return { rawPath, query, bucket, key };
}

export function queryValue(target: RequestTarget, name: string): string | undefined {
  return target.query.find((p) => p.name === name)?.value;
}

export function hasQuery(target: RequestTarget, name: string): boolean {
  return target.query.some((p) => p.name === name);
}
