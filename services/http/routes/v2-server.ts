/**
 * Open Inference Protocol: server metadata, health, model metadata and model readiness.
 *   GET /v2, /v2/health/live, /v2/health/ready,
 *   GET /v2/models/{m}[/versions/{v}], GET /v2/models/{m}[/versions/{v}]/ready
 */
import type { FastifyInstance } from 'fastify';
import { EdgeError } from '../../core/errors.ts';
import type { ModelRepository } from '../../core/contracts.ts';
import type { RouteOptions } from '../deps.ts';
import { assertModelName, assertModelVersion } from '../../registry/model-name.ts';
import { MODEL_PARAMS, MODEL_VERSION_PARAMS, TENSOR_METADATA, V2_ERROR } from '../schemas.ts';
import { datatypeOf } from '../v2/datatypes.ts';

export const SERVER_NAME = 'mec-inference';
export const SERVER_VERSION = '0.1.0';
export const EXTENSIONS = ['binary_tensor_data', 'model_repository', 'statistics'] as const;

interface ModelParams {
  model: string;
  version?: string;
}

const ERRORS = { 400: V2_ERROR, 404: V2_ERROR, 503: V2_ERROR };

const METADATA_RESPONSE = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    versions: { type: 'array', items: { type: 'string' } },
    platform: { type: 'string' },
    inputs: { type: 'array', items: TENSOR_METADATA },
    outputs: { type: 'array', items: TENSOR_METADATA },
  },
  required: ['name', 'versions', 'platform', 'inputs', 'outputs'],
} as const;

/** Model readiness, or the precise reason it is not (invalid name, unknown, not loaded). */
function assertModelReady(repository: ModelRepository, { model, version }: ModelParams): void {
  assertModelName(model);
  if (version !== undefined) assertModelVersion(version);
  if (repository.isReady(model, version)) return;
  // get() throws the precise code; if it does not, the model is known but not serving.
  repository.get(model, version);
  throw new EdgeError('EDGE_ERR_MODEL_NOT_READY', `model "${model}" is not ready`);
}

export async function v2ServerRoutes(app: FastifyInstance, { config, deps }: RouteOptions): Promise<void> {
  const { repository } = deps;

  app.get('/v2', {
    schema: {
      summary: 'Server metadata',
      tags: ['v2'],
      response: {
        200: {
          type: 'object',
          properties: { name: { type: 'string' }, version: { type: 'string' }, extensions: { type: 'array', items: { type: 'string' } } },
        },
      },
    },
  }, async () => ({ name: SERVER_NAME, version: SERVER_VERSION, extensions: [...EXTENSIONS] }));

  app.get('/v2/health/live', {
    schema: { summary: 'Liveness: 200 while the process serves HTTP', tags: ['v2'], response: { 200: { type: 'object', properties: { live: { type: 'boolean' } } } } },
  }, async () => ({ live: true }));

  app.get('/v2/health/ready', {
    schema: {
      summary: 'Readiness: 200 only when every configured model (models.load) is loaded',
      tags: ['v2'],
      response: { 200: { type: 'object', properties: { ready: { type: 'boolean' } } }, 503: V2_ERROR },
    },
  }, async () => {
    const waiting = config.models.load.filter((name) => !repository.isReady(name));
    if (waiting.length > 0) {
      throw new EdgeError('EDGE_ERR_MODEL_NOT_READY', `not ready: model(s) ${waiting.join(', ')} not loaded`);
    }
    return { ready: true };
  });

  const metadata = async (request: { params: ModelParams }) => {
    const { model, version } = request.params;
    assertModelName(model);
    if (version !== undefined) assertModelVersion(version);
    const loaded = repository.get(model, version);
    const versions = repository.index().filter((entry) => entry.name === model).map((entry) => entry.version);
    const describe = (spec: { name: string; type: Parameters<typeof datatypeOf>[0]; dims: readonly number[] }) => ({
      name: spec.name,
      datatype: datatypeOf(spec.type),
      shape: [...spec.dims],
    });
    return {
      name: model,
      versions: versions.length > 0 ? versions : [loaded.version],
      platform: 'onnxruntime_onnx',
      inputs: loaded.signature.inputs.map(describe),
      outputs: loaded.signature.outputs.map(describe),
    };
  };
  const metadataSchema = { summary: 'Model metadata (tensors, -1 = variable dimension)', tags: ['v2'], response: { 200: METADATA_RESPONSE, ...ERRORS } };
  app.get<{ Params: ModelParams }>('/v2/models/:model', { schema: { ...metadataSchema, params: MODEL_PARAMS } }, metadata);
  app.get<{ Params: ModelParams }>('/v2/models/:model/versions/:version', { schema: { ...metadataSchema, params: MODEL_VERSION_PARAMS } }, metadata);

  const ready = async (request: { params: ModelParams }) => {
    assertModelReady(repository, request.params);
    return { name: request.params.model, ready: true };
  };
  const readySchema = {
    summary: 'Model readiness: 200 = ready',
    tags: ['v2'],
    response: { 200: { type: 'object', properties: { name: { type: 'string' }, ready: { type: 'boolean' } } }, ...ERRORS },
  };
  app.get<{ Params: ModelParams }>('/v2/models/:model/ready', { schema: { ...readySchema, params: MODEL_PARAMS } }, ready);
  app.get<{ Params: ModelParams }>('/v2/models/:model/versions/:version/ready', { schema: { ...readySchema, params: MODEL_VERSION_PARAMS } }, ready);
}
