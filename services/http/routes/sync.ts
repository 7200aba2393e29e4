/**
 * Sync routes (docs/sync.md). On a cloud node with sync enabled: the manifest (long poll), the
 * files of each published version (only files the manifest lists; a path is looked up, never joined
 * onto a folder), acks from the edges, the operator's view of the edges, and publish (admin).
 * On an edge with sync enabled: GET /v1/sync/status. The cloud's routes need the sync token
 * (admin-guard.ts syncGuard); publish needs the admin token.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import { EdgeError } from '../../core/errors.ts';
import { isValidModelName } from '../../registry/model-name.ts';
import { MAX_WAIT_MS } from '../../sync/publisher.ts';
import { assertVersion, isNodeId, isSafeFilePath, parseAck, type ResourceKind } from '../../sync/resources.ts';
import { adminGuard, syncGuard } from '../admin-guard.ts';
import type { RouteOptions } from '../deps.ts';
import { clientGoneSignal } from '../request-signal.ts';

export type { SyncDeps } from '../../sync/index.ts';

interface ManifestQuery {
  after?: string;
  wait_ms?: string;
  node?: string;
}

function assertName(name: string): void {
  if (!isValidModelName(name)) {
    throw new EdgeError('EDGE_ERR_MODEL_NAME_INVALID', 'invalid resource name: use 1-128 of A-Z a-z 0-9 _ . - starting with a letter or digit, without ".."');
  }
}

function waitMsOf(value: string | undefined): number {
  if (value === undefined) return 0;
  const ms = Number(value);
  if (!/^[0-9]{1,9}$/.test(value) || ms > MAX_WAIT_MS) throw new EdgeError('EDGE_ERR_QUERY_INVALID', `wait_ms must be an integer from 0 to ${MAX_WAIT_MS}`);
  return ms;
}

export async function syncRoutes(app: FastifyInstance, { config, deps }: RouteOptions): Promise<void> {
  const sync = deps.sync;
  if (sync?.edge) {
    const agent = sync.edge;
    app.get('/v1/sync/status', { schema: { summary: 'Versions this edge holds, its last contact with the cloud, pending and rejected versions', tags: ['sync'] } }, async () => agent.status());
  }
  if (!sync?.cloud) return;
  const { publisher, reports } = sync.cloud;
  // Every route an edge or an operator reads needs the sync token; publish needs the admin token.
  const guarded = syncGuard(config.sync.token);

  app.get<{ Querystring: ManifestQuery }>(
    '/v1/sync/manifest',
    { preHandler: guarded, schema: { summary: 'The published models and policies; long poll: answers when the etag differs from `after` or after wait_ms', tags: ['sync'] } },
    async (request, reply) => {
      const { after, node } = request.query;
      const waitMs = waitMsOf(request.query.wait_ms);
      if (after !== undefined && (typeof after !== 'string' || after.length > 128)) throw new EdgeError('EDGE_ERR_QUERY_INVALID', 'after must be an etag of at most 128 characters');
      if (node !== undefined) {
        if (!isNodeId(node)) throw new EdgeError('EDGE_ERR_QUERY_INVALID', 'node must be 1-128 of A-Z a-z 0-9 _ . : -');
        reports.contact(node);
      }
      const manifest = await publisher.waitForChange(after, waitMs, clientGoneSignal(reply));
      reply.header('etag', `"${manifest.etag}"`);
      reply.header('cache-control', 'no-store');
      return manifest;
    },
  );

  const sendFile = async (kind: ResourceKind, name: string, versionText: string, filePath: string | undefined, reply: import('fastify').FastifyReply) => {
    assertName(name);
    const version = assertVersion(versionText);
    const wanted = filePath ?? `${name}.yaml`;
    if (!isSafeFilePath(wanted)) {
      throw new EdgeError('EDGE_ERR_REQUEST_MALFORMED', 'the file path must be plain segments of A-Z a-z 0-9 _ . - (no "..", no leading "/")');
    }
    const { absolute, file, text } = publisher.file(kind, name, version, wanted);
    const info = text === undefined ? await stat(absolute).catch(() => undefined) : undefined;
    if (text === undefined && info?.size !== file.bytes) {
      throw new EdgeError('EDGE_ERR_SYNC_RESOURCE_NOT_FOUND', `${kind} ${name} version ${version}: ${wanted} changed since it was published; poll the manifest again`, { retryAfterSeconds: 1 });
    }
    reply.header('content-type', kind === 'policy' ? 'application/yaml' : 'application/octet-stream');
    reply.header('content-length', file.bytes);
    reply.header('x-sync-sha256', file.sha256);
    return reply.send(text === undefined ? createReadStream(absolute) : Buffer.from(text));
  };

  app.get<{ Params: { name: string; version: string; '*': string } }>(
    '/v1/sync/models/:name/:version/*',
    { preHandler: guarded, schema: { summary: 'One file of a published model version (only files the manifest lists)', tags: ['sync'] } },
    async (request, reply) => sendFile('model', request.params.name, request.params.version, request.params['*'], reply),
  );

  app.get<{ Params: { name: string; version: string } }>(
    '/v1/sync/policies/:name/:version',
    { preHandler: guarded, schema: { summary: 'A published policy version (YAML)', tags: ['sync'] } },
    async (request, reply) => sendFile('policy', request.params.name, request.params.version, undefined, reply),
  );

  app.post('/v1/sync/ack', { preHandler: guarded, schema: { summary: 'An edge reports the versions it applied and rejected', tags: ['sync'] } }, async (request) => {
    const report = reports.ack(parseAck(request.body));
    return { node: report.node, lastContact: report.lastContact };
  });

  app.get('/v1/sync/nodes', { preHandler: guarded, schema: { summary: 'Each edge\'s applied and rejected versions and last contact', tags: ['sync'] } }, async () => ({
    etag: publisher.manifest().etag,
    resources: publisher.manifest().resources.map(({ kind, name, version }) => ({ kind, name, version })),
    problems: publisher.problems(),
    nodes: reports.list(),
  }));

  const admin = adminGuard(config.server.adminToken);
  app.post('/v1/sync/publish', { preHandler: admin, schema: { summary: 'Rescan the models and policies now and publish what changed (admin)', tags: ['sync'] } }, async () => {
    const manifest = await publisher.scan();
    return { etag: manifest.etag, resources: manifest.resources.map(({ kind, name, version }) => ({ kind, name, version })), problems: publisher.problems() };
  });
}
