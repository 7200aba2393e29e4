/**
 * Fault (2): the durable Redis (AOF everysec, noeviction, its own port) is SIGKILLed in the middle
 * of a stream of jobs, stays down a few seconds, and is restarted on the same port and dir. Real
 * processes: redis-server, `mec serve` with its embedded job worker. Figures: how fast intake
 * refuses while Redis is down (503 within 1 s), how long after the restart jobs run again, accepted
 * jobs lost (Jepsen check), and failures of the synchronous route meanwhile.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FULL, recordFigures } from './support/figures.ts';
import { startRedisServer, type RedisServer } from '../support/redis-server.ts';
import type { NodeProcess } from '../support/node-process.ts';
import { awaitOutcomes, judge, probeJobLatency, startJobsNode, startSyncLoop, submitStream } from '../offload/processes.ts';
import { frame } from '../offload/helpers.ts';

const JOBS = FULL ? 1_000 : 200;
const DOWN_MS = FULL ? 10_000 : 3_000;
const PREFIX = 'faultrestart';

let redis: RedisServer;
let node: NodeProcess;

beforeAll(async () => {
  redis = await startRedisServer();
  node = await startJobsNode(redis.url, PREFIX, { worker: { concurrency: 2, lockMs: 2_000 } });
});

afterAll(async () => {
  await node?.stop();
  await redis?.dispose();
});

describe('fault: Redis killed and restarted mid-stream', () => {
  it('refuses intake fast while down, resumes within 10 s, loses no accepted job, keeps the sync route serving', async () => {
    const image = frame('brick-hole.jpg');
    const frames = [frame('brick-good.jpg'), image];
    const sync = startSyncLoop(node.url, frame('brick-good.jpg'));
    const every = 20;
    const stream = submitStream(node.url, JOBS, every, frames, { corruptEvery: 40 });

    await new Promise((resolve) => setTimeout(resolve, (JOBS * every) / 3));
    const downAt = Date.now();
    await redis.stop('SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, DOWN_MS));
    await redis.restart();
    const upAt = Date.now();
    const resumeMs = await probeJobLatency(node.url, image, 'probe-after-restart', upAt);

    const submitted = await stream;
    const syncResults = await sync.stop();
    const outcomes = await awaitOutcomes(node.url, submitted.accepted, FULL ? 180_000 : 40_000);
    const verdict = judge(submitted.accepted, outcomes);

    // Refusals while Redis was down: their latency is the figure (status 0 = no answer within 5 s).
    const whileDown = submitted.refusals;
    const refusalMaxMs = whileDown.reduce((max, refusal) => Math.max(max, refusal.status === 0 ? Number.POSITIVE_INFINITY : refusal.ms), 0);
    const unavailable = whileDown.filter((refusal) => refusal.code === 'EDGE_ERR_JOBS_UNAVAILABLE').length;
    const syncDuringOutage = syncResults.filter((result) => result.at >= downAt && result.at <= upAt);
    const syncFailures = syncResults.filter((result) => result.status !== 200).length;

    recordFigures('jobs-redis-restart', [
      { name: 'intake refusals while Redis was down (503 JOBS_UNAVAILABLE)', value: `${whileDown.length} (${unavailable} JOBS_UNAVAILABLE)`, target: 'info', met: true },
      { name: 'intake 503 latency while Redis down, max', value: `${Math.round(refusalMaxMs)} ms`, target: '<= 1000 ms', met: refusalMaxMs <= 1000 },
      { name: 'jobs resume after Redis restart (probe job completed)', value: `${(resumeMs / 1000).toFixed(2)} s`, target: '<= 10 s', met: resumeMs <= 10_000 },
      { name: 'jobs accepted / completed', value: `${submitted.accepted.length} / ${verdict.completed}`, target: `${JOBS}`, met: submitted.accepted.length === JOBS },
      { name: 'accepted jobs lost', value: String(verdict.lost), target: '0', met: verdict.lost === 0 },
      { name: 'duplicate executions', value: String(verdict.duplicates), target: 'info', met: true },
      { name: 'sync route failures while Redis down', value: `${syncFailures} of ${syncDuringOutage.length} during the outage (${syncResults.length} in all)`, target: '0', met: syncFailures === 0 },
    ]);
    expect(submitted.accepted).toHaveLength(JOBS);
    expect(unavailable).toBeGreaterThan(0);
    expect(refusalMaxMs).toBeLessThanOrEqual(1000);
    expect(resumeMs).toBeLessThanOrEqual(10_000);
    expect(verdict.lostIds).toEqual([]);
    expect(syncFailures).toBe(0);
  });
});
