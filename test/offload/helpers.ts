/**
 * Shared by the offload tests: a fresh BullMQ prefix per test file (and its keys removed after),
 * the fixtures' frames, and a poll for a job to finish.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { PROJECT_ROOT } from '../../services/core/config.ts';

export const REDIS_URL = process.env.MEC_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export function freshPrefix(): string {
  return `t-offload-${randomBytes(5).toString('hex')}`;
}

/** Deletes every key under `prefix` (SCAN, never KEYS: the shared Redis may be busy). */
export async function dropPrefix(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

export function frame(name: string): Buffer {
  return readFileSync(path.join(PROJECT_ROOT, 'test/fixtures/inspect', name));
}

export interface JobAnswer {
  id: string;
  state: string;
  task: string;
  result?: Record<string, unknown>;
  error?: { code: string; message: string };
  attempts: number;
  executions: number;
  submitted_at: string;
  finished_at?: string;
}

/** Polls GET /v1/jobs/{id} until the job is completed or failed. */
export async function waitFinished(baseUrl: string, id: string, tenant = 'anonymous', timeoutMs = 30_000): Promise<JobAnswer> {
  const until = Date.now() + timeoutMs;
  let last: JobAnswer | undefined;
  while (Date.now() < until) {
    const response = await fetch(`${baseUrl}/v1/jobs/${id}`, { headers: { 'x-tenant': tenant } });
    if (response.status === 200) {
      last = (await response.json()) as JobAnswer;
      if (last.state === 'completed' || last.state === 'failed') return last;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`job ${id} did not finish within ${timeoutMs} ms (last: ${JSON.stringify(last)})`);
}
