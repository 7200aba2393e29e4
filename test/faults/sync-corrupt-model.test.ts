/**
 * Fault (8): the cloud publishes a bad model version while requests stream to the edge - both kinds:
 * bytes that do not match the card's sha256, and a file whose sha256 is right but that is not ONNX.
 * Checked: 0 failed requests, every answer from the old version, each rejection recorded and acked
 * to the cloud with its code, and the next good version still applied afterwards.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LinkProxy } from '../../services/links/link-proxy.ts';
import { startNode, type RunningNode } from '../../services/node.ts';
import { cloudConfig, edgeConfig, getJson, makeWorkspace, publishModel, sleep, startRequestStream, type ModelFlavour, type Workspace } from '../sync/support.ts';
import { waitFor } from '../support/wait-for.ts';
import { FULL, recordFigures } from './support/figures.ts';

/** Requests keep streaming this long after each rejection (the old version must go on serving). */
const SOAK_MS = FULL ? 10_000 : 2_000;

interface Status {
  held: Array<{ kind: string; version: number }>;
  rejected: Array<{ kind: string; version: number; code: string }>;
}

describe('fault: a corrupt model version is published by the cloud', () => {
  let ws: Workspace;
  let cloud: RunningNode;
  let edge: RunningNode;
  let link: LinkProxy;

  beforeAll(async () => {
    ws = await makeWorkspace('fault-sync-corrupt');
    cloud = await startNode(cloudConfig(ws, { sync: { rescanMs: 250 } }));
    link = new LinkProxy({ name: 'mec-cloud', listenPort: 0, targetHost: '127.0.0.1', targetPort: Number(new URL(cloud.url).port), settings: { latencyMs: 40, bandwidthMbit: 50 } });
    const { port } = await link.start();
    edge = await startNode(edgeConfig(ws, `http://127.0.0.1:${port}`, { sync: { pollWaitMs: 10_000, retryMs: 250, retryMaxMs: 2_000 } }));
    await waitFor(async () => (await getJson(`${edge.url}/v1/sync/status`)).body.lastSuccess !== null, 'first sync round');
  });

  afterAll(async () => {
    await edge?.close();
    await link?.close();
    await cloud?.close();
    await ws?.remove();
  });

  it('rejects both kinds of bad version with 0 failed requests while the old version serves', async () => {
    const stream = startRequestStream(edge.url);
    await sleep(500);
    const outcomes: Array<{ flavour: ModelFlavour; version: number; code: string | undefined; acked: string | undefined; rejectMs: number }> = [];
    for (const [version, flavour] of [
      [2, 'corrupt-sha'],
      [3, 'not-onnx'],
    ] as const) {
      const published = Date.now();
      await publishModel(ws.cloudRepo, version, flavour);
      await waitFor(async () => (await getJson<Status>(`${edge.url}/v1/sync/status`)).body.rejected.some((entry) => entry.version === version), `the rejection of version ${version}`, 15_000);
      const rejectMs = Date.now() - published;
      let acked: string | undefined;
      await waitFor(async () => {
        const { body } = await getJson<{ nodes: Array<{ node: string; rejected: Record<string, { version: number; code: string }> }> }>(`${cloud.url}/v1/sync/nodes`);
        const entry = body.nodes.find((node) => node.node === 'edge-1')?.rejected['model/defect'];
        acked = entry?.version === version ? entry.code : undefined;
        return acked !== undefined;
      }, `the ack of version ${version}'s rejection`, 15_000);
      const { body } = await getJson<Status>(`${edge.url}/v1/sync/status`);
      outcomes.push({ flavour, version, code: body.rejected.find((entry) => entry.version === version)?.code, acked, rejectMs });
      await sleep(SOAK_MS);
    }
    const tally = await stream.stop();
    const { body } = await getJson<Status>(`${edge.url}/v1/sync/status`);
    const serving = body.held.find((entry) => entry.kind === 'model')?.version;

    // Then a good version goes through: the rejections did not wedge the agent.
    await publishModel(ws.cloudRepo, 4);
    let recovered = true;
    await waitFor(async () => (await getJson<Status>(`${edge.url}/v1/sync/status`)).body.held.some((entry) => entry.kind === 'model' && entry.version === 4), 'version 4', 15_000).catch(() => {
      recovered = false;
    });

    const expected: Record<string, string> = { 'corrupt-sha': 'EDGE_ERR_MODEL_CHECKSUM_MISMATCH', 'not-onnx': 'EDGE_ERR_MODEL_LOAD_FAILED' };
    recordFigures('8 sync corrupt model', [
      { name: `failed requests during both bad versions (${tally.ok + tally.failed} requests)`, value: String(tally.failed), target: '0', met: tally.failed === 0 },
      { name: 'answers not from the old version (1)', value: String(tally.ok - (tally.versions['1'] ?? 0)), target: '0', met: tally.ok === (tally.versions['1'] ?? 0) },
      ...outcomes.map((outcome) => ({
        name: `${outcome.flavour}: rejection code (acked to the cloud), time to reject`,
        value: `${outcome.code} (acked ${outcome.acked}), ${(outcome.rejectMs / 1000).toFixed(2)} s`,
        target: expected[outcome.flavour]!,
        met: outcome.code === expected[outcome.flavour] && outcome.acked === expected[outcome.flavour],
      })),
      { name: 'next good version applied after the rejections', value: recovered ? 'yes' : 'no', target: 'yes', met: recovered },
    ]);

    expect(tally.failed, JSON.stringify(tally.codes)).toBe(0);
    expect(tally.ok).toBeGreaterThan(0);
    expect(Object.keys(tally.versions)).toEqual(['1']);
    expect(serving).toBe(1);
    for (const outcome of outcomes) {
      expect(outcome.code).toBe(expected[outcome.flavour]);
      expect(outcome.acked).toBe(expected[outcome.flavour]);
    }
    expect(recovered).toBe(true);
  });
});
