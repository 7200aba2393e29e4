/**
 * The teach-in rule and the calibration store on their own: exact numbers, no model. The store's
 * "which model serves this surface" is a plain table the test changes, as a reload would. The real
 * model, transports and HTTP routes are in calibration-e2e.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { InspectResult } from '../../services/core/contracts.ts';
import { CameraCalibrations, calibratedThreshold, type CalibrationSettings } from '../../services/streams/calibration.ts';
import { codeOfSync } from '../support/code-of.ts';

function result(score: number, fields: Partial<InspectResult> = {}): InspectResult {
  return {
    surface: 'gravel',
    model: 'defect',
    version: '1',
    width: 256,
    height: 256,
    defective: score >= 0.6,
    score,
    threshold: 0.6,
    regions: [],
    timings: { decode_ms: 1, queue_ms: 0, infer_ms: 5, total_ms: 6 },
    ...fields,
  };
}

const gravel: CalibrationSettings = { surface: 'gravel', frames: 10, falseAlarmRate: 0.01 };

/** A store whose serving table the test edits (a model reload or sync does that on a node). */
function store(maxCameras = 4) {
  const serving = new Map([['gravel', { model: 'defect', version: '1' }], ['brick', { model: 'defect', version: '1' }]]);
  const calibrations = new CameraCalibrations({ maxCameras, serving: (surface) => serving.get(surface) });
  return { serving, calibrations };
}

/** Feeds scores 0.10, 0.11, ... as inspected frames that started now. */
function feed(calibrations: CameraCalibrations, cameraId: string, count: number, fields: Partial<InspectResult> = {}, first = 0.1) {
  return Array.from({ length: count }, (_, index) => calibrations.record(cameraId, result(Math.round((first + index / 100) * 1e4) / 1e4, fields), performance.now()));
}

describe('calibratedThreshold', () => {
  it('k = 0 (50 frames at 1 %): just above the highest score', () => {
    const scores = Array.from({ length: 50 }, (_, index) => index / 100);
    expect(calibratedThreshold(scores, 0.01)).toBe(0.4901);
    // No calibration frame would have been flagged.
    expect(scores.filter((score) => score >= calibratedThreshold(scores, 0.01))).toEqual([]);
  });

  it('k > 0: the (k+1)-th largest score + 1e-4, so k frames are above it', () => {
    const scores = Array.from({ length: 100 }, (_, index) => index / 100);
    // k = floor(0.03 * 100) = 3: the 4th largest is 0.96.
    expect(calibratedThreshold(scores, 0.03)).toBe(0.9601);
    expect(scores.filter((score) => score >= 0.9601)).toEqual([0.97, 0.98, 0.99]);
    // 0.29 * 100 is 28.999999999999996 in floating point: still k = 29, the 30th largest is 0.7.
    expect(calibratedThreshold(scores, 0.29)).toBe(0.7001);
    // The order of the input does not matter.
    expect(calibratedThreshold([...scores].reverse(), 0.03)).toBe(0.9601);
  });

  it('ties: frames tied with the (k+1)-th largest are all below the threshold, so fewer than k may be flagged', () => {
    // k = floor(0.2 * 10) = 2; the three largest tie at 0.8.
    const scores = [0.8, 0.8, 0.8, 0.5, 0.4, 0.3, 0.3, 0.2, 0.1, 0.1];
    expect(calibratedThreshold(scores, 0.2)).toBe(0.8001);
    expect(scores.filter((score) => score >= 0.8001)).toEqual([]);
  });

  it('is capped at 1', () => {
    expect(calibratedThreshold([1, 0.99995, 0.2], 0.01)).toBe(1);
    expect(calibratedThreshold([0.99991, 0.2], 0.01)).toBe(1);
    expect(calibratedThreshold([0.9998, 0.2], 0.01)).toBe(0.9999);
  });

  it('stays above unrounded scores too', () => {
    expect(calibratedThreshold([0.12345, 0.1], 0.01)).toBeGreaterThan(0.12345);
    expect(calibratedThreshold([0.123449999], 0.01)).toBeGreaterThan(0.123449999);
  });

  it('BAD CALL - no scores, or a rate outside [0, 1), is refused', () => {
    expect(() => calibratedThreshold([], 0.01)).toThrow(RangeError);
    expect(() => calibratedThreshold([0.5], 1)).toThrow(RangeError);
    expect(() => calibratedThreshold([0.5], Number.NaN)).toThrow(RangeError);
  });
});

describe('CameraCalibrations', () => {
  it('collecting -> calibrated after `frames` scores of its surface; the threshold applies only to that surface and model version', () => {
    const { calibrations } = store();
    expect(calibrations.start('cam-1', gravel)).toMatchObject({ camera_id: 'cam-1', state: 'collecting', surface: 'gravel', frames: 0, needed: 10, false_alarm_rate: 0.01, model: null, version: null });
    expect(calibrations.thresholdFor('cam-1', 'gravel', 'defect', '1')).toBeUndefined();

    // Another surface's frames do not count.
    expect(calibrations.record('cam-1', result(0.9, { surface: 'brick' }), performance.now())).toBeUndefined();
    const progress = feed(calibrations, 'cam-1', 9);
    expect(progress.map((entry) => entry?.frames)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(progress[0]).toEqual({ state: 'collecting', frames: 1, needed: 10 });
    expect(calibrations.status('cam-1')).toMatchObject({ state: 'collecting', frames: 9, model: 'defect', version: '1' });

    // The 10th completes it (and is still a teach-in frame).
    expect(calibrations.record('cam-1', result(0.42), performance.now())).toEqual({ state: 'collecting', frames: 10, needed: 10 });
    expect(calibrations.status('cam-1')).toMatchObject({
      camera_id: 'cam-1', state: 'calibrated', surface: 'gravel', model: 'defect', version: '1',
      threshold: 0.4201, model_threshold: 0.6, frames: 10, false_alarm_rate: 0.01, max_score: 0.42,
    });
    expect(calibrations.status('cam-1')).not.toHaveProperty('serving');
    expect(calibrations.thresholdFor('cam-1', 'gravel', 'defect', '1')).toBe(0.4201);
    expect(calibrations.thresholdFor('cam-1', 'brick', 'defect', '1')).toBeUndefined();
    expect(calibrations.thresholdFor('cam-1', 'gravel', 'defect', '2')).toBeUndefined();
    expect(calibrations.thresholdFor('cam-1', 'gravel', 'defect-gravel', '1')).toBeUndefined();
    expect(calibrations.thresholdFor('cam-2', 'gravel', 'defect', '1')).toBeUndefined();
    // Once calibrated, frames are no longer teach-in frames.
    expect(calibrations.record('cam-1', result(0.9), performance.now())).toBeUndefined();
  });

  it('a model or version change while collecting starts the collection over', () => {
    const { calibrations } = store();
    calibrations.start('cam-1', gravel);
    feed(calibrations, 'cam-1', 6);
    expect(calibrations.record('cam-1', result(0.3, { version: '2' }), performance.now())).toEqual({ state: 'collecting', frames: 1, needed: 10 });
    expect(calibrations.status('cam-1')).toMatchObject({ state: 'collecting', frames: 1, version: '2' });
    feed(calibrations, 'cam-1', 9, { model: 'defect-gravel', version: '2' });
    // defect-gravel's first frame restarted it again: 9 frames, not 10.
    expect(calibrations.status('cam-1')).toMatchObject({ state: 'collecting', frames: 9, model: 'defect-gravel', version: '2' });
  });

  it('frames whose inspection began before the start do not count', () => {
    const { calibrations } = store();
    const before = performance.now() - 1;
    calibrations.start('cam-1', gravel);
    expect(calibrations.record('cam-1', result(0.3), before)).toBeUndefined();
    expect(calibrations.status('cam-1')).toMatchObject({ frames: 0 });
  });

  it('is stale (and not applied by thresholdFor) when another version serves the surface; current again when it comes back', () => {
    const { serving, calibrations } = store();
    calibrations.start('cam-1', gravel);
    feed(calibrations, 'cam-1', 10);
    serving.set('gravel', { model: 'defect', version: '2' });
    expect(calibrations.status('cam-1')).toMatchObject({ state: 'stale', model: 'defect', version: '1', serving: { model: 'defect', version: '2' } });
    expect(calibrations.thresholdFor('cam-1', 'gravel', 'defect', '2')).toBeUndefined();
    serving.delete('gravel');
    expect(calibrations.status('cam-1')).toMatchObject({ state: 'stale', serving: null });
    serving.set('gravel', { model: 'defect', version: '1' });
    expect(calibrations.status('cam-1')).toMatchObject({ state: 'calibrated' });
  });

  it('a start replaces the calibration of that camera; remove() goes back to none', () => {
    const { calibrations } = store();
    calibrations.start('cam-1', gravel);
    feed(calibrations, 'cam-1', 10);
    expect(calibrations.start('cam-1', { ...gravel, frames: 20 })).toMatchObject({ state: 'collecting', frames: 0, needed: 20 });
    expect(calibrations.thresholdFor('cam-1', 'gravel', 'defect', '1')).toBeUndefined();
    expect(calibrations.remove('cam-1')).toBe(true);
    expect(calibrations.remove('cam-1')).toBe(false);
    expect(calibrations.status('cam-1')).toBeUndefined();
    expect(calibrations.record('cam-1', result(0.3), performance.now())).toBeUndefined();
  });

  it('BAD CALL - past maxCameras a new camera is refused with EDGE_ERR_STREAM_TOO_MANY_CAMERAS; a known one may restart; a removed place is free again', () => {
    const { calibrations } = store(2);
    calibrations.start('a', gravel);
    calibrations.start('b', gravel);
    expect(codeOfSync(() => calibrations.start('c', gravel))).toBe('EDGE_ERR_STREAM_TOO_MANY_CAMERAS');
    expect(codeOfSync(() => calibrations.start('b', gravel))).toBe('RETURNED');
    expect(calibrations.size).toBe(2);
    calibrations.remove('a');
    expect(codeOfSync(() => calibrations.start('c', gravel))).toBe('RETURNED');
  });

  it('BAD CALL - out-of-range settings give EDGE_ERR_STREAM_CALIBRATION_INVALID, bad camera ids EDGE_ERR_STREAM_CAMERA_ID_INVALID', () => {
    const { calibrations } = store();
    for (const settings of [
      { ...gravel, frames: 9 },
      { ...gravel, frames: 1001 },
      { ...gravel, frames: 10.5 },
      { ...gravel, falseAlarmRate: 0 },
      { ...gravel, falseAlarmRate: 0.51 },
      { ...gravel, falseAlarmRate: Number.NaN },
    ]) {
      expect(codeOfSync(() => calibrations.start('cam-1', settings)), JSON.stringify(settings)).toBe('EDGE_ERR_STREAM_CALIBRATION_INVALID');
    }
    expect(codeOfSync(() => calibrations.start('cam-1', { ...gravel, frames: 1000, falseAlarmRate: 0.5 }))).toBe('RETURNED');
    expect(codeOfSync(() => calibrations.start('../x', gravel))).toBe('EDGE_ERR_STREAM_CAMERA_ID_INVALID');
    expect(codeOfSync(() => calibrations.status('a b'))).toBe('EDGE_ERR_STREAM_CAMERA_ID_INVALID');
    expect(codeOfSync(() => calibrations.remove(''))).toBe('EDGE_ERR_STREAM_CAMERA_ID_INVALID');
  });
});
