/**
 * Per-client rate limit (config tasks.rateLimit) over real sockets: 429 EDGE_ERR_RATE_LIMITED in our
 * error shape with Retry-After, per tenant (x-tenant) or per address, on task routes only.
 * Requests are sent one after another (concurrent inject() sees the limiter differently).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../http/helpers.ts';
import { isRateLimitedRoute } from '../../services/http/rate-limit.ts';

const SUM_BODY = JSON.stringify({
  inputs: [
    { name: 'INPUT0', shape: [1, 16], datatype: 'FP32', data: Array.from({ length: 16 }, (_, index) => index) },
    { name: 'INPUT1', shape: [1, 16], datatype: 'FP32', data: Array.from({ length: 16 }, () => 1) },
  ],
});

interface Answer {
  status: number;
  retryAfter: string | null;
  body: Record<string, unknown>;
}

async function call(base: string, path: string, init: { method?: string; body?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  const response = await fetch(`${base}${path}`, {
    method: init.method ?? 'GET',
    ...(init.body === undefined ? {} : { body: init.body }),
    headers: { ...(init.body === undefined ? {} : { 'content-type': 'application/json' }), ...init.headers },
  });
  const text = await response.text();
  return { status: response.status, retryAfter: response.headers.get('retry-after'), body: text.startsWith('{') ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

const infer = (base: string, tenant?: string) => call(base, '/v2/models/sum/infer', { method: 'POST', body: SUM_BODY, ...(tenant ? { headers: { 'x-tenant': tenant } } : {}) });

describe('per-client rate limit', () => {
  let stack: Stack;
  let base: string;

  beforeAll(async () => {
    stack = await startStack({ models: { load: ['sum'] }, tasks: { rateLimit: { max: 3, windowMs: 60_000 } } });
    base = await stack.app.listen({ port: 0, host: '127.0.0.1' });
  });

  afterAll(async () => {
    await stack?.close();
  });

  it('BAD CALL - past max requests in the window -> 429 EDGE_ERR_RATE_LIMITED with Retry-After, V2 shape on /v2', async () => {
    const statuses: number[] = [];
    for (let index = 0; index < 3; index += 1) statuses.push((await infer(base, 'alpha')).status);
    expect(statuses).toEqual([200, 200, 200]);
    const limited = await infer(base, 'alpha');
    expect(limited.status).toBe(429);
    expect(limited.body).toEqual({ error: expect.stringContaining('more than 3 requests'), code: 'EDGE_ERR_RATE_LIMITED' });
    expect(Number(limited.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(Number(limited.retryAfter)).toBeLessThanOrEqual(60);
  });

  it('BAD CALL - the /v1 shape on /v1 task routes, counted against the same client budget', async () => {
    const limited = await call(base, '/v1/inspect?surface=metal', { method: 'POST', body: '{}', headers: { 'x-tenant': 'alpha' } });
    expect(limited.status).toBe(429);
    expect(limited.body).toMatchObject({ error: { code: 'EDGE_ERR_RATE_LIMITED', details: { max: 3, window_ms: 60_000 } } });
    expect(limited.retryAfter).not.toBeNull();
  });

  it('another tenant has its own budget', async () => {
    expect((await infer(base, 'beta')).status).toBe(200);
  });

  it('without x-tenant the client address is the key (one budget for every anonymous request from it)', async () => {
    const statuses: number[] = [];
    for (let index = 0; index < 4; index += 1) statuses.push((await infer(base)).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    // A malformed tenant is not a way around the limit: it counts as the address too.
    expect((await infer(base, 'bad tenant!')).status).toBe(429);
  });

  it('health, readiness, metrics, tier status and the model index are never limited', async () => {
    for (let round = 0; round < 5; round += 1) {
      for (const path of ['/v2/health/live', '/v2/health/ready', '/metrics', '/v1/tier/status', '/v2']) {
        const answer = await call(base, path, { headers: { 'x-tenant': 'alpha' } });
        expect({ path, status: answer.status }).toEqual({ path, status: 200 });
      }
    }
  });

  it('the limited routes are the task routes and /v1/jobs', () => {
    expect(isRateLimitedRoute('POST', '/v1/vision/detect')).toBe(true);
    expect(isRateLimitedRoute('POST', '/v1/inspect')).toBe(true);
    expect(isRateLimitedRoute('POST', '/v1/asr')).toBe(true);
    expect(isRateLimitedRoute('POST', '/v2/models/:model/versions/:version/infer')).toBe(true);
    expect(isRateLimitedRoute('POST', '/v1/jobs')).toBe(true);
    expect(isRateLimitedRoute('GET', '/v1/jobs/:id')).toBe(true);
    expect(isRateLimitedRoute('GET', '/v1/inspect/surfaces')).toBe(false);
    expect(isRateLimitedRoute(['GET', 'HEAD'], '/metrics')).toBe(false);
    expect(isRateLimitedRoute('GET', '/v2/health/ready')).toBe(false);
  });
});

describe('rate limit off (the default)', () => {
  it('max 0 registers nothing: many requests from one client are all served', async () => {
    const stack = await startStack({ models: { load: ['sum'] } });
    try {
      const base = await stack.app.listen({ port: 0, host: '127.0.0.1' });
      const statuses = new Set<number>();
      for (let index = 0; index < 20; index += 1) statuses.add((await infer(base, 'alpha')).status);
      expect([...statuses]).toEqual([200]);
    } finally {
      await stack.close();
    }
  });
});
