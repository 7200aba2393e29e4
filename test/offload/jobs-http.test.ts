/**
 * Durable jobs over real HTTP on a real node (defect model, 256x256 frames) with real Redis and
 * the embedded BullMQ worker: results match the synchronous route, idempotency, tenant isolation,
 * webhooks, bad calls. A fresh BullMQ prefix per file, removed afterwards.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../services/core/config.ts';
import { startNode, type RunningNode } from '../../services/node.ts';
import { dropPrefix, frame, freshPrefix, REDIS_URL, waitFinished, type JobAnswer } from './helpers.ts';

const prefix = freshPrefix();
let node: RunningNode;

async function submit(query: string, body: Buffer, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; body: Record<string, unknown> }> {
  const response = await fetch(`${node.url}/v1/jobs?${query}`, { method: 'POST', body, headers: { 'content-type': 'image/jpeg', ...headers } });
  return { status: response.status, headers: response.headers, body: (await response.json()) as Record<string, unknown> };
}

const codeOf = (body: Record<string, unknown>) => (body.error as { code?: string } | undefined)?.code;

beforeAll(async () => {
  node = await startNode(
    loadConfig({
      server: { port: 0 },
      runtime: { workers: 1 },
      models: { load: ['defect'] },
      streams: { mqtt: { enabled: false } },
      log: { level: 'warn' },
      offload: { enabled: true, redisUrl: REDIS_URL, prefix, attempts: 3, backoffMs: 100, worker: { concurrency: 2, lockMs: 5_000 } },
    }),
  );
});

afterAll(async () => {
  await node?.close();
  await dropPrefix(REDIS_URL, prefix);
});

describe('POST /v1/jobs and GET /v1/jobs/{id}', () => {
  it('runs an inspect job to completion with the result the synchronous route gives', async () => {
    const body = frame('brick-hole.jpg');
    const accepted = await submit('task=inspect&surface=brick', body);
    expect(accepted.status).toBe(202);
    expect(accepted.body.state).toBe('waiting');
    const id = accepted.body.id as string;
    expect(accepted.headers.get('location')).toBe(`/v1/jobs/${id}`);
    const done = await waitFinished(node.url, id);
    expect(done.state).toBe('completed');
    expect(done.task).toBe('inspect');
    expect(done.attempts).toBe(1);
    expect(done.executions).toBe(1);
    expect(Date.parse(done.finished_at!)).toBeGreaterThanOrEqual(Date.parse(done.submitted_at));
    const sync = (await (await fetch(`${node.url}/v1/inspect?surface=brick`, { method: 'POST', body, headers: { 'content-type': 'image/jpeg' } })).json()) as Record<string, unknown>;
    for (const field of ['surface', 'model', 'version', 'width', 'height', 'defective', 'score', 'threshold', 'regions']) expect(done.result![field]).toEqual(sync[field]);
    expect(done.result!.defective).toBe(true);
  });

  it('answers a replay with the same idempotency key with the same job, and runs it once', async () => {
    const body = frame('grass-hole.jpg');
    const headers = { 'idempotency-key': 'order-42/frame-7', 'x-tenant': 'replayer' };
    const first = await submit('task=inspect&surface=grass', body, headers);
    const second = await submit('task=inspect&surface=grass', body, headers);
    expect(first.status).toBe(202);
    expect(second.status).toBe(202);
    expect(second.body.id).toBe(first.body.id);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    const done = await waitFinished(node.url, first.body.id as string, 'replayer');
    const third = await submit('task=inspect&surface=grass', body, headers);
    expect(third.body).toEqual({ id: first.body.id, state: 'completed' });
    expect(done.executions).toBe(1);
  });

  it('gives concurrent submissions with one idempotency key one job', async () => {
    const body = frame('gravel-hole.jpg');
    const headers = { 'idempotency-key': 'burst-1' };
    const answers = await Promise.all(Array.from({ length: 6 }, () => submit('task=inspect&surface=gravel', body, headers)));
    expect(answers.map((answer) => answer.status)).toEqual([202, 202, 202, 202, 202, 202]);
    expect(new Set(answers.map((answer) => answer.body.id)).size).toBe(1);
    expect(answers.filter((answer) => answer.headers.get('idempotent-replayed') === null)).toHaveLength(1);
    const done = await waitFinished(node.url, answers[0]!.body.id as string);
    expect(done.executions).toBe(1);
  });

  it('BAD CALL - the same idempotency key with a different body is 409 EDGE_ERR_IDEMPOTENCY_KEY_REUSED', async () => {
    const headers = { 'idempotency-key': 'reused-key' };
    expect((await submit('task=inspect&surface=brick', frame('brick-good.jpg'), headers)).status).toBe(202);
    const reused = await submit('task=inspect&surface=brick', frame('brick-hole.jpg'), headers);
    expect(reused.status).toBe(409);
    expect(codeOf(reused.body)).toBe('EDGE_ERR_IDEMPOTENCY_KEY_REUSED');
    const otherTask = await submit('task=detect', frame('brick-good.jpg'), headers);
    expect(otherTask.status).toBe(409);
  });

  it('BAD CALL - another tenant asking for a job id gets 404 EDGE_ERR_JOB_NOT_FOUND', async () => {
    const accepted = await submit('task=inspect&surface=brick', frame('brick-good.jpg'), { 'x-tenant': 'alice' });
    const id = accepted.body.id as string;
    const mallory = await fetch(`${node.url}/v1/jobs/${id}`, { headers: { 'x-tenant': 'mallory' } });
    expect(mallory.status).toBe(404);
    expect(codeOf((await mallory.json()) as Record<string, unknown>)).toBe('EDGE_ERR_JOB_NOT_FOUND');
    const unknown = await fetch(`${node.url}/v1/jobs/j${'0'.repeat(32)}`, { headers: { 'x-tenant': 'alice' } });
    expect(unknown.status).toBe(404);
    const garbage = await fetch(`${node.url}/v1/jobs/${'x'.repeat(300)}`, { headers: { 'x-tenant': 'alice' } });
    expect(garbage.status).toBe(404);
    expect((await fetch(`${node.url}/v1/jobs/${id}`, { headers: { 'x-tenant': 'alice' } })).status).toBe(200);
  });

  it('BAD CALL - unknown task, missing surface, empty body, bad webhook and bad idempotency key get their codes', async () => {
    const image = frame('brick-good.jpg');
    const cases: [string, Buffer, Record<string, string>, number, string][] = [
      ['task=paint', image, {}, 400, 'EDGE_ERR_QUERY_INVALID'],
      ['surface=brick', image, {}, 400, 'EDGE_ERR_QUERY_INVALID'],
      ['task=inspect', image, {}, 400, 'EDGE_ERR_QUERY_INVALID'],
      ['task=detect&surface=brick', image, {}, 400, 'EDGE_ERR_QUERY_INVALID'],
      ['task=inspect&surface=brick', Buffer.alloc(0), {}, 400, 'EDGE_ERR_BODY_EMPTY'],
      ['task=inspect&surface=brick', image, { 'x-webhook-url': 'ftp://example.com/hook' }, 400, 'EDGE_ERR_WEBHOOK_INVALID'],
      ['task=inspect&surface=brick', image, { 'x-webhook-url': '/relative/hook' }, 400, 'EDGE_ERR_WEBHOOK_INVALID'],
      ['task=inspect&surface=brick', image, { 'idempotency-key': 'x'.repeat(129) }, 400, 'EDGE_ERR_IDEMPOTENCY_KEY_INVALID'],
      ['task=inspect&surface=brick', image, { 'idempotency-key': 'caf\u00e9' }, 400, 'EDGE_ERR_IDEMPOTENCY_KEY_INVALID'],
      ['task=inspect&surface=brick', image, { 'x-tenant': 'no spaces allowed' }, 400, 'EDGE_ERR_HEADER_INVALID'],
      ['task=inspect&surface=brick', image, { 'x-data-class': 'secret' }, 400, 'EDGE_ERR_DATA_CLASS_INVALID'],
    ];
    for (const [query, body, headers, status, code] of cases) {
      const response = await fetch(`${node.url}/v1/jobs?${query}`, { method: 'POST', body, headers: { 'content-type': 'image/jpeg', ...headers } }).catch((error: Error) => error);
      if (response instanceof Error) {
        // fetch itself refuses non-ASCII header values: the key never leaves the client.
        expect(headers['idempotency-key']).toBe('caf\u00e9');
        continue;
      }
      expect([query, headers, response.status]).toEqual([query, headers, status]);
      expect(codeOf((await response.json()) as Record<string, unknown>)).toBe(code);
    }
  });

  it('BAD CALL - a job whose payload the node refuses (4xx) fails at once with the node\'s code, without retries', async () => {
    const accepted = await submit('task=inspect&surface=brick', Buffer.from('this is not a jpeg at all, only text'));
    expect(accepted.status).toBe(202);
    const done = await waitFinished(node.url, accepted.body.id as string);
    expect(done.state).toBe('failed');
    expect(done.error!.code).toMatch(/^EDGE_ERR_IMAGE_(CORRUPT|FORMAT_UNSUPPORTED)$/);
    expect(done.attempts).toBe(1);
    expect(done.executions).toBe(1);
  });

  it('delivers the result to the job\'s webhook (a real local HTTP server) with x-job-id', async () => {
    const received: { headers: IncomingMessage['headers']; body: Record<string, unknown> }[] = [];
    let calls = 0;
    const server: Server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        calls += 1;
        // The first delivery is refused: at least once means it comes again.
        if (calls === 1) {
          response.statusCode = 500;
          response.end();
          return;
        }
        received.push({ headers: request.headers, body: JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown> });
        response.end('ok');
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as { port: number };
    try {
      const accepted = await submit('task=inspect&surface=grass', frame('grass-good.jpg'), { 'x-webhook-url': `http://127.0.0.1:${port}/hooks/jobs?from=test` });
      const id = accepted.body.id as string;
      const done: JobAnswer = await waitFinished(node.url, id);
      expect(done.state).toBe('completed');
      const until = Date.now() + 15_000;
      while (received.length === 0 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(received).toHaveLength(1);
      expect(calls).toBe(2);
      expect(received[0]!.headers['x-job-id']).toBe(id);
      expect(received[0]!.body).toEqual({ id, state: 'completed', result: done.result });
    } finally {
      server.close();
    }
  });

  it('documents the job routes in the OpenAPI document', async () => {
    const response = await fetch(`${node.url}/docs/json`);
    expect(response.status).toBe(200);
    const paths = ((await response.json()) as { paths: Record<string, unknown> }).paths;
    expect(Object.keys(paths)).toEqual(expect.arrayContaining(['/v1/jobs', '/v1/jobs/{id}']));
  });

  it('counts jobs in the node\'s metrics', async () => {
    const text = await (await fetch(`${node.url}/metrics`)).text();
    const submitted = /mec_jobs_submitted_total\{task="inspect"\} (\d+)/.exec(text);
    expect(Number(submitted?.[1])).toBeGreaterThanOrEqual(5);
    expect(text).toMatch(/mec_jobs_rejected_total\{code="EDGE_ERR_IDEMPOTENCY_KEY_REUSED"\} [1-9]/);
    expect(text).toMatch(/mec_jobs_completed_total\{task="inspect",state="failed"\} 1/);
    expect(text).toMatch(/mec_jobs_executions_total [1-9]/);
  });
});
