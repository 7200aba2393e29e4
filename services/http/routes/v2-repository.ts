/**
 * Triton's extensions: model repository (index, load, unload) and statistics.
 *   POST /v2/repository/index, POST /v2/repository/models/{m}/load|unload,
 *   GET /v2/models/stats, GET /v2/models/{m}[/versions/{v}]/stats
 * Load and unload change what the node serves: they are admin-only (admin-guard.ts).
 */
import type { FastifyInstance } from 'fastify';
import type { ModelRepository } from '../../core/contracts.ts';
import { EdgeError } from '../../core/errors.ts';
import type { RouteOptions } from '../deps.ts';
import { adminGuard } from '../admin-guard.ts';
import { assertModelName, assertModelVersion } from '../../registry/model-name.ts';
import { documentedBody, MODEL_PARAMS, MODEL_VERSION_PARAMS, V2_ERROR } from '../schemas.ts';
import { parseGuardedJson } from '../v2/json-guard.ts';

interface ModelParams {
  model: string;
  version?: string;
}

const DURATION = { type: 'object', properties: { count: { type: 'integer' }, ns: { type: 'integer' } } } as const;

const MODEL_STATS = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    version: { type: 'string' },
    last_inference: { type: 'integer' },
    inference_count: { type: 'integer' },
    execution_count: { type: 'integer' },
    inference_stats: {
      type: 'object',
      properties: { success: DURATION, fail: DURATION, queue: DURATION, compute_input: DURATION, compute_infer: DURATION, compute_output: DURATION },
    },
  },
} as const;

const STATS_RESPONSE = { type: 'object', properties: { model_stats: { type: 'array', items: MODEL_STATS } } } as const;

const INDEX_RESPONSE = {
  type: 'array',
  items: {
    type: 'object',
    properties: { name: { type: 'string' }, version: { type: 'string' }, state: { type: 'string' }, reason: { type: 'string' } },
  },
} as const;

/** The optional JSON body of POST /v2/repository/index: {"ready": true} lists only ready models. */
function readyOnly(body: unknown, maxJsonDepth: number): boolean {
  if (!Buffer.isBuffer(body) || body.byteLength === 0) return false;
  const parsed = parseGuardedJson(body.toString('utf8'), maxJsonDepth);
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new EdgeError('EDGE_ERR_V2_REQUEST_INVALID', 'the index request body must be a JSON object, e.g. {"ready": true}');
  }
  const ready = (parsed as { ready?: unknown }).ready;
  if (ready !== undefined && typeof ready !== 'boolean') throw new EdgeError('EDGE_ERR_V2_REQUEST_INVALID', '"ready" must be a boolean');
  return ready === true;
}

function assertKnownModel(repository: ModelRepository, name: string): void {
  if (!repository.index().some((entry) => entry.name === name)) {
    throw new EdgeError('EDGE_ERR_MODEL_NOT_FOUND', `model "${name}" is not in the repository`);
  }
}

export async function v2RepositoryRoutes(app: FastifyInstance, { config, deps }: RouteOptions): Promise<void> {
  const { repository, runtime } = deps;

  app.post('/v2/repository/index', {
    config: documentedBody({ type: 'object', properties: { ready: { type: 'boolean' } } }),
    schema: { summary: 'Every model in the repository and its state', tags: ['v2 repository'], response: { 200: INDEX_RESPONSE, 400: V2_ERROR } },
  }, async (request) => {
    const onlyReady = readyOnly(request.body, config.server.maxJsonDepth);
    return repository.index().filter((entry) => !onlyReady || entry.state === 'READY');
  });

  const admin = adminGuard(config.server.adminToken);
  const loadSchema = (summary: string) => ({
    summary: `${summary} (admin)`,
    tags: ['v2 repository'],
    params: MODEL_PARAMS,
    response: {
      200: { type: 'object', properties: { name: { type: 'string' }, state: { type: 'string' } } },
      400: V2_ERROR, 401: V2_ERROR, 403: V2_ERROR, 404: V2_ERROR, 500: V2_ERROR,
    },
  });
  app.post<{ Params: ModelParams }>('/v2/repository/models/:model/load', { preHandler: admin, schema: loadSchema('Load (or reload) a model; a failed reload keeps the old version') }, async (request) => {
    const name = request.params.model;
    assertModelName(name);
    await repository.load(name);
    return { name, state: 'READY' };
  });
  app.post<{ Params: ModelParams }>('/v2/repository/models/:model/unload', { preHandler: admin, schema: loadSchema('Unload a model') }, async (request) => {
    const name = request.params.model;
    assertModelName(name);
    await repository.unload(name);
    return { name, state: 'UNAVAILABLE' };
  });

  const statsSchema = { summary: 'Statistics (Triton): counts and cumulative ns per phase', tags: ['v2 repository'], response: { 200: STATS_RESPONSE, 400: V2_ERROR, 404: V2_ERROR } };
  app.get('/v2/models/stats', { schema: statsSchema }, async () => ({ model_stats: runtime.stats() }));
  const modelStats = async (request: { params: ModelParams }) => {
    const { model, version } = request.params;
    assertModelName(model);
    if (version !== undefined) assertModelVersion(version);
    assertKnownModel(repository, model);
    const stats = runtime.stats().filter((entry) => entry.name === model && (version === undefined || entry.version === version));
    if (version !== undefined && stats.length === 0) {
      throw new EdgeError('EDGE_ERR_MODEL_VERSION_NOT_FOUND', `model "${model}" has no statistics for version "${version}"`);
    }
    return { model_stats: stats };
  };
  app.get<{ Params: ModelParams }>('/v2/models/:model/stats', { schema: { ...statsSchema, params: MODEL_PARAMS } }, modelStats);
  app.get<{ Params: ModelParams }>('/v2/models/:model/versions/:version/stats', { schema: { ...statsSchema, params: MODEL_VERSION_PARAMS } }, modelStats);
}
