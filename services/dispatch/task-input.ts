/**
 * One placeable request as the dispatcher carries it: the task, the payload bytes exactly as the
 * client sent them (an image or a WAV file), and the task's own parameters. The same value runs
 * here (local-tasks.ts) or is sent to another tier (the route and query below).
 */
import type { PlacementTask } from '../scheduler/types.ts';

export interface TaskParams {
  /** detect, inspect: the lowest score returned / the decision threshold. */
  threshold?: number;
  /** detect: most detections returned. */
  max?: number;
  /** detect: the model the caller asked for by name (placement then only considers that model). */
  model?: string;
  /** inspect: the surface in the image. */
  surface?: string;
}

export interface TaskInput {
  task: PlacementTask;
  bytes: Buffer;
  params: TaskParams;
}

export function payloadKind(task: PlacementTask): 'image' | 'audio' {
  return task === 'asr' ? 'audio' : 'image';
}

/** The route (with query) that serves `task` with `model` on any tier. */
export function routeFor(input: TaskInput, model: string): string {
  const query = new URLSearchParams();
  const { params } = input;
  if (input.task === 'detect') {
    query.set('model', model);
    if (params.threshold !== undefined) query.set('threshold', String(params.threshold));
    if (params.max !== undefined) query.set('max', String(params.max));
    return `/v1/vision/detect?${query}`;
  }
  if (input.task === 'inspect') {
    query.set('surface', params.surface ?? '');
    if (params.threshold !== undefined) query.set('threshold', String(params.threshold));
    return `/v1/inspect?${query}`;
  }
  return '/v1/asr';
}

export function contentTypeFor(input: TaskInput): string {
  return input.task === 'asr' ? 'audio/wav' : 'application/octet-stream';
}
