/**
 * ListObjectsV2 and ListObjects (v1): pages over the store's sorted keys. A page is at most 1,000
 * entries (keys plus common prefixes, as S3 counts); the continuation token is the last entry
 * returned, base64url-encoded (opaque to clients, and valid across restarts).
 */
import { S3Error } from './errors.ts';
import type { ObjectMeta } from './object-file.ts';
import { compareKeys, lowerBound } from './store.ts';
import { xmlElement, xmlRoot } from './xml.ts';

/** S3 returns at most this many entries per list call, whatever max-keys asks. */
export const MAX_LIST_KEYS = 1000;

export interface ListQuery {
  prefix: string;
  delimiter: string | undefined;
  /** List only entries after this one (a key, or a common prefix a previous page returned). */
  after: string | undefined;
  maxKeys: number;
}

export interface ListPage {
  keys: string[];
  commonPrefixes: string[];
  isTruncated: boolean;
  /** The last entry on the page: where the next page starts after. */
  lastEntry: string | undefined;
}

export function listPage(sortedKeys: readonly string[], query: ListQuery): ListPage {
  const { prefix, delimiter, after, maxKeys } = query;
  const page: ListPage = { keys: [], commonPrefixes: [], isTruncated: false, lastEntry: undefined };
  const startFrom = after !== undefined && compareKeys(after, prefix) >= 0 ? after : prefix;
  let i = lowerBound(sortedKeys, startFrom);
  // A common prefix returned last time stands for all its keys: skip them.
  let lastPrefix = after;
  for (; i < sortedKeys.length; i += 1) {
    const key = sortedKeys[i]!;
    if (!key.startsWith(prefix)) break;
    if (after !== undefined && compareKeys(key, after) <= 0) continue;
    const cut = delimiter ? key.indexOf(delimiter, prefix.length) : -1;
    const commonPrefix = cut === -1 ? undefined : key.slice(0, cut + delimiter!.length);
    if (commonPrefix !== undefined && commonPrefix === lastPrefix) continue;
    if (page.keys.length + page.commonPrefixes.length >= maxKeys) {
      page.isTruncated = true;
      break;
    }
    if (commonPrefix !== undefined) {
      page.commonPrefixes.push(commonPrefix);
      lastPrefix = commonPrefix;
      page.lastEntry = commonPrefix;
    } else {
      page.keys.push(key);
      page.lastEntry = key;
    }
  }
  return page;
}

export function encodeContinuationToken(lastEntry: string): string {
  return Buffer.from(lastEntry, 'utf8').toString('base64url');
}

export function decodeContinuationToken(token: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(token)) {
    throw new S3Error(400, 'InvalidArgument', 'The continuation token provided is incorrect', {
      ArgumentName: 'continuation-token',
      ArgumentValue: token,
    });
  }
  return Buffer.from(token, 'base64url').toString('utf8');
}

export function parseMaxKeys(text: string | undefined): number {
  if (text === undefined) return MAX_LIST_KEYS;
  if (!/^\d+$/.test(text)) {
    throw new S3Error(400, 'InvalidArgument', 'Provided max-keys not an integer or within integer range', {
      ArgumentName: 'max-keys',
      ArgumentValue: text,
    });
  }
  return Math.min(Number(text), MAX_LIST_KEYS);
}

/** `encoding-type=url` (the AWS CLI always asks for it): keys and prefixes URL-encoded in the reply. */
export type KeyEncoder = (text: string) => string;
export const urlKeyEncoder: KeyEncoder = (text) => encodeURIComponent(text).replace(/%2F/g, '/');
export const plainKeyEncoder: KeyEncoder = (text) => text;

const OWNER_ID = 'localcloudowner';

function contentsXml(meta: ObjectMeta, encode: KeyEncoder, withOwner: boolean): string {
  return xmlElement('Contents', [
    xmlElement('Key', encode(meta.key)),
    xmlElement('LastModified', meta.lastModified),
    xmlElement('ETag', meta.eTag),
    xmlElement('Size', meta.size),
    ...(withOwner ? [xmlElement('Owner', [xmlElement('ID', OWNER_ID), xmlElement('DisplayName', 'local')])] : []),
    xmlElement('StorageClass', 'STANDARD'),
  ]);
}

function entriesXml(page: ListPage, lookup: (key: string) => ObjectMeta | undefined, encode: KeyEncoder, withOwner: boolean): string[] {
  return [
    ...page.keys.flatMap((key) => {
      const meta = lookup(key);
      return meta ? [contentsXml(meta, encode, withOwner)] : [];
    }),
    ...page.commonPrefixes.map((p) => xmlElement('CommonPrefixes', [xmlElement('Prefix', encode(p))])),
  ];
}

export interface ListV2Reply {
  bucket: string;
  query: ListQuery;
  page: ListPage;
  continuationToken: string | undefined;
  startAfter: string | undefined;
  encodingType: 'url' | undefined;
  fetchOwner: boolean;
}

export function listV2Xml(reply: ListV2Reply, lookup: (key: string) => ObjectMeta | undefined): string {
  const encode = reply.encodingType === 'url' ? urlKeyEncoder : plainKeyEncoder;
  const { page, query } = reply;
  return xmlRoot('ListBucketResult', [
    xmlElement('Name', reply.bucket),
    xmlElement('Prefix', encode(query.prefix)),
    ...(query.delimiter ? [xmlElement('Delimiter', encode(query.delimiter))] : []),
    xmlElement('MaxKeys', query.maxKeys),
    ...(reply.encodingType ? [xmlElement('EncodingType', reply.encodingType)] : []),
    xmlElement('KeyCount', page.keys.length + page.commonPrefixes.length),
    ...(reply.continuationToken !== undefined ? [xmlElement('ContinuationToken', reply.continuationToken)] : []),
    ...(reply.startAfter !== undefined ? [xmlElement('StartAfter', encode(reply.startAfter))] : []),
    xmlElement('IsTruncated', page.isTruncated),
    ...(page.isTruncated && page.lastEntry !== undefined ? [xmlElement('NextContinuationToken', encodeContinuationToken(page.lastEntry))] : []),
    ...entriesXml(page, lookup, encode, reply.fetchOwner),
  ]);
}

export function listV1Xml(
  reply: { bucket: string; query: ListQuery; page: ListPage; marker: string; encodingType: 'url' | undefined },
  lookup: (key: string) => ObjectMeta | undefined,
): string {
  const encode = reply.encodingType === 'url' ? urlKeyEncoder : plainKeyEncoder;
  const { page, query } = reply;
  return xmlRoot('ListBucketResult', [
    xmlElement('Name', reply.bucket),
    xmlElement('Prefix', encode(query.prefix)),
    xmlElement('Marker', encode(reply.marker)),
    ...(query.delimiter ? [xmlElement('Delimiter', encode(query.delimiter))] : []),
    xmlElement('MaxKeys', query.maxKeys),
    ...(reply.encodingType ? [xmlElement('EncodingType', reply.encodingType)] : []),
    xmlElement('IsTruncated', page.isTruncated),
    ...(page.isTruncated && page.lastEntry !== undefined ? [xmlElement('NextMarker', encode(page.lastEntry))] : []),
    ...entriesXml(page, lookup, encode, true),
  ]);
}
