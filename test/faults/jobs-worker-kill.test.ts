/**
 * Fault (1): the `mec worker` process is SIGKILLed again and again while a stream of jobs comes in
 * (FULL: 50 kills during 2,000 jobs; quick: 10 kills during 300). Real processes: a durable
 * redis-server of its own, `mec serve` (no embedded worker) and `mec worker`, restarted after each
 * kill. Jepsen check: every job acknowledged with 202 ends completed (or failed with the 4xx its
 * corrupt payload deserves); duplicate executions are counted and must not exceed the jobs that
 * were in flight at the kills.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FULL, recordFigures } from './support/figures.ts';
import { startRedisServer, type RedisServer } from '../support/redis-server.ts';
import type { NodeProcess } from '../support/node-process.ts';
import { awaitOutcomes, judge, startJobsNode, startWorkerProcess, submitStream, type WorkerProcess } from '../offload/processes.ts';
import { frame } from '../offload/helpers.ts';

const JOBS = FULL ? 2_000 : 300;
const KILLS = FULL ? 50 : 10;
const PREFIX = 'faultkill';

let redis: RedisServer;
let node: NodeProcess;
let worker: WorkerProcess | undefined;

beforeAll(async () => {
  redis = await startRedisServer();
  node = await startJobsNode(redis.url, PREFIX, { worker: { embedded: false } });
});

afterAll(async () => {
  await worker?.kill();
  await node?.stop();
  await redis?.dispose();
});

describe('fault: SIGKILL the job worker during a stream of jobs', () => {
  it(`loses none of ${JOBS} jobs over ${KILLS} kills; duplicates <= jobs in flight at the kills`, async () => {
    const probe = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    const inFlight = async () => (await probe.llen(`${PREFIX}:edge:active`)) + (await probe.llen(`${PREFIX}:cloud:active`));
    const frames = [frame('brick-good.jpg'), frame('brick-hole.jpg')];
    worker = await startWorkerProcess(node.url, redis.url, PREFIX);

    // Spread the stream over roughly the time the kills take (a kill and a restart: ~1-2 s).
    const streamDone = submitStream(node.url, JOBS, Math.max(2, Math.floor((KILLS * 1500) / JOBS)), frames, { corruptEvery: 50 });
    let inFlightAtKills = 0;
    let killsMidJob = 0;
    let kills = 0;
    for (; kills < KILLS; kills += 1) {
      // Kill mid-job: wait until the restarted worker holds jobs (a kill of an idle worker tests nothing).
      const busyBy = Date.now() + 10_000;
      while ((await inFlight()) === 0 && Date.now() < busyBy) await new Promise((resolve) => setTimeout(resolve, 20));
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 200));
      const holding = await inFlight();
      inFlightAtKills += holding;
      if (holding > 0) killsMidJob += 1;
      await worker.kill();
      worker = await startWorkerProcess(node.url, redis.url, PREFIX);
    }
    const stream = await streamDone;
    const started = Date.now();
    const outcomes = await awaitOutcomes(node.url, stream.accepted, FULL ? 300_000 : 40_000);
    const drainSeconds = (Date.now() - started) / 1000;
    const verdict = judge(stream.accepted, outcomes);
    probe.disconnect();

    recordFigures('jobs-worker-kill', [
      { name: `worker SIGKILLs during the stream`, value: String(kills), target: String(KILLS), met: kills === KILLS },
      { name: 'jobs accepted (202)', value: String(stream.accepted.length), target: String(JOBS), met: stream.accepted.length === JOBS },
      { name: 'jobs completed (corrupt ones failed with 4xx)', value: `${verdict.completed} (+${stream.accepted.length - verdict.completed - verdict.lost} failed 4xx)`, target: `${JOBS}`, met: verdict.lost === 0 },
      { name: 'accepted jobs lost', value: String(verdict.lost), target: '0', met: verdict.lost === 0 },
      { name: 'kills while the worker held jobs', value: `${killsMidJob} of ${KILLS}`, target: 'most', met: killsMidJob >= KILLS / 2 },
      { name: 'duplicate executions', value: `${verdict.duplicates} (<= ${inFlightAtKills} in flight at kills)`, target: '<= in flight', met: verdict.duplicates <= inFlightAtKills },
      { name: 'drain after the last kill', value: `${drainSeconds.toFixed(1)} s`, target: 'info', met: true },
    ]);
    expect(stream.accepted).toHaveLength(JOBS);
    expect(verdict.lostIds).toEqual([]);
    expect(verdict.duplicates).toBeLessThanOrEqual(inFlightAtKills);
  });
});
