import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local server speaking the Gemini API's REST `generateContent`, as @google/genai calls it:
 * `POST {baseUrl}/v1beta/models/{model}:generateContent` with `x-goog-api-key` and a JSON body
 * `{contents, systemInstruction?, generationConfig}`. Replies are scripted in order (then the
 * fallback, a 400 that names the unscripted call); every request is recorded.
 */

export interface GenerateContentBody {
  contents: { role?: string; parts: { text?: string; inlineData?: { mimeType: string; data: string } }[] }[];
  systemInstruction?: unknown;
  generationConfig?: {
    temperature?: number;
    responseMimeType?: string;
    responseJsonSchema?: Record<string, unknown>;
    responseSchema?: unknown;
    thinkingConfig?: { thinkingBudget?: number; includeThoughts?: boolean };
  };
}

export interface RecordedRequest {
  method: string;
  path: string;
  /** The model id from the path. */
  model: string;
  headers: IncomingHttpHeaders;
  body: GenerateContentBody;
  /** Epoch ms the request arrived. */
  at: number;
}

export interface FakeReply {
  status: number;
  /** Sent as JSON. */
  body: unknown;
  headers?: Record<string, string>;
  /** Wait this long before answering (per-call timeout tests). */
  delayMs?: number;
}

export interface FakeGemini {
  /** For GEMINI_BASE_URL. */
  url: string;
  /** The key calls must carry in x-goog-api-key (undefined: any); others get Gemini's API_KEY_INVALID. */
  apiKey: string | undefined;
  requests: RecordedRequest[];
  /** Queue replies for the next calls, in order. */
  script(...replies: FakeReply[]): void;
  /** Forget requests and queued replies. */
  reset(): void;
  close(): Promise<void>;
}

const usageMetadata = { promptTokenCount: 1_290, candidatesTokenCount: 142, thoughtsTokenCount: 64, totalTokenCount: 1_496 };

/** Replies as the real API sends them. */
export const reply = {
  /** 200 with one candidate whose text is `data` as JSON. */
  answer(data: unknown, options: { modelVersion?: string; finishReason?: string } = {}): FakeReply {
    return reply.text(JSON.stringify(data), options);
  },
  /** 200 with one candidate whose text is given as is (malformed JSON, off-schema answers). */
  text(text: string, options: { modelVersion?: string; finishReason?: string } = {}): FakeReply {
    return {
      status: 200,
      body: {
        candidates: [{ content: { role: 'model', parts: [{ text }] }, finishReason: options.finishReason ?? 'STOP', index: 0 }],
        usageMetadata,
        modelVersion: options.modelVersion ?? 'gemini-fake-001',
        responseId: `fake-${Date.now()}`,
      },
    };
  },
  /** 429 RESOURCE_EXHAUSTED with google.rpc.RetryInfo, as for a per-minute quota. */
  rateLimited(retryDelay: string): FakeReply {
    return {
      status: 429,
      body: {
        error: {
          code: 429,
          message: 'You exceeded your current quota, please check your plan and billing details.',
          status: 'RESOURCE_EXHAUSTED',
          details: [
            {
              '@type': 'type.googleapis.com/google.rpc.QuotaFailure',
              violations: [{ quotaMetric: 'generativelanguage.googleapis.com/generate_content_free_tier_requests', quotaId: 'GenerateRequestsPerMinutePerProjectPerModel-FreeTier' }],
            },
            { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay },
          ],
        },
      },
    };
  },
  /** 503 UNAVAILABLE, as when the model is overloaded. */
  unavailable(): FakeReply {
    return { status: 503, body: { error: { code: 503, message: 'The model is overloaded. Please try again later.', status: 'UNAVAILABLE' } } };
  },
  /** 200 with the prompt blocked: promptFeedback.blockReason and no candidates. */
  promptBlocked(blockReason = 'SAFETY'): FakeReply {
    return {
      status: 200,
      body: {
        promptFeedback: {
          blockReason,
          safetyRatings: [
            { category: 'HARM_CATEGORY_SEXUALLY_EXPLICIT', probability: 'NEGLIGIBLE' },
            { category: 'HARM_CATEGORY_DANGEROUS_CONTENT', probability: 'HIGH', blocked: true },
          ],
        },
        usageMetadata: { promptTokenCount: 1_290, totalTokenCount: 1_290 },
        modelVersion: 'gemini-fake-001',
      },
    };
  },
  /** 200 with a candidate stopped for safety: finishReason SAFETY and no content. */
  answerBlocked(finishReason = 'SAFETY'): FakeReply {
    return {
      status: 200,
      body: {
        candidates: [
          {
            finishReason,
            index: 0,
            safetyRatings: [{ category: 'HARM_CATEGORY_HARASSMENT', probability: 'MEDIUM', blocked: true }],
          },
        ],
        usageMetadata: { promptTokenCount: 1_290, totalTokenCount: 1_290 },
        modelVersion: 'gemini-fake-001',
      },
    };
  },
  /** 200 with a candidate that has no parts. */
  empty(): FakeReply {
    return { status: 200, body: { candidates: [{ content: { role: 'model', parts: [] }, finishReason: 'STOP', index: 0 }], usageMetadata } };
  },
};

export const FAKE_USAGE = usageMetadata;

const ROUTE = /^\/v1beta\/models\/([^/:]+):generateContent$/;

export async function startFakeGemini(options: { apiKey?: string } = {}): Promise<FakeGemini> {
  const requests: RecordedRequest[] = [];
  let queue: FakeReply[] = [];
  const state = { apiKey: options.apiKey };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const send = ({ status, body, headers, delayMs }: FakeReply) => {
        const write = () => {
          if (res.destroyed) return;
          res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', ...headers });
          res.end(JSON.stringify(body));
        };
        if (delayMs) setTimeout(write, delayMs);
        else write();
      };
      const path = (req.url ?? '').split('?')[0]!;
      const route = ROUTE.exec(path);
      if (req.method !== 'POST' || !route) {
        send({ status: 404, body: { error: { code: 404, message: `no route ${req.method} ${path}`, status: 'NOT_FOUND' } } });
        return;
      }
      let body: GenerateContentBody;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as GenerateContentBody;
      } catch {
        send({ status: 400, body: { error: { code: 400, message: 'Invalid JSON payload received.', status: 'INVALID_ARGUMENT' } } });
        return;
      }
      requests.push({ method: req.method, path, model: decodeURIComponent(route[1]!), headers: req.headers, body, at: Date.now() });
      if (state.apiKey !== undefined && req.headers['x-goog-api-key'] !== state.apiKey) {
        send({
          status: 400,
          body: {
            error: {
              code: 400,
              message: 'API key not valid. Please pass a valid API key.',
              status: 'INVALID_ARGUMENT',
              details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID', domain: 'googleapis.com' }],
            },
          },
        });
        return;
      }
      send(
        queue.shift() ?? {
          status: 400,
          body: { error: { code: 400, message: `fake Gemini: no reply scripted for call ${requests.length}`, status: 'FAILED_PRECONDITION' } },
        },
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    get apiKey() {
      return state.apiKey;
    },
    set apiKey(key) {
      state.apiKey = key;
    },
    requests,
    script: (...replies) => queue.push(...replies),
    reset() {
      requests.length = 0;
      queue = [];
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The image a recorded request sent inline. */
export function sentImage(request: RecordedRequest): { mimeType: string; bytes: Buffer } {
  const part = request.body.contents[0]?.parts.find((p) => p.inlineData);
  if (!part?.inlineData) throw new Error('the request has no inline image');
  return { mimeType: part.inlineData.mimeType, bytes: Buffer.from(part.inlineData.data, 'base64') };
}

/** All text parts a recorded request sent, joined. */
export function sentText(request: RecordedRequest): string {
  return request.body.contents.flatMap((c) => c.parts.map((p) => p.text ?? '')).join('\n');
}
