/**
 * Per-model statistics in the shape of Triton's statistics extension. Durations are cumulative
 * nanoseconds; compute phases are counted per request, so a request served by a batch of 4 records
 * the whole batch's compute time (as Triton does). inference_count counts rows (a request of batch
 * 4 adds 4) while execution_count counts model runs: their ratio shows what batching achieved.
 */
import type { DurationStat, ModelStats } from '../core/contracts.ts';
import type { RunTimings } from './messages.ts';

function stat(): DurationStat {
  return { count: 0, ns: 0 };
}

function add(target: DurationStat, ns: number): void {
  target.count += 1;
  target.ns += Math.max(0, Math.round(ns));
}

export class ModelStatsRecorder {
  readonly #stats: ModelStats;

  constructor(name: string, version: string) {
    this.#stats = {
      name,
      version,
      last_inference: 0,
      inference_count: 0,
      execution_count: 0,
      inference_stats: { success: stat(), fail: stat(), queue: stat(), compute_input: stat(), compute_infer: stat(), compute_output: stat() },
    };
  }

  queued(ns: number): void {
    add(this.#stats.inference_stats.queue, ns);
  }

  /** One request served by a run that took `timings`. */
  computed(timings: RunTimings): void {
    add(this.#stats.inference_stats.compute_input, timings.inputNs);
    add(this.#stats.inference_stats.compute_infer, timings.inferNs);
    add(this.#stats.inference_stats.compute_output, timings.outputNs);
  }

  executed(): void {
    this.#stats.execution_count += 1;
  }

  succeeded(totalNs: number, rows: number): void {
    add(this.#stats.inference_stats.success, totalNs);
    this.#stats.inference_count += rows;
    this.#stats.last_inference = Date.now();
  }

  failed(totalNs: number): void {
    add(this.#stats.inference_stats.fail, totalNs);
  }

  snapshot(): ModelStats {
    return structuredClone(this.#stats);
  }
}
