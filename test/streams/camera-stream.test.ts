/**
 * The newest-frame-wins slot on its own: the inspection is a function the test settles by hand,
 * so each interleaving is exact. (The real model behind it is exercised in streams-e2e.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import type { InspectResult } from '../../services/core/contracts.ts';
import { EdgeError } from '../../services/core/errors.ts';
import { CameraStream } from '../../services/streams/camera-stream.ts';
import { isAlert, isErrorMessage, type CameraFrame, type CameraMessage } from '../../services/streams/messages.ts';

function result(frame: CameraFrame, defective = false): InspectResult {
  return {
    surface: frame.surface,
    model: 'defect',
    version: '1',
    width: 256,
    height: 256,
    defective,
    score: defective ? 0.9 : 0.1,
    threshold: 0.5,
    regions: [],
    timings: { decode_ms: 1, queue_ms: 0, infer_ms: 5, total_ms: 6 },
  };
}

/** An inspection the test completes by hand, frame by frame. */
function manualInspection() {
  const pending: { frame: CameraFrame; signal: AbortSignal; settle: (defective: boolean) => void; fail: (error: Error) => void }[] = [];
  const inspect = (frame: CameraFrame, signal: AbortSignal) =>
    new Promise<InspectResult>((resolve, reject) => {
      pending.push({ frame, signal, settle: (defective) => resolve(result(frame, defective)), fail: reject });
    });
  return { pending, inspect };
}

const frame = (frameId: string): CameraFrame => ({ frameId, capturedAt: Date.now(), surface: 'gravel', bytes: new Uint8Array([1]) });
const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('CameraStream (newest frame wins)', () => {
  it('inspects one frame at a time; a frame arriving while another waits replaces it and is counted as dropped', async () => {
    const { pending, inspect } = manualInspection();
    const answers: CameraMessage[] = [];
    const stream = new CameraStream('cam-1', 'mqtt', inspect, (message) => answers.push(message));

    stream.offer(frame('1'));
    stream.offer(frame('2'));
    stream.offer(frame('3')); // supersedes 2
    stream.offer(frame('4')); // supersedes 3
    expect(pending.map((entry) => entry.frame.frameId)).toEqual(['1']);

    pending[0]!.settle(false);
    await tick();
    expect(pending.map((entry) => entry.frame.frameId)).toEqual(['1', '4']);
    pending[1]!.settle(true);
    await tick();

    // `dropped` counts the frames superseded since the previous result: 2 and 3 went while 1 was inspected.
    expect(answers.map((answer) => [answer.frame_id, isErrorMessage(answer) ? 'error' : answer.dropped])).toEqual([
      ['1', 2],
      ['4', 0],
    ]);
    expect(stream.stats()).toMatchObject({ frames_in: 4, inspected: 2, dropped: 2, errors: 0, defects: 1 });
    await stream.close();
  });

  it('a teach-in frame carries its calibration progress and is no defect (no alert); a calibrated one says so', async () => {
    const answers: CameraMessage[] = [];
    const outcomes = [
      (f: CameraFrame) => ({ ...result(f, true), teachIn: { state: 'collecting' as const, frames: 3, needed: 10 } }),
      (f: CameraFrame) => ({ ...result(f, true), calibrated: true }),
    ];
    let call = 0;
    const stream = new CameraStream('cam-1', 'mqtt', async (f) => outcomes[call++]!(f), (message) => answers.push(message));
    stream.offer(frame('teach'));
    await expect.poll(() => answers.length).toBe(1);
    stream.offer(frame('judged'));
    await expect.poll(() => answers.length).toBe(2);
    expect(answers[0]).toMatchObject({ frame_id: 'teach', defective: true, calibration: { state: 'collecting', frames: 3, needed: 10 } });
    expect(answers[0]).not.toHaveProperty('calibrated');
    expect(isAlert(answers[0]!)).toBe(false);
    expect(answers[1]).toMatchObject({ frame_id: 'judged', defective: true, calibrated: true });
    expect(answers[1]).not.toHaveProperty('calibration');
    expect(isAlert(answers[1]!)).toBe(true);
    expect(stream.stats()).toMatchObject({ inspected: 2, defects: 1 });
    await stream.close();
  });

  it('BAD CALL - a failed inspection answers an error with its code and the camera goes on', async () => {
    const { pending, inspect } = manualInspection();
    const answers: CameraMessage[] = [];
    const stream = new CameraStream('cam-1', 'websocket', inspect, (message) => answers.push(message));
    stream.offer(frame('a'));
    pending[0]!.fail(new EdgeError('EDGE_ERR_IMAGE_CORRUPT', 'truncated'));
    await tick();
    stream.offer(frame('b'));
    pending[1]!.settle(false);
    await tick();
    expect(answers[0]).toMatchObject({ frame_id: 'a', error: { code: 'EDGE_ERR_IMAGE_CORRUPT' } });
    expect(answers[1]).toMatchObject({ frame_id: 'b', defective: false });
    expect(stream.stats()).toMatchObject({ errors: 1, inspected: 1 });
    await stream.close();
  });

  it('close() aborts the inspection in flight, drops the waiting frame, and takes no more frames', async () => {
    const { pending, inspect } = manualInspection();
    const answers: CameraMessage[] = [];
    const stream = new CameraStream('cam-1', 'mqtt', inspect, (message) => answers.push(message));
    stream.offer(frame('1'));
    stream.offer(frame('2'));
    const closed = stream.close();
    expect(pending[0]!.signal.aborted).toBe(true);
    pending[0]!.fail(new EdgeError('EDGE_ERR_REQUEST_CANCELLED', 'aborted'));
    await closed;
    expect(stream.offer(frame('3'))).toBe(false);
    expect(answers).toEqual([]);
    expect(stream.stats()).toMatchObject({ frames_in: 2, dropped: 1 });
  });

  it('a sink that throws does not stop the camera', async () => {
    const { pending, inspect } = manualInspection();
    let calls = 0;
    const stream = new CameraStream('cam-1', 'mqtt', inspect, () => {
      calls += 1;
      throw new Error('socket gone');
    });
    stream.offer(frame('1'));
    pending[0]!.settle(false);
    await tick();
    stream.offer(frame('2'));
    pending[1]!.settle(false);
    await tick();
    expect(calls).toBe(2);
    await stream.close();
  });
});
