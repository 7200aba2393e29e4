/**
 * A real cloud node and a real edge node (in-process, real HTTP, real ONNX), an emulated link
 * between them: the edge converges to the cloud's new model and policy versions, hot-reloads them,
 * persists them, acknowledges them; old version folders are pruned; stale versions and
 * conflicting republications are ignored.
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LinkProxy } from '../../services/links/link-proxy.ts';
import { startNode, type RunningNode } from '../../services/node.ts';
import { waitFor } from '../support/wait-for.ts';
import { BRICK, cloudConfig, edgeConfig, getJson, makeWorkspace, policyText, publishModel, publishPolicy, startRequestStream, type Workspace } from './support.ts';

interface Held {
  kind: string;
  name: string;
  version: number;
}

async function held(edge: RunningNode): Promise<Record<string, number>> {
  const { body } = await getJson<{ held: Held[] }>(`${edge.url}/v1/sync/status`);
  return Object.fromEntries(body.held.map((entry) => [`${entry.kind}/${entry.name}`, entry.version]));
}

async function startPair(ws: Workspace): Promise<{ cloud: RunningNode; edge: RunningNode; link: LinkProxy }> {
  const cloud = await startNode(cloudConfig(ws));
  const link = new LinkProxy({ name: 'mec-cloud', listenPort: 0, targetHost: '127.0.0.1', targetPort: Number(new URL(cloud.url).port), settings: {} });
  const { port } = await link.start();
  const edge = await startNode(edgeConfig(ws, `http://127.0.0.1:${port}`));
  return { cloud, edge, link };
}

describe('sync: the edge converges to the cloud', () => {
  let ws: Workspace;
  let cloud: RunningNode;
  let edge: RunningNode;
  let link: LinkProxy;

  beforeAll(async () => {
    ws = await makeWorkspace('sync-converge');
    ({ cloud, edge, link } = await startPair(ws));
    await waitFor(async () => (await getJson(`${edge.url}/v1/sync/status`)).body.lastSuccess !== null, 'first sync round');
  });

  afterAll(async () => {
    await edge?.close();
    await link?.close();
    await cloud?.close();
    await ws?.remove();
  });

  it('applies a new model version and policy version, persists them, and acknowledges them', async () => {
    expect(await held(edge)).toEqual({ 'model/defect': 1, 'policy/default': 3 });
    const stream = startRequestStream(edge.url);
    const started = Date.now();
    await publishModel(ws.cloudRepo, 2);
    await publishPolicy(ws, 4);
    await waitFor(async () => {
      const versions = await held(edge);
      return versions['model/defect'] === 2 && versions['policy/default'] === 4;
    }, 'the edge to hold defect 2 and default@4', 10_000);
    const convergedMs = Date.now() - started;
    // Requests keep flowing across the reload: none failed, and the new version answers.
    await waitFor(() => (stream.tally.versions['2'] ?? 0) > 0, 'an answer from version 2', 10_000);
    const tally = await stream.stop();
    expect(tally.failed, JSON.stringify(tally.codes)).toBe(0);
    expect(tally.ok).toBeGreaterThan(0);
    expect(convergedMs).toBeLessThan(10_000);

    const answer = await getJson<{ version: string; placement: { policy_version: string } }>(`${edge.url}/v1/inspect?surface=brick`, {
      method: 'POST',
      headers: { 'content-type': 'image/jpeg', 'x-placement-tier': 'mec' },
      body: await readFile(BRICK),
    });
    expect(answer.status).toBe(200);
    expect(answer.body.version).toBe('2');
    expect(answer.body.placement.policy_version).toBe('default@4');

    // On disk: the new version folder, the card pointing into it, the previous version kept.
    const card = JSON.parse(await readFile(path.join(ws.edgeRepo, 'defect', 'card.json'), 'utf8')) as { version: string; file: string };
    expect(card).toMatchObject({ version: '2', file: '2/model.onnx' });
    expect(existsSync(path.join(ws.edgeRepo, 'defect', '2', 'model.onnx'))).toBe(true);
    expect(existsSync(path.join(ws.edgeRepo, 'defect', '1', 'model.onnx'))).toBe(true);
    const state = JSON.parse(await readFile(path.join(ws.cache, 'state.json'), 'utf8')) as { held: Record<string, { version: number }> };
    expect(state.held['model/defect']?.version).toBe(2);
    expect(state.held['policy/default']?.version).toBe(4);
    expect(await readFile(path.join(ws.cache, 'policies', 'default.yaml'), 'utf8')).toMatch(/^ {2}version: 4$/m);

    // The acks reached the cloud's operator view.
    await waitFor(async () => {
      const { body } = await getJson<{ nodes: Array<{ node: string; applied: Record<string, number> }> }>(`${cloud.url}/v1/sync/nodes`);
      const node = body.nodes.find((entry) => entry.node === 'edge-1');
      return node?.applied['model/defect'] === 2 && node.applied['policy/default'] === 4;
    }, 'the acks at the cloud', 5_000);

    const metrics = await (await fetch(`${edge.url}/metrics`)).text();
    expect(metrics).toMatch(/^mec_sync_applied_total\{kind="model"\} 1$/m);
    expect(metrics).toMatch(/^mec_sync_applied_total\{kind="policy"\} 1$/m);
    expect(metrics).toMatch(/^mec_sync_resource_version\{kind="model",name="defect"\} 2$/m);
    expect(metrics).toMatch(/^mec_sync_last_success_timestamp_seconds \d+/m);
  });

  it('keeps the serving version and one previous on disk, deleting older ones', async () => {
    await publishModel(ws.cloudRepo, 3);
    await waitFor(async () => (await held(edge))['model/defect'] === 3, 'defect 3', 10_000);
    // Pruning follows the reload, once the replaced version's grace is over.
    await waitFor(() => !existsSync(path.join(ws.edgeRepo, 'defect', '1')), 'version 1 pruned', 5_000);
    expect(existsSync(path.join(ws.edgeRepo, 'defect', '3'))).toBe(true);
    expect(existsSync(path.join(ws.edgeRepo, 'defect', '2'))).toBe(true);
    expect(existsSync(path.join(ws.edgeRepo, 'defect', '1'))).toBe(false);
    const { body } = await getJson<{ pending: unknown[]; rejected: unknown[] }>(`${edge.url}/v1/sync/status`);
    expect(body.pending).toEqual([]);
    expect(body.rejected).toEqual([]);
  });
});

describe('sync: stale and conflicting versions', () => {
  let ws: Workspace;
  let cloud: RunningNode;
  let edge: RunningNode;
  let link: LinkProxy;

  beforeAll(async () => {
    ws = await makeWorkspace('sync-stale');
    // The edge is ahead: defect 2 and default@5 locally, the cloud publishes defect 1 and default@3.
    await publishModel(ws.edgeRepo, 2);
    await writeFile(ws.edgePolicy, await policyText(5));
    ({ cloud, edge, link } = await startPair(ws));
    await waitFor(async () => (await getJson(`${edge.url}/v1/sync/status`)).body.lastSuccess !== null, 'first sync round');
  });

  afterAll(async () => {
    await edge?.close();
    await link?.close();
    await cloud?.close();
    await ws?.remove();
  });

  it('ignores versions older than what the edge holds', async () => {
    await publishPolicy(ws, 4);
    await fetch(`${cloud.url}/v1/sync/publish`, { method: 'POST' });
    // Two full rounds after the publication: nothing was applied.
    const before = (await getJson(`${edge.url}/v1/sync/status`)).body.lastSuccess as string;
    await waitFor(async () => (await getJson(`${edge.url}/v1/sync/status`)).body.lastSuccess !== before, 'another sync round', 10_000);
    expect(await held(edge)).toEqual({ 'model/defect': 2, 'policy/default': 5 });
    const { body } = await getJson<{ pending: unknown[]; rejected: unknown[]; conflicts: unknown[] }>(`${edge.url}/v1/sync/status`);
    expect(body).toMatchObject({ pending: [], rejected: [], conflicts: [] });
    const metrics = await (await fetch(`${edge.url}/metrics`)).text();
    expect(metrics).not.toMatch(/^mec_sync_applied_total\{/m);
  });

  it('BAD CALL - the same version republished with another sha256 is a conflict: ignored and reported', async () => {
    await publishModel(ws.cloudRepo, 2, 'not-onnx');
    await waitFor(async () => (await getJson<{ conflicts: unknown[] }>(`${edge.url}/v1/sync/status`)).body.conflicts.length === 1, 'the conflict', 10_000);
    const { body } = await getJson<{ conflicts: Array<{ kind: string; name: string; version: number }> }>(`${edge.url}/v1/sync/status`);
    expect(body.conflicts[0]).toMatchObject({ kind: 'model', name: 'defect', version: 2 });
    expect(await held(edge)).toEqual({ 'model/defect': 2, 'policy/default': 5 });
    await waitFor(async () => {
      const nodes = (await getJson<{ nodes: Array<{ node: string; rejected: Record<string, { code: string; version: number }> }> }>(`${cloud.url}/v1/sync/nodes`)).body.nodes;
      return nodes.find((node) => node.node === 'edge-1')?.rejected['model/defect']?.code === 'EDGE_ERR_SYNC_VERSION_INVALID';
    }, 'the conflict reported to the cloud', 5_000);
  });
});
