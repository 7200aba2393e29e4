/**
 * Autonomy (KubeEdge's test: stop both sides, restart only the edge): after syncing model and
 * policy versions, the edge is stopped, the cloud is gone, and the edge restarts from its cache -
 * it serves the synced model version and enforces the synced policy, and reports the cloud as
 * unreachable without failing to start.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { LinkProxy } from '../../services/links/link-proxy.ts';
import { startNode, type RunningNode } from '../../services/node.ts';
import { waitFor } from '../support/wait-for.ts';
import { BRICK, cloudConfig, edgeConfig, getJson, makeWorkspace, publishModel, publishPolicy, type Workspace } from './support.ts';

describe('sync: autonomy after a restart without the cloud', () => {
  let ws: Workspace;
  let cloud: RunningNode | undefined;
  let edge: RunningNode | undefined;
  let link: LinkProxy;
  let cloudUrl: string;

  beforeAll(async () => {
    ws = await makeWorkspace('sync-autonomy');
    cloud = await startNode(cloudConfig(ws));
    link = new LinkProxy({ name: 'mec-cloud', listenPort: 0, targetHost: '127.0.0.1', targetPort: Number(new URL(cloud.url).port), settings: {} });
    cloudUrl = `http://127.0.0.1:${(await link.start()).port}`;
  });

  afterAll(async () => {
    await edge?.close();
    await link?.close();
    await cloud?.close();
    await ws?.remove();
  });

  it('restarts with the cloud gone and serves the synced model and policy from its cache', async () => {
    await publishModel(ws.cloudRepo, 2);
    await publishPolicy(ws, 4);
    edge = await startNode(edgeConfig(ws, cloudUrl));
    const first = edge;
    await waitFor(async () => {
      const { body } = await getJson<{ held: Array<{ kind: string; version: number }> }>(`${first.url}/v1/sync/status`);
      return body.held.find((entry) => entry.kind === 'model')?.version === 2 && body.held.find((entry) => entry.kind === 'policy')?.version === 4;
    }, 'the edge to sync defect 2 and default@4', 10_000);
    await edge.close();
    edge = undefined;
    await cloud!.close();
    cloud = undefined;

    // Only the edge comes back; its configured policy file still says default@3.
    const started = Date.now();
    edge = await startNode(edgeConfig(ws, cloudUrl));
    const startMs = Date.now() - started;
    expect(edge.models).toEqual(['defect']);
    const answer = await getJson<{ version: string; placement: { policy_version: string; tier: string } }>(`${edge.url}/v1/inspect?surface=brick`, {
      method: 'POST',
      headers: { 'content-type': 'image/jpeg' },
      body: await readFile(BRICK),
    });
    expect(answer.status).toBe(200);
    expect(answer.body.version).toBe('2');
    expect(answer.body.placement).toMatchObject({ tier: 'mec', policy_version: 'default@4' });
    expect(startMs).toBeLessThan(30_000);

    const restarted = edge;
    await waitFor(async () => (await getJson(`${restarted.url}/v1/sync/status`)).body.lastError !== null, 'a failed poll', 5_000);
    const { body } = await getJson<{ lastContact: string | null; lastError: { code: string }; held: Array<{ kind: string; version: number }> }>(`${edge.url}/v1/sync/status`);
    expect(body.lastContact).toBeNull();
    expect(body.lastError.code).toBe('EDGE_ERR_SYNC_UNAVAILABLE');
    expect(body.held).toEqual([
      expect.objectContaining({ kind: 'model', name: 'defect', version: 2 }),
      expect.objectContaining({ kind: 'policy', name: 'default', version: 4 }),
    ]);
  });
});
