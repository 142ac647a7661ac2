import { parentPort } from 'node:worker_threads';
import { toJobFailure } from '../../errors.ts';
import { inferOnnx, warmUpSession } from '../onnx/infer.ts';
import { serializeFailure, type ThreadReply, type ThreadTask } from './protocol.ts';

/**
 * One inference pool thread: runs the ONNX jobs the pool hands it, one at a time, with its own
 * session cache (onnx/session.ts is loaded once per thread). Imports no config and no AWS: the
 * request carries everything the job needs.
 */

if (!parentPort) throw new Error('the inference thread runs inside a worker thread');
const port = parentPort;

async function perform(task: ThreadTask): Promise<ThreadReply> {
  try {
    if (task.kind === 'warm') {
      await warmUpSession(task.target, task.intraOpThreads);
      return { id: task.id, ok: true };
    }
    return { id: task.id, ok: true, result: await inferOnnx(task.request) };
  } catch (error) {
    return { id: task.id, ok: false, failure: serializeFailure(toJobFailure(error)) };
  }
}

port.on('message', (task: ThreadTask) => {
  void perform(task).then((reply) => port.postMessage(reply));
});
