/**
 * `mec blueprint up` / `down`: the local plan of each blueprint (exact `mec serve` flags, links,
 * cloud or not), then real child processes: production-line-inspection serving an inspection over
 * HTTP, the two blueprints with a cloud tier coming up ready (with --simulate), each stopped by
 * `mec blueprint down` (process gone, state file removed). The trial blueprint: test/e2e/mec-up.test.ts.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../services/core/config.ts';
import { loadBlueprint } from '../../services/blueprint/load-blueprint.ts';
import { localPlan } from '../../services/blueprint/local-plan.ts';
import { processAlive } from '../support/process-alive.ts';
import { waitFor } from '../support/wait-for.ts';

const MEC = path.join(PROJECT_ROOT, 'bin/mec.js');
const BLUEPRINTS = path.join(PROJECT_ROOT, 'blueprints');
const REDIS = 'redis://127.0.0.1:6379';

/** Child pids of a process, from /proc (the tiers `up` spawns). */
function childrenOf(pid: number): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Field 4 is the parent pid; the command name (field 2) may hold spaces, so split after ')'.
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (parent === pid) found.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return found;
}

/** Runs `mec ARGS` without blocking this process (which must stay free to reap the `up` child). */
async function mec(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const run = spawn(process.execPath, [MEC, ...args], { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  run.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  run.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => run.kill('SIGKILL'), 60_000);
  const [status] = (await once(run, 'close')) as [number | null];
  clearTimeout(timer);
  return { status, stdout, stderr };
}

async function planOf(name: string, options: { jobsPrefix?: string; syncCacheDir?: string; mqttUrl?: string | false; mqttOffBecause?: string; redisUnavailable?: boolean } = {}) {
  const file = path.join(BLUEPRINTS, `${name}.yaml`);
  const { blueprint } = await loadBlueprint(file);
  return localPlan(blueprint, { file, ...options });
}

describe('local plan of each blueprint', () => {
  it('mobile-image-recognition: cloud and the first of two MEC nodes, detectors per tier, sync', async () => {
    const plan = await planOf('mobile-image-recognition', { syncCacheDir: '/tmp/sync-x' });
    expect(plan.cloud).toBe(true);
    expect(plan.mecNode).toBe('mec-city-centre');
    expect(plan.skippedMecNodes).toEqual(['mec-station']);
    expect(plan.cloudNode).toBe('cloud');
    expect(plan.mecArgs).toEqual(['--models', 'nanodet,blazeface,emotion', '--detector', 'nanodet', '--no-mqtt', '--sync', '--sync-cache', '/tmp/sync-x']);
    expect(plan.cloudArgs).toEqual(['--models', 'centernet,blazeface,emotion', '--detector', 'centernet', '--sync']);
    expect(plan.links).toEqual({
      'device-mec': { latencyMs: 20, jitterMs: 5, bandwidthMbit: 50, mode: 'up' },
      'mec-cloud': { latencyMs: 40, jitterMs: 5, bandwidthMbit: 100, mode: 'up' },
    });
    expect(plan.policy).toEqual({ file: path.join(BLUEPRINTS, 'policies/default.yaml') });
    expect(plan.notes).toHaveLength(2);
    expect(plan.notes[0]).toMatch(/mec-city-centre runs; mec-station is not started/);
    expect(plan.notes[1]).toMatch(/not 2 replicas/);
  });

  it('field-speech: jobs on the MEC node (Redis), no detector, no sync', async () => {
    const plan = await planOf('field-speech');
    expect(plan.cloud).toBe(true);
    expect(plan.skippedMecNodes).toEqual([]);
    expect(plan.mecArgs).toEqual(['--models', 'asr,melspec,speech_embedding,silero_vad', '--no-mqtt', '--redis', REDIS]);
    expect(plan.cloudArgs).toEqual(['--models', 'asr,melspec,speech_embedding,silero_vad']);
    expect(plan.links).toEqual({
      'device-mec': { latencyMs: 10, jitterMs: 2, bandwidthMbit: 20, mode: 'up' },
      'mec-cloud': { latencyMs: 120, jitterMs: 20, bandwidthMbit: 10, mode: 'up' },
    });
    expect(plan.notes).toEqual([]);
  });

  it('production-line-inspection: no cloud tier, MQTT on, jobs on the MEC node, default mec-cloud link absent', async () => {
    const plan = await planOf('production-line-inspection', { jobsPrefix: 'p1' });
    expect(plan.cloud).toBe(false);
    expect(plan.cloudNode).toBeUndefined();
    expect(plan.mecNode).toBe('mec-line-1');
    expect(plan.mecArgs).toEqual(['--models', 'defect,defect-metal,defect-textile', '--mqtt', 'mqtt://127.0.0.1:1883', '--redis', REDIS, '--jobs-prefix', 'p1']);
    expect(plan.cloudArgs).toEqual([]);
    expect(plan.links).toEqual({ 'device-mec': { latencyMs: 2, jitterMs: 1, bandwidthMbit: 1000, mode: 'up' } });
    expect(plan.policy).toEqual({ file: path.join(BLUEPRINTS, 'policies/strict.yaml') });
    expect(plan.cameras.map((camera) => camera.id)).toEqual(['cam-brick-1', 'cam-metal-1', 'cam-textile-1']);
    expect(plan.mecDetector).toBeUndefined();
  });

  it('trial (what npm start runs): every model on both tiers, NanoDet near and CenterNet far, a camera to simulate, jobs and sync', async () => {
    const plan = await planOf('trial');
    expect(plan.cloud).toBe(true);
    expect(plan.mecDetector).toBe('nanodet');
    expect(plan.mecArgs).toEqual([
      '--models', 'nanodet,centernet,blazeface,emotion,defect,defect-gravel,defect-grass,defect-metal,defect-textile,melspec,speech_embedding,silero_vad,asr', '--detector', 'nanodet',
      '--mqtt', 'mqtt://127.0.0.1:1883', '--redis', REDIS, '--sync',
    ]);
    expect(plan.cloudArgs.slice(2)).toEqual(['--detector', 'centernet', '--sync']);
    expect(plan.cameras).toEqual([{ id: 'cam-trial-1', surface: 'brick', fps: 2, transport: 'mqtt' }]);
    expect(plan.jobs).toBe(true);
    expect(plan.notes).toEqual([]);
  });

  it('without Redis or MQTT the trial still plans: no jobs, no bridge, its camera over WebSocket, and notes that say so', async () => {
    const plan = await planOf('trial', { mqttUrl: false, mqttOffBecause: 'no MQTT broker answers at mqtt://127.0.0.1:1', redisUnavailable: true });
    expect(plan.mecArgs).not.toContain('--redis');
    expect(plan.mecArgs).toContain('--no-mqtt');
    expect(plan.jobs).toBe(false);
    expect(plan.cameras).toEqual([{ id: 'cam-trial-1', surface: 'brick', fps: 2, transport: 'websocket' }]);
    expect(plan.notes.join('\n')).toMatch(/no Redis answers at redis:\/\/127\.0\.0\.1:6379: no durable jobs/);
    expect(plan.notes.join('\n')).toMatch(/without its MQTT bridge \(no MQTT broker answers at mqtt:\/\/127\.0\.0\.1:1\): cameras stream over WebSocket only/);
  });
});

describe('mec blueprint up / down as a user runs them', () => {
  let folder: string;
  let stateDir: string;
  let child: ChildProcess | undefined;
  const prefix = `bp-up-${process.pid}-${Date.now()}`;

  beforeAll(async () => {
    folder = await mkdtemp(path.join(os.tmpdir(), 'mec-blueprint-up-'));
    stateDir = path.join(folder, 'state');
    const build = spawnSync('npm', ['run', '-s', 'build'], { cwd: PROJECT_ROOT, encoding: 'utf8', timeout: 180_000 });
    if (build.status !== 0) throw new Error(`npm run build failed: ${build.stderr}`);
  }, 200_000);

  afterAll(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    // The MEC node's BullMQ queues left a few keys under this test's prefix.
    const redis = new Redis(REDIS, { maxRetriesPerRequest: 1 });
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
    await rm(folder, { recursive: true, force: true });
  });

  /** Runs `mec blueprint up ARGS` (every port free, this test's state dir and jobs prefix) until it has recorded its state. */
  async function upUntilRecorded(name: string, extra: string[]) {
    const running = spawn(
      process.execPath,
      [MEC, 'blueprint', 'up', `blueprints/${name}.yaml`, ...extra, '--mec-port', '0', '--cloud-port', '0', '--device-link-port', '0', '--cloud-link-port', '0', '--control-port', '0', '--state-dir', stateDir, '--jobs-prefix', prefix],
      { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child = running;
    let stderr = '';
    running.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const lines: string[] = [];
    createInterface({ input: running.stdout! }).on('line', (line) => lines.push(line));
    const stateFile = path.join(stateDir, `${name}.json`);
    await waitFor(() => existsSync(stateFile) || running.exitCode !== null, `${name} to come up`, 150_000);
    if (running.exitCode !== null) throw new Error(`mec blueprint up exited ${running.exitCode}: ${stderr}`);
    const state = JSON.parse(readFileSync(stateFile, 'utf8')) as { pid: number; urls: Record<string, string>; startedAt: string };
    return { running, lines, stateFile, state };
  }

  it('up serves production-line-inspection (inspect 200 through the device-mec link); down stops it', async () => {
    const { running, lines, stateFile, state } = await upUntilRecorded('production-line-inspection', []);
    expect(state.pid).toBe(running.pid);
    expect(Number.isNaN(Date.parse(state.startedAt))).toBe(false);
    expect(state.urls.cloud).toBeUndefined();
    expect(state.urls.mecToCloud).toBeUndefined();
    await waitFor(() => lines.some((line) => line.startsWith('  stop')), 'the URLs to be printed', 10_000);
    const printed = lines.join('\n');
    expect(printed).toContain(`MEC node    ${state.urls.mec}`);
    expect(printed).toContain('cloud node  none in this blueprint');
    // The one tier process: the MEC node (no cloud).
    const tiers = childrenOf(running.pid!);
    expect(tiers).toHaveLength(1);

    const frame = readFileSync(path.join(PROJECT_ROOT, 'test/fixtures/inspect/brick-hole.jpg'));
    const answer = await fetch(`${state.urls.deviceToMec}/v1/inspect?surface=brick`, { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: frame });
    const body = (await answer.json()) as { defective: boolean; placement: { tier: string; policy_version: string } };
    expect(answer.status, JSON.stringify(body)).toBe(200);
    expect(body.defective).toBe(true);
    expect(body.placement.tier).toBe('mec');
    expect(body.placement.policy_version).toMatch(/^strict@/);

    const started = Date.now();
    const down = await mec(['blueprint', 'down', '--state-dir', stateDir]);
    console.log(`mec blueprint down took ${Date.now() - started} ms`);
    expect(down.status, down.stderr).toBe(0);
    expect(down.stdout).toContain(`production-line-inspection stopped (pid ${state.pid})`);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(processAlive(state.pid)).toBe(false);
    await waitFor(() => tiers.every((pid) => !processAlive(pid)), 'the MEC node to exit', 10_000);
    expect(existsSync(stateFile)).toBe(false);
    await waitFor(() => running.exitCode !== null || running.signalCode !== null, 'the child to be reaped', 5_000);
    expect(running.exitCode).toBe(0);
  }, 180_000);

  it('up --simulate with no broker at --mqtt: the node runs without its bridge and the cameras stream over WebSocket, inspected', async () => {
    const { running, lines, state } = await upUntilRecorded('production-line-inspection', ['--simulate', '--mqtt', 'mqtt://127.0.0.1:1']);
    await waitFor(() => lines.some((line) => line.startsWith('  stop')), 'the summary', 10_000);
    const printed = lines.join('\n');
    expect(printed).toMatch(/note\s+the MEC node runs without its MQTT bridge \(no MQTT broker answers at mqtt:\/\/127\.0\.0\.1:1\)/);
    expect(printed).toMatch(/simulated\s+camera cam-brick-1: brick, 5 fps over WebSocket ws:\/\//);
    // The cameras' frames reach the node over WebSocket and are inspected: the dashboard's camera list has them.
    await waitFor(async () => {
      const frame = await fetch(`${state.urls.mec}/v1/dashboard/cameras/cam-brick-1/frame`);
      return frame.status === 200;
    }, 'a frame of cam-brick-1 at the node', 30_000);
    const down = await mec(['blueprint', 'down', 'production-line-inspection', '--state-dir', stateDir]);
    expect(down.status, down.stderr).toBe(0);
    await waitFor(() => running.exitCode !== null || running.signalCode !== null, 'the child to exit', 15_000);
  }, 180_000);

  it.each([
    ['mobile-image-recognition', 'nanodet', 'centernet'],
    ['field-speech', 'asr', 'asr'],
  ])('up %s (--simulate): both tiers ready with the blueprint\'s models, the MEC node reaches the cloud; down stops it', async (name, mecModel, cloudModel) => {
    const { running, lines, state } = await upUntilRecorded(name, ['--simulate', '--device-interval-ms', '300']);
    expect(childrenOf(running.pid!)).toHaveLength(2);
    for (const [url, model] of [[state.urls.mec!, mecModel], [state.urls.cloud!, cloudModel]] as const) {
      expect((await fetch(`${url}/v2/health/ready`)).status, url).toBe(200);
      expect((await fetch(`${url}/v2/models/${model}/ready`)).status, `${url} ${model}`).toBe(200);
    }
    const cloudReachable = async () => ((await (await fetch(`${state.urls.mec}/v1/tier/status`)).json()) as { cloud: { reachable: boolean } }).cloud.reachable;
    await waitFor(cloudReachable, 'the MEC node to reach the cloud through the mec-cloud link', 15_000);
    if (name === 'mobile-image-recognition') {
      // Its MEC node detects: --simulate runs a phone whose photos are answered.
      await waitFor(() => lines.filter((line) => /^\[device\] .* -> (device|mec|cloud) /.test(line)).length >= 2, 'two answers to the simulated phone', 30_000);
    } else {
      // No detector at its MEC node: no phone, and the summary does not claim one.
      expect(lines.join('\n')).not.toMatch(/simulated\s+a phone/);
    }
    const down = await mec(['blueprint', 'down', name, '--state-dir', stateDir]);
    expect(down.status, down.stderr).toBe(0);
    await waitFor(() => running.exitCode !== null || running.signalCode !== null, 'the child to exit', 15_000);
    expect(running.exitCode).toBe(0);
  }, 240_000);

  it('BAD CALL - an invalid blueprint: exit 1, its problems printed, nothing started', async () => {
    const file = path.join(folder, 'bad.yaml');
    const text = readFileSync(path.join(BLUEPRINTS, 'production-line-inspection.yaml'), 'utf8').replace('models: [defect, defect-metal, defect-textile]', 'models: [no-such-model, defect-metal, defect-textile]');
    await writeFile(file, text);
    const result = await mec(['blueprint', 'up', file, '--mec-port', '0', '--state-dir', stateDir]);
    expect(result.status).toBe(1);
    expect(result.stdout).toMatch(/bad\.yaml:\d+: \/spec\/tiers\/mec\/nodes\/0\/models\/0: /);
    expect(result.stderr).toMatch(/invalid \(\d+ problems?\); nothing started/);
    expect(existsSync(path.join(stateDir, 'production-line-inspection.json'))).toBe(false);
  }, 60_000);

  it('BAD CALL - down with nothing running: exit 1; down NAME not running: exit 1', async () => {
    const nothing = await mec(['blueprint', 'down', '--state-dir', path.join(folder, 'empty')]);
    expect(nothing.status).toBe(1);
    expect(nothing.stderr).toContain('no blueprint is running');
    const named = await mec(['blueprint', 'down', 'field-speech', '--state-dir', stateDir]);
    expect(named.status).toBe(1);
    expect(named.stderr).toContain('field-speech is not running');
  }, 60_000);
});
