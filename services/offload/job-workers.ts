/**
 * The job workers of one process (embedded in a node, or `mec worker`): a BullMQ Worker per run
 * queue (cloud, edge) that runs jobs through JobRunner, and one that delivers webhooks.
 *
 * At least once: a worker that dies leaves its jobs locked until the lock expires, then another
 * worker's stalled check puts them back (lockMs). Each run is counted (INCR executions:<id>) so
 * duplicates are visible; BullMQ completes a job once, so its result is stored once.
 *
 * Outages: the cloud worker pauses while the cloud is unreachable, both while the node is; a job
 * that still meets an outage is put back to waiting by BullMQ's manual rate limit, which spends no
 * attempt. A 4xx answer fails the job at once (UnrecoverableError) with the node's code; other
 * failures retry with exponential backoff up to the job's attempts.
 */
import { Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { workerConnection, workerConnectionOptions } from './redis-connections.ts';
import { settleWithin } from './deadline.ts';
import { JobRunner } from './job-runner.ts';
import type { Reachability } from './reachability.ts';
import { offloadKeys, RUN_QUEUES, WEBHOOK_QUEUE, type JobData, type JobError, type JobTask, type RunQueue, type WebhookBody } from './job-types.ts';
import { WEBHOOK_ATTEMPTS, WEBHOOK_BACKOFF_MS, WebhookSender, webhookJobId, type WebhookDelivery } from './webhooks.ts';

export interface JobWorkersOptions {
  redisUrl: string;
  prefix: string;
  /** The node whose synchronous task routes run the jobs. */
  nodeUrl: string;
  concurrency: number;
  lockMs: number;
  runTimeoutMs: number;
  retentionSeconds: number;
  reachability: Reachability;
  /** How long a queue waits after a job met an outage before the next try. */
  outageWaitMs?: number;
  /** How often reachability is read to pause or resume the workers. */
  watchMs?: number;
  onEvent?: (event: WorkerEvent) => void;
}

export type WorkerEvent =
  | { kind: 'execution'; task: JobTask }
  | { kind: 'finished'; task: JobTask; state: 'completed' | 'failed' };

/** Kill-and-restart of workers is not the job's fault: stalled jobs are retried, not failed, this many times. */
const MAX_STALLED = 1_000;
/** Limiter needed for BullMQ's manual rate limit to apply; high enough never to throttle on its own. */
const LIMITER = { max: 1_000_000, duration: 1_000 };
const GRACEFUL_CLOSE_MS = 15_000;
/** Retrying a busy node within one run: first wait, cap of one wait, and the total before giving the job back. */
const BUSY_FIRST_WAIT_MS = 20;
const BUSY_CAP_WAIT_MS = 500;
const BUSY_MAX_WAIT_MS = 10_000;

/** A thrown value that carries our {code, message} as its message, so failedReason stays parseable. */
const asMessage = (error: JobError) => JSON.stringify(error);

export class JobWorkers {
  readonly #options: JobWorkersOptions;
  readonly #redis: Redis;
  readonly #runner: JobRunner;
  readonly #webhookSender = new WebhookSender();
  readonly #webhooks: Queue<WebhookDelivery>;
  readonly #workers = new Map<RunQueue, Worker>();
  readonly #webhookWorker: Worker<WebhookDelivery>;
  readonly #keys: ReturnType<typeof offloadKeys>;
  readonly #paused = new Set<RunQueue>();
  readonly #watch: NodeJS.Timeout;
  /** Jobs running in this process now: a graceful close waits for them only. */
  #running = 0;
  #closed: Promise<void> | undefined;

  constructor(options: JobWorkersOptions) {
    this.#options = options;
    this.#keys = offloadKeys(options.prefix);
    this.#redis = workerConnection(options.redisUrl);
    this.#runner = new JobRunner(options.nodeUrl, { timeoutMs: options.runTimeoutMs, connections: options.concurrency * RUN_QUEUES.length });
    // Options, not instances: BullMQ then owns (and closes) the workers' connections.
    const connection = () => workerConnectionOptions(options.redisUrl);
    this.#webhooks = new Queue<WebhookDelivery>(WEBHOOK_QUEUE, { connection: this.#redis, prefix: options.prefix });
    this.#webhooks.on('error', () => undefined);
    const common = {
      prefix: options.prefix,
      concurrency: options.concurrency,
      lockDuration: options.lockMs,
      stalledInterval: Math.max(250, Math.floor(options.lockMs / 2)),
      maxStalledCount: MAX_STALLED,
      // After a Redis outage, try again soon (BullMQ's default is 15 s): jobs should resume within seconds.
      runRetryDelay: 500,
    };
    for (const name of RUN_QUEUES) {
      const worker: Worker<JobData> = new Worker<JobData>(name, (job: Job<JobData>, token?: string): Promise<unknown> => this.#process(name, worker, job, token), { ...common, connection: connection(), limiter: LIMITER });
      worker.on('error', () => undefined);
      worker.on('completed', (job: Job<JobData>) => void this.#finished(job, 'completed'));
      worker.on('failed', (job: Job<JobData> | undefined) => {
        if (job) void this.#failed(job);
      });
      this.#workers.set(name, worker);
    }
    this.#webhookWorker = new Worker<WebhookDelivery>(WEBHOOK_QUEUE, (job) => this.#webhookSender.deliver(job), { ...common, connection: connection() });
    this.#webhookWorker.on('error', () => undefined);
    this.#watch = setInterval(() => void this.#followReachability(), options.watchMs ?? 250);
    this.#watch.unref();
    void this.#followReachability();
  }

  /** Pauses the workers whose target is unreachable, resumes them when it is back. */
  async #followReachability(): Promise<void> {
    if (this.#closed) return;
    const { reachability } = this.#options;
    const node = reachability.node();
    for (const [name, worker] of this.#workers) {
      const reachable = node && (name === 'edge' || reachability.cloud());
      if (!reachable && !this.#paused.has(name)) {
        this.#paused.add(name);
        // Running jobs finish (or meet the outage and go back to waiting); no new ones start.
        await worker.pause(true).catch(() => undefined);
      } else if (reachable && this.#paused.has(name)) {
        this.#paused.delete(name);
        worker.resume();
      }
    }
  }

  /** Whether the worker of a queue is paused for an outage now. */
  paused(queue: RunQueue): boolean {
    return this.#paused.has(queue);
  }

  async #process(queue: RunQueue, worker: Worker<JobData>, job: Job<JobData>, token: string | undefined): Promise<unknown> {
    this.#running += 1;
    try {
      return await this.#run(queue, worker, job, token);
    } finally {
      this.#running -= 1;
    }
  }

  async #run(queue: RunQueue, worker: Worker<JobData>, job: Job<JobData>, _token: string | undefined): Promise<unknown> {
    const id = job.id!;
    const data = job.data;
    const reachability = this.#options.reachability;
    if (!reachability.node() || (queue === 'cloud' && !reachability.cloud())) await this.#backToWaiting(worker);
    const payload = await this.#redis.getBuffer(data.payloadKey);
    if (payload === null) {
      const error = { code: 'EDGE_ERR_INTERNAL', message: 'the job\'s payload is gone from Redis (its retention expired)' };
      await this.#notify(job, { id, state: 'failed', error });
      throw new UnrecoverableError(asMessage(error));
    }
    const executions = this.#keys.executions(id);
    await this.#redis.multi().incr(executions).expire(executions, this.#options.retentionSeconds).exec();
    this.#options.onEvent?.({ kind: 'execution', task: data.task });
    let outcome = await this.#runner.run(id, queue, data, payload);
    // The node is busy with interactive work: try again shortly (jittered, growing), within this run.
    for (let wait = BUSY_FIRST_WAIT_MS, waited = 0; outcome.kind === 'busy' && waited < BUSY_MAX_WAIT_MS; wait = Math.min(wait * 2, BUSY_CAP_WAIT_MS)) {
      const pause = Math.round(wait * (0.5 + Math.random()));
      await new Promise((resolve) => setTimeout(resolve, pause));
      waited += pause;
      outcome = await this.#runner.run(id, queue, data, payload);
    }
    switch (outcome.kind) {
      case 'done':
        await this.#notify(job, { id, state: 'completed', result: outcome.result });
        return outcome.result;
      case 'rejected':
        await this.#notify(job, { id, state: 'failed', error: outcome.error });
        throw new UnrecoverableError(asMessage(outcome.error));
      case 'outage':
        return this.#backToWaiting(worker);
      case 'busy':
        // Still busy after a while: back to waiting for the node's Retry-After, no attempt spent.
        return this.#backToWaiting(worker, outcome.retryAfterMs);
      case 'failed': {
        const attempts = job.opts.attempts ?? 1;
        if (job.attemptsMade + 1 >= attempts) await this.#notify(job, { id, state: 'failed', error: outcome.error });
        throw new Error(asMessage(outcome.error));
      }
    }
  }

  /** BullMQ's manual rate limit: the job goes back to waiting without spending an attempt. */
  async #backToWaiting(worker: Worker<JobData>, waitMs = this.#options.outageWaitMs ?? 1_000): Promise<never> {
    await worker.rateLimit(waitMs);
    throw Worker.RateLimitError();
  }

  /** Adds the webhook delivery (if the job has a webhook) before the job is marked finished. */
  async #notify(job: Job<JobData>, body: WebhookBody): Promise<void> {
    const url = job.data.webhook;
    if (url === undefined) return;
    await this.#webhooks.add(
      'deliver',
      { url, body },
      {
        jobId: webhookJobId(body.id, body.state),
        attempts: WEBHOOK_ATTEMPTS,
        backoff: { type: 'exponential', delay: WEBHOOK_BACKOFF_MS },
        removeOnComplete: { age: this.#options.retentionSeconds },
        removeOnFail: { age: this.#options.retentionSeconds },
      },
    );
  }

  async #finished(job: Job<JobData>, state: 'completed' | 'failed'): Promise<void> {
    this.#options.onEvent?.({ kind: 'finished', task: job.data.task, state });
    // The result is kept with the job; the payload is no longer needed. A crash before this line
    // leaves it to its TTL.
    await this.#redis.del(job.data.payloadKey).catch(() => undefined);
  }

  async #failed(job: Job<JobData>): Promise<void> {
    // 'failed' is also emitted for a failure that will be retried: only a final one finishes the job.
    const state = await job.getState().catch(() => 'unknown');
    if (state === 'failed') await this.#finished(job, 'failed');
  }

  /** Graceful: running jobs finish first (bounded); force: they are left to be found stalled. Idempotent. */
  close(options: { force?: boolean } = {}): Promise<void> {
    this.#closed ??= (async () => {
      clearInterval(this.#watch);
      const force = options.force === true;
      const workers = [...this.#workers.values(), this.#webhookWorker];
      let done = false;
      const closing = Promise.all(workers.map((worker) => worker.close(force))).then(() => (done = true));
      // Nothing running: nothing to wait for (and a Redis that is away would hold a graceful close).
      await settleWithin(force || this.#running === 0 ? 2_000 : GRACEFUL_CLOSE_MS, closing);
      if (!done) await settleWithin(2_000, Promise.all(workers.map((worker) => worker.close(true))));
      await settleWithin(2_000, this.#webhooks.close());
      await this.#runner.close();
      await this.#webhookSender.close();
      await this.#options.reachability.close();
      this.#redis.disconnect();
    })();
    return this.#closed;
  }
}
