/**
 * POST /v2/models/{m}[/versions/{v}]/infer: JSON tensors or Triton's binary tensor extension.
 * The body arrives as bytes (any content type); the codec decodes and validates it, the
 * signature check matches it to the model, the repository runs it, the codec encodes the answer.
 * Each request is published as a task event ('v2-infer') for the phase histograms.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { performance } from 'node:perf_hooks';
import { EdgeError, toEdgeError } from '../../core/errors.ts';
import { publishTask } from '../../core/events.ts';
import type { RouteOptions } from '../deps.ts';
import { assertModelName, assertModelVersion } from '../../registry/model-name.ts';
import { clientGoneSignal } from '../request-signal.ts';
import { documentedBody, MODEL_PARAMS, MODEL_VERSION_PARAMS, V2_ERROR } from '../schemas.ts';
import { decodeInferRequest, parseHeaderLength } from '../v2/decode-request.ts';
import { encodeInferResponse } from '../v2/encode-response.ts';
import { checkAgainstSignature } from '../v2/signature-check.ts';
import { deadlineHeaderMs, remainingV2TimeoutMs } from '../v2/deadline.ts';

export const INFER_TASK = 'v2-infer';
export const HEADER_LENGTH_HEADER = 'inference-header-content-length';
/** A client-given timeout (parameters.timeout) is honoured up to this. */
const MAX_CLIENT_TIMEOUT_MS = 10 * 60 * 1000;

const TENSOR = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    shape: { type: 'array', items: { type: 'integer', minimum: 0 } },
    datatype: { type: 'string', enum: ['BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP16', 'FP32', 'FP64', 'BYTES'] },
    parameters: { type: 'object', properties: { binary_data_size: { type: 'integer', minimum: 0 } } },
    data: { type: 'array', description: 'Row-major elements, flat or nested' },
  },
  required: ['name', 'shape', 'datatype'],
} as const;

const INFER_REQUEST = {
  type: 'object',
  description:
    'JSON request; with the binary extension the first Inference-Header-Content-Length bytes are this JSON and the raw tensors follow',
  properties: {
    id: { type: 'string' },
    parameters: {
      type: 'object',
      properties: {
        binary_data_output: { type: 'boolean' },
        timeout: { type: 'integer', description: 'microseconds' },
        priority: { type: 'integer' },
      },
    },
    inputs: { type: 'array', items: TENSOR },
    outputs: {
      type: 'array',
      items: { type: 'object', properties: { name: { type: 'string' }, parameters: { type: 'object', properties: { binary_data: { type: 'boolean' } } } } },
    },
  },
  required: ['inputs'],
} as const;

const INFER_RESPONSE = {
  type: 'object',
  properties: {
    model_name: { type: 'string' },
    model_version: { type: 'string' },
    id: { type: 'string' },
    outputs: { type: 'array', items: TENSOR },
  },
} as const;

interface InferParams {
  model: string;
  version?: string;
}

export async function v2InferRoutes(app: FastifyInstance, { config, deps }: RouteOptions): Promise<void> {
  const { repository } = deps;

  const infer = async (request: FastifyRequest<{ Params: InferParams }>, reply: FastifyReply) => {
    const started = performance.now();
    const { model, version } = request.params;
    assertModelName(model);
    if (version !== undefined) assertModelVersion(version);
    const body = request.body;
    if (!Buffer.isBuffer(body) || body.byteLength === 0) throw new EdgeError('EDGE_ERR_BODY_EMPTY', 'the infer request body is empty');
    // Resolved before the try: only models that exist become metric labels, never arbitrary names.
    const loaded = repository.get(model, version);
    let resolvedVersion = loaded.version;
    try {
      const headerLength = parseHeaderLength(request.headers[HEADER_LENGTH_HEADER], body.byteLength);
      const decoded = decodeInferRequest(body, headerLength, { maxJsonDepth: config.server.maxJsonDepth });
      checkAgainstSignature(decoded, loaded.signature, model);
      const decodedAt = performance.now();
      // parameters.timeout and x-deadline-ms both bound the request; the shorter wins.
      const timeoutMs = remainingV2TimeoutMs({
        parameterTimeoutMs: decoded.timeoutMs,
        headerMs: deadlineHeaderMs(request.headers),
        defaultMs: config.server.defaultInferTimeoutMs,
        maxMs: MAX_CLIENT_TIMEOUT_MS,
        startedAt: started,
      });
      const inputs: Record<string, (typeof decoded.inputs)[number]['tensor']> = Object.create(null);
      for (const input of decoded.inputs) inputs[input.name] = input.tensor;
      const result = await repository.infer(model, version, inputs, {
        timeoutMs,
        signal: clientGoneSignal(reply),
        ...(decoded.priority === undefined ? {} : { priority: decoded.priority }),
        ...(decoded.outputs === undefined ? {} : { outputs: decoded.outputs.map((output) => output.name) }),
      });
      resolvedVersion = result.version;
      const ranAt = performance.now();
      const encoded = encodeInferResponse({
        model,
        version: result.version,
        ...(decoded.id === undefined ? {} : { id: decoded.id }),
        outputs: result.outputs,
        declaredOrder: loaded.signature.outputs.map((spec) => spec.name),
        ...(decoded.outputs === undefined ? {} : { requested: decoded.outputs }),
        binaryOutputs: decoded.binaryOutputs,
      });
      const finished = performance.now();
      publishTask({
        task: INFER_TASK,
        model,
        version: result.version,
        ok: true,
        decodeMs: decodedAt - started,
        preprocessMs: 0,
        queueMs: result.timings.queue_ms,
        inferMs: result.timings.infer_ms,
        postprocessMs: finished - ranAt,
        totalMs: finished - started,
      });
      if (encoded.kind === 'json') return encoded.body;
      reply.header(HEADER_LENGTH_HEADER, String(encoded.headerLength));
      reply.type('application/octet-stream');
      return encoded.body;
    } catch (error) {
      const { code } = toEdgeError(error);
      const totalMs = performance.now() - started;
      publishTask({ task: INFER_TASK, model, version: resolvedVersion, ok: false, code, decodeMs: 0, preprocessMs: 0, queueMs: 0, inferMs: 0, postprocessMs: 0, totalMs });
      throw error;
    }
  };

  const schema = {
    summary: 'Run a model (JSON tensors or the binary tensor extension)',
    tags: ['v2'],
    consumes: ['application/json', 'application/octet-stream'],
    response: { 200: INFER_RESPONSE, 400: V2_ERROR, 404: V2_ERROR, 413: V2_ERROR, 500: V2_ERROR, 503: V2_ERROR },
  };
  // The codec validates the body; tensors can be large, so JSON.stringify serializes the answer.
  const routeOptions = {
    config: documentedBody(INFER_REQUEST),
    bodyLimit: config.server.bodyLimitBytes,
    serializerCompiler: () => (data: unknown) => JSON.stringify(data),
  };
  app.post<{ Params: InferParams }>('/v2/models/:model/infer', { ...routeOptions, schema: { ...schema, params: MODEL_PARAMS } }, infer);
  app.post<{ Params: InferParams }>('/v2/models/:model/versions/:version/infer', { ...routeOptions, schema: { ...schema, params: MODEL_VERSION_PARAMS } }, infer);
}
