/**
 * Durable jobs (docs/jobs.md):
 * - `POST /v1/jobs?task=detect|inspect|asr` (+ the task's own query parameters) with the body the
 *   synchronous route takes (raw image or WAV): 202 {id, state} and a Location header. Headers:
 *   x-tenant, x-data-class (as on the synchronous routes), idempotency-key (1-128 printable ASCII),
 *   x-webhook-url (absolute http(s) URL). A replay of the same request with the same key answers
 *   the existing job with `idempotent-replayed: true`.
 * - `GET /v1/jobs/{id}`: {id, state, task, result?, error?, attempts, executions, submitted_at,
 *   finished_at?}; another tenant's job is 404 like one that never existed.
 * Registered only when the node has offload on (deps.jobs).
 */
import type { FastifyInstance } from 'fastify';
import { EdgeError } from '../../core/errors.ts';
import type { RouteOptions } from '../deps.ts';
import { readRequestMeta } from '../../dispatch/request-meta.ts';
import { isJobTask, JOB_TASKS, parseWebhookUrl, type JobService, type JobTask } from '../../offload/index.ts';
import { AUDIO_CONTENT_TYPES, audioBodyLimit } from '../audio-body.ts';
import { IMAGE_CONTENT_TYPES } from '../image-body.ts';
import { acceptRawBodies } from '../raw-body.ts';
import { V1_ERROR } from '../schemas.ts';

/** The query parameters each task's synchronous route takes (checked again there when the job runs). */
const TASK_QUERY: Readonly<Record<JobTask, { allowed: readonly string[]; required: readonly string[] }>> = {
  detect: { allowed: ['model', 'threshold', 'max'], required: [] },
  inspect: { allowed: ['surface', 'threshold'], required: ['surface'] },
  asr: { allowed: [], required: [] },
};
const MAX_QUERY_VALUE = 256;
const IDEMPOTENCY_KEY = /^[\x20-\x7e]{1,128}$/;

const ACCEPTED = {
  type: 'object',
  properties: { id: { type: 'string' }, state: { type: 'string', enum: ['waiting', 'active', 'completed', 'failed'] } },
  required: ['id', 'state'],
} as const;

const JOB = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    state: { type: 'string', enum: ['waiting', 'active', 'completed', 'failed'] },
    task: { type: 'string', enum: [...JOB_TASKS] },
    result: { type: 'object', additionalProperties: true, description: 'The synchronous route\'s answer (completed jobs)' },
    error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } }, required: ['code', 'message'] },
    attempts: { type: 'integer', description: 'Attempts spent (an outage of the cloud or the node spends none)' },
    executions: { type: 'integer', description: 'Runs started, duplicates included (a worker that died mid-run)' },
    submitted_at: { type: 'string', format: 'date-time' },
    finished_at: { type: 'string', format: 'date-time' },
  },
  required: ['id', 'state', 'task', 'attempts', 'executions', 'submitted_at'],
} as const;

function single(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = headers[name];
  if (Array.isArray(value)) return value.length === 1 ? value[0] : '\u0000';
  return value;
}

function taskQuery(raw: Record<string, unknown>): { task: JobTask; query: Record<string, string> } {
  const task = raw.task;
  if (!isJobTask(task)) throw new EdgeError('EDGE_ERR_QUERY_INVALID', `task must be one of ${JOB_TASKS.join(', ')}`, { details: { parameter: 'task' } });
  const rule = TASK_QUERY[task];
  const query: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (name === 'task') continue;
    if (!rule.allowed.includes(name)) throw new EdgeError('EDGE_ERR_QUERY_INVALID', `${name} is not a parameter of task ${task} (allowed: ${rule.allowed.join(', ') || 'none'})`, { details: { parameter: name } });
    if (typeof value !== 'string' || value.length === 0 || value.length > MAX_QUERY_VALUE) {
      throw new EdgeError('EDGE_ERR_QUERY_INVALID', `${name} must be given once, 1-${MAX_QUERY_VALUE} characters`, { details: { parameter: name } });
    }
    query[name] = value;
  }
  const missing = rule.required.find((name) => query[name] === undefined);
  if (missing !== undefined) throw new EdgeError('EDGE_ERR_QUERY_INVALID', `task ${task} needs the query parameter ${missing}`, { details: { parameter: missing } });
  return { task, query };
}

export async function jobRoutes(app: FastifyInstance, { config, deps }: RouteOptions): Promise<void> {
  const jobs: JobService | undefined = deps.jobs;
  if (jobs === undefined) return;
  const bodyLimit = Math.max(config.server.bodyLimitBytes, audioBodyLimit(config));
  acceptRawBodies(app, [...new Set([...IMAGE_CONTENT_TYPES, ...AUDIO_CONTENT_TYPES])], bodyLimit);

  app.post(
    '/v1/jobs',
    {
      bodyLimit,
      schema: {
        summary: 'Submit a durable job: the task runs later, at least once; poll GET /v1/jobs/{id} or give x-webhook-url (docs/jobs.md)',
        tags: ['jobs'],
        consumes: [...IMAGE_CONTENT_TYPES, ...AUDIO_CONTENT_TYPES],
        response: { 202: ACCEPTED, 400: V1_ERROR, 409: V1_ERROR, 413: V1_ERROR, 415: V1_ERROR, 503: V1_ERROR },
      },
    },
    async (request, reply) => {
      const { task, query } = taskQuery(request.query as Record<string, unknown>);
      const meta = readRequestMeta(request.headers);
      const key = single(request.headers, 'idempotency-key');
      if (key !== undefined && !IDEMPOTENCY_KEY.test(key)) {
        throw new EdgeError('EDGE_ERR_IDEMPOTENCY_KEY_INVALID', 'idempotency-key must be 1-128 printable ASCII characters, given once');
      }
      const webhook = single(request.headers, 'x-webhook-url');
      if (webhook !== undefined && parseWebhookUrl(webhook) === undefined) {
        throw new EdgeError('EDGE_ERR_WEBHOOK_INVALID', 'x-webhook-url must be one absolute http(s) URL without credentials, at most 2048 characters');
      }
      const body = request.body;
      if (!Buffer.isBuffer(body) || body.byteLength === 0) throw new EdgeError('EDGE_ERR_BODY_EMPTY', 'send the image or WAV file as the request body');
      const contentType = (request.headers['content-type'] ?? 'application/octet-stream').split(';')[0]!.trim();
      const accepted = await jobs.submit({
        task,
        query,
        body,
        contentType,
        tenant: meta.tenant,
        ...(meta.dataClassHeader === undefined ? {} : { dataClassHeader: meta.dataClassHeader }),
        ...(key === undefined ? {} : { idempotencyKey: key }),
        ...(webhook === undefined ? {} : { webhook }),
      });
      if (accepted.replayed) reply.header('idempotent-replayed', 'true');
      reply.header('location', `/v1/jobs/${accepted.id}`);
      return reply.code(202).send({ id: accepted.id, state: accepted.state });
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/jobs/:id',
    {
      schema: {
        summary: 'A job\'s state, and its result or error once finished',
        tags: ['jobs'],
        response: { 200: JOB, 400: V1_ERROR, 404: V1_ERROR, 503: V1_ERROR },
      },
    },
    async (request) => {
      const meta = readRequestMeta(request.headers);
      return jobs.status(request.params.id, meta.tenant);
    },
  );
}
