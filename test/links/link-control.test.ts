/**
 * The link control API and `mec link` against a real LinkSet on 127.0.0.1 (port 0), in front of a
 * real echo server.
 */
import net, { type AddressInfo, type Socket } from 'node:net';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { Command } from 'commander';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { changeLink, fetchLinks, formatLinkTable, registerLinkCommands } from '../../services/cli/link.ts';
import { startLinkControl, type LinkControl } from '../../services/links/link-control.ts';
import { DEFAULT_LINKS } from '../../services/links/link-settings.ts';
import { LinkSet } from '../../services/links/link-set.ts';
import { codeOf, codeOfSync } from '../support/code-of.ts';

let echo: net.Server;
let echoSockets: Set<Socket>;
let links: LinkSet;
let control: LinkControl;
let ports: Record<'device-mec' | 'mec-cloud', number>;

beforeEach(async () => {
  echoSockets = new Set();
  echo = net.createServer((socket) => {
    echoSockets.add(socket);
    socket.on('error', () => undefined);
    socket.pipe(socket);
  });
  echo.listen(0, '127.0.0.1');
  await once(echo, 'listening');
  const targetPort = (echo.address() as AddressInfo).port;
  links = new LinkSet();
  ports = {
    'device-mec': (await links.add('device-mec', { listenPort: 0, targetHost: '127.0.0.1', targetPort, settings: DEFAULT_LINKS['device-mec'] })).port,
    'mec-cloud': (await links.add('mec-cloud', { listenPort: 0, targetHost: '127.0.0.1', targetPort, settings: DEFAULT_LINKS['mec-cloud'] })).port,
  };
  control = await startLinkControl(links, { host: '127.0.0.1', port: 0 });
});

afterEach(async () => {
  await control.close();
  await links.close();
  echoSockets.forEach((socket) => socket.destroy());
  await new Promise((resolve) => echo.close(resolve));
});

async function call(method: string, path: string, body?: string): Promise<{ status: number; body: any }> {
  const response = await fetch(`${control.url}${path}`, {
    method,
    ...(body === undefined ? {} : { body, headers: { 'content-type': 'application/json' } }),
  });
  return { status: response.status, body: await response.json() };
}

/** Median of 5 echo round trips on one fresh connection through the link. */
async function echoRoundTripMs(port: number): Promise<number> {
  const socket = net.connect({ host: '127.0.0.1', port, noDelay: true });
  await once(socket, 'connect');
  try {
    const times: number[] = [];
    for (let i = 0; i < 5; i += 1) {
      const started = performance.now();
      socket.write('x');
      await once(socket, 'data');
      times.push(performance.now() - started);
    }
    return times.sort((a, b) => a - b)[2]!;
  } finally {
    socket.destroy();
  }
}

describe('link control API', () => {
  it('GET /links lists every link with its settings and counters', async () => {
    const { status, body } = await call('GET', '/links');
    expect(status).toBe(200);
    expect(body).toEqual([
      expect.objectContaining({ name: 'device-mec', listen: `127.0.0.1:${ports['device-mec']}`, listening: true, settings: DEFAULT_LINKS['device-mec'], connections: 0 }),
      expect.objectContaining({ name: 'mec-cloud', listen: `127.0.0.1:${ports['mec-cloud']}`, listening: true, settings: DEFAULT_LINKS['mec-cloud'] }),
    ]);
  });

  it('GET /links/:name gives one link', async () => {
    const { status, body } = await call('GET', '/links/mec-cloud');
    expect(status).toBe(200);
    expect(body).toMatchObject({ name: 'mec-cloud', settings: { latencyMs: 40, bandwidthMbit: 50, mode: 'up' }, accepted: 0, bytesUp: 0, bytesDown: 0 });
  });

  it('PUT /links/:name changes the link at once: latency, no cap as null, down and up', async () => {
    const changed = await call('PUT', '/links/device-mec', JSON.stringify({ latencyMs: 70, bandwidthMbit: null }));
    expect(changed.status).toBe(200);
    expect(changed.body.settings).toEqual({ latencyMs: 70, jitterMs: 0, bandwidthMbit: null, mode: 'up' });
    const rtt = await echoRoundTripMs(ports['device-mec']);
    expect(rtt).toBeGreaterThanOrEqual(0.9 * 70);
    expect(rtt).toBeLessThan(70 + 30);

    const down = await call('PUT', '/links/device-mec', JSON.stringify({ mode: 'down' }));
    expect(down.body).toMatchObject({ listening: false, settings: { mode: 'down' } });
    const refused = await new Promise<string>((resolve) => {
      net.connect({ host: '127.0.0.1', port: ports['device-mec'] }).on('connect', () => resolve('CONNECTED')).on('error', (error: NodeJS.ErrnoException) => resolve(String(error.code)));
    });
    expect(refused).toBe('ECONNREFUSED');

    const up = await call('PUT', '/links/device-mec', JSON.stringify({ mode: 'up', latencyMs: 0 }));
    expect(up.body).toMatchObject({ listening: true, listen: `127.0.0.1:${ports['device-mec']}` });
    expect(await echoRoundTripMs(ports['device-mec'])).toBeLessThan(30);
  });

  it('BAD CALL - unknown link: 404 EDGE_ERR_LINK_NOT_FOUND', async () => {
    expect(await call('GET', '/links/moon-base')).toMatchObject({ status: 404, body: { code: 'EDGE_ERR_LINK_NOT_FOUND', error: expect.stringContaining('device-mec, mec-cloud') } });
    expect(await call('PUT', '/links/moon-base', '{"latencyMs": 1}')).toMatchObject({ status: 404, body: { code: 'EDGE_ERR_LINK_NOT_FOUND' } });
  });

  it.each([
    ['negative latency', '{"latencyMs": -5}'],
    ['zero bandwidth', '{"bandwidthMbit": 0}'],
    ['unknown mode', '{"mode": "flaky"}'],
    ['unknown field', '{"latency": 5}'],
    ['not an object', '[1, 2]'],
  ])('BAD CALL - %s: 400 EDGE_ERR_LINK_SETTINGS_INVALID, link unchanged', async (_name, body) => {
    expect(await call('PUT', '/links/mec-cloud', body)).toMatchObject({ status: 400, body: { code: 'EDGE_ERR_LINK_SETTINGS_INVALID' } });
    expect(links.get('mec-cloud').settings()).toEqual(DEFAULT_LINKS['mec-cloud']);
  });

  it('BAD CALL - a body that is not JSON: 400 EDGE_ERR_JSON_INVALID', async () => {
    expect(await call('PUT', '/links/mec-cloud', '{latency')).toMatchObject({ status: 400, body: { code: 'EDGE_ERR_JSON_INVALID' } });
  });

  it('BAD CALL - an unknown route: 404 EDGE_ERR_ROUTE_NOT_FOUND', async () => {
    expect(await call('GET', '/nodes')).toMatchObject({ status: 404, body: { code: 'EDGE_ERR_ROUTE_NOT_FOUND' } });
  });
});

describe('LinkSet', () => {
  it('BAD CALL - get() of an unknown name: EDGE_ERR_LINK_NOT_FOUND', () => {
    expect(codeOfSync(() => links.get('nowhere'))).toBe('EDGE_ERR_LINK_NOT_FOUND');
  });

  it('BAD CALL - add() of a name already there: EDGE_ERR_CONFIG_INVALID', async () => {
    expect(await codeOf(links.add('mec-cloud', { listenPort: 0, targetHost: '127.0.0.1', targetPort: 1, settings: {} }))).toBe('EDGE_ERR_CONFIG_INVALID');
  });

  it('BAD CALL - add() on a port in use: EDGE_ERR_CONFIG_INVALID, and the set stays as it was', async () => {
    const taken = ports['device-mec'];
    expect(await codeOf(links.add('extra', { listenPort: taken, targetHost: '127.0.0.1', targetPort: 1, settings: {} }))).toBe('EDGE_ERR_CONFIG_INVALID');
    expect(links.show().map((stats) => stats.name)).toEqual(['device-mec', 'mec-cloud']);
  });

  it('close() is idempotent', async () => {
    const first = links.close();
    expect(links.close()).toBe(first);
    await first;
    expect(links.show().every((stats) => !stats.listening)).toBe(true);
  });
});

describe('mec link', () => {
  async function run(...args: string[]): Promise<string> {
    const program = new Command().exitOverride();
    registerLinkCommands(program);
    let output = '';
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      output += String(chunk);
      return true;
    });
    try {
      await program.parseAsync(['node', 'mec', 'link', ...args]);
    } finally {
      write.mockRestore();
    }
    return output;
  }

  it('show prints a table row per link', async () => {
    const output = await run('show', '--control', control.url);
    const lines = output.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+LISTEN -> TARGET\s+LATENCY\s+JITTER\s+BANDWIDTH\s+MODE\s+CONNS\s+BYTES UP\/DOWN$/);
    expect(lines[1]).toMatch(new RegExp(`^device-mec\\s+127\\.0\\.0\\.1:${ports['device-mec']} -> 127\\.0\\.0\\.1:\\d+\\s+5 ms\\s+0 ms\\s+100 Mbit/s\\s+up\\s+0\\s+0 B / 0 B$`));
    expect(lines[2]).toMatch(/^mec-cloud\s.*\s40 ms\s+0 ms\s+50 Mbit\/s\s+up\s/);
  });

  it('set changes the link and prints its new settings', async () => {
    const output = await run('set', 'mec-cloud', '--latency-ms', '120', '--bandwidth-mbit', 'none', '--blackhole', '--control', control.url);
    expect(output).toMatch(/^mec-cloud\s.*\s120 ms\s+0 ms\s+no cap\s+blackhole\s/m);
    expect(links.get('mec-cloud').settings()).toEqual({ latencyMs: 120, jitterMs: 0, bandwidthMbit: Infinity, mode: 'blackhole' });
  });

  it('BAD CALL - set with two modes is refused by the parser', async () => {
    await expect(run('set', 'mec-cloud', '--down', '--up', '--control', control.url)).rejects.toMatchObject({ code: 'commander.conflictingOption' });
    expect(links.get('mec-cloud').settings().mode).toBe('up');
  });

  it('BAD CALL - set of an unknown link: EDGE_ERR_LINK_NOT_FOUND from the API', async () => {
    expect(await codeOf(changeLink(control.url, 'moon-base', { latencyMs: 1 }))).toBe('EDGE_ERR_LINK_NOT_FOUND');
  });

  it('BAD CALL - no topology at the control URL: EDGE_ERR_TOPOLOGY_UNREACHABLE, telling to run `mec up`', async () => {
    const closed = net.createServer().listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const url = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise((resolve) => closed.close(resolve));
    const failure = await fetchLinks(url).catch((error: unknown) => error);
    expect(failure).toMatchObject({ code: 'EDGE_ERR_TOPOLOGY_UNREACHABLE', message: `no local topology answers at ${url}: start one with \`mec up\`` });
  });

  it('formats byte counts and a link that could not listen again', () => {
    const table = formatLinkTable([
      { name: 'l', listen: 'a:1', target: 'b:2', listening: false, settings: { latencyMs: 1, jitterMs: 2, bandwidthMbit: 3, mode: 'up' }, connections: 4, accepted: 4, bytesUp: 2048, bytesDown: 3 * 1024 * 1024, refused: 0, reset: 0 },
    ]);
    expect(table).toContain('up (not listening)');
    expect(table).toContain('2.0 KiB / 3.0 MiB');
  });
});
