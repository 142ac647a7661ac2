import { randomBytes } from 'node:crypto';
import { xmlDocument, xmlElement } from './xml.ts';

/** An S3 error reply: status, code, message and any extra elements S3 adds (e.g. StringToSign). */
export class S3Error extends Error {
  override readonly name = 'S3Error';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

export function newRequestId(): string {
  return randomBytes(8).toString('hex').toUpperCase();
}

/** The S3 error document. */
export function s3ErrorXml(error: S3Error, requestId: string, resource?: string): string {
  const extra = Object.entries(error.details).map(([name, value]) => xmlElement(name, value));
  return xmlDocument(
    xmlElement('Error', [
      xmlElement('Code', error.code),
      xmlElement('Message', error.message),
      ...extra,
      ...(resource === undefined ? [] : [xmlElement('Resource', resource)]),
      xmlElement('RequestId', requestId),
    ]),
  );
}

/** The errors several routes share, worded as S3 words them. */
export const s3Errors = {
  noSuchBucket: (bucket: string) => new S3Error(404, 'NoSuchBucket', 'The specified bucket does not exist', { BucketName: bucket }),
  noSuchKey: (key: string) => new S3Error(404, 'NoSuchKey', 'The specified key does not exist.', { Key: key }),
  noSuchUpload: (uploadId: string) =>
    new S3Error(404, 'NoSuchUpload', 'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.', {
      UploadId: uploadId,
    }),
  invalidArgument: (message: string, name: string, value: string) =>
    new S3Error(400, 'InvalidArgument', message, { ArgumentName: name, ArgumentValue: value }),
  malformedXml: () =>
    new S3Error(400, 'MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema'),
  methodNotAllowed: (method: string) =>
    new S3Error(405, 'MethodNotAllowed', 'The specified method is not allowed against this resource.', { Method: method }),
  notImplemented: (what: string) => new S3Error(501, 'NotImplemented', `A header or query you provided implies functionality that is not implemented: ${what}`),
  internal: (detail: string) => new S3Error(500, 'InternalError', `We encountered an internal error. Please try again. (${detail})`),
};
