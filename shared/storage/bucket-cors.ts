/**
 * The bucket's CORS rule, less its origins (a deployment setting): browsers PUT uploads to presigned
 * URLs and GET presigned results, sending only the headers the upload URL signs. One definition
 * for the AWS stack's bucket and the local cloud's, so a browser refused on AWS is refused locally.
 */
export const BUCKET_CORS = {
  allowedMethods: ['PUT', 'GET'],
  allowedHeaders: ['content-type', 'content-length'],
  exposedHeaders: ['ETag'],
  maxAgeSeconds: 3600,
} as const;
