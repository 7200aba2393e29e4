/**
 * How the job worker treats each kind of answer from the node it posts to, with real Redis and a
 * real HTTP server standing in for the node (so that 500s, 503 QUEUE_FULL and refused connections
 * can be produced on demand): 5xx retried with backoff up to the attempts, busy (QUEUE_FULL)
 * retried without spending attempts, an unreachable node waits, 4xx fails at once; the payload
 * is deleted once the job is finished; close() is idempotent.
 */
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { JobIntake, JobWorkers, inProcessReachability, type Reachability } from '../../services/offload/index.ts';
import { dropPrefix, freshPrefix, REDIS_URL } from './helpers.ts';

type Answer = { status: number; body: unknown; retryAfter?: string };

let server: Server;
let nodeUrl: string;
let script: (jobId: string, call: number) => Answer;
const calls = new Map<string, number>();
const prefixes: string[] = [];
let intake: JobIntake | undefined;
let workers: JobWorkers | undefined;

beforeAll(async () => {
  server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      const id = String(request.headers['x-job-id']);
      const call = (calls.get(id) ?? 0) + 1;
      calls.set(id, call);
      const answer = script(id, call);
      response.statusCode = answer.status;
      if (answer.retryAfter) response.setHeader('retry-after', answer.retryAfter);
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify(answer.body));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  nodeUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

afterEach(async () => {
  await workers?.close({ force: true });
  await intake?.close();
  workers = undefined;
  intake = undefined;
  calls.clear();
});

afterAll(async () => {
  server.close();
  for (const prefix of prefixes) await dropPrefix(REDIS_URL, prefix);
});

function setup(options: { attempts?: number; reachability?: Reachability; url?: string } = {}) {
  const prefix = freshPrefix();
  prefixes.push(prefix);
  intake = new JobIntake({ redisUrl: REDIS_URL, prefix, maxJobs: 100, commandTimeoutMs: 500, attempts: options.attempts ?? 3, backoffMs: 50, retentionSeconds: 600 });
  workers = new JobWorkers({
    redisUrl: REDIS_URL,
    prefix,
    nodeUrl: options.url ?? nodeUrl,
    concurrency: 2,
    lockMs: 2_000,
    runTimeoutMs: 5_000,
    retentionSeconds: 600,
    reachability: options.reachability ?? inProcessReachability(undefined),
    outageWaitMs: 200,
    watchMs: 50,
  });
  return { prefix, intake, workers };
}

const submission = (extra: Record<string, unknown> = {}) => ({
  task: 'inspect' as const,
  query: { surface: 'brick' },
  body: Buffer.from('pretend image'),
  contentType: 'image/jpeg',
  tenant: 't1',
  dataClass: 'restricted' as const,
  queue: 'edge' as const,
  ...extra,
});

async function finished(id: string, timeoutMs = 15_000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const view = await intake!.status(id, 't1');
    if (view.state === 'completed' || view.state === 'failed' || Date.now() > until) return view;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('JobWorkers against a node that answers what the test says', () => {
  it('retries 5xx with backoff and completes; attempts and executions count the runs', async () => {
    setup();
    script = (_id, call) => (call < 3 ? { status: 500, body: { error: { code: 'EDGE_ERR_INTERNAL', message: 'boom' } } } : { status: 200, body: { ok: true, call } });
    const { id } = await intake!.submit(submission());
    const view = await finished(id);
    expect(view.state).toBe('completed');
    expect(view.result).toEqual({ ok: true, call: 3 });
    expect(view.executions).toBe(3);
    expect(calls.get(id)).toBe(3);
  });

  it('BAD CALL - 5xx on every attempt fails the job with the node\'s code after offload.attempts', async () => {
    setup({ attempts: 2 });
    script = () => ({ status: 500, body: { error: { code: 'EDGE_ERR_WORKER_CRASHED', message: 'crashed' } } });
    const { id } = await intake!.submit(submission());
    const view = await finished(id);
    expect(view.state).toBe('failed');
    expect(view.error).toEqual({ code: 'EDGE_ERR_WORKER_CRASHED', message: 'crashed' });
    expect(view.attempts).toBe(2);
    expect(view.executions).toBe(2);
  });

  it('a busy node (503 EDGE_ERR_QUEUE_FULL) is asked again without spending attempts', async () => {
    setup({ attempts: 1 });
    script = (_id, call) => (call <= 4 ? { status: 503, retryAfter: '1', body: { error: { code: 'EDGE_ERR_QUEUE_FULL', message: 'busy' } } } : { status: 200, body: { ok: true } });
    const { id } = await intake!.submit(submission());
    const view = await finished(id);
    expect(view.state).toBe('completed');
    expect(calls.get(id)).toBe(5);
    expect(view.executions).toBe(1);
  });

  it('BAD CALL - a 4xx answer fails the job at once with its code; the payload is deleted', async () => {
    const { prefix } = setup();
    script = () => ({ status: 422, body: { error: { code: 'EDGE_ERR_IMAGE_CORRUPT', message: 'corrupt' } } });
    const { id } = await intake!.submit(submission());
    const view = await finished(id);
    expect(view.state).toBe('failed');
    expect(view.error!.code).toBe('EDGE_ERR_IMAGE_CORRUPT');
    expect(view.attempts).toBe(1);
    expect(calls.get(id)).toBe(1);
    const redis = new Redis(REDIS_URL);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await redis.exists(`${prefix}:payload:${id}`)).toBe(0);
    redis.disconnect();
  });

  it('a node that refuses connections: the job waits without spending attempts, then runs when the node is back', async () => {
    // A port nothing listens on yet: connection refused, an outage.
    const spare = createServer();
    spare.listen(0, '127.0.0.1');
    await once(spare, 'listening');
    const port = (spare.address() as { port: number }).port;
    spare.close();
    await once(spare, 'close');
    setup({ attempts: 1, url: `http://127.0.0.1:${port}` });
    script = () => ({ status: 200, body: { ok: 'late' } });
    const { id } = await intake!.submit(submission());
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const waiting = await intake!.status(id, 't1');
    // Between two tries it is waiting; during one (the refused POST) it may be active: never failed, no attempt spent.
    expect(['waiting', 'active']).toContain(waiting.state);
    expect(waiting.attempts).toBe(0);
    expect(waiting.executions).toBeGreaterThanOrEqual(1);
    const late: Server = createServer((request, response) => {
      request.resume();
      request.on('end', () => response.end(JSON.stringify({ ok: 'late' })));
    });
    late.listen(port, '127.0.0.1');
    await once(late, 'listening');
    try {
      const view = await finished(id);
      expect([view.state, view.result, view.attempts]).toEqual(['completed', { ok: 'late' }, 1]);
    } finally {
      late.close();
    }
  });

  it('pauses a queue while its target is unreachable and resumes it after', async () => {
    let cloud = false;
    setup({ reachability: inProcessReachability(() => cloud) });
    script = () => ({ status: 200, body: { ok: 'cloud' } });
    const { id } = await intake!.submit(submission({ queue: 'cloud', dataClass: 'public' }));
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(workers!.paused('cloud')).toBe(true);
    expect(workers!.paused('edge')).toBe(false);
    expect((await intake!.status(id, 't1')).executions).toBe(0);
    cloud = true;
    const view = await finished(id);
    expect(view.state).toBe('completed');
    expect(workers!.paused('cloud')).toBe(false);
  });

  it('close() is idempotent', async () => {
    setup();
    const first = workers!.close();
    expect(workers!.close()).toBe(first);
    await first;
    const intakeClosed = intake!.close();
    expect(intake!.close()).toBe(intakeClosed);
    await intakeClosed;
    await expect(intake!.submit(submission())).rejects.toMatchObject({ code: 'EDGE_ERR_SHUTTING_DOWN' });
  });
});

describe('JobWorkers graceful close', () => {
  it('waits for the running job to finish (graceful) and completes it', async () => {
    setup();
    script = () => ({ status: 200, body: { ok: 'slow' } });
    // This node takes its time: the job is still running when close() is called.
    const slow: Server = createServer((request, response) => {
      request.resume();
      request.on('end', () => setTimeout(() => response.end(JSON.stringify({ ok: 'slow' })), 600));
    });
    slow.listen(0, '127.0.0.1');
    await once(slow, 'listening');
    await workers!.close({ force: true });
    const prefix = freshPrefix();
    prefixes.push(prefix);
    await intake!.close();
    intake = new JobIntake({ redisUrl: REDIS_URL, prefix, maxJobs: 100, commandTimeoutMs: 500, attempts: 1, backoffMs: 50, retentionSeconds: 600 });
    workers = new JobWorkers({
      redisUrl: REDIS_URL,
      prefix,
      nodeUrl: `http://127.0.0.1:${(slow.address() as { port: number }).port}`,
      concurrency: 1,
      lockMs: 2_000,
      runTimeoutMs: 5_000,
      retentionSeconds: 600,
      reachability: inProcessReachability(undefined),
      watchMs: 50,
    });
    try {
      const { id } = await intake.submit(submission());
      const until = Date.now() + 5_000;
      while ((await intake.status(id, 't1')).state !== 'active' && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 20));
      await workers.close();
      const view = await intake.status(id, 't1');
      expect([view.state, view.result]).toEqual(['completed', { ok: 'slow' }]);
    } finally {
      slow.close();
    }
  });
});
