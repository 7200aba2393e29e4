/**
 * Core code publishes what happened on diagnostics channels; metrics and logs subscribe.
 * Publishing to a channel without subscribers costs almost nothing.
 */
import diagnostics from 'node:diagnostics_channel';

/** One run of a model on a worker, for every request it served. */
export interface InferenceEvent {
  model: string;
  version: string;
  ok: boolean;
  code?: string;
  batchSize: number;
  queueMs: number;
  /** compute_input + compute_infer + compute_output as the worker measured them. */
  inputMs: number;
  inferMs: number;
  outputMs: number;
}

/** A request that never reached a worker (queue full, queue timeout, aborted, shutting down). */
export interface RejectionEvent {
  model: string;
  version: string;
  code: string;
  queueMs: number;
}

/** One finished task request (decode -> pre -> infer -> post), for phase histograms. */
export interface TaskEvent {
  task: string;
  model: string;
  version: string;
  ok: boolean;
  code?: string;
  decodeMs: number;
  preprocessMs: number;
  queueMs: number;
  inferMs: number;
  postprocessMs: number;
  totalMs: number;
}

export const channels = {
  inference: diagnostics.channel('mec:runtime:inference'),
  rejection: diagnostics.channel('mec:runtime:rejection'),
  task: diagnostics.channel('mec:tasks:request'),
} as const;

export function publishInference(event: InferenceEvent): void {
  if (channels.inference.hasSubscribers) channels.inference.publish(event);
}

export function publishRejection(event: RejectionEvent): void {
  if (channels.rejection.hasSubscribers) channels.rejection.publish(event);
}

export function publishTask(event: TaskEvent): void {
  if (channels.task.hasSubscribers) channels.task.publish(event);
}
