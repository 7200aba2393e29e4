/**
 * Durable offload jobs on BullMQ (the only importer of bullmq): intake and status for the HTTP
 * edge, workers that run jobs through a node's synchronous routes, webhooks. docs/jobs.md.
 */
export { JobIntake, type Accepted, type IntakeEvent, type JobIntakeOptions, type Submission } from './job-intake.ts';
export { JobWorkers, type JobWorkersOptions, type WorkerEvent } from './job-workers.ts';
export { createJobService, runQueueFor, type JobRequest, type JobService } from './job-service.ts';
export { inProcessReachability, polledReachability, type Reachability } from './reachability.ts';
export { parseWebhookUrl } from './webhooks.ts';
export { redisAnswers } from './redis-probe.ts';
export { isJobTask, JOB_TASKS, type JobTask, type JobView, type JobState } from './job-types.ts';

import type { Config } from '../core/config.ts';
import { JobIntake, type IntakeEvent } from './job-intake.ts';
import { JobWorkers, type WorkerEvent } from './job-workers.ts';
import type { Reachability } from './reachability.ts';

/** The intake of a node from its config (offload section). */
export function intakeFromConfig(config: Readonly<Config>, onEvent?: (event: IntakeEvent) => void): JobIntake {
  const { redisUrl, prefix, maxJobs, commandTimeoutMs, attempts, backoffMs, retentionSeconds } = config.offload;
  return new JobIntake({ redisUrl, prefix, maxJobs, commandTimeoutMs, attempts, backoffMs, retentionSeconds, ...(onEvent ? { onEvent } : {}) });
}

/** Job workers from the offload config, posting to `nodeUrl`. */
export function workersFromConfig(
  config: Readonly<Config>,
  nodeUrl: string,
  reachability: Reachability,
  onEvent?: (event: WorkerEvent) => void,
): JobWorkers {
  const { redisUrl, prefix, retentionSeconds, worker } = config.offload;
  return new JobWorkers({
    redisUrl,
    prefix,
    nodeUrl,
    concurrency: worker.concurrency,
    lockMs: worker.lockMs,
    runTimeoutMs: worker.runTimeoutMs,
    retentionSeconds,
    reachability,
    ...(onEvent ? { onEvent } : {}),
  });
}
