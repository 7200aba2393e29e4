/**
 * The shapes of durable jobs: what a job carries in Redis (a reference to its payload, never the
 * payload), what GET /v1/jobs/{id} answers, and the names of the queues and keys. BullMQ's own
 * states are folded into the four the API promises.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { DataClass, PlacementTask } from '../scheduler/types.ts';

export const JOB_TASKS = ['detect', 'inspect', 'asr'] as const satisfies readonly PlacementTask[];
export type JobTask = (typeof JOB_TASKS)[number];

export function isJobTask(value: unknown): value is JobTask {
  return typeof value === 'string' && (JOB_TASKS as readonly string[]).includes(value);
}

/** `cloud`: data the policy lets reach the cloud (forwarded with transforms); `edge`: the rest, pinned to the MEC node. */
export const RUN_QUEUES = ['cloud', 'edge'] as const;
export type RunQueue = (typeof RUN_QUEUES)[number];
export const WEBHOOK_QUEUE = 'webhooks';

export type JobState = 'waiting' | 'active' | 'completed' | 'failed';

/** The data of a BullMQ job: everything to run it, and the payload only by reference. */
export interface JobData {
  task: JobTask;
  /** The task route's own query parameters (surface, threshold, model, max). */
  query: Record<string, string>;
  tenant: string;
  dataClass: DataClass;
  /** Redis key of the payload bytes (written once at intake, with the retention TTL). */
  payloadKey: string;
  sha256: string;
  bytes: number;
  contentType: string;
  webhook?: string;
  /** ms since the epoch. */
  submittedAt: number;
}

/** Kept next to the job (same TTL): which queue holds it, whose it is, and the idempotency fingerprint. */
export interface JobIndexEntry {
  queue: RunQueue;
  tenant: string;
  task: JobTask;
  fingerprint: string;
}

export interface JobError {
  code: string;
  message: string;
}

export interface JobView {
  id: string;
  state: JobState;
  task: JobTask;
  result?: unknown;
  error?: JobError;
  attempts: number;
  executions: number;
  submitted_at: string;
  finished_at?: string;
}

/** What a webhook receives (POST, JSON, header x-job-id). */
export interface WebhookBody {
  id: string;
  state: 'completed' | 'failed';
  result?: unknown;
  error?: JobError;
}

/** Redis keys of the offload module, all under the BullMQ prefix so one prefix isolates everything. */
export const offloadKeys = (prefix: string) => ({
  payload: (id: string) => `${prefix}:payload:${id}`,
  executions: (id: string) => `${prefix}:executions:${id}`,
  index: (id: string) => `${prefix}:jobindex:${id}`,
});

/**
 * A job's id: from sha256(tenant, key) when the client gives an idempotency key, so that Redis
 * itself refuses a second job for the same key; otherwise random (unguessable either way).
 */
export function jobIdFor(tenant: string, idempotencyKey: string | undefined): string {
  if (idempotencyKey === undefined) return `j${randomUUID().replaceAll('-', '')}`;
  return `k${createHash('sha256').update(tenant).update('\0').update(idempotencyKey).digest('hex').slice(0, 40)}`;
}

/** The request an idempotency key stands for: task, query and body. */
export function fingerprintOf(task: JobTask, query: Record<string, string>, sha256: string): string {
  const sorted = Object.keys(query).sort().map((key) => [key, query[key]]);
  return createHash('sha256').update(JSON.stringify([task, sorted, sha256])).digest('hex');
}

/** BullMQ's states (delayed, prioritized, paused, waiting-children...) as the API's four. */
export function apiState(bullState: string): JobState {
  if (bullState === 'active' || bullState === 'completed' || bullState === 'failed') return bullState;
  return 'waiting';
}

/** failedReason is our JSON {code, message} when we failed the job; anything else is internal. */
export function parseJobError(failedReason: string | undefined): JobError {
  if (failedReason !== undefined) {
    try {
      const parsed = JSON.parse(failedReason) as Partial<JobError>;
      if (typeof parsed.code === 'string' && typeof parsed.message === 'string') return { code: parsed.code, message: parsed.message };
    } catch {
      // not ours: a BullMQ reason such as a stalled job
    }
  }
  return { code: 'EDGE_ERR_INTERNAL', message: failedReason ?? 'the job failed' };
}
