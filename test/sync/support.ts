/**
 * Sync test kit: temp repositories for a cloud and an edge (copies of the real `defect` model,
 * 1.2 MB), new model and policy versions written the way an operator would (files first, the card
 * last, by rename), node configs, and a request stream that counts failures.
 */
import { createHash, randomBytes } from 'node:crypto';
import { cp, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig, mergeConfig, PROJECT_ROOT, type Config, type ConfigInput } from '../../services/core/config.ts';

export const DEFECT_SOURCE = path.join(PROJECT_ROOT, 'models', 'repository', 'defect');
export const POLICY_SOURCE = path.join(PROJECT_ROOT, 'blueprints', 'policies', 'default.yaml');
export const BRICK = path.join(PROJECT_ROOT, 'test', 'fixtures', 'inspect', 'brick-good.jpg');

export interface Workspace {
  dir: string;
  cloudRepo: string;
  cloudPolicies: string;
  edgeRepo: string;
  edgePolicy: string;
  cache: string;
  remove(): Promise<void>;
}

const sha256 = (bytes: Uint8Array | string) => createHash('sha256').update(bytes).digest('hex');

/** Cloud and edge both start with defect version 1 and policy default@3. */
export async function makeWorkspace(prefix: string): Promise<Workspace> {
  const dir = await mkdtemp(path.join(tmpdir(), `${prefix}-`));
  const ws: Workspace = {
    dir,
    cloudRepo: path.join(dir, 'cloud', 'models'),
    cloudPolicies: path.join(dir, 'cloud', 'policies'),
    edgeRepo: path.join(dir, 'edge', 'models'),
    edgePolicy: path.join(dir, 'edge', 'policy.yaml'),
    cache: path.join(dir, 'edge', 'sync-cache'),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
  for (const repo of [ws.cloudRepo, ws.edgeRepo]) {
    await mkdir(repo, { recursive: true });
    await cp(DEFECT_SOURCE, path.join(repo, 'defect'), { recursive: true });
  }
  await mkdir(ws.cloudPolicies, { recursive: true });
  await writeFile(path.join(ws.cloudPolicies, 'default.yaml'), await policyText(3));
  await writeFile(ws.edgePolicy, await policyText(3));
  return ws;
}

export async function policyText(version: number, options: { invalid?: boolean } = {}): Promise<string> {
  let text = (await readFile(POLICY_SOURCE, 'utf8')).replace(/^ {2}version: 3$/m, `  version: ${version}`);
  // Restricted data may never reach the cloud: the policy loader refuses this.
  if (options.invalid) text = text.replace('      tiers: [device, mec]\n', '      tiers: [device, mec, cloud]\n');
  return text;
}

export async function publishPolicy(ws: Workspace, version: number, options: { invalid?: boolean } = {}): Promise<void> {
  const file = path.join(ws.cloudPolicies, 'default.yaml');
  await writeFile(`${file}.tmp`, await policyText(version, options));
  await rename(`${file}.tmp`, file);
}

export type ModelFlavour = 'good' | 'corrupt-sha' | 'not-onnx';

/**
 * Writes defect version `version` into `repo`: 'good' = the real model again under a new version,
 * 'corrupt-sha' = its bytes with one flipped (the card keeps the real sha256), 'not-onnx' = random
 * bytes whose sha256 the card states correctly.
 */
export async function publishModel(repo: string, version: number, flavour: ModelFlavour = 'good'): Promise<void> {
  const folder = path.join(repo, 'defect');
  const card = JSON.parse(await readFile(path.join(DEFECT_SOURCE, 'card.json'), 'utf8')) as Record<string, unknown>;
  let bytes: Buffer = await readFile(path.join(DEFECT_SOURCE, '1', 'model.onnx'));
  if (flavour === 'corrupt-sha') {
    bytes = Buffer.from(bytes);
    bytes[bytes.length >> 1] = (bytes[bytes.length >> 1]! + 1) & 0xff;
  }
  if (flavour === 'not-onnx') bytes = randomBytes(64 * 1024);
  await mkdir(path.join(folder, String(version)), { recursive: true });
  await writeFile(path.join(folder, String(version), 'model.onnx'), bytes);
  const next = { ...card, version: String(version), file: `${version}/model.onnx`, sha256: flavour === 'corrupt-sha' ? card.sha256 : sha256(bytes) };
  await writeFile(path.join(folder, 'card.json.tmp'), JSON.stringify(next, null, 2));
  await rename(path.join(folder, 'card.json.tmp'), path.join(folder, 'card.json'));
}

const BASE: ConfigInput = {
  log: { level: 'silent' },
  server: { port: 0 },
  runtime: { workers: 1 },
  streams: { mqtt: { enabled: false } },
};

export function cloudConfig(ws: Workspace, extra: ConfigInput = {}): Readonly<Config> {
  return loadConfig(
    mergeConfig(
      mergeConfig(BASE, {
        models: { repository: ws.cloudRepo, load: ['defect'] },
        placement: { tier: 'cloud' },
        sync: { enabled: true, policiesDir: ws.cloudPolicies, rescanMs: 100 },
      }),
      extra,
    ),
  );
}

export function edgeConfig(ws: Workspace, cloudUrl: string, extra: ConfigInput = {}): Readonly<Config> {
  return loadConfig(
    mergeConfig(
      mergeConfig(BASE, {
        models: { repository: ws.edgeRepo, load: ['defect'] },
        placement: { tier: 'mec', cloudUrl, policyFile: ws.edgePolicy, heartbeatMs: 200 },
        sync: { enabled: true, cacheDir: ws.cache, nodeId: 'edge-1', pollWaitMs: 2_000, retryMs: 100, retryMaxMs: 1_000 },
      }),
      extra,
    ),
  );
}

export async function getJson<T = any>(url: string, init?: RequestInit): Promise<{ status: number; body: T }> {
  const response = await fetch(url, init);
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T };
}

/** What a steady stream of inspections saw. */
export interface StreamTally {
  ok: number;
  failed: number;
  codes: Record<string, number>;
  versions: Record<string, number>;
  policies: Record<string, number>;
}

/**
 * Sends inspections to `url` one after another (pinned to the MEC tier, so that placement never
 * sends them to the cloud) until stop() is called; every answer is counted.
 */
export function startRequestStream(url: string): { tally: StreamTally; stop(): Promise<StreamTally> } {
  const tally: StreamTally = { ok: 0, failed: 0, codes: {}, versions: {}, policies: {} };
  let running = true;
  const loop = (async () => {
    const image = await readFile(BRICK);
    while (running) {
      try {
        const response = await fetch(`${url}/v1/inspect?surface=brick`, {
          method: 'POST',
          headers: { 'content-type': 'image/jpeg', 'x-placement-tier': 'mec' },
          body: image,
        });
        const body = (await response.json()) as { version?: string; placement?: { policy_version?: string }; error?: { code?: string } };
        if (response.status === 200) {
          tally.ok += 1;
          tally.versions[body.version ?? '?'] = (tally.versions[body.version ?? '?'] ?? 0) + 1;
          const policy = body.placement?.policy_version ?? '?';
          tally.policies[policy] = (tally.policies[policy] ?? 0) + 1;
        } else {
          tally.failed += 1;
          const code = body.error?.code ?? String(response.status);
          tally.codes[code] = (tally.codes[code] ?? 0) + 1;
        }
      } catch (error) {
        tally.failed += 1;
        const code = (error as Error).message;
        tally.codes[code] = (tally.codes[code] ?? 0) + 1;
      }
    }
  })();
  return {
    tally,
    async stop() {
      running = false;
      await loop;
      return tally;
    },
  };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
