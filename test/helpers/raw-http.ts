/** A raw request to the API as any client might send it (bytes as given), and its reply parsed if it is JSON. */
export interface RawReply {
  status: number;
  text: string;
  // Tests read into replies freely; the shape is what they assert.
  body: any;
}

export async function sendRaw(api: string, key: string, method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<RawReply> {
  const response = await fetch(api + path, {
    method,
    headers: { 'x-api-key': key, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body,
  });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: response.status, text, body: parsed };
}
