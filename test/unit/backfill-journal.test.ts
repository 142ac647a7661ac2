import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { JournalError } from '../../scripts/backfill/errors.ts';
import { AppendLog, readResumption, Tally } from '../../scripts/backfill/journal.ts';

/** The results and state files: append-only, whole lines, read back for --resume. */

const dir = mkdtempSync(join(tmpdir(), 'backfill-journal-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const req = (path: string) => ({ path, contentType: 'image/png', contentLength: 10 });
const item = (path: string, jobId: string) => ({ ...req(path), jobId });

describe('AppendLog', () => {
  it('appends whole JSON lines and cuts off a line left half-written by a crash', () => {
    const path = join(dir, 'log.jsonl');
    const log = new AppendLog(path);
    log.append({ n: 1 });
    log.close();
    appendFileSync(path, '{"n":2,"cut sh');
    const again = new AppendLog(path);
    again.append({ n: 3 });
    again.close();
    expect(readFileSync(path, 'utf8')).toBe('{"n":1}\n{"n":3}\n');
  });
});

describe('AppendLog failures', () => {
  it('names the file and the errno when a write finds the disk full (ENOSPC), and refuses lines after it', () => {
    // /dev/full accepts the open and fails every write with ENOSPC.
    const log = new AppendLog('/dev/full');
    expect(() => log.append({ n: 1 })).toThrow(new JournalError('/dev/full', 'ENOSPC', 'no space left on device'));
    expect(() => log.append({ n: 2 })).toThrow(/cannot write \/dev\/full: ENOSPC/);
    log.close();
  });

  it('names the file and the errno when it cannot be created (a path under a file: ENOTDIR)', () => {
    const file = join(dir, 'plain-file');
    writeFileSync(file, '');
    expect(() => new AppendLog(join(file, 'results.jsonl'))).toThrow(`cannot write ${join(file, 'results.jsonl')}: ENOTDIR (not a directory)`);
  });
});

describe('readResumption', () => {
  it('keeps a batch request on record whose batch line a crash cut short, to post again with its key', async () => {
    const out = join(dir, 'cut.jsonl');
    const state = `${out}.state`;
    const log = new AppendLog(state);
    log.append({ t: 'run', v: 1, runId: 'r1', startedAt: '2025-01-01T00:00:00Z' });
    log.append({ t: 'submit', seq: 0, key: 'k0', items: [req('a.png')] });
    log.append({ t: 'batch', seq: 0, key: 'k0', batchId: 'b0', items: [item('a.png', 'j-a')] });
    log.append({ t: 'submit', seq: 1, key: 'k1', items: [req('b.png'), req('c.png')] });
    log.close();
    appendFileSync(state, '{"t":"batch","seq":1,"key":"k1","batchId":"b1","ite');

    const resumed = await readResumption(out, state);
    expect(resumed.unconfirmed).toEqual([{ t: 'submit', seq: 1, key: 'k1', items: [req('b.png'), req('c.png')] }]);
    expect(resumed.pending.map((b) => b.batchId)).toEqual(['b0']);
    expect(resumed.nextSeq).toBe(2);
  });

  it('drops a request on record that the API refused items of (they were written skipped and the rest sent again)', async () => {
    const out = join(dir, 'refused.jsonl');
    const results = new AppendLog(out);
    results.append({ path: 'huge.png', status: 'skipped', error: { code: 'payload_too_large', message: '' } });
    results.close();
    const log = new AppendLog(`${out}.state`);
    log.append({ t: 'submit', seq: 0, key: 'k0', items: [req('huge.png'), req('b.png')] });
    log.append({ t: 'submit', seq: 1, key: 'k1', items: [req('b.png')] });
    log.append({ t: 'batch', seq: 1, key: 'k1', batchId: 'b1', items: [item('b.png', 'j-b')] });
    log.close();
    const resumed = await readResumption(out, `${out}.state`);
    expect(resumed.unconfirmed).toEqual([]);
    expect(resumed.pending.map((b) => b.batchId)).toEqual(['b1']);
  });

  it('keeps finished paths and tallies, and only the batch items still waiting for a result', async () => {
    const out = join(dir, 'results.jsonl');
    const state = `${out}.state`;
    const results = new AppendLog(out);
    results.append({ path: 'a.png', jobId: 'j-a', status: 'succeeded', result: {} });
    results.append({ path: 'bad.txt', status: 'skipped', error: { code: 'not_an_image', message: '' } });
    results.append({ path: 'c.png', jobId: 'j-c', status: 'failed', error: { code: 'corrupt_image', message: '' } });
    results.close();
    const log = new AppendLog(state);
    log.append({ t: 'run', v: 1, runId: 'r1', model: 'onnx/colors', startedAt: '2025-01-01T00:00:00Z' });
    log.append({ t: 'batch', seq: 0, key: 'k0', batchId: 'b0', items: [item('a.png', 'j-a'), item('c.png', 'j-c')] });
    log.append({ t: 'batch', seq: 1, key: 'k1', batchId: 'b1', items: [item('d.png', 'j-d'), item('e.png', 'j-e'), item('a.png', 'j-a2')] });
    log.append({ t: 'up', jobId: 'j-a' });
    log.append({ t: 'up', jobId: 'j-d' });
    log.close();
    appendFileSync(state, '{"t":"up","jobId":"j-e"'); // cut short: e's upload is not known

    const resumed = await readResumption(out, state);
    expect(resumed.run).toMatchObject({ runId: 'r1', model: 'onnx/colors' });
    expect([...resumed.finished].sort()).toEqual([resolve('a.png'), resolve('bad.txt'), resolve('c.png')]);
    expect(resumed.tally).toMatchObject({ succeeded: 1, failed: 1, skipped: 1, byCode: { not_an_image: 1, corrupt_image: 1 } });
    expect(resumed.nextSeq).toBe(2);
    expect(resumed.pending).toEqual([
      {
        batchId: 'b1',
        seq: 1,
        key: 'k1',
        request: [req('d.png'), req('e.png'), req('a.png')],
        items: [
          { ...item('d.png', 'j-d'), uploaded: true },
          { ...item('e.png', 'j-e'), uploaded: false },
        ],
      },
    ]);
  });

  it('starts empty when there is nothing to resume', async () => {
    const resumed = await readResumption(join(dir, 'none.jsonl'), join(dir, 'none.jsonl.state'));
    expect(resumed).toMatchObject({ run: undefined, pending: [], nextSeq: 0 });
    expect(resumed.finished.size).toBe(0);
    expect(resumed.tally.total).toBe(0);
  });
});

describe('Tally', () => {
  it('counts lines by status and failures by code', () => {
    const tally = new Tally();
    tally.add({ status: 'succeeded' });
    tally.add({ status: 'failed', error: { code: 'timeout', message: '' } });
    tally.add({ status: 'failed', error: { code: 'timeout', message: '' } });
    tally.add({ status: 'skipped', error: { code: 'empty_file', message: '' } });
    expect(tally).toMatchObject({ succeeded: 1, failed: 2, skipped: 1, total: 4, byCode: { timeout: 2, empty_file: 1 } });
  });
});
