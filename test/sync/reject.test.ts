/**
 * Bad publications: a model whose bytes do not match its sha256, a model whose sha256 is right but
 * whose bytes are not ONNX, a policy the loader refuses. Each is rejected with its code, recorded,
 * acknowledged, not tried again; the old version keeps serving a request stream with 0 failures;
 * the next good version is applied.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LinkProxy } from '../../services/links/link-proxy.ts';
import { startNode, type RunningNode } from '../../services/node.ts';
import { waitFor } from '../support/wait-for.ts';
import { cloudConfig, edgeConfig, getJson, makeWorkspace, publishModel, publishPolicy, startRequestStream, type Workspace } from './support.ts';

interface Status {
  held: Array<{ kind: string; name: string; version: number }>;
  rejected: Array<{ kind: string; name: string; version: number; code: string }>;
  lastSuccess: string | null;
}

describe('sync: bad versions are rejected while the old one serves', () => {
  let ws: Workspace;
  let cloud: RunningNode;
  let edge: RunningNode;
  let link: LinkProxy;
  const status = async () => (await getJson<Status>(`${edge.url}/v1/sync/status`)).body;
  const rejectedOf = async (kind: string, version: number) => (await status()).rejected.find((entry) => entry.kind === kind && entry.version === version);
  const heldOf = async (kind: string) => (await status()).held.find((entry) => entry.kind === kind)?.version;
  const cloudRejection = async (key: string) => {
    const { body } = await getJson<{ nodes: Array<{ node: string; rejected: Record<string, { version: number; code: string }> }> }>(`${cloud.url}/v1/sync/nodes`);
    return body.nodes.find((node) => node.node === 'edge-1')?.rejected[key];
  };

  beforeAll(async () => {
    ws = await makeWorkspace('sync-reject');
    cloud = await startNode(cloudConfig(ws));
    link = new LinkProxy({ name: 'mec-cloud', listenPort: 0, targetHost: '127.0.0.1', targetPort: Number(new URL(cloud.url).port), settings: {} });
    const { port } = await link.start();
    edge = await startNode(edgeConfig(ws, `http://127.0.0.1:${port}`));
    await waitFor(async () => (await status()).lastSuccess !== null, 'first sync round');
  });

  afterAll(async () => {
    await edge?.close();
    await link?.close();
    await cloud?.close();
    await ws?.remove();
  });

  it('BAD CALL - a model file that does not match its sha256 is rejected; version 1 serves with 0 failed requests', async () => {
    const stream = startRequestStream(edge.url);
    await publishModel(ws.cloudRepo, 2, 'corrupt-sha');
    await waitFor(async () => (await rejectedOf('model', 2)) !== undefined, 'the rejection of defect 2', 10_000);
    const tally = await stream.stop();
    expect((await rejectedOf('model', 2))?.code).toBe('EDGE_ERR_MODEL_CHECKSUM_MISMATCH');
    expect(await heldOf('model')).toBe(1);
    expect(tally.failed, JSON.stringify(tally.codes)).toBe(0);
    expect(tally.ok).toBeGreaterThan(0);
    expect(Object.keys(tally.versions)).toEqual(['1']);
    // Nothing of the bad version stays on the edge.
    expect(existsSync(path.join(ws.edgeRepo, 'defect', '2'))).toBe(false);
    expect(JSON.parse(await readFile(path.join(ws.edgeRepo, 'defect', 'card.json'), 'utf8'))).toMatchObject({ version: '1', file: '1/model.onnx' });
    await waitFor(async () => (await cloudRejection('model/defect'))?.code === 'EDGE_ERR_MODEL_CHECKSUM_MISMATCH', 'the rejection acked to the cloud', 5_000);
  });

  it('BAD CALL - a model with the right sha256 that is not ONNX fails to load: rejected, the old card put back, 0 failed requests', async () => {
    const stream = startRequestStream(edge.url);
    await publishModel(ws.cloudRepo, 3, 'not-onnx');
    await waitFor(async () => (await rejectedOf('model', 3)) !== undefined, 'the rejection of defect 3', 10_000);
    const tally = await stream.stop();
    expect((await rejectedOf('model', 3))?.code).toBe('EDGE_ERR_MODEL_LOAD_FAILED');
    expect(await heldOf('model')).toBe(1);
    expect(tally.failed, JSON.stringify(tally.codes)).toBe(0);
    expect(Object.keys(tally.versions)).toEqual(['1']);
    expect(existsSync(path.join(ws.edgeRepo, 'defect', '3'))).toBe(false);
    // A restart would load version 1 again: the card on disk is the old one.
    expect(JSON.parse(await readFile(path.join(ws.edgeRepo, 'defect', 'card.json'), 'utf8'))).toMatchObject({ version: '1', file: '1/model.onnx' });
    const state = JSON.parse(await readFile(path.join(ws.cache, 'state.json'), 'utf8')) as { held: Record<string, { version: number }>; rejected: Record<string, { version: number; code: string }> };
    expect(state.rejected['model/defect']).toMatchObject({ version: 3, code: 'EDGE_ERR_MODEL_LOAD_FAILED' });
    expect(state.held['model/defect']?.version).toBe(1);
    await waitFor(async () => (await cloudRejection('model/defect'))?.version === 3, 'the rejection acked to the cloud', 5_000);
  });

  it('BAD CALL - a rejected version is not tried again until a newer one is published', async () => {
    const before = (await status()).lastSuccess;
    await fetch(`${cloud.url}/v1/sync/publish`, { method: 'POST' });
    await waitFor(async () => (await status()).lastSuccess !== before, 'another sync round', 10_000);
    const metrics = await (await fetch(`${edge.url}/metrics`)).text();
    expect(metrics).toMatch(/^mec_sync_rejected_total\{kind="model",code="EDGE_ERR_MODEL_LOAD_FAILED"\} 1$/m);
    expect(metrics).toMatch(/^mec_sync_rejected_total\{kind="model",code="EDGE_ERR_MODEL_CHECKSUM_MISMATCH"\} 1$/m);
  });

  it('BAD CALL - a policy the loader refuses is rejected and the old policy stays in force', async () => {
    await publishPolicy(ws, 4, { invalid: true });
    await waitFor(async () => (await rejectedOf('policy', 4)) !== undefined, 'the rejection of default@4', 10_000);
    expect((await rejectedOf('policy', 4))?.code).toBe('EDGE_ERR_POLICY_INVALID');
    expect(await heldOf('policy')).toBe(3);
    expect(existsSync(path.join(ws.cache, 'policies', 'default.yaml'))).toBe(false);
    const { body } = await getJson<{ policy_version: string }>(`${edge.url}/v1/tier/status`);
    expect(JSON.stringify(body)).toContain('default@3');
  });

  it('applies the next good versions after the rejections', async () => {
    await publishModel(ws.cloudRepo, 4);
    await publishPolicy(ws, 5);
    await waitFor(async () => (await heldOf('model')) === 4 && (await heldOf('policy')) === 5, 'defect 4 and default@5', 10_000);
    expect(existsSync(path.join(ws.edgeRepo, 'defect', '4', 'model.onnx'))).toBe(true);
  });
});
