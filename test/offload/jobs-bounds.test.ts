/**
 * Bounds and Redis outages at the HTTP edge: past offload.maxJobs unfinished jobs intake answers
 * 503 EDGE_ERR_JOBS_FULL with Retry-After; with no Redis at all the node starts, its synchronous
 * routes serve, and job intake and status answer 503 EDGE_ERR_JOBS_UNAVAILABLE within a second.
 */
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../services/core/config.ts';
import { startNode, type RunningNode } from '../../services/node.ts';
import { dropPrefix, frame, freshPrefix, REDIS_URL } from './helpers.ts';

const prefix = freshPrefix();
let bounded: RunningNode;
let orphan: RunningNode;

/** A port nothing listens on (taken, then released). */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const nodeConfig = (offload: Record<string, unknown>) =>
  loadConfig({
    server: { port: 0 },
    runtime: { workers: 1 },
    models: { load: ['defect'] },
    streams: { mqtt: { enabled: false } },
    log: { level: 'silent' },
    offload: { enabled: true, ...offload },
  });

beforeAll(async () => {
  // No embedded worker: jobs stay unfinished, so the bound is reached deterministically.
  bounded = await startNode(nodeConfig({ redisUrl: REDIS_URL, prefix, maxJobs: 3, worker: { embedded: false } }));
  orphan = await startNode(nodeConfig({ redisUrl: `redis://127.0.0.1:${await deadPort()}`, prefix, commandTimeoutMs: 300 }));
});

afterAll(async () => {
  await bounded?.close();
  await orphan?.close();
  await dropPrefix(REDIS_URL, prefix);
});

const post = (node: RunningNode, body: Buffer) =>
  fetch(`${node.url}/v1/jobs?task=inspect&surface=brick`, { method: 'POST', body, headers: { 'content-type': 'image/jpeg' } });

describe('job intake bounds', () => {
  it('BAD CALL - past offload.maxJobs unfinished jobs, intake answers 503 EDGE_ERR_JOBS_FULL with Retry-After', async () => {
    const image = frame('brick-good.jpg');
    for (let i = 0; i < 3; i += 1) expect((await post(bounded, image)).status).toBe(202);
    const full = await post(bounded, image);
    expect(full.status).toBe(503);
    expect(Number(full.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const body = (await full.json()) as { error: { code: string; details: { unfinished: number; maxJobs: number } } };
    expect(body.error.code).toBe('EDGE_ERR_JOBS_FULL');
    expect(body.error.details).toEqual({ unfinished: 3, maxJobs: 3 });
  });

  it('BAD CALL - a burst of concurrent submissions cannot overshoot offload.maxJobs: exactly the room left is accepted', async () => {
    const burstPrefix = `${prefix}-burst`;
    const burst = await startNode(nodeConfig({ redisUrl: REDIS_URL, prefix: burstPrefix, maxJobs: 10, worker: { embedded: false } }));
    try {
      const image = frame('brick-good.jpg');
      const answers = await Promise.all(Array.from({ length: 40 }, () => post(burst, image)));
      const statuses = answers.map((answer) => answer.status);
      expect(statuses.filter((status) => status === 202)).toHaveLength(10);
      expect(statuses.filter((status) => status === 503)).toHaveLength(30);
      const refused = (await answers.find((answer) => answer.status === 503)!.json()) as { error: { code: string } };
      expect(refused.error.code).toBe('EDGE_ERR_JOBS_FULL');
    } finally {
      await burst.close();
      await dropPrefix(REDIS_URL, burstPrefix);
    }
  });
});

describe('Redis unavailable', () => {
  it('BAD CALL - with no Redis, intake and status answer 503 EDGE_ERR_JOBS_UNAVAILABLE within 1 s; the sync route serves', async () => {
    const image = frame('brick-good.jpg');
    for (let i = 0; i < 3; i += 1) {
      const started = performance.now();
      const response = await post(orphan, image);
      const elapsed = performance.now() - started;
      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).not.toBeNull();
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('EDGE_ERR_JOBS_UNAVAILABLE');
      expect(elapsed).toBeLessThan(1000);
    }
    const started = performance.now();
    const status = await fetch(`${orphan.url}/v1/jobs/j${'a'.repeat(32)}`);
    expect(status.status).toBe(503);
    expect(performance.now() - started).toBeLessThan(1000);
    const sync = await fetch(`${orphan.url}/v1/inspect?surface=brick`, { method: 'POST', body: image, headers: { 'content-type': 'image/jpeg' } });
    expect(sync.status).toBe(200);
  });
});
