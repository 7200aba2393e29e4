/**
 * The `mec` command as a user runs it: a child process started through bin/mec.js (tsx loader, worker
 * threads, real models), answering over a real socket, and shutting down on SIGTERM.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../services/core/config.ts';

const MEC = path.join(PROJECT_ROOT, 'bin/mec.js');
const DOG = readFileSync(path.join(PROJECT_ROOT, 'test/fixtures/images/dog.jpg'));

function waitForUrl(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      const match = /serving on (http:\/\/\S+)/.exec(line);
      if (match) resolve(match[1] as string);
    });
    child.once('exit', (code) => reject(new Error(`mec serve exited with ${code} before serving`)));
  });
}

describe('mec serve', () => {
  let child: ChildProcess;
  let url: string;
  let stderr = '';

  beforeAll(async () => {
    child = spawn(process.execPath, [MEC, 'serve', '--port', '0', '--models', 'centernet,blazeface,emotion', '--log-level', 'warn', '--no-mqtt'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    url = await waitForUrl(child);
  });

  afterAll(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });

  it('is ready with the models it was asked to load', async () => {
    const ready = await fetch(`${url}/v2/health/ready`);
    expect(ready.status).toBe(200);
    const index = (await (await fetch(`${url}/v2/repository/index`, { method: 'POST' })).json()) as Array<{ name: string; state: string }>;
    const states = Object.fromEntries(index.map((entry) => [entry.name, entry.state]));
    expect(states).toMatchObject({ centernet: 'READY', blazeface: 'READY', emotion: 'READY' });
    expect(states.nanodet).not.toBe('READY');
  });

  it('detects the dog in dog.jpg over HTTP', async () => {
    const response = await fetch(`${url}/v1/vision/detect`, { method: 'POST', body: DOG, headers: { 'content-type': 'image/jpeg' } });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { detections: Array<{ label: string }>; width: number; height: number };
    expect(body.width).toBe(768);
    expect(body.height).toBe(576);
    expect(body.detections.map((detection) => detection.label)).toContain('dog');
  });

  it('drains and exits 0 on SIGTERM', async () => {
    child.kill('SIGTERM');
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code, stderr).toBe(0);
  });
});

describe('mec command line', () => {
  it('prints help that lists serve', () => {
    const result = spawnSync(process.execPath, [MEC, '--help'], { encoding: 'utf8' });
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/serve/);
  });

  it('BAD CALL - a port that is not a number is refused with a message, before anything starts', () => {
    const result = spawnSync(process.execPath, [MEC, 'serve', '--port', 'eighty'], { encoding: 'utf8' });
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/--port must be an integer/);
  });

  it('BAD CALL - a configuration file with a typo or a bad value stops the start with EDGE_ERR_CONFIG_INVALID', async () => {
    const folder = await mkdtemp(path.join(os.tmpdir(), 'mec-cli-'));
    try {
      const typo = path.join(folder, 'typo.json');
      await writeFile(typo, JSON.stringify({ tasks: { maxWaitng: 5 } }));
      const result = spawnSync(process.execPath, [MEC, 'serve', '--config', typo], { encoding: 'utf8', timeout: 60_000 });
      expect(result.status).toBe(2);
      expect(result.stderr).toMatch(/EDGE_ERR_CONFIG_INVALID.*\/tasks\/maxWaitng/);
      const missing = spawnSync(process.execPath, [MEC, 'serve', '--config', path.join(folder, 'none.json')], { encoding: 'utf8', timeout: 60_000 });
      expect(missing.status).toBe(2);
      expect(missing.stderr).toMatch(/EDGE_ERR_CONFIG_INVALID: cannot read the configuration file/);
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });

  it('BAD CALL - an unknown model to load fails the start with its code, leaving no process behind', () => {
    const result = spawnSync(process.execPath, [MEC, 'serve', '--port', '0', '--models', 'no-such-model'], { encoding: 'utf8', timeout: 60_000 });
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/EDGE_ERR_MODEL_NOT_FOUND/);
  });
});
