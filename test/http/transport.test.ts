/**
 * What only real sockets show: slowloris (idle sockets and bodies dribbled a byte at a time) does
 * not starve a normal client and is cut at requestTimeout with 408; a body over the limit is
 * refused while it streams; raw '..' path segments reach the name check; while closing, new
 * requests get 503 EDGE_ERR_SHUTTING_DOWN with Retry-After.
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from './helpers.ts';

const REQUEST_TIMEOUT_MS = 1000;
const BODY_LIMIT = 64 * 1024;

let stack: Stack;
let port: number;
let origin: string;

beforeAll(async () => {
  stack = await startStack({
    server: { requestTimeoutMs: REQUEST_TIMEOUT_MS, keepAliveTimeoutMs: 2000, bodyLimitBytes: BODY_LIMIT },
    models: { load: ['sum', 'slow'] },
  });
  await stack.app.listen({ port: 0, host: '127.0.0.1' });
  port = (stack.app.server.address() as net.AddressInfo).port;
  origin = `http://127.0.0.1:${port}`;
});
afterAll(async () => {
  await stack?.close();
});

const sumBody = JSON.stringify({
  inputs: [
    { name: 'INPUT0', datatype: 'FP32', shape: [1, 16], data: Array(16).fill(1) },
    { name: 'INPUT1', datatype: 'FP32', shape: [1, 16], data: Array(16).fill(2) },
  ],
});

interface RawExchange {
  socket: net.Socket;
  /** Everything the server sent, resolved when the socket closes. */
  done: Promise<{ text: string; closedAfterMs: number }>;
  received(): string;
}

function openRaw(): Promise<RawExchange> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    const done = new Promise<{ text: string; closedAfterMs: number }>((resolveDone) => {
      socket.on('close', () => resolveDone({ text: Buffer.concat(chunks).toString('latin1'), closedAfterMs: performance.now() - started }));
    });
    socket.on('error', () => undefined);
    socket.once('connect', () => resolve({ socket, done, received: () => Buffer.concat(chunks).toString('latin1') }));
    socket.once('error', reject);
  });
}

async function rawExchange(text: string): Promise<string> {
  const raw = await openRaw();
  raw.socket.end(text);
  return (await raw.done).text;
}

function jsonBody(httpText: string): { code?: string; error?: { code: string } } {
  return JSON.parse(httpText.slice(httpText.indexOf('\r\n\r\n') + 4));
}

describe('slowloris', () => {
  it('BAD CALL - 200 idle sockets and 20 one-byte-at-a-time bodies: a normal client is served promptly, the slow ones get 408 and are closed', async () => {
    const idle = await Promise.all(Array.from({ length: 200 }, () => openRaw()));
    const slow = await Promise.all(Array.from({ length: 20 }, () => openRaw()));
    const timers: NodeJS.Timeout[] = [];
    for (const raw of slow) {
      raw.socket.write(`POST /v2/models/sum/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${sumBody.length}\r\n\r\n`);
      let sent = 0;
      const timer = setInterval(() => {
        if (!raw.socket.destroyed && sent < sumBody.length) raw.socket.write(sumBody[sent++]!);
      }, 100);
      timers.push(timer);
    }
    try {
      // A normal client, meanwhile: every request answered, each well within the timeout.
      const latencies: number[] = [];
      for (let index = 0; index < 10; index += 1) {
        const started = performance.now();
        const live = await request(`${origin}/v2/health/live`);
        expect(live.statusCode).toBe(200);
        await live.body.text();
        const infer = await request(`${origin}/v2/models/sum/infer`, { method: 'POST', body: sumBody, headers: { 'content-type': 'application/json' } });
        expect(infer.statusCode).toBe(200);
        expect((await infer.body.json() as { outputs: { data: number[] }[] }).outputs[0]!.data[0]).toBe(3);
        latencies.push(performance.now() - started);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(Math.max(...latencies)).toBeLessThan(REQUEST_TIMEOUT_MS);

      const slowResults = await Promise.all(slow.map((raw) => raw.done));
      for (const result of slowResults) {
        expect(result.text).toMatch(/^HTTP\/1\.1 408 /);
        expect(jsonBody(result.text).error?.code).toBe('EDGE_ERR_REQUEST_TIMEOUT');
        // Bounded by the timeout plus Node's checking interval (a quarter of it) and a shared CPU.
        expect(result.closedAfterMs).toBeLessThan(REQUEST_TIMEOUT_MS * 4);
      }
      const idleResults = await Promise.all(idle.map((raw) => raw.done));
      for (const result of idleResults) expect(result.closedAfterMs).toBeLessThan(REQUEST_TIMEOUT_MS * 4);
    } finally {
      for (const timer of timers) clearInterval(timer);
      for (const raw of [...idle, ...slow]) raw.socket.destroy();
    }
    const after = await request(`${origin}/v2/health/live`);
    expect(after.statusCode).toBe(200);
    await after.body.text();
  });
});

describe('bodies over the limit', () => {
  async function streamUntilAnswered(head: string): Promise<{ text: string; sentBytes: number }> {
    const raw = await openRaw();
    raw.socket.write(head);
    const chunk = Buffer.alloc(8 * 1024, 0xff);
    let sentBytes = 0;
    const chunked = Buffer.concat([Buffer.from(`${chunk.byteLength.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]);
    // Keep sending until the server answers (or 16 MB, which would mean it read everything).
    while (raw.received().length === 0 && !raw.socket.destroyed && sentBytes < 16 * 1024 * 1024) {
      raw.socket.write(chunked);
      sentBytes += chunk.byteLength;
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    raw.socket.destroy();
    const { text } = await raw.done;
    return { text, sentBytes };
  }

  it('BAD CALL - an image streamed past the limit -> 413 EDGE_ERR_BODY_TOO_LARGE while streaming, connection closed', async () => {
    const { text, sentBytes } = await streamUntilAnswered(
      'POST /v1/vision/detect HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\nTransfer-Encoding: chunked\r\n\r\n',
    );
    expect(text).toMatch(/^HTTP\/1\.1 413 /);
    expect(text.toLowerCase()).toContain('connection: close');
    expect(jsonBody(text).error?.code).toBe('EDGE_ERR_BODY_TOO_LARGE');
    expect(sentBytes).toBeLessThan(2 * 1024 * 1024);
  });

  it('BAD CALL - V2 JSON streamed past the limit -> 413 EDGE_ERR_BODY_TOO_LARGE in the V2 shape', async () => {
    const { text, sentBytes } = await streamUntilAnswered(
      'POST /v2/models/sum/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n',
    );
    expect(text).toMatch(/^HTTP\/1\.1 413 /);
    expect(jsonBody(text).code).toBe('EDGE_ERR_BODY_TOO_LARGE');
    expect(sentBytes).toBeLessThan(2 * 1024 * 1024);
  });

  it('BAD CALL - a Content-Length over the limit -> 413 before any body byte is sent', async () => {
    const raw = await openRaw();
    raw.socket.write('POST /v1/vision/detect HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 104857600\r\n\r\n');
    const { text } = await raw.done;
    expect(text).toMatch(/^HTTP\/1\.1 413 /);
    expect(jsonBody(text).error?.code).toBe('EDGE_ERR_BODY_TOO_LARGE');
  });

  it('BAD CALL - multipart with a file over the limit -> 413 EDGE_ERR_BODY_TOO_LARGE', async () => {
    const boundary = 'edgeboundary';
    const body = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`),
      Buffer.alloc(BODY_LIMIT * 2, 0xff),
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    const response = await request(`${origin}/v1/vision/detect`, {
      method: 'POST',
      body,
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
    }).catch((error: unknown) => error as Error);
    if (response instanceof Error) throw response;
    expect(response.statusCode).toBe(413);
    expect(((await response.body.json()) as { error: { code: string } }).error.code).toBe('EDGE_ERR_BODY_TOO_LARGE');
  });
});

describe('paths sent raw', () => {
  const paths = ['/v2/models/../ready', '/v2/models/%2e%2e/ready', '/v2/models/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd', '/v2/models/..%00/ready'];
  for (const path of paths) {
    it(`BAD CALL - GET ${path} -> 400 EDGE_ERR_MODEL_NAME_INVALID`, async () => {
      const text = await rawExchange(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      expect(text).toMatch(/^HTTP\/1\.1 400 /);
      expect(jsonBody(text).code).toBe('EDGE_ERR_MODEL_NAME_INVALID');
    });
  }

  it('BAD CALL - garbage instead of HTTP -> 400 EDGE_ERR_REQUEST_MALFORMED, socket closed, server fine', async () => {
    const text = await rawExchange('HELLO THERE\r\n\r\n');
    expect(text).toMatch(/^HTTP\/1\.1 400 /);
    expect(jsonBody(text).error?.code).toBe('EDGE_ERR_REQUEST_MALFORMED');
    const live = await request(`${origin}/v2/health/live`);
    expect(live.statusCode).toBe(200);
    await live.body.text();
  });
});

describe('closing', () => {
  it('a request arriving while the node closes gets 503 EDGE_ERR_SHUTTING_DOWN with Retry-After; the one in flight completes', async () => {
    const slowBody = JSON.stringify({ inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 256], data: Array(256).fill(0.5) }] });
    const raw = await openRaw();
    raw.socket.write(`POST /v2/models/slow/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${slowBody.length}\r\n\r\n${slowBody}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const closed = stack.app.close();
    await new Promise((resolve) => setTimeout(resolve, 5));
    // The connection is busy with the first request, so closing leaves it open for a second one.
    raw.socket.write('GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n');
    const { text } = await raw.done;
    await closed;
    const responses = text.split(/(?=HTTP\/1\.1 )/);
    expect(responses).toHaveLength(2);
    expect(responses[0]).toMatch(/^HTTP\/1\.1 200 /);
    expect(responses[1]).toMatch(/^HTTP\/1\.1 503 /);
    expect(responses[1]!.toLowerCase()).toMatch(/retry-after: \d+/);
    expect(jsonBody(responses[1]!).code).toBe('EDGE_ERR_SHUTTING_DOWN');
  });
});
