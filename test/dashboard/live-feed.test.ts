/**
 * The dashboard's live feed: bounded stores, a slow client losing its oldest events (and told so
 * with `gap`), the client cap (503 EDGE_ERR_QUEUE_FULL), and open event streams not holding
 * app.close(). HTTP over real sockets; the feed is the real one, fed synthetic placement events.
 */
import { afterEach, describe, expect, it } from 'vitest';
import http from 'node:http';
import Fastify, { type FastifyInstance } from 'fastify';
import { LiveFeed } from '../../services/dashboard/live-feed.ts';
import { dashboardRoutes } from '../../services/http/routes/dashboard.ts';
import { sendError } from '../../services/http/http-errors.ts';
import { loadConfig } from '../../services/core/config.ts';
import type { PlacementEvent } from '../../services/core/events.ts';
import type { TierStatus } from '../../services/tiers/tier-status.ts';
import type { HttpDeps } from '../../services/http/deps.ts';

const status: TierStatus = { tier: 'mec', policy_version: 'p-1', load: { in_system: 0, workers: 2 }, serves: {}, transform_ms: {} };
const event = (i: number): PlacementEvent => ({ task: 'detect', dataClass: 'public', tier: i % 2 ? 'mec' : 'cloud', reason: 'fastest', actualMs: i, escalated: false, hardExample: false, jointInference: false });
const newFeed = (options: Partial<ConstructorParameters<typeof LiveFeed>[0]> = {}) =>
  new LiveFeed({ tierStatus: () => status, models: () => [{ name: 'defect', version: '1', state: 'READY' }], tickMs: 60_000, ...options });

let feed: LiveFeed | undefined;
let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  feed?.close();
  app = undefined;
  feed = undefined;
});

async function serve(liveFeed: LiveFeed, adminToken?: string): Promise<string> {
  app = Fastify({ logger: false });
  app.setErrorHandler((error, request, reply) => sendError(request, reply, error));
  const config = loadConfig({ log: { level: 'silent' }, ...(adminToken === undefined ? {} : { server: { adminToken } }) });
  await app.register(dashboardRoutes, { config, deps: { dashboard: liveFeed } as unknown as HttpDeps });
  return app.listen({ host: '127.0.0.1', port: 0 });
}

/** Parses SSE text into [event, data] pairs. */
function parse(text: string): Array<[string, unknown]> {
  return text.split('\n\n').filter((block) => block.startsWith('event: ')).map((block) => {
    const [head, data] = block.split('\n');
    return [head!.slice(7), JSON.parse(data!.slice(6))];
  });
}

function openStream(url: string): Promise<{ response: http.IncomingMessage; request: http.ClientRequest }> {
  return new Promise((resolve, reject) => {
    const request = http.get(`${url}/v1/dashboard/events`, (response) => resolve({ response, request }));
    request.on('error', reject);
  });
}

describe('dashboard live feed', () => {
  it('keeps bounded history: last N decisions, one latency bucket a second per tier, a window of buckets', () => {
    feed = newFeed({ maxDecisions: 10, latencyWindowSeconds: 3 });
    for (let i = 0; i < 25; i += 1) feed.placement(event(i));
    feed.tick();
    const snap = feed.snapshot();
    expect(snap.decisions).toHaveLength(10);
    expect(snap.decisions[0]!.actualMs).toBe(15);
    // mec: the odd i in 0..24 (12 of them, mean 12 ms); cloud: the even ones (13, mean 12 ms).
    expect(snap.latency[0]!.tiers.mec).toEqual({ n: 12, avg_ms: 12, max_ms: 23 });
    expect(snap.latency[0]!.tiers.cloud).toEqual({ n: 13, avg_ms: 12, max_ms: 24 });
    for (let i = 0; i < 5; i += 1) feed.tick();
    expect(feed.snapshot().latency).toHaveLength(3);
    expect(feed.snapshot().latency.at(-1)!.tiers).toEqual({});
  });

  it('keeps the frames of at most maxCameras cameras, two frames each, found by seq; the oldest camera goes first', () => {
    feed = newFeed({ maxCameras: 2 });
    const result = (defective: boolean) => ({ surface: 'metal', model: 'defect', version: '1', width: 10, height: 10, defective, score: defective ? 0.9 : 0.1, threshold: 0.5, regions: defective ? [{ box: { x: 1, y: 2, width: 3, height: 4 }, score: 0.9 }] : [], timings: {} as never });
    const bytes = (n: number) => new Uint8Array([0xff, 0xd8, n]);
    feed.cameraFrame('a', { frameId: 'a1', bytes: bytes(1) }, result(false));
    feed.cameraFrame('a', { frameId: 'a2', bytes: bytes(2) }, result(true));
    feed.cameraFrame('a', { frameId: 'a3', bytes: bytes(3) }, result(false));
    expect(feed.latestFrame('a')!.view).toMatchObject({ frame_id: 'a3', seq: 3 });
    expect(feed.latestFrame('a', 2)!.view).toMatchObject({ frame_id: 'a2', defective: true, regions: [{ box: { x: 1, y: 2, width: 3, height: 4 } }] });
    expect(feed.latestFrame('a', 1)).toBeUndefined();
    feed.cameraFrame('b', { frameId: 'b1', bytes: bytes(4) }, result(false));
    feed.cameraFrame('c', { frameId: 'c1', bytes: bytes(5) }, result(false));
    expect(feed.latestFrame('a')).toBeUndefined();
    expect(feed.snapshot().cameras.map((camera) => camera.camera_id)).toEqual(['b', 'c']);
    expect([...feed.latestFrame('c')!.bytes]).toEqual([0xff, 0xd8, 5]);
  });

  it('a slow client loses its oldest events, never holds more than its buffer, and gets `gap` with the count', () => {
    feed = newFeed({ clientBuffer: 8 });
    const client = feed.subscribe();
    for (let i = 0; i < 1000; i += 1) feed.placement(event(i));
    expect(client.queued).toBe(8);
    expect(client.lost).toBe(1000 + 1 - 8);
    const events = parse(client.take().join(''));
    expect(events[0]).toEqual(['gap', { lost: 993 }]);
    expect(events.slice(1).map(([name, data]) => [name, (data as PlacementEvent).actualMs])).toEqual([992, 993, 994, 995, 996, 997, 998, 999].map((ms) => ['placement', ms]));
    // The gap is told once.
    feed.placement(event(1000));
    expect(parse(client.take().join('')).map(([name]) => name)).toEqual(['placement']);
  });

  it('SSE over a real socket: snapshot first, then placement and tiers events', async () => {
    feed = newFeed();
    const url = await serve(feed);
    const { response, request } = await openStream(url);
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/event-stream/);
    let text = '';
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => (text += chunk));
    await until(() => text.includes('event: snapshot'));
    feed.placement(event(7));
    feed.tick();
    await until(() => text.includes('event: tiers'));
    const events = parse(text);
    expect(events.map(([name]) => name)).toEqual(['snapshot', 'placement', 'tiers']);
    expect((events[2]![1] as { latency: { tiers: Record<string, { n: number }> } }).latency.tiers.mec!.n).toBe(1);
    request.destroy();
    await until(() => feed!.clientCount === 0);
  });

  it('BAD CALL - a 33rd live client gets 503 EDGE_ERR_QUEUE_FULL with Retry-After; a slot frees when a client leaves', async () => {
    feed = newFeed();
    const url = await serve(feed);
    const open = await Promise.all(Array.from({ length: 32 }, () => openStream(url)));
    expect(open.every(({ response }) => response.statusCode === 200)).toBe(true);
    expect(feed.clientCount).toBe(32);
    const refused = await fetch(`${url}/v1/dashboard/events`);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('5');
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('EDGE_ERR_QUEUE_FULL');
    open[0]!.request.destroy();
    await until(() => feed!.clientCount === 31);
    const again = await openStream(url);
    expect(again.response.statusCode).toBe(200);
    for (const { request } of open) request.destroy();
    again.request.destroy();
  });

  it('a client that stops reading: the socket fills, its queue stays bounded, the server keeps serving others', async () => {
    feed = newFeed({ clientBuffer: 16 });
    const url = await serve(feed);
    const slow = await openStream(url);
    slow.response.pause();
    const big = { ...event(1), reason: 'x'.repeat(16_000) };
    for (let i = 0; i < 2000; i += 1) feed.placement(big);
    // 2000 x 16 KB = 32 MB offered; the socket buffers take some, the queue holds at most 16.
    const fast = await fetch(`${url}/dashboard/index.html`);
    expect(fast.status).toBe(200);
    const [stats] = feed.clientStats();
    expect(stats!.queued).toBeLessThanOrEqual(16);
    expect(stats!.lost).toBeGreaterThan(1000);
    expect(feed.clientCount).toBe(1);
    slow.request.destroy();
  });

  it('BAD CALL - with an admin token set, the feed and the frames need it (401 EDGE_ERR_ADMIN_UNAUTHORIZED); the page does not', async () => {
    feed = newFeed();
    const url = await serve(feed, 'dashboard-secret-token');
    for (const route of ['/v1/dashboard/events', '/v1/dashboard/cameras/cam-1/frame']) {
      const response = await fetch(`${url}${route}`, { headers: { authorization: 'Bearer wrong' } });
      expect(response.status, route).toBe(401);
      expect(((await response.json()) as { error: { code: string } }).error.code, route).toBe('EDGE_ERR_ADMIN_UNAUTHORIZED');
    }
    expect(feed.clientCount).toBe(0);
    expect((await fetch(`${url}/`)).status).toBe(200);
    const frame = await fetch(`${url}/v1/dashboard/cameras/cam-1/frame`, { headers: { authorization: 'Bearer dashboard-secret-token' } });
    expect(frame.status).toBe(404);
    expect(((await frame.json()) as { error: { code: string } }).error.code).toBe('EDGE_ERR_DASHBOARD_FRAME_NOT_FOUND');
  });

  it('app.close() ends open event streams instead of waiting for them', async () => {
    feed = newFeed();
    const url = await serve(feed);
    const streams = await Promise.all([openStream(url), openStream(url)]);
    const ended = streams.map(({ response }) => new Promise((resolve) => response.on('end', resolve).on('close', resolve).resume()));
    const started = Date.now();
    await app!.close();
    app = undefined;
    await Promise.all(ended);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(feed.clientCount).toBe(0);
  });
});

async function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
