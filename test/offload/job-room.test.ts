/**
 * offload.maxJobs across processes: the place of each job is reserved in Redis by one atomic
 * script (services/offload/job-room.ts). Real Redis; each intake has a connection of its own, as
 * separate node processes would.
 */
import { Redis } from 'ioredis';
import { FlowProducer, Queue, Worker } from 'bullmq';
import { afterAll, describe, expect, it } from 'vitest';
import { JobIntake, type Submission } from '../../services/offload/job-intake.ts';
import { JobRoom } from '../../services/offload/job-room.ts';
import { RUN_QUEUES } from '../../services/offload/job-types.ts';
import { dropPrefix, frame, freshPrefix, REDIS_URL } from './helpers.ts';

const prefixes: string[] = [];
const connections: Redis[] = [];

/** BullMQ's blocking workers need maxRetriesPerRequest null; the rest do not mind. */
function connect(): Redis {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  connections.push(redis);
  return redis;
}

function newPrefix(): string {
  const prefix = freshPrefix();
  prefixes.push(prefix);
  return prefix;
}

afterAll(async () => {
  for (const redis of connections) redis.disconnect();
  for (const prefix of prefixes) await dropPrefix(REDIS_URL, prefix);
});

const submission = (): Submission => ({
  task: 'inspect',
  query: { surface: 'brick' },
  body: frame('brick-good.jpg'),
  contentType: 'image/jpeg',
  tenant: 'anonymous',
  dataClass: 'public',
  queue: 'edge',
});

describe('the job bound held in Redis', () => {
  it('counts the unfinished jobs exactly as BullMQ does (waiting, delayed, prioritized, active, waiting-children), over both run queues', async () => {
    const prefix = newPrefix();
    const connection = connect();
    const [cloud, edge] = RUN_QUEUES.map((name) => new Queue(name, { connection, prefix }));
    await edge!.add('inspect', {}, {});
    await edge!.add('inspect', {}, { delay: 60_000 });
    await edge!.add('inspect', {}, { priority: 3 });
    await cloud!.add('inspect', {}, {});
    await cloud!.add('inspect', {}, {});
    const flows = new FlowProducer({ connection, prefix });
    await flows.add({ name: 'parent', queueName: 'cloud', data: {}, children: [{ name: 'child', queueName: 'edge', data: {} }] });
    // One job held active by a worker that does not finish it while we count.
    let finish!: () => void;
    const held = new Promise<void>((resolve) => (finish = resolve));
    let started!: () => void;
    const taken = new Promise<void>((resolve) => (started = resolve));
    const worker = new Worker('cloud', async () => { started(); await held; }, { connection: connect(), prefix, autorun: true });
    await taken;

    const counts = await Promise.all([cloud!, edge!].map((queue) => queue.getJobCounts('waiting', 'delayed', 'active', 'prioritized', 'waiting-children')));
    const expected = counts.reduce((sum, byState) => sum + Object.values(byState).reduce((a, b) => a + b, 0), 0);
    const byState = Object.fromEntries(['waiting', 'delayed', 'active', 'prioritized', 'waiting-children'].map((state) => [state, counts.reduce((sum, c) => sum + (c[state] ?? 0), 0)]));
    // Waiting: one plain on edge, one of the two on cloud (the other is active), the flow's child on edge.
    expect(byState).toEqual({ waiting: 3, delayed: 1, active: 1, prioritized: 1, 'waiting-children': 1 });

    const reservation = await new JobRoom(connect(), prefix, 1_000).reserve();
    expect(reservation).toMatchObject({ granted: true, unfinished: expected, reserved: 0 });
    await reservation.release();

    finish();
    await worker.close();
    await flows.close();
    await Promise.all([cloud!, edge!].map((queue) => queue.close()));
  });

  it('BAD CALL - two intakes on one prefix (two processes) bursting together accept exactly offload.maxJobs, not maxJobs each', async () => {
    const prefix = newPrefix();
    const options = { redisUrl: REDIS_URL, prefix, maxJobs: 10, commandTimeoutMs: 2_000, attempts: 1, backoffMs: 50, retentionSeconds: 600 };
    const intakes = [new JobIntake(options), new JobIntake(options)];
    try {
      const outcomes = await Promise.all(intakes.flatMap((intake) => Array.from({ length: 15 }, () => intake.submit(submission()).then(() => 'accepted', (error: { code?: string }) => error.code ?? 'error'))));
      expect(outcomes.filter((outcome) => outcome === 'accepted')).toHaveLength(10);
      expect(outcomes.filter((outcome) => outcome !== 'accepted')).toEqual(Array.from({ length: 20 }, () => 'EDGE_ERR_JOBS_FULL'));
      expect(await intakes[0]!.unfinished()).toBe(10);
    } finally {
      await Promise.all(intakes.map((intake) => intake.close()));
    }
  });

  it('a reservation is dropped once its job is queued (the next submission sees the job, not both), and one a dead process left expires', async () => {
    const prefix = newPrefix();
    const room = new JobRoom(connect(), prefix, 1, 300);
    const orphaned = await room.reserve(); // never released: its process "died"
    expect(orphaned.granted).toBe(true);
    expect(await room.reserve()).toMatchObject({ granted: false, unfinished: 0, reserved: 1 });
    await new Promise((resolve) => setTimeout(resolve, 400));
    const after = await room.reserve();
    expect(after).toMatchObject({ granted: true, reserved: 0 });
    await after.release();

    const intake = new JobIntake({ redisUrl: REDIS_URL, prefix, maxJobs: 2, commandTimeoutMs: 2_000, attempts: 1, backoffMs: 50, retentionSeconds: 600 });
    try {
      await intake.submit(submission());
      await intake.submit(submission());
      const refused = await intake.submit(submission()).catch((error: { code: string; details: unknown }) => error);
      expect(refused).toMatchObject({ code: 'EDGE_ERR_JOBS_FULL', details: { unfinished: 2, maxJobs: 2 } });
    } finally {
      await intake.close();
    }
  });
});
