/**
 * A V2 infer request is bounded by its body's parameters.timeout (microseconds) and by the caller's
 * x-deadline-ms header, whichever is shorter; work whose deadline passes while queued is never run.
 * Real stack (worker thread + onnxruntime, the `slow` fixture model), real HTTP over a socket.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { waitFor } from '../support/wait-for.ts';
import { startStack, type Stack } from '../http/helpers.ts';

let stack: Stack;
let base: string;

/** A V2 JSON body for `slow` with `rows` rows (~80 ms each on one idle core). */
function slowBody(rows: number, parameters?: Record<string, unknown>): string {
  return JSON.stringify({
    inputs: [{ name: 'INPUT0', shape: [rows, 256], datatype: 'FP32', data: Array.from({ length: rows * 256 }, (_, index) => Math.sin(index)) }],
    ...(parameters ? { parameters } : {}),
  });
}

async function infer(body: string, headers: Record<string, string> = {}): Promise<{ status: number; code?: string; ms: number }> {
  const started = performance.now();
  const response = await fetch(`${base}/v2/models/slow/infer`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
  const json = (await response.json()) as { code?: string };
  return { status: response.status, ...(json.code === undefined ? {} : { code: json.code }), ms: performance.now() - started };
}

const executions = (): number => stack.runtime.stats().find((stat) => stat.name === 'slow')?.execution_count ?? -1;

beforeAll(async () => {
  stack = await startStack({ models: { load: ['slow'] } });
  base = await stack.app.listen({ port: 0, host: '127.0.0.1' });
  expect((await infer(slowBody(1))).status).toBe(200); // warm
});

// A run cannot be interrupted: a request answered at its deadline leaves its run going. Each test
// starts on an idle worker so that it sees its own deadline, not the previous test's leftovers.
beforeEach(async () => {
  await waitFor(() => stack.runtime.utilisation().busyWorkers === 0 && stack.runtime.utilisation().queued === 0, 'an idle worker', 20_000);
});

afterAll(async () => {
  await stack?.close();
});

describe('V2 deadlines', () => {
  it('BAD CALL - x-deadline-ms shorter than the run -> 504 EDGE_ERR_DEADLINE_EXCEEDED, answered at the deadline', async () => {
    const outcome = await infer(slowBody(24), { 'x-deadline-ms': '150' });
    expect(outcome).toMatchObject({ status: 504, code: 'EDGE_ERR_DEADLINE_EXCEEDED' });
    expect(outcome.ms).toBeLessThan(1_000);
  });

  it('BAD CALL - parameters.timeout shorter than the run -> 504 EDGE_ERR_DEADLINE_EXCEEDED', async () => {
    const outcome = await infer(slowBody(24, { timeout: 150_000 }));
    expect(outcome).toMatchObject({ status: 504, code: 'EDGE_ERR_DEADLINE_EXCEEDED' });
    expect(outcome.ms).toBeLessThan(1_000);
  });

  it('BAD CALL - the shorter of the two wins: a long parameters.timeout does not lift x-deadline-ms', async () => {
    const outcome = await infer(slowBody(24, { timeout: 60_000_000 }), { 'x-deadline-ms': '150' });
    expect(outcome).toMatchObject({ status: 504, code: 'EDGE_ERR_DEADLINE_EXCEEDED' });
    await waitFor(() => stack.runtime.utilisation().busyWorkers === 0, 'an idle worker', 20_000);
    const other = await infer(slowBody(24, { timeout: 150_000 }), { 'x-deadline-ms': '60000' });
    expect(other).toMatchObject({ status: 504, code: 'EDGE_ERR_DEADLINE_EXCEEDED' });
  });

  it('BAD CALL - a request whose deadline passes while it waits for the worker -> 503 EDGE_ERR_QUEUE_TIMEOUT and is never run', async () => {
    const before = executions();
    const blocker = infer(slowBody(12));
    await new Promise((resolve) => setTimeout(resolve, 50));
    const late = await infer(slowBody(1), { 'x-deadline-ms': '100' });
    expect(late).toMatchObject({ status: 503, code: 'EDGE_ERR_QUEUE_TIMEOUT' });
    expect((await blocker).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(executions() - before).toBe(1);
  });

  it('within both bounds the request is served', async () => {
    expect(await infer(slowBody(1, { timeout: 30_000_000 }), { 'x-deadline-ms': '30000' })).toMatchObject({ status: 200 });
  });

  it('BAD CALL - a malformed x-deadline-ms -> 400 EDGE_ERR_HEADER_INVALID', async () => {
    for (const value of ['0', '-5', 'soon', '600001']) {
      expect(await infer(slowBody(1), { 'x-deadline-ms': value })).toMatchObject({ status: 400, code: 'EDGE_ERR_HEADER_INVALID' });
    }
  });
});
