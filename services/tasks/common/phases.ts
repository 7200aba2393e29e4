/**
 * Phase times of one task request (decode, preprocess, queue, infer, postprocess), reported in the
 * response and published once per request as a TaskEvent for the phase histograms.
 */
import { performance } from 'node:perf_hooks';
import type { InferTimings, TaskTimings } from '../../core/contracts.ts';
import { toEdgeError } from '../../core/errors.ts';
import { publishTask } from '../../core/events.ts';

type TimedPhase = 'decode' | 'preprocess' | 'postprocess';

const round2 = (value: number): number => Math.round(value * 100) / 100;

export class PhaseClock {
  private readonly started = performance.now();
  private readonly spent = { decode: 0, preprocess: 0, postprocess: 0, queue: 0, infer: 0 };
  private published = false;

  constructor(
    private readonly task: string,
    /** Set as soon as the model is known; failures before that report what was asked for. */
    public model: string,
    public version = '',
  ) {}

  async time<T>(phase: TimedPhase, work: () => Promise<T>): Promise<T> {
    const begin = performance.now();
    try {
      return await work();
    } finally {
      this.spent[phase] += performance.now() - begin;
    }
  }

  timeSync<T>(phase: TimedPhase, work: () => T): T {
    const begin = performance.now();
    try {
      return work();
    } finally {
      this.spent[phase] += performance.now() - begin;
    }
  }

  /** Adds time spent waiting for admission to the pipeline (reported as queue time). */
  addQueue(ms: number): void {
    this.spent.queue += ms;
  }

  /** Adds a model run's queue and compute times (a task may run several models). */
  addInference(timings: InferTimings): void {
    this.spent.queue += timings.queue_ms;
    this.spent.infer += timings.infer_ms;
  }

  elapsedMs(): number {
    return performance.now() - this.started;
  }

  /** What is left of a deadline counted from the start of the request (at least 1 ms: the runtime then times it out). */
  remainingMs(timeoutMs: number | undefined): number | undefined {
    return timeoutMs === undefined ? undefined : Math.max(1, Math.floor(timeoutMs - this.elapsedMs()));
  }

  /** Publishes the TaskEvent (once) and returns the response's timings. */
  finish(error?: unknown): TaskTimings {
    const total = this.elapsedMs();
    if (!this.published) {
      this.published = true;
      publishTask({
        task: this.task,
        model: this.model,
        version: this.version,
        ok: error === undefined,
        ...(error === undefined ? {} : { code: toEdgeError(error).code }),
        decodeMs: round2(this.spent.decode),
        preprocessMs: round2(this.spent.preprocess),
        queueMs: round2(this.spent.queue),
        inferMs: round2(this.spent.infer),
        postprocessMs: round2(this.spent.postprocess),
        totalMs: round2(total),
      });
    }
    return { decode_ms: round2(this.spent.decode), queue_ms: round2(this.spent.queue), infer_ms: round2(this.spent.infer), total_ms: round2(total) };
  }
}
