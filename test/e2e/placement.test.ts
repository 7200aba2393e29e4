/**
 * Two tiers as operators run them: a cloud node and a MEC node in processes of their own, joined by
 * our link proxy, with a wiretap in front of the cloud that keeps every byte the cloud receives.
 * Real models (NanoDet at the MEC, CenterNet in the cloud), real sockets, real policy:
 *   - placement is explained, and follows the link: the MEC spills over to the cloud under a burst
 *     while the link is good, not while it is slow, and again once it heals;
 *   - restricted data never reaches the cloud (the canary bytes never cross the wiretap), also
 *     while the link flaps; a public image pinned to the cloud does cross (the tap works);
 *   - hard examples are escalated to the cloud; when the cloud is down or stalls, the near answer stands;
 *   - both audit logs verify, and an edited one does not.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { PROJECT_ROOT } from '../../services/core/config.ts';
import { LinkProxy } from '../../services/links/link-proxy.ts';
import { DEFAULT_LINKS } from '../../services/links/link-settings.ts';
import { verifyAuditLog } from '../../services/audit/verify.ts';
import { waitFor } from '../support/wait-for.ts';
import { startNodeProcess, type NodeProcess } from '../support/node-process.ts';
import { startWiretap, type Wiretap } from '../support/wiretap.ts';

const image = (name: string) => readFileSync(path.join(PROJECT_ROOT, 'test/fixtures/images', name));
const DOG = image('dog.jpg');
const ASTRONAUT = image('astronaut.png');
const CHELSEA = image('chelsea.png');
/** A surface with no object on it: NanoDet finds nothing it is sure of, a hard example. */
const GRAVEL = readFileSync(path.join(PROJECT_ROOT, 'test/fixtures/inspect/gravel-good.jpg'));

/** The first IDAT bytes of a PNG: metadata stripping copies them as they are, so they are the canary. */
function idatSlice(png: Buffer, length = 64): Buffer {
  let offset = 8;
  while (offset < png.length) {
    const size = png.readUInt32BE(offset);
    const type = png.toString('latin1', offset + 4, offset + 8);
    if (type === 'IDAT') return png.subarray(offset + 8, offset + 8 + Math.min(length, size));
    offset += 12 + size;
  }
  throw new Error('no IDAT chunk');
}

interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, any>;
}

/** One connection per call: a POST on a keep-alive socket the server is just closing would fail for the test's sake. */
const fresh = new Agent({ pipelining: 0 });

async function post(url: string, body: Buffer, headers: Record<string, string> = {}): Promise<Answer> {
  const response = await undiciFetch(url, { method: 'POST', body, headers: { 'content-type': 'application/octet-stream', ...headers }, dispatcher: fresh });
  return { status: response.status, headers: response.headers, body: (await response.json()) as Record<string, any> };
}

describe('placement across a MEC node and the cloud (real processes, real link, real models)', () => {
  let folder: string;
  let cloud: NodeProcess;
  let mec: NodeProcess;
  let tap: Wiretap;
  let link: LinkProxy;
  const status = async () => (await (await fetch(`${mec.url}/v1/tier/status`)).json()) as { cloud: { reachable: boolean; rtt_ms: number } };
  const cloudReachable = async (wanted: boolean) => waitFor(async () => (await status()).cloud.reachable === wanted, `the cloud to be ${wanted ? 'reachable' : 'unreachable'}`);
  const detect = (body: Buffer, headers: Record<string, string> = {}) => post(`${mec.url}/v1/vision/detect`, body, headers);

  beforeAll(async () => {
    folder = await mkdtemp(path.join(os.tmpdir(), 'mec-placement-'));
    const mecConfig = path.join(folder, 'mec.json');
    await writeFile(mecConfig, JSON.stringify({ placement: { heartbeatMs: 200, heartbeatTimeoutMs: 3000 } }));
    const common = ['--port', '0', '--no-mqtt', '--log-level', 'warn', '--workers', '1'];
    cloud = await startNodeProcess(['--role', 'cloud', '--models', 'centernet', '--audit-log', path.join(folder, 'cloud.jsonl'), ...common]);
    tap = await startWiretap(cloud.port);
    link = new LinkProxy({ name: 'mec-cloud', listenPort: 0, targetHost: '127.0.0.1', targetPort: tap.port, settings: DEFAULT_LINKS['mec-cloud'] });
    const { port } = await link.start();
    mec = await startNodeProcess([
      '--role', 'mec', '--config', mecConfig, '--cloud-url', `http://127.0.0.1:${port}`, '--detector', 'nanodet',
      '--models', 'nanodet,blazeface,emotion', '--audit-log', path.join(folder, 'mec.jsonl'), ...common,
    ]);
    await cloudReachable(true);
  }, 240_000);

  afterAll(async () => {
    await mec?.stop();
    await link?.close();
    await tap?.close();
    await cloud?.stop();
    if (folder) await rm(folder, { recursive: true, force: true });
  });

  it('a public photo runs on the MEC node with the decision explained, the cloud listed with its prediction', async () => {
    const answer = await detect(DOG, { 'x-data-class': 'public' });
    expect(answer.status).toBe(200);
    expect(answer.headers.get('x-placement-tier')).toBe(answer.body.placement.tier);
    const { placement } = answer.body;
    expect(placement).toMatchObject({ policy_version: 'default@3', data_class: 'public' });
    expect(placement.predicted_ms).toBeGreaterThan(0);
    expect(placement.actual_ms).toBeGreaterThan(0);
    const other = placement.alternatives.find((alternative: { tier: string }) => alternative.tier !== placement.tier);
    expect(other).toBeDefined();
    expect(typeof other.rejected_because).toBe('string');
    expect(answer.body.detections.map((d: { label: string }) => d.label)).toContain('dog');
  });

  it('pinned to the cloud, a public PNG is answered by CenterNet there and its bytes cross the link (the tap works)', async () => {
    const answer = await detect(ASTRONAUT, { 'x-data-class': 'public', 'x-placement-tier': 'cloud' });
    expect(answer.status).toBe(200);
    expect(answer.body.placement).toMatchObject({ tier: 'cloud', model: 'centernet', variant: 'large', reason: 'pinned', transforms: ['strip-metadata'] });
    expect(answer.body.model).toBe('centernet');
    expect(tap.saw(idatSlice(ASTRONAUT))).toBe(true);
  });

  it('placement follows the link: a burst spills over to the cloud while the link is good, not while it is slow, and again once healed', async () => {
    onTestFinished(() => {
      link.set({ latencyMs: DEFAULT_LINKS['mec-cloud'].latencyMs });
    });
    const burst = async () => {
      // Six at once on one inference worker: the last waits for five runs (a few hundred ms here).
      const answers = await Promise.all(Array.from({ length: 6 }, () => detect(DOG, { 'x-data-class': 'public' })));
      expect(answers.map((answer) => answer.status)).toEqual(Array(6).fill(200));
      return answers.map((answer) => answer.body.placement as { tier: string; reason: string });
    };
    const good = await burst();
    expect(good.filter((p) => p.tier === 'cloud' && p.reason === 'spill-over').length).toBeGreaterThan(0);

    // Slower than the whole burst takes at the MEC node: nothing should be worth sending.
    link.set({ latencyMs: 2000 });
    await waitFor(async () => (await status()).cloud.rtt_ms > 1600, 'the MEC node to measure the slow link', 30_000);
    const slow = await burst();
    expect(slow.filter((p) => p.tier === 'cloud')).toEqual([]);

    link.set({ latencyMs: DEFAULT_LINKS['mec-cloud'].latencyMs });
    await waitFor(async () => (await status()).cloud.rtt_ms < 150, 'the MEC node to measure the healed link');
    const healed = await burst();
    expect(healed.filter((p) => p.tier === 'cloud' && p.reason === 'spill-over').length).toBeGreaterThan(0);
  }, 120_000);

  it('restricted data never reaches the cloud, whatever is asked, also while the link flaps', async () => {
    const canary = idatSlice(CHELSEA);
    let flapping = true;
    const flapper = (async () => {
      let down = false;
      while (flapping) {
        down = !down;
        link.set({ mode: down ? 'down' : 'up' });
        await new Promise((resolve) => setTimeout(resolve, 150));
      }
      link.set({ mode: 'up' });
    })();
    const asks: Record<string, string>[] = [
      { 'x-data-class': 'restricted' },
      { 'x-data-class': 'restricted', 'x-placement-tier': 'cloud' },
      { 'x-data-class': 'restricted', 'x-min-accuracy': '0.24' },
      { 'x-tenant': 'acme-health', 'x-data-class': 'public', 'x-placement-tier': 'cloud' },
      { 'x-tenant': 'acme-health' },
    ];
    const codes: Record<string, number> = {};
    for (let round = 0; round < 4; round += 1) {
      for (const headers of asks) {
        const answer = await detect(CHELSEA, headers);
        const key = answer.status === 200 ? `200 ${answer.body.placement.tier}` : `${answer.status} ${answer.body.error.code}`;
        codes[key] = (codes[key] ?? 0) + 1;
        if (answer.status === 200) expect(answer.body.placement).toMatchObject({ tier: 'mec', data_class: 'restricted' });
      }
    }
    flapping = false;
    await flapper;
    expect(codes).toEqual({ '200 mec': 8, '403 EDGE_ERR_PRIVACY_DENIED': 8, '503 EDGE_ERR_PLACEMENT_INFEASIBLE': 4 });
    expect(tap.saw(canary)).toBe(false);
    const sha = createHash('sha256').update(CHELSEA).digest('hex');
    expect(await readFile(path.join(folder, 'cloud.jsonl'), 'utf8')).not.toContain(sha);
    await cloudReachable(true);
  }, 60_000);

  it('a hard example is escalated to the cloud\'s CenterNet; the Sedna counters count it', async () => {
    // The near tier answers first only when it is not congested: right after the requests of the
    // test before, the MEC node's work rate (over the last second) still prices a queue there and
    // placement rightly spills straight to the cloud. Wait for it to be idle.
    await waitFor(async () => {
      const { load } = (await (await fetch(`${mec.url}/v1/tier/status`)).json()) as { load: { in_system: number; work_ms_per_s: number } };
      return load.in_system === 0 && load.work_ms_per_s === 0;
    }, 'the MEC node to be idle');
    // A deadline the cloud's round trip fits in even on a busy machine: escalation needs the time.
    const answer = await detect(GRAVEL, { 'x-data-class': 'public', 'x-deadline-ms': '5000' });
    expect(answer.status).toBe(200);
    expect(answer.body.placement, JSON.stringify(answer.body.placement)).toMatchObject({ tier: 'cloud', model: 'centernet', escalated: true, hard_example: true, escalation: { tier: 'cloud', outcome: 'answered' } });
    const metrics = await (await fetch(`${mec.url}/metrics`)).text();
    expect(Number(/^mec_joint_inference_uploads_total\{task="detect"\} (\d+)/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(1);
    expect(Number(/^mec_joint_inference_hard_examples_total\{task="detect"\} (\d+)/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(1);
  });

  it('the near answer stands when the cloud is down (refused, then known unreachable) or stalls', async () => {
    link.set({ mode: 'down' });
    const refused = await detect(GRAVEL, { 'x-data-class': 'public' });
    expect(refused.status).toBe(200);
    expect(refused.body.placement).toMatchObject({ tier: 'mec', model: 'nanodet', escalated: false, hard_example: true });
    expect(['failed', 'skipped']).toContain(refused.body.placement.escalation.outcome);
    await cloudReachable(false);
    const known = await detect(GRAVEL, { 'x-data-class': 'public' });
    expect(known.body.placement).toMatchObject({ tier: 'mec', escalated: false, escalation: { outcome: 'skipped' } });
    expect(known.body.placement.escalation.because).toMatch(/unreachable/);

    link.set({ mode: 'up' });
    await cloudReachable(true);
    link.set({ mode: 'blackhole' });
    const started = performance.now();
    const stalled = await detect(GRAVEL, { 'x-data-class': 'public', 'x-deadline-ms': '1500' });
    expect(stalled.status).toBe(200);
    expect(stalled.body.placement).toMatchObject({ tier: 'mec', escalated: false });
    expect(performance.now() - started).toBeLessThan(2500);
    link.set({ mode: 'up' });
    await cloudReachable(true);
  }, 60_000);

  it('both audit logs verify; an edited record is caught', async () => {
    // Let the nodes write what they have.
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (const tier of ['mec', 'cloud']) {
      const result = await verifyAuditLog(path.join(folder, `${tier}.jsonl`));
      expect(result).toMatchObject({ ok: true });
      expect(result.records).toBeGreaterThan(0);
    }
    const copy = path.join(folder, 'edited.jsonl');
    const lines = (await readFile(path.join(folder, 'mec.jsonl'), 'utf8')).split('\n');
    lines[1] = lines[1]!.replace(/"tier":"mec"/, '"tier":"cloud"').replace(/"tier":"cloud"/, '"tier":"mec"');
    lines[1] = lines[1]!.replace(/"reason":"[^"]*"/, '"reason":"edited"');
    await writeFile(copy, lines.join('\n'));
    expect(await verifyAuditLog(copy)).toMatchObject({ ok: false, line: 2 });
  });
});
