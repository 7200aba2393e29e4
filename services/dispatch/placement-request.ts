/**
 * The placement request of one call, as every deciding tier (device, MEC node, cloud) builds it:
 * a caller's x-deadline-ms is hard (infeasible work refused at once, late work dropped); the
 * policy's per-task deadline is an objective (placement aims for it; when no tier is predicted to
 * make it the fastest one still serves, bounded by the tier's request timeout).
 */
import type { PlacementRequest } from '../scheduler/decide.ts';
import type { PlacementPolicy } from '../scheduler/policy.ts';
import type { DataClass } from '../scheduler/types.ts';
import { answerBytesFor } from './catalog.ts';
import type { RequestMeta } from './request-meta.ts';
import type { TaskInput } from './task-input.ts';

export interface PlannedRequest {
  request: PlacementRequest;
  /** Whether the deadline is the caller's (hard) or the policy's (an objective). */
  hard: boolean;
  deadlineMs: number;
  /** How long the work may take in all before it is dropped. */
  timeoutMs: number;
}

export function planRequest(input: TaskInput, meta: RequestMeta, dataClass: DataClass, policy: PlacementPolicy, fallbackDeadlineMs: number): PlannedRequest {
  const hard = meta.deadlineMs !== undefined;
  const deadlineMs = meta.deadlineMs ?? policy.spec.defaults.deadlineMs?.[input.task] ?? fallbackDeadlineMs;
  return {
    hard,
    deadlineMs,
    timeoutMs: hard ? deadlineMs : Math.max(deadlineMs, fallbackDeadlineMs),
    request: {
      task: input.task,
      dataClass,
      bytesUp: input.bytes.length,
      bytesDown: answerBytesFor(input.task),
      deadlineMs,
      ...(meta.minAccuracy === undefined ? {} : { minAccuracy: meta.minAccuracy }),
      ...(meta.pin === undefined ? {} : { pin: meta.pin }),
    },
  };
}
