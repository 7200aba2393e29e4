/**
 * `mec up` (what `npm start` runs: the trial blueprint) as a user runs it: three tiers in real
 * processes, the simulated phone answering through the device-mec link, the blueprint's camera
 * streaming over the real Mosquitto and answered, `mec link` changing a link at run time and the MEC
 * node seeing it, `mec audit verify` on the logs, and SIGTERM taking every process down.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import mqtt from 'mqtt';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../services/core/config.ts';
import { processAlive } from '../support/process-alive.ts';
import { waitFor } from '../support/wait-for.ts';

const MEC = path.join(PROJECT_ROOT, 'bin/mec.js');

describe('mec up: the local three-tier topology', () => {
  let folder: string;
  let child: ChildProcess;
  const lines: string[] = [];
  const urls: Record<string, string> = {};

  beforeAll(async () => {
    folder = await mkdtemp(path.join(os.tmpdir(), 'mec-up-'));
    child = spawn(
      process.execPath,
      [MEC, 'up', '--mec-port', '0', '--cloud-port', '0', '--device-link-port', '0', '--cloud-link-port', '0', '--control-port', '0', '--audit-dir', folder, '--state-dir', folder, '--device-interval-ms', '200'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    createInterface({ input: child.stdout! }).on('line', (line) => lines.push(line));
    await waitFor(() => lines.some((line) => line.startsWith('  control')) || child.exitCode !== null, 'the topology to come up', 180_000);
    if (child.exitCode !== null) throw new Error(`mec up exited: ${stderr}`);
    for (const [name, pattern] of [
      ['mec', /MEC node\s+(http:\S+)/],
      ['cloud', /cloud node\s+(http:\S+)/],
      ['control', /control\s+(http:\S+)/],
    ] as const) {
      urls[name] = pattern.exec(lines.join('\n'))?.[1] ?? '';
    }
  }, 200_000);

  afterAll(async () => {
    if (child && child.exitCode === null) {
      child.kill('SIGKILL');
    }
    if (folder) await rm(folder, { recursive: true, force: true });
  });

  const mecLink = (...args: string[]) => spawnSync(process.execPath, [MEC, 'link', ...args, '--control', urls.control!], { encoding: 'utf8', timeout: 30_000 });

  it('prints the tiers\' URLs, and the device\'s requests are answered with their placement', async () => {
    expect(urls.mec).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(urls.cloud).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    await waitFor(() => lines.filter((line) => line.startsWith('[device]') && / -> (device|mec|cloud) /.test(line)).length >= 3, 'three device answers');
    expect(lines.filter((line) => line.startsWith('[device]') && line.includes('failed'))).toEqual([]);
    const health = await fetch(`${urls.cloud}/v2/health/ready`);
    expect(health.status).toBe(200);
    expect(lines.join('\n')).toMatch(/mec blueprint trial: cloud and MEC node up/);
  });

  it('the trial blueprint\'s camera streams over MQTT and its frames are inspected', async () => {
    expect(lines.join('\n')).toMatch(/simulated\s+camera cam-trial-1: brick, 2 fps over MQTT/);
    const client = await mqtt.connectAsync('mqtt://127.0.0.1:1883', { protocolVersion: 5, connectTimeout: 5_000, reconnectPeriod: 0 }).catch((error: Error) => {
      throw new Error(`this test needs Mosquitto at 127.0.0.1:1883 (apt-get install mosquitto; .ci/run starts it): ${error.message}`);
    });
    try {
      const results: Record<string, unknown>[] = [];
      client.on('message', (_topic, payload) => results.push(JSON.parse(payload.toString()) as Record<string, unknown>));
      await client.subscribeAsync('mec/cameras/cam-trial-1/results');
      await waitFor(() => results.length >= 2, 'two inspection results of the simulated camera', 30_000);
      expect(results[0]).toMatchObject({ surface: 'brick' });
      expect(typeof results[0]!.score).toBe('number');
    } finally {
      await client.endAsync();
    }
  }, 40_000);

  it('mec link show lists both links; mec link set cuts the cloud link and the MEC node notices, then heals', async () => {
    const shown = mecLink('show');
    expect(shown.status).toBe(0);
    expect(shown.stdout).toMatch(/mec-cloud .* 40 ms .* 50 Mbit\/s .* up/);
    expect(shown.stdout).toMatch(/device-mec .* 5 ms .* 100 Mbit\/s .* up/);
    const status = async () => ((await (await fetch(`${urls.mec}/v1/tier/status`)).json()) as { cloud: { reachable: boolean } }).cloud.reachable;
    await waitFor(status, 'the MEC node to reach the cloud');

    const down = mecLink('set', 'mec-cloud', '--down');
    expect(down.status).toBe(0);
    await waitFor(async () => !(await status()), 'the MEC node to see the cloud unreachable');
    const answer = await undiciFetch(`${urls.mec}/v1/vision/detect`, { method: 'POST', body: new Uint8Array(spawnSync('cat', [path.join(PROJECT_ROOT, 'test/fixtures/images/dog.jpg')]).stdout), headers: { 'content-type': 'image/jpeg', 'x-data-class': 'public' }, dispatcher: new Agent({ pipelining: 0 }) });
    expect(answer.status).toBe(200);
    expect(answer.headers.get('x-placement-tier')).toBe('mec');

    expect(mecLink('set', 'mec-cloud', '--up').status).toBe(0);
    await waitFor(status, 'the MEC node to reach the cloud again');
    const unknown = mecLink('set', 'nosuchlink', '--down');
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/EDGE_ERR_LINK_NOT_FOUND/);
  }, 60_000);

  it('SIGTERM stops every tier; both audit logs verify', async () => {
    const pids = lines.length > 0 ? spawnSync('pgrep', ['-P', String(child.pid)], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).map(Number) : [];
    expect(pids.length).toBeGreaterThanOrEqual(2);
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await exited;
    await waitFor(() => pids.every((pid) => !processAlive(pid)), 'the tiers to exit');
    for (const tier of ['mec', 'cloud']) {
      const verified = spawnSync(process.execPath, [MEC, 'audit', 'verify', path.join(folder, `${tier}.jsonl`)], { encoding: 'utf8', timeout: 30_000 });
      expect(verified.stdout + verified.stderr).toMatch(/^ok: \d+ records, chain intact/);
      expect(verified.status).toBe(0);
    }
  }, 60_000);
});
