/**
 * The camera's bookkeeping without any transport: matching answers to frames, counting what does
 * not fit, and the detection check against the drawn boxes.
 */
import { describe, expect, it } from 'vitest';
import { CameraLedger } from '../../services/client/camera/ledger.ts';
import { boxesOverlap } from '../../services/core/box.ts';
import { percentile, summarize } from '../../services/client/camera/report.ts';

const box = (x: number, y: number, width: number, height: number) => ({ x, y, width, height });

function result(frameId: string, defective: boolean, regions: { box: ReturnType<typeof box>; score: number }[], extra: Record<string, unknown> = {}) {
  return JSON.stringify({
    camera_id: 'cam', frame_id: frameId, captured_at: 1, surface: 'gravel', defective, score: 0.5, threshold: 0.5, regions,
    timings: { decode_ms: 1, queue_ms: 1, infer_ms: 1, total_ms: 3 }, frame_to_result_ms: 4, dropped: 0, ...extra,
  });
}

describe('CameraLedger and summarize', () => {
  it('matches answers to frames and scores detection and localisation against the drawn boxes', () => {
    const ledger = new CameraLedger('cam', true);
    const scratch = { type: 'scratch' as const, box: box(10, 10, 20, 5) };
    const hole = { type: 'hole' as const, box: box(100, 100, 10, 10) };
    ledger.recordSend({ frameId: '0', sentAt: 1000, capturedAt: 1, defects: [scratch] }, 'sent', 0);
    ledger.recordSend({ frameId: '1', sentAt: 1100, capturedAt: 1, defects: [hole] }, 'sent', 2);
    ledger.recordSend({ frameId: '2', sentAt: 1200, capturedAt: 1, defects: [] }, 'sent', 1);
    ledger.recordSend({ frameId: '3', sentAt: 1300, capturedAt: 1, defects: [] }, 'sent', 0);
    ledger.recordSend({ frameId: '4', sentAt: 1400, capturedAt: 1, defects: [] }, 'offline', 0);
    ledger.recordMessage(result('0', true, [{ box: box(25, 12, 30, 30), score: 0.9 }]), 1010);
    // Detected but the region is elsewhere: not localised.
    ledger.recordMessage(result('1', true, [{ box: box(0, 0, 50, 50), score: 0.9 }], { dropped: 2 }), 1130);
    ledger.recordMessage(result('2', true, []), 1250);
    ledger.recordMessage(JSON.stringify({ camera_id: 'cam', frame_id: '3', captured_at: 1, error: { code: 'EDGE_ERR_IMAGE_CORRUPT', message: 'x' } }), 1390);
    ledger.recordMessage(result('0', false, []), 1400); // a second answer
    ledger.recordMessage(result('99', false, []), 1400); // a frame never sent
    ledger.recordMessage('{"camera_id":"cam","frame_id":"2"}', 1400); // missing fields
    ledger.recordMessage('not json', 1400);
    ledger.recordAlert(result('0', true, [{ box: box(25, 12, 30, 30), score: 0.9 }]));
    const report = summarize('cam', [ledger]);
    expect(report).toMatchObject({
      sent: 4, not_sent: { offline: 1, backpressure: 0 }, results: 3, errors: { EDGE_ERR_IMAGE_CORRUPT: 1 }, unanswered: 0,
      server_dropped: 2, malformed: 2, unmatched: 1, duplicates: 1, alerts: 1, alerts_missing: 2,
      latency_ms: { count: 3, p50: 30, p95: 50, p99: 50, max: 50 },
      send_lag_ms: { p50: 0, p99: 2, max: 2 },
      check: { defective_answered: 2, detected: 2, localised: 1, good_answered: 1, false_alarms: 1 },
    });
    expect(report.check.by_type.scratch).toEqual({ answered: 1, detected: 1, localised: 1 });
    expect(report.check.by_type.hole).toEqual({ answered: 1, detected: 1, localised: 0 });
    expect(ledger.caughtUp).toBe(true);
  });

  it('is not caught up while the last frame waits for its answer or its alert', () => {
    const ledger = new CameraLedger('cam', true);
    ledger.recordSend({ frameId: '0', sentAt: 0, capturedAt: 1, defects: [] }, 'sent', 0);
    expect(ledger.caughtUp).toBe(false);
    ledger.recordMessage(result('0', true, []), 5);
    expect(ledger.caughtUp).toBe(false);
    ledger.recordAlert(result('0', true, []));
    expect(ledger.caughtUp).toBe(true);
  });

  it('percentile is nearest-rank and boxes overlap only when they share area', () => {
    expect(percentile([1, 2, 3, 4], 50)).toBe(2);
    expect(percentile([1, 2, 3, 4], 99)).toBe(4);
    expect(percentile([], 50)).toBe(0);
    expect(boxesOverlap(box(0, 0, 10, 10), box(9, 9, 5, 5))).toBe(true);
    expect(boxesOverlap(box(0, 0, 10, 10), box(10, 0, 5, 5))).toBe(false);
  });
});
