import { type FailureCode, JobFailure } from '../../errors.ts';
import type { OnnxRequest, OnnxResult, WarmUpTarget } from '../onnx/infer.ts';

/**
 * The messages between the pool and its threads: plain data, structured-cloned (the image's bytes
 * transferred). A JobFailure crosses as its code, message and permanence, and is rebuilt as one.
 */

export type ThreadTask =
  | { id: number; kind: 'infer'; request: OnnxRequest }
  | { id: number; kind: 'warm'; target: WarmUpTarget; intraOpThreads: number };

export interface SerializedFailure {
  code: FailureCode;
  message: string;
  permanent: boolean;
}

export type ThreadReply =
  | { id: number; ok: true; result?: OnnxResult }
  | { id: number; ok: false; failure: SerializedFailure };

export function serializeFailure(failure: JobFailure): SerializedFailure {
  return { code: failure.code, message: failure.message, permanent: failure.permanent };
}

export function deserializeFailure({ code, message, permanent }: SerializedFailure): JobFailure {
  return new JobFailure(code, message, permanent);
}
