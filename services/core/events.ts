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

/** What became of one camera frame (services/streams). */
export interface StreamFrameEvent {
  cameraId: string;
  transport: 'mqtt' | 'websocket';
  /** received: accepted into the camera's slot; dropped: superseded by a newer frame before inspection. */
  outcome: 'received' | 'inspected' | 'dropped' | 'error';
  /** An alert: defective and not a teach-in frame (those are declared defect-free). */
  defective?: boolean;
  code?: string;
  /** Capture (or arrival) to result, for inspected frames. */
  frameToResultMs?: number;
}

/** A camera forgotten (idle or disconnected): its per-camera series can go. */
export interface StreamCameraClosedEvent {
  cameraId: string;
  transport: 'mqtt' | 'websocket';
}

/** One placement decision of a node (services/dispatch reports it; metrics count it). */
export interface PlacementEvent {
  task: string;
  dataClass: string;
  /** The tier that served the request; 'none' = no tier took it. */
  tier: string;
  reason: string;
  predictedMs?: number;
  actualMs?: number;
  escalated: boolean;
  hardExample: boolean;
  /** Set when no tier took the request (its error code). */
  rejected?: string;
  /** Joint inference looked at the answer (the task has a rule). */
  jointInference: boolean;
}

export const channels = {
  inference: diagnostics.channel('mec:runtime:inference'),
  rejection: diagnostics.channel('mec:runtime:rejection'),
  task: diagnostics.channel('mec:tasks:request'),
  streamFrame: diagnostics.channel('mec:streams:frame'),
  streamCameraClosed: diagnostics.channel('mec:streams:camera-closed'),
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

export function publishStreamFrame(event: StreamFrameEvent): void {
  if (channels.streamFrame.hasSubscribers) channels.streamFrame.publish(event);
}

export function publishStreamCameraClosed(event: StreamCameraClosedEvent): void {
  if (channels.streamCameraClosed.hasSubscribers) channels.streamCameraClosed.publish(event);
}
