/**
 * services/metrics on its own: events published on the core diagnostics channels become Triton's
 * counters and the phase histograms; pool gauges are read at scrape time; close() unsubscribes;
 * two registries in one process never share values.
 */
import { describe, expect, it } from 'vitest';
import { publishInference, publishRejection, publishTask } from '../../services/core/events.ts';
import { createMetrics } from '../../services/metrics/metrics.ts';

function value(text: string, line: RegExp): number {
  const match = line.exec(text);
  return match ? Number(match[1]) : NaN;
}

describe('metrics', () => {
  it('turns inference, rejection and task events into Triton counters and phase histograms', async () => {
    const metrics = createMetrics({ defaultMetrics: false, runtime: { utilisation: () => ({ workers: 2, busyWorkers: 1, queued: 7 }) } });
    try {
      for (let index = 0; index < 4; index += 1) {
        publishInference({ model: 'm', version: '1', ok: true, batchSize: 4, queueMs: 2, inputMs: 1, inferMs: 10, outputMs: 0.5 });
      }
      publishInference({ model: 'm', version: '1', ok: false, code: 'EDGE_ERR_INFERENCE_FAILED', batchSize: 1, queueMs: 0, inputMs: 0, inferMs: 0, outputMs: 0 });
      publishRejection({ model: 'm', version: '1', code: 'EDGE_ERR_QUEUE_FULL', queueMs: 0 });
      publishTask({ task: 'detect', model: 'm', version: '1', ok: true, decodeMs: 3, preprocessMs: 2, queueMs: 1, inferMs: 12, postprocessMs: 1, totalMs: 19 });
      publishTask({ task: 'detect', model: 'm', version: '1', ok: false, code: 'EDGE_ERR_IMAGE_CORRUPT', decodeMs: 1, preprocessMs: 0, queueMs: 0, inferMs: 0, postprocessMs: 0, totalMs: 1 });

      const text = await metrics.render();
      expect(value(text, /^nv_inference_request_success\{model="m",version="1"\} (\S+)$/m)).toBe(4);
      expect(value(text, /^nv_inference_count\{model="m",version="1"\} (\S+)$/m)).toBe(4);
      // Four requests shared one run of batch 4.
      expect(value(text, /^nv_inference_exec_count\{model="m",version="1"\} (\S+)$/m)).toBeCloseTo(1, 9);
      expect(value(text, /^nv_inference_queue_duration_us\{model="m",version="1"\} (\S+)$/m)).toBeCloseTo(8000, 6);
      expect(value(text, /^nv_inference_compute_infer_duration_us\{model="m",version="1"\} (\S+)$/m)).toBeCloseTo(40000, 6);
      expect(value(text, /^nv_inference_request_duration_us\{model="m",version="1"\} (\S+)$/m)).toBeCloseTo(54000, 6);
      expect(value(text, /^nv_inference_request_failure\{model="m",version="1",code="EDGE_ERR_INFERENCE_FAILED"\} (\S+)$/m)).toBe(1);
      expect(value(text, /^nv_inference_request_failure\{model="m",version="1",code="EDGE_ERR_QUEUE_FULL"\} (\S+)$/m)).toBe(1);
      expect(value(text, /^mec_request_phase_seconds_sum\{task="detect",model="m",phase="infer"\} (\S+)$/m)).toBeCloseTo(0.012, 9);
      expect(value(text, /^mec_request_phase_seconds_count\{task="detect",model="m",phase="total"\} (\S+)$/m)).toBe(1);
      expect(value(text, /^mec_task_requests_total\{task="detect",model="m",code="OK"\} (\S+)$/m)).toBe(1);
      expect(value(text, /^mec_task_requests_total\{task="detect",model="m",code="EDGE_ERR_IMAGE_CORRUPT"\} (\S+)$/m)).toBe(1);
      expect(value(text, /^mec_runtime_workers (\S+)$/m)).toBe(2);
      expect(value(text, /^mec_runtime_workers_busy (\S+)$/m)).toBe(1);
      expect(value(text, /^mec_runtime_queued_requests (\S+)$/m)).toBe(7);
      expect(value(text, /^mec_runtime_utilisation_ratio (\S+)$/m)).toBe(0.5);
    } finally {
      metrics.close();
    }
  });

  it('counts HTTP requests by route pattern and status, and in-flight ones', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    metrics.httpRequestStarted();
    metrics.httpRequestStarted();
    metrics.httpRequestFinished({ route: '/v2/models/:model/infer', method: 'POST', status: 200 }, 0.01);
    const text = await metrics.render();
    expect(value(text, /^mec_http_requests_total\{route="\/v2\/models\/:model\/infer",method="POST",status_code="200"\} (\S+)$/m)).toBe(1);
    expect(value(text, /^mec_http_requests_in_flight (\S+)$/m)).toBe(1);
    metrics.close();
  });

  it('process metrics are on by default; close() unsubscribes and is idempotent; registries are separate', async () => {
    const first = createMetrics();
    const second = createMetrics({ defaultMetrics: false });
    expect(await first.render()).toMatch(/^process_resident_memory_bytes \d+/m);
    expect(await second.render()).not.toMatch(/process_resident_memory_bytes/);
    first.close();
    first.close();
    publishInference({ model: 'x', version: '1', ok: true, batchSize: 1, queueMs: 0, inputMs: 0, inferMs: 1, outputMs: 0 });
    expect(await first.render()).not.toMatch(/model="x"/);
    expect(value(await second.render(), /^nv_inference_request_success\{model="x",version="1"\} (\S+)$/m)).toBe(1);
    second.close();
  });
});
