/**
 * The emulated link on real sockets (127.0.0.1, port 0): an echo TCP server and a real HTTP server
 * behind a LinkProxy, measured from the client side.
 */
import http from 'node:http';
import net, { type AddressInfo, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { LinkProxy } from '../../services/links/link-proxy.ts';
import { DEFAULT_LINKS, validateLinkSettings, type LinkSettings } from '../../services/links/link-settings.ts';
import { codeOfSync } from '../support/code-of.ts';

const cleanups: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function listening(server: Server | http.Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  return (server.address() as AddressInfo).port;
}

async function echoServer(): Promise<number> {
  const sockets = new Set<Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    socket.pipe(socket);
  });
  cleanups.push(() => sockets.forEach((socket) => socket.destroy()));
  return listening(server);
}

async function proxyTo(targetPort: number, settings: Partial<LinkSettings>): Promise<{ proxy: LinkProxy; port: number }> {
  const proxy = new LinkProxy({ name: 'test-link', listenPort: 0, targetHost: '127.0.0.1', targetPort, settings });
  cleanups.push(() => proxy.close());
  const { port } = await proxy.start();
  return { proxy, port };
}

/** A connected client socket, or the connect error's code. */
function connect(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port, noDelay: true });
    socket.once('connect', () => {
      socket.off('error', reject);
      cleanups.push(() => void socket.destroy());
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

async function connectError(port: number): Promise<string> {
  try {
    const socket = await connect(port);
    socket.destroy();
    return 'CONNECTED';
  } catch (error) {
    return String((error as NodeJS.ErrnoException).code);
  }
}

/** Milliseconds until `payload` comes back, or null when nothing came within timeoutMs. */
function roundTrip(socket: Socket, payload: Buffer, timeoutMs = 2000): Promise<number | null> {
  return new Promise((resolve) => {
    const started = performance.now();
    let received = 0;
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received >= payload.length) done(performance.now() - started);
    };
    const timer = setTimeout(() => done(null), timeoutMs);
    const done = (value: number | null) => {
      clearTimeout(timer);
      socket.off('data', onData);
      resolve(value);
    };
    socket.on('data', onData);
    socket.write(payload);
  });
}

async function medianRoundTrip(socket: Socket, count = 10): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < count; i += 1) {
    const time = await roundTrip(socket, Buffer.from([i]));
    if (time === null) throw new Error('no echo within 2 s');
    times.push(time);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(count / 2)]!;
}

/** How the socket ended: 'ECONNRESET' and the like for errors, 'closed' for a plain close. */
function ending(socket: Socket): Promise<string> {
  return new Promise((resolve) => {
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(String(error.code)));
    socket.once('close', () => resolve('closed'));
    socket.resume();
  });
}

describe('LinkProxy timing', () => {
  it('adds the round-trip latency to every echo round trip', async () => {
    const { port } = await proxyTo(await echoServer(), { latencyMs: 60 });
    const median = await medianRoundTrip(await connect(port));
    expect(median).toBeGreaterThanOrEqual(0.9 * 60);
    expect(median).toBeLessThan(60 + 30);
  });

  it('adds the latency to real HTTP requests over a kept-alive connection', async () => {
    const server = http.createServer((_request, response) => response.end('ok'));
    const { port } = await proxyTo(await listening(server), { latencyMs: 50 });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    cleanups.push(() => agent.destroy());
    const get = () =>
      new Promise<number>((resolve, reject) => {
        const started = performance.now();
        http.get({ host: '127.0.0.1', port, path: '/', agent }, (response) => {
          response.resume();
          response.on('end', () => resolve(performance.now() - started));
        }).on('error', reject);
      });
    await get(); // opens the connection
    const times: number[] = [];
    for (let i = 0; i < 10; i += 1) times.push(await get());
    times.sort((a, b) => a - b);
    expect(times[5]).toBeGreaterThanOrEqual(0.9 * 50);
    expect(times[5]).toBeLessThan(50 + 30);
  });

  it('caps the bandwidth: 1 MB at 20 Mbit/s takes >= 0.35 s; without a cap 8 MB go far faster', async () => {
    const MB = 1024 * 1024;
    const server = http.createServer((request, response) => response.end(Buffer.alloc(Number(new URL(request.url!, 'http://x').searchParams.get('mb')) * MB, 7)));
    const target = await listening(server);
    const capped = await proxyTo(target, { bandwidthMbit: 20 });
    const uncapped = await proxyTo(target, {});
    const download = async (port: number, mb: number) => {
      const started = performance.now();
      const response = await fetch(`http://127.0.0.1:${port}/?mb=${mb}`, { headers: { connection: 'close' } });
      const bytes = (await response.arrayBuffer()).byteLength;
      return { bytes, seconds: (performance.now() - started) / 1000 };
    };
    const slow = await download(capped.port, 1);
    expect(slow.bytes).toBe(MB);
    expect(slow.seconds).toBeGreaterThanOrEqual(0.35);
    expect(slow.seconds).toBeLessThan(1.5);
    expect(capped.proxy.stats().bytesDown).toBeGreaterThan(MB);
    // A rate, not a time: on a loaded machine a transfer's fixed costs dwarf 1 MB, not 8 MB. Idle,
    // this goes at 250+ Mbit/s; the bound leaves room for a starved CPU and still fails on any cap
    // near 20 Mbit/s (8 MB at 20 Mbit/s take 3.4 s).
    const fast = await download(uncapped.port, 8);
    expect(fast.bytes).toBe(8 * MB);
    expect((fast.bytes * 8) / 1e6 / fast.seconds).toBeGreaterThan(2 * 20);
  });

  it('applies a latency change to an open connection at once', async () => {
    const { proxy, port } = await proxyTo(await echoServer(), { latencyMs: 0 });
    const socket = await connect(port);
    expect(await medianRoundTrip(socket)).toBeLessThan(15);
    expect(proxy.set({ latencyMs: 80 })).toEqual({ latencyMs: 80, jitterMs: 0, bandwidthMbit: Infinity, mode: 'up' });
    const median = await medianRoundTrip(socket);
    expect(median).toBeGreaterThanOrEqual(0.9 * 80);
    expect(median).toBeLessThan(80 + 30);
  });

  it('adds the latency to WebSocket messages', async () => {
    const server = http.createServer();
    const wss = new WebSocketServer({ server });
    wss.on('connection', (socket) => socket.on('message', (data) => socket.send(data)));
    cleanups.push(() => wss.clients.forEach((client) => client.terminate()));
    const { port } = await proxyTo(await listening(server), { latencyMs: 40 });
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    cleanups.push(() => ws.terminate());
    await once(ws, 'open');
    const times: number[] = [];
    for (let i = 0; i < 5; i += 1) {
      const started = performance.now();
      ws.send(`ping ${i}`);
      const [data] = await once(ws, 'message');
      expect(String(data)).toBe(`ping ${i}`);
      times.push(performance.now() - started);
    }
    times.sort((a, b) => a - b);
    expect(times[2]).toBeGreaterThanOrEqual(0.9 * 40);
    expect(times[2]).toBeLessThan(40 + 30);
  });

  it('varies the delay by the jitter', async () => {
    const { port } = await proxyTo(await echoServer(), { latencyMs: 30, jitterMs: 15 });
    const socket = await connect(port);
    const times: number[] = [];
    for (let i = 0; i < 12; i += 1) times.push((await roundTrip(socket, Buffer.from([i])))!);
    // Two draws of +-15 ms per round trip: 12 round trips all within 10 ms of each other is (nearly) impossible.
    expect(Math.max(...times) - Math.min(...times)).toBeGreaterThan(10);
  });

  it('never reorders bytes under jitter', async () => {
    const { port } = await proxyTo(await echoServer(), { latencyMs: 10, jitterMs: 20 });
    const socket = await connect(port);
    const sent = Buffer.from(Array.from({ length: 200 }, (_, i) => i));
    const received: Buffer[] = [];
    let total = 0;
    const all = new Promise<void>((resolve) =>
      socket.on('data', (chunk: Buffer) => {
        received.push(chunk);
        total += chunk.length;
        if (total >= sent.length) resolve();
      }),
    );
    // One byte per write, spread over time, so that each gets its own jitter draw.
    for (let i = 0; i < sent.length; i += 1) {
      socket.write(sent.subarray(i, i + 1));
      if (i % 20 === 0) await new Promise((resolve) => setTimeout(resolve, 2));
    }
    await all;
    expect(Buffer.concat(received)).toEqual(sent);
  });
});

describe('LinkProxy backpressure', () => {
  it('stops reading when the receiver does not read, then delivers everything intact', async () => {
    const targetSockets: Socket[] = [];
    const server = net.createServer((socket) => {
      socket.pause(); // a receiver that reads nothing for now
      targetSockets.push(socket);
    });
    cleanups.push(() => targetSockets.forEach((socket) => socket.destroy()));
    const { port } = await proxyTo(await listening(server), {});
    const client = await connect(port);
    const total = 48 * 1024 * 1024;
    // Written in 64 KiB pieces: a piece's callback says the kernel took it, i.e. the link read its way.
    let handedOver = 0;
    const piece = Buffer.alloc(64 * 1024, 1);
    for (let sent = 0; sent < total; sent += piece.length) {
      client.write(piece, () => {
        handedOver += piece.length;
      });
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    // Kernel buffers hold a few MB on each hop and the link at most ~4 MB: the rest waits at the client.
    expect(handedOver).toBeLessThan(24 * 1024 * 1024);

    const target = targetSockets[0]!;
    let received = 0;
    target.on('data', (chunk: Buffer) => {
      received += chunk.length;
    });
    target.resume();
    await new Promise<void>((resolve) => {
      const check = () => (received >= total ? resolve() : setTimeout(check, 10));
      check();
    });
    expect(received).toBe(total);
  });
});

describe('LinkProxy modes', () => {
  it('down refuses connections and closes open ones; up listens again on the same port', async () => {
    const { proxy, port } = await proxyTo(await echoServer(), {});
    const open = await connect(port);
    const openEnded = ending(open);
    proxy.set({ mode: 'down' });
    await proxy.settled();
    expect(['closed', 'ECONNRESET']).toContain(await openEnded);
    expect(open.destroyed).toBe(true);
    expect(await connectError(port)).toBe('ECONNREFUSED');
    expect(proxy.stats()).toMatchObject({ listening: false, connections: 0 });

    proxy.set({ mode: 'up' });
    await proxy.settled();
    expect(proxy.stats()).toMatchObject({ listening: true, listen: `127.0.0.1:${port}` });
    const again = await connect(port);
    expect(await roundTrip(again, Buffer.from('hello'))).not.toBeNull();
  });

  it('a link created down takes its port, refuses, and serves on that port once up', async () => {
    const { proxy, port } = await proxyTo(await echoServer(), { mode: 'down' });
    expect(port).toBeGreaterThan(0);
    expect(proxy.stats().listening).toBe(false);
    expect(await connectError(port)).toBe('ECONNREFUSED');
    proxy.set({ mode: 'up' });
    await proxy.settled();
    expect(await roundTrip(await connect(port), Buffer.from('up'))).not.toBeNull();
  });

  it('keep-alive fetch: down fails the next request (ECONNREFUSED), up serves again', async () => {
    const server = http.createServer((_request, response) => response.end('ok'));
    const { proxy, port } = await proxyTo(await listening(server), {});
    const get = async () => {
      try {
        const response = await fetch(`http://127.0.0.1:${port}/`);
        return await response.text();
      } catch (error) {
        return String(((error as Error).cause as NodeJS.ErrnoException | undefined)?.code ?? error);
      }
    };
    expect(await get()).toBe('ok'); // leaves a pooled connection through the link
    proxy.set({ mode: 'down' });
    await proxy.settled();
    expect(await get()).toBe('ECONNREFUSED');
    proxy.set({ mode: 'up' });
    await proxy.settled();
    expect(await get()).toBe('ok');
  });

  it('blackhole accepts connections but answers nothing; back up, held data flows again', async () => {
    const { proxy, port } = await proxyTo(await echoServer(), {});
    const before = await connect(port);
    proxy.set({ mode: 'blackhole' });
    expect(await roundTrip(before, Buffer.from('a'), 300)).toBeNull();
    const during = await connect(port); // the connect itself succeeds
    expect(await roundTrip(during, Buffer.from('b'), 300)).toBeNull();
    expect(before.destroyed).toBe(false);

    const echoed = new Promise<string>((resolve) => during.once('data', (chunk: Buffer) => resolve(chunk.toString())));
    proxy.set({ mode: 'up' });
    expect(await echoed).toBe('b');
    expect(await roundTrip(await connect(port), Buffer.from('c'))).not.toBeNull();
  });

  it('reset resets open connections and every new one (ECONNRESET)', async () => {
    const { proxy, port } = await proxyTo(await echoServer(), {});
    const open = await connect(port);
    expect(await roundTrip(open, Buffer.from('x'))).not.toBeNull();
    const openEnded = ending(open);
    proxy.set({ mode: 'reset' });
    expect(await openEnded).toBe('ECONNRESET');
    // The reset can beat the client's own 'connect' event: either way the client sees ECONNRESET.
    const fresh = await connect(port).then(ending, (error: NodeJS.ErrnoException) => String(error.code));
    expect(fresh).toBe('ECONNRESET');
    expect(proxy.stats().reset).toBe(2);
  });

  it('a real HTTP request through a reset link fails with ECONNRESET', async () => {
    const server = http.createServer((_request, response) => response.end('ok'));
    const { proxy, port } = await proxyTo(await listening(server), { mode: 'reset' });
    const code = await new Promise<string>((resolve) => {
      http.get({ host: '127.0.0.1', port, path: '/', agent: false }, () => resolve('ANSWERED')).on('error', (error: NodeJS.ErrnoException) => resolve(String(error.code)));
    });
    expect(code).toBe('ECONNRESET');
    expect(proxy.stats().reset).toBe(1);
  });

  it('BAD CALL - target down: the client socket is closed and the refusal counted', async () => {
    const closedPort = await listening(net.createServer());
    await cleanups.pop()!(); // close it again: nothing listens on closedPort now
    const { proxy, port } = await proxyTo(closedPort, {});
    const socket = await connect(port);
    expect(await ending(socket)).toMatch(/^(closed|ECONNRESET)$/);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(proxy.stats()).toMatchObject({ accepted: 1, refused: 1, connections: 0 });
  });

  it('close() is idempotent and destroys every connection', async () => {
    const { proxy, port } = await proxyTo(await echoServer(), {});
    const socket = await connect(port);
    const ended = ending(socket);
    const first = proxy.close();
    const second = proxy.close();
    expect(second).toBe(first);
    await first;
    await proxy.close();
    await ended;
    expect(socket.destroyed).toBe(true);
    expect(await connectError(port)).toBe('ECONNREFUSED');
  });
});

describe('link settings', () => {
  it('fills left-out fields from the base and freezes the result', () => {
    const settings = validateLinkSettings({ latencyMs: 12 }, DEFAULT_LINKS['mec-cloud']);
    expect(settings).toEqual({ latencyMs: 12, jitterMs: 0, bandwidthMbit: 50, mode: 'up' });
    expect(Object.isFrozen(settings)).toBe(true);
    expect(validateLinkSettings({ bandwidthMbit: null }).bandwidthMbit).toBe(Infinity);
  });

  it.each([
    ['negative latency', { latencyMs: -1 }],
    ['latency not a number', { latencyMs: '5' }],
    ['NaN jitter', { jitterMs: Number.NaN }],
    ['zero bandwidth', { bandwidthMbit: 0 }],
    ['unknown mode', { mode: 'sideways' }],
    ['unknown field', { latency: 5 }],
    ['not an object', 'fast'],
  ])('BAD CALL - %s: EDGE_ERR_LINK_SETTINGS_INVALID', (_name, partial) => {
    expect(codeOfSync(() => validateLinkSettings(partial))).toBe('EDGE_ERR_LINK_SETTINGS_INVALID');
  });

  it('BAD CALL - set() with bad settings throws and keeps the settings in force', async () => {
    const { proxy } = await proxyTo(await echoServer(), { latencyMs: 7 });
    expect(codeOfSync(() => proxy.set({ latencyMs: 5, bandwidthMbit: -3 }))).toBe('EDGE_ERR_LINK_SETTINGS_INVALID');
    expect(proxy.settings()).toEqual({ latencyMs: 7, jitterMs: 0, bandwidthMbit: Infinity, mode: 'up' });
  });
});
