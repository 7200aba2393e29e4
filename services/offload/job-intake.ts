/**
 * Job intake and status, the request side of durable offload (POST /v1/jobs, GET /v1/jobs/{id}).
 * Every Redis call made for a request runs under a deadline (deadline.ts) on a connection without
 * an offline queue, so a Redis that is down or frozen costs a client at most about a second and a
 * 503 EDGE_ERR_JOBS_UNAVAILABLE, never a hang.
 *
 * A job is written as: its payload once (own key, retention TTL), an index entry (queue, tenant,
 * idempotency fingerprint; SET NX), then the BullMQ job with a jobId derived from the idempotency
 * key, so Redis itself refuses a second job for the same key. A submission interrupted between
 * these steps was never acknowledged; resending it with the same key finishes it.
 */
import { createHash } from 'node:crypto';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { EdgeError } from '../core/errors.ts';
import type { DataClass } from '../scheduler/types.ts';
import { settleWithin, unavailable, withinDeadline } from './deadline.ts';
import { JobRoom } from './job-room.ts';
import { requestConnection } from './redis-connections.ts';
import {
  apiState,
  fingerprintOf,
  jobIdFor,
  offloadKeys,
  parseJobError,
  RUN_QUEUES,
  type JobData,
  type JobIndexEntry,
  type JobState,
  type JobTask,
  type JobView,
  type RunQueue,
} from './job-types.ts';

export interface JobIntakeOptions {
  redisUrl: string;
  prefix: string;
  maxJobs: number;
  commandTimeoutMs: number;
  attempts: number;
  backoffMs: number;
  retentionSeconds: number;
  /** Told of each submission, rejection and count of unfinished jobs (metrics subscribe). */
  onEvent?: (event: IntakeEvent) => void;
}

export type IntakeEvent =
  | { kind: 'submitted'; task: JobTask }
  | { kind: 'rejected'; code: string }
  | { kind: 'unfinished'; count: number };

export interface Submission {
  task: JobTask;
  query: Record<string, string>;
  body: Buffer;
  contentType: string;
  tenant: string;
  dataClass: DataClass;
  queue: RunQueue;
  idempotencyKey?: string;
  webhook?: string;
}

export interface Accepted {
  id: string;
  state: JobState;
  /** True when an earlier submission with the same idempotency key is answered. */
  replayed: boolean;
}

/** Unfinished = not completed and not failed (BullMQ 6 keeps a paused queue's jobs in 'waiting'). */
const UNFINISHED_STATES = ['waiting', 'delayed', 'active', 'prioritized', 'waiting-children'] as const;
const JOBS_FULL_RETRY_AFTER_SECONDS = 5;
/** Ids this intake hands out (jobIdFor): anything else is not found without asking Redis. */
const JOB_ID = /^[jk][0-9a-f]{32,40}$/;

export class JobIntake {
  readonly #options: JobIntakeOptions;
  readonly #redis: Redis;
  readonly #queues = new Map<RunQueue, Queue>();
  readonly #keys: ReturnType<typeof offloadKeys>;
  readonly #deadlineMs: number;
  #closed: Promise<void> | undefined;
  /** offload.maxJobs, for every intake on this prefix (job-room.ts). */
  readonly #room: JobRoom;

  constructor(options: JobIntakeOptions) {
    this.#options = options;
    this.#keys = offloadKeys(options.prefix);
    this.#redis = requestConnection(options.redisUrl, options.commandTimeoutMs);
    this.#room = new JobRoom(this.#redis, options.prefix, options.maxJobs);
    // A request makes a few round trips: give them together a little more than one command's
    // timeout, capped so that the 503 leaves the node well within a second (unless the operator
    // set a command timeout longer than that).
    this.#deadlineMs = Math.max(options.commandTimeoutMs, Math.min(2 * options.commandTimeoutMs, 750));
  }

  /** The BullMQ queue of a run queue; recreated if its first connection setup failed (Redis away at start). */
  #queue(name: RunQueue): Queue {
    let queue = this.#queues.get(name);
    if (queue === undefined) {
      queue = new Queue(name, { connection: this.#redis, prefix: this.#options.prefix });
      queue.on('error', () => undefined);
      const created = queue;
      created.waitUntilReady().catch(() => {
        if (this.#queues.get(name) === created) this.#queues.delete(name);
        void created.close().catch(() => undefined);
      });
      this.#queues.set(name, queue);
    }
    return queue;
  }

  /**
   * Lost and waiting to reconnect: refuse at once rather than spend the deadline. Connecting (the
   * node just started, or a reconnect is under way): wait for it, within the request's deadline.
   */
  async #connected(): Promise<void> {
    const redis = this.#redis;
    if (redis.status === 'ready') return;
    if (redis.status !== 'connecting' && redis.status !== 'connect' && redis.status !== 'wait') throw unavailable(new Error(`not connected (${redis.status})`));
    await new Promise<void>((resolve, reject) => {
      const settle = (error?: Error) => {
        redis.off('ready', onReady);
        redis.off('close', onClose);
        if (error) reject(error);
        else resolve();
      };
      const onReady = () => settle();
      const onClose = () => settle(new Error('the connection closed while connecting'));
      redis.once('ready', onReady);
      redis.once('close', onClose);
      // The guard's deadline ends the wait; drop the listeners then as well.
      setTimeout(() => settle(new Error('still connecting')), this.#deadlineMs).unref();
    });
  }

  #emit(event: IntakeEvent): void {
    this.#options.onEvent?.(event);
  }

  async submit(submission: Submission): Promise<Accepted> {
    if (this.#closed) throw new EdgeError('EDGE_ERR_SHUTTING_DOWN', 'job intake is closed', { retryAfterSeconds: 5 });
    try {
      const accepted = await withinDeadline(this.#deadlineMs, async () => {
        await this.#connected();
        return this.#submit(submission);
      });
      if (!accepted.replayed) this.#emit({ kind: 'submitted', task: submission.task });
      return accepted;
    } catch (error) {
      this.#emit({ kind: 'rejected', code: error instanceof EdgeError ? error.code : 'EDGE_ERR_INTERNAL' });
      throw error;
    }
  }

  async #submit(submission: Submission): Promise<Accepted> {
    const { task, query, body, tenant, idempotencyKey } = submission;
    const id = jobIdFor(tenant, idempotencyKey);
    const sha256 = createHash('sha256').update(body).digest('hex');
    const fingerprint = fingerprintOf(task, query, sha256);
    const ttlMs = this.#options.retentionSeconds * 1000;
    const indexKey = this.#keys.index(id);
    let queueName = submission.queue;

    if (idempotencyKey !== undefined) {
      const existing = await this.#indexEntry(id);
      if (existing !== undefined) {
        this.#assertSameRequest(existing, fingerprint);
        const job = await this.#queue(existing.queue).getJob(id);
        if (job) return { id, state: apiState(await job.getState()), replayed: true };
        // Recorded but never queued (an intake cut short): finish it on the queue it was meant for.
        queueName = existing.queue;
      }
    }

    // The place is reserved in Redis from the count to the add (job-room.ts): a burst, here or in
    // another process on this prefix, cannot all see room for the last job.
    const reservation = await this.#room.reserve();
    if (!reservation.granted) {
      const { unfinished, reserved } = reservation;
      throw new EdgeError('EDGE_ERR_JOBS_FULL', `${unfinished} jobs are unfinished (${reserved} more being queued), the most this node holds (offload.maxJobs ${this.#options.maxJobs})`, {
        retryAfterSeconds: JOBS_FULL_RETRY_AFTER_SECONDS,
        details: { unfinished, maxJobs: this.#options.maxJobs, ...(reserved > 0 ? { queueing: reserved } : {}) },
      });
    }
    try {
      return await this.#queueJob(submission, { id, sha256, fingerprint, ttlMs, indexKey, queueName, unfinished: reservation.unfinished });
    } finally {
      // A lost release only holds the place until the reservation expires.
      await reservation.release().catch(() => undefined);
    }
  }

  async #queueJob(
    submission: Submission,
    prepared: { id: string; sha256: string; fingerprint: string; ttlMs: number; indexKey: string; queueName: RunQueue; unfinished: number },
  ): Promise<Accepted> {
    const { task, query, body, tenant } = submission;
    const { id, sha256, fingerprint, ttlMs, indexKey, unfinished } = prepared;
    let { queueName } = prepared;

    const payloadKey = this.#keys.payload(id);
    const entry: JobIndexEntry = { queue: queueName, tenant, task, fingerprint };
    const [[, , ], [, indexed]] = (await this.#redis
      .multi()
      .set(payloadKey, body, 'PX', ttlMs)
      .set(indexKey, JSON.stringify(entry), 'PX', ttlMs, 'NX')
      .exec()) as [[Error | null, unknown], [Error | null, unknown]];
    let replayed = false;
    if (indexed !== 'OK') {
      // A concurrent submission with the same key got there first: same request -> same job.
      const winner = await this.#indexEntry(id);
      if (winner === undefined) throw new EdgeError('EDGE_ERR_JOBS_UNAVAILABLE', 'the job index changed under this submission; retry', { retryAfterSeconds: 1 });
      this.#assertSameRequest(winner, fingerprint);
      queueName = winner.queue;
      replayed = true;
    }

    const data: JobData = {
      task,
      query,
      tenant,
      dataClass: submission.dataClass,
      payloadKey,
      sha256,
      bytes: body.byteLength,
      contentType: submission.contentType,
      ...(submission.webhook === undefined ? {} : { webhook: submission.webhook }),
      submittedAt: Date.now(),
    };
    await this.#queue(queueName).add(task, data, {
      jobId: id,
      attempts: this.#options.attempts,
      backoff: { type: 'exponential', delay: this.#options.backoffMs },
      removeOnComplete: { age: this.#options.retentionSeconds },
      removeOnFail: { age: this.#options.retentionSeconds },
    });
    this.#emit({ kind: 'unfinished', count: unfinished + 1 });
    return { id, state: 'waiting', replayed };
  }

  #assertSameRequest(entry: JobIndexEntry, fingerprint: string): void {
    if (entry.fingerprint !== fingerprint) {
      throw new EdgeError('EDGE_ERR_IDEMPOTENCY_KEY_REUSED', 'a job with this idempotency key exists for a different body, task or query', {
        details: { task: entry.task },
      });
    }
  }

  async #indexEntry(id: string): Promise<JobIndexEntry | undefined> {
    const text = await this.#redis.get(this.#keys.index(id));
    if (text === null) return undefined;
    return JSON.parse(text) as JobIndexEntry;
  }

  /** Jobs not finished yet, over both run queues. */
  async unfinished(): Promise<number> {
    const counts = await Promise.all(RUN_QUEUES.map((name) => this.#queue(name).getJobCounts(...UNFINISHED_STATES)));
    return counts.reduce((sum, byState) => sum + Object.values(byState).reduce((a, b) => a + b, 0), 0);
  }

  /** A job of `tenant`; another tenant's job is not found, exactly like a job that never existed. */
  async status(id: string, tenant: string): Promise<JobView> {
    if (this.#closed) throw new EdgeError('EDGE_ERR_SHUTTING_DOWN', 'job intake is closed', { retryAfterSeconds: 5 });
    const notFound = () => new EdgeError('EDGE_ERR_JOB_NOT_FOUND', `no job ${id.slice(0, 64)} for tenant ${tenant}`);
    if (!JOB_ID.test(id)) throw notFound();
    return withinDeadline(this.#deadlineMs, async () => {
      await this.#connected();
      const entry = await this.#indexEntry(id);
      if (entry === undefined || entry.tenant !== tenant) throw notFound();
      const queue = this.#queue(entry.queue);
      // State first, then the job: a job read before its state could show 'completed' without its result.
      const bullState = await queue.getJobState(id);
      const [job, executions] = await Promise.all([queue.getJob(id), this.#redis.get(this.#keys.executions(id))]);
      if (!job || bullState === 'unknown' || (job.data as JobData).tenant !== tenant) throw notFound();
      const state = apiState(bullState);
      const data = job.data as JobData;
      return {
        id,
        state,
        task: data.task,
        ...(state === 'completed' ? { result: job.returnvalue } : {}),
        ...(state === 'failed' ? { error: parseJobError(job.failedReason) } : {}),
        attempts: job.attemptsMade,
        executions: Number(executions ?? 0),
        submitted_at: new Date(data.submittedAt).toISOString(),
        ...(job.finishedOn ? { finished_at: new Date(job.finishedOn).toISOString() } : {}),
      };
    });
  }

  /** Idempotent. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      await settleWithin(2_000, Promise.all([...this.#queues.values()].map((queue) => queue.close())));
      this.#queues.clear();
      this.#redis.disconnect();
    })();
    return this.#closed;
  }
}
