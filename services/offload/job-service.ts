/**
 * What the HTTP edge calls for jobs: resolves a submission's data class with the node's policy
 * (the same getter the dispatcher reads, so a synced policy change applies), picks its run queue,
 * and hands it to the intake. The queue is chosen once, at intake:
 *   cloud  the policy lets this data class reach the cloud and the node has one (the job is posted
 *          with x-placement-tier: cloud, so the dispatcher forwards it with transforms and audit);
 *   edge   everything else (restricted data; a node without a cloud): pinned to the MEC node.
 */
import { egressRule } from '../scheduler/egress.ts';
import { resolveDataClass, type PlacementPolicy } from '../scheduler/policy.ts';
import type { DataClass } from '../scheduler/types.ts';
import type { Accepted, JobIntake } from './job-intake.ts';
import type { JobTask, JobView, RunQueue } from './job-types.ts';

export interface JobRequest {
  task: JobTask;
  query: Record<string, string>;
  body: Buffer;
  contentType: string;
  tenant: string;
  dataClassHeader?: string;
  idempotencyKey?: string;
  webhook?: string;
}

export interface JobService {
  submit(request: JobRequest): Promise<Accepted>;
  status(id: string, tenant: string): Promise<JobView>;
}

export function runQueueFor(policy: PlacementPolicy, dataClass: DataClass, hasCloud: boolean): RunQueue {
  return hasCloud && egressRule(policy, dataClass, 'cloud').allowed ? 'cloud' : 'edge';
}

export function createJobService(intake: JobIntake, options: { policy: () => PlacementPolicy; hasCloud: boolean }): JobService {
  return {
    submit(request) {
      const policy = options.policy();
      const dataClass = resolveDataClass(policy, {
        ...(request.dataClassHeader === undefined ? {} : { header: request.dataClassHeader }),
        tenant: request.tenant,
        task: request.task,
      });
      const { dataClassHeader: _header, ...rest } = request;
      return intake.submit({ ...rest, dataClass, queue: runQueueFor(policy, dataClass, options.hasCloud) });
    },
    status: (id, tenant) => intake.status(id, tenant),
  };
}
