/**
 * Fault (3): the durable Redis is frozen with SIGSTOP (the process holds its sockets open and
 * answers nothing, the case that hangs clients with no deadline) in the middle of a stream of
 * jobs, then thawed with SIGCONT. Figures: intake answers 503 within 1 s while frozen (max
 * latency), the synchronous route keeps serving, and after the thaw jobs resume and none of the
 * accepted ones is lost.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FULL, recordFigures } from './support/figures.ts';
import { startRedisServer, type RedisServer } from '../support/redis-server.ts';
import type { NodeProcess } from '../support/node-process.ts';
import { awaitOutcomes, judge, probeJobLatency, startJobsNode, startSyncLoop, submitStream } from '../offload/processes.ts';
import { frame } from '../offload/helpers.ts';

const JOBS = FULL ? 1_000 : 200;
const FROZEN_MS = FULL ? 10_000 : 3_000;
const PREFIX = 'faultfreeze';

let redis: RedisServer;
let node: NodeProcess;

beforeAll(async () => {
  redis = await startRedisServer();
  node = await startJobsNode(redis.url, PREFIX, { worker: { concurrency: 2, lockMs: 2_000 } });
});

afterAll(async () => {
  redis?.thaw();
  await node?.stop();
  await redis?.dispose();
});

describe('fault: Redis frozen (SIGSTOP) mid-stream', () => {
  it('answers intake 503 within 1 s while frozen, keeps the sync route serving, resumes after SIGCONT with 0 lost', async () => {
    const image = frame('brick-hole.jpg');
    const sync = startSyncLoop(node.url, frame('brick-good.jpg'));
    const every = 20;
    const stream = submitStream(node.url, JOBS, every, [frame('brick-good.jpg'), image], { corruptEvery: 40 });

    await new Promise((resolve) => setTimeout(resolve, (JOBS * every) / 3));
    const frozenAt = Date.now();
    redis.freeze();
    await new Promise((resolve) => setTimeout(resolve, FROZEN_MS));
    redis.thaw();
    const thawedAt = Date.now();
    const resumeMs = await probeJobLatency(node.url, image, 'probe-after-thaw', thawedAt);

    const submitted = await stream;
    const syncResults = await sync.stop();
    const outcomes = await awaitOutcomes(node.url, submitted.accepted, FULL ? 180_000 : 40_000);
    const verdict = judge(submitted.accepted, outcomes);

    const refusals = submitted.refusals;
    const refusalMaxMs = refusals.reduce((max, refusal) => Math.max(max, refusal.status === 0 ? Number.POSITIVE_INFINITY : refusal.ms), 0);
    const unavailable = refusals.filter((refusal) => refusal.code === 'EDGE_ERR_JOBS_UNAVAILABLE').length;
    const syncDuringFreeze = syncResults.filter((result) => result.at >= frozenAt && result.at <= thawedAt);
    const syncFailures = syncResults.filter((result) => result.status !== 200).length;
    const syncMaxMs = syncDuringFreeze.reduce((max, result) => Math.max(max, result.ms), 0);

    recordFigures('jobs-redis-freeze', [
      { name: 'intake refusals while Redis was frozen', value: `${refusals.length} (${unavailable} JOBS_UNAVAILABLE)`, target: 'info', met: true },
      { name: 'intake 503 latency while frozen, max', value: `${Math.round(refusalMaxMs)} ms`, target: '<= 1000 ms', met: refusalMaxMs <= 1000 },
      { name: 'sync route while frozen: failures, max latency', value: `${syncFailures} of ${syncDuringFreeze.length}, ${Math.round(syncMaxMs)} ms`, target: '0 failures', met: syncFailures === 0 },
      { name: 'jobs resume after SIGCONT (probe job completed)', value: `${(resumeMs / 1000).toFixed(2)} s`, target: '<= 10 s', met: resumeMs <= 10_000 },
      { name: 'jobs accepted / completed', value: `${submitted.accepted.length} / ${verdict.completed}`, target: `${JOBS}`, met: submitted.accepted.length === JOBS },
      { name: 'accepted jobs lost', value: String(verdict.lost), target: '0', met: verdict.lost === 0 },
      { name: 'duplicate executions', value: String(verdict.duplicates), target: 'info', met: true },
    ]);
    expect(submitted.accepted).toHaveLength(JOBS);
    expect(unavailable).toBeGreaterThan(0);
    expect(refusalMaxMs).toBeLessThanOrEqual(1000);
    expect(syncFailures).toBe(0);
    expect(resumeMs).toBeLessThanOrEqual(10_000);
    expect(verdict.lostIds).toEqual([]);
  });
});
