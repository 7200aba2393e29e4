/**
 * The live dashboard: GET / (the page), GET /dashboard/{file} (a fixed list of files read once at
 * start: no path from the request reaches the file system), GET /v1/dashboard/events (Server-Sent
 * Events: `snapshot`, then `placement`, `tiers`, `camera`, `transcript`, `gap`) and
 * GET /v1/dashboard/cameras/{id}/frame (a camera's latest inspected frame).
 * The feed and the frames carry payloads (camera images, transcripts): they are admin-only
 * (admin-guard.ts: loopback, or the admin token as a Bearer header); the static page is not.
 */
import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { PROJECT_ROOT } from '../../core/config.ts';
import { EdgeError } from '../../core/errors.ts';
import { assertCameraId } from '../../streams/camera-id.ts';
import { adminGuard } from '../admin-guard.ts';
import type { RouteOptions } from '../deps.ts';

// From the project root, not from this file: compiled, this module runs from dist/, and the page's
// files are not compiled (they live only in services/dashboard/public).
const PUBLIC = path.join(PROJECT_ROOT, 'services', 'dashboard', 'public');
const FILES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'dashboard.js': 'text/javascript; charset=utf-8',
  'dashboard.css': 'text/css; charset=utf-8',
};
/** Read when the routes are registered (a node starting), never at import: other commands import this module too. */
function readAssets(): Map<string, { type: string; body: Buffer }> {
  return new Map(Object.entries(FILES).map(([name, type]) => [name, { type, body: readFileSync(path.join(PUBLIC, name)) }]));
}

function imageType(bytes: Uint8Array): string {
  if (bytes[0] === 0x89 && bytes[1] === 0x50) return 'image/png';
  return 'image/jpeg';
}

export async function dashboardRoutes(app: FastifyInstance, { config, deps }: RouteOptions): Promise<void> {
  const feed = deps.dashboard;
  const admin = adminGuard(config.server.adminToken);
  const ASSETS = readAssets();
  // Open event streams would hold app.close() forever: they end before the server closes.
  app.addHook('preClose', (done) => {
    feed?.close();
    done();
  });

  const sendAsset = (name: string) => {
    const asset = ASSETS.get(name);
    if (asset === undefined) throw new EdgeError('EDGE_ERR_ROUTE_NOT_FOUND', `no dashboard file ${JSON.stringify(name.slice(0, 64))}`);
    return asset;
  };

  app.get('/', { schema: { hide: true } }, async (_request, reply) => {
    const asset = sendAsset('index.html');
    return reply.type(asset.type).header('cache-control', 'no-cache').send(asset.body);
  });

  app.get<{ Params: { file: string } }>('/dashboard/:file', { schema: { hide: true } }, async (request, reply) => {
    // Only the fixed names: anything else (.., encoded slashes, other files) is a 404.
    const asset = sendAsset(Object.hasOwn(FILES, request.params.file) ? request.params.file : '');
    return reply.type(asset.type).header('cache-control', 'no-cache').send(asset.body);
  });

  app.get('/v1/dashboard/events', { preHandler: admin, schema: { summary: 'Live dashboard feed (Server-Sent Events)', tags: ['dashboard'] } }, async (request, reply) => {
    if (feed === undefined) throw new EdgeError('EDGE_ERR_ROUTE_NOT_FOUND', 'the dashboard is off on this node');
    const client = feed.subscribe();
    reply.hijack();
    const raw = reply.raw;
    // connection: close - the socket goes with the stream, so a closing server does not wait out a keep-alive.
    raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'close', 'x-accel-buffering': 'no' });
    raw.on('close', () => client.close());
    request.raw.on('close', () => client.close());
    // The pump: writes what is queued, waits for 'drain' when the socket is full (the client's own
    // bounded queue drops its oldest events meanwhile).
    void (async () => {
      try {
        while (!client.closed) {
          const chunk = client.take();
          if (chunk.length === 0) {
            await client.wait();
            continue;
          }
          if (!raw.write(chunk.join(''))) await Promise.race([once(raw, 'drain'), once(raw, 'close')]);
        }
      } catch {
        client.close();
      }
      if (!raw.writableEnded) raw.end();
    })();
  });

  const frameQuery = { type: 'object', properties: { seq: { type: 'integer', minimum: 1 } }, additionalProperties: false } as const;
  app.get<{ Params: { id: string }; Querystring: { seq?: number } }>('/v1/dashboard/cameras/:id/frame', { preHandler: admin, schema: { summary: 'A camera\'s latest inspected frame (or, with seq, that one while it is kept)', tags: ['dashboard'], querystring: frameQuery } }, async (request, reply) => {
    assertCameraId(request.params.id);
    const frame = feed?.latestFrame(request.params.id, request.query.seq);
    if (frame === undefined) throw new EdgeError('EDGE_ERR_DASHBOARD_FRAME_NOT_FOUND', `no inspected frame from camera ${request.params.id}${request.query.seq === undefined ? ' yet' : ` with seq ${request.query.seq} (only the last two are kept)`}`);
    return reply.type(imageType(frame.bytes)).header('cache-control', 'no-store').header('x-frame-id', frame.view.frame_id).header('x-frame-seq', String(frame.view.seq)).send(Buffer.from(frame.bytes.buffer, frame.bytes.byteOffset, frame.bytes.byteLength));
  });
}
