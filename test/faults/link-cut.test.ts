/**
 * Fault scenario 5: the MEC <-> cloud link is cut under load, then healed. The local topology
 * (services/topology/local-topology.ts: cloud and MEC node as real `mec serve` processes, the
 * mec-cloud link a LinkProxy in this process) serves a steady open-loop stream of edge-servable
 * requests (public detect, which placement may send to the cloud; 4/s plus a burst of 6 every 2 s on
 * one inference worker at the MEC node, so that placement spills part of each burst over to the cloud
 * while the link is good) while the link is `down` for
 * 20 s (120 s with FAULTS_FULL=1).
 *
 * Figures: failed requests during the cut (target 0: the edge answers with its local models),
 * requests served at the edge during the cut, seconds until the MEC node sees the cloud again and
 * until placement sends work there again after healing.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../services/core/config.ts';
import { startLocalTopology, type LocalTopology } from '../../services/topology/local-topology.ts';
import { waitFor } from '../support/wait-for.ts';
import { FULL, recordFigures } from './support/figures.ts';

const DOG = readFileSync(path.join(PROJECT_ROOT, 'test/fixtures/images/dog.jpg'));
const RATE = 4; // requests per second: steady, well under the MEC node's capacity
/** Every BURST_EVERY_MS, BURST requests at once: with the link up, placement spills some to the cloud. */
const BURST = 6;
const BURST_EVERY_MS = 2_000;
const BEFORE_S = FULL ? 20 : 8;
const CUT_S = FULL ? 120 : 20;
/** After healing: how long the load goes on, at most, waiting for placement to use the cloud again. */
const AFTER_MAX_S = FULL ? 60 : 30;

interface Sent {
  at: number;
  status: number;
  tier?: string;
  code?: string;
  ms: number;
}

const round2 = (value: number): number => Math.round(value * 100) / 100;

describe('fault 5: the mec-cloud link cut under load, then healed', () => {
  let topology: LocalTopology;
  let pool: Pool;

  beforeAll(async () => {
    topology = await startLocalTopology({
      mecPort: 0,
      cloudPort: 0,
      deviceLinkPort: 0,
      cloudLinkPort: 0,
      controlPort: 0,
      logLevel: 'error',
      // One inference worker, as in test/e2e/placement.test.ts: a burst is worth spilling to the cloud.
      mecArgs: ['--no-mqtt', '--workers', '1'],
    });
    pool = new Pool(topology.urls.mec, { connections: 64 });
  }, 240_000);

  afterAll(async () => {
    await pool?.close();
    await topology?.close();
  });

  const cloudReachable = async (): Promise<boolean> => {
    const response = await pool.request({ path: '/v1/tier/status', method: 'GET' });
    const status = (await response.body.json()) as { cloud?: { reachable?: boolean } };
    return status.cloud?.reachable === true;
  };

  async function detect(): Promise<Sent> {
    const at = performance.now();
    try {
      const response = await pool.request({
        path: '/v1/vision/detect',
        method: 'POST',
        body: DOG,
        headers: { 'content-type': 'image/jpeg', 'x-data-class': 'public', 'x-tenant': 'line-7' },
      });
      const text = await response.body.text();
      const tier = response.headers['x-placement-tier'];
      const code = response.statusCode === 200 ? undefined : ((JSON.parse(text) as { error?: { code?: string } }).error?.code ?? 'NO CODE');
      return { at, status: response.statusCode, ms: performance.now() - at, ...(typeof tier === 'string' ? { tier } : {}), ...(code ? { code } : {}) };
    } catch (error) {
      return { at, status: 0, ms: performance.now() - at, code: (error as Error).message };
    }
  }

  it('keeps answering edge-servable work at the edge while the link is down, and uses the cloud again after healing', async () => {
    await waitFor(cloudReachable, 'the MEC node to reach the cloud', 60_000);
    const sent: Promise<Sent>[] = [];
    let stop = false;
    // Open loop: request i at start + i / RATE, whatever the answers.
    const load = (async () => {
      const started = performance.now();
      let index = 0;
      while (!stop) {
        const wait = started + (index * 1000) / RATE - performance.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        if (stop) break;
        const burst = index % Math.round((RATE * BURST_EVERY_MS) / 1000) === 0 ? BURST : 1;
        for (let one = 0; one < burst; one += 1) sent.push(detect());
        index += 1;
      }
    })();

    await new Promise((resolve) => setTimeout(resolve, BEFORE_S * 1000));
    const cutAt = performance.now();
    await topology.links.set('mec-cloud', { mode: 'down' });

    // ==== JOB BACKLOG (to be added by the lead, with services/offload): during the cut, POST
    // /v1/jobs?task=detect N jobs here; they must wait (not fail, not spend their retries) and
    // drain after healing within backlog / throughput + 30 s. Record: jobs accepted during the
    // cut, jobs lost (target 0), duplicates, seconds to drain after healing. ====

    await new Promise((resolve) => setTimeout(resolve, CUT_S * 1000));
    const healAt = performance.now();
    await topology.links.set('mec-cloud', { mode: 'up' });

    let seenAgainAt = Number.NaN;
    let cloudAgainAt = Number.NaN;
    const afterUntil = healAt + AFTER_MAX_S * 1000;
    while (performance.now() < afterUntil && (Number.isNaN(seenAgainAt) || Number.isNaN(cloudAgainAt))) {
      if (Number.isNaN(seenAgainAt) && (await cloudReachable().catch(() => false))) seenAgainAt = performance.now();
      if (Number.isNaN(cloudAgainAt)) {
        const settled = await Promise.all(sent.slice(-RATE * 2));
        const there = settled.find((answer) => answer.at >= healAt && answer.status === 200 && answer.tier === 'cloud');
        if (there) cloudAgainAt = there.at;
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    stop = true;
    await load;
    const answers = await Promise.all(sent);

    const before = answers.filter((answer) => answer.at < cutAt);
    const during = answers.filter((answer) => answer.at >= cutAt && answer.at < healAt);
    const after = answers.filter((answer) => answer.at >= healAt);
    const failedDuring = during.filter((answer) => answer.status !== 200);
    const edgeDuring = during.filter((answer) => answer.status === 200 && answer.tier === 'mec').length;
    const cloudBefore = before.filter((answer) => answer.status === 200 && answer.tier === 'cloud').length;
    const failedCodes = [...new Set(failedDuring.map((answer) => answer.code ?? String(answer.status)))];
    const seenAgainS = (seenAgainAt - healAt) / 1000;
    const cloudAgainS = (cloudAgainAt - healAt) / 1000;

    recordFigures('5 mec-cloud link cut', [
      { name: `failed edge-servable requests during the ${CUT_S} s cut`, value: `${failedDuring.length} of ${during.length}${failedCodes.length ? ` (${failedCodes.join(', ')})` : ''}`, target: '0', met: failedDuring.length === 0 },
      { name: 'served at the edge during the cut', value: `${edgeDuring} of ${during.length}`, target: 'all', met: edgeDuring === during.length },
      { name: 'placed at the cloud before the cut', value: `${cloudBefore} of ${before.length}`, target: 'measured', met: true },
      { name: 'seconds until the MEC node sees the cloud again', value: Number.isNaN(seenAgainS) ? `not within ${AFTER_MAX_S} s` : `${round2(seenAgainS)} s`, target: 'seconds', met: !Number.isNaN(seenAgainS) },
      {
        name: 'seconds until placement uses the cloud again',
        value: Number.isNaN(cloudAgainS) ? `none within ${AFTER_MAX_S} s (${cloudBefore} before the cut)` : `${round2(cloudAgainS)} s`,
        target: 'seconds',
        met: !Number.isNaN(cloudAgainS) || cloudBefore < 3,
      },
      { name: 'failed requests after healing', value: `${after.filter((answer) => answer.status !== 200).length} of ${after.length}`, target: '0', met: after.every((answer) => answer.status === 200) },
    ]);

    expect(during.length).toBeGreaterThan(CUT_S * RATE * 0.8);
    expect(during.filter((answer) => answer.tier === 'cloud')).toEqual([]);
    expect(failedDuring.map((answer) => answer.code ?? answer.status)).toEqual([]);
    expect(edgeDuring).toBe(during.length);
    expect(Number.isNaN(seenAgainS)).toBe(false);
    expect(before.every((answer) => answer.status === 200)).toBe(true);
    expect(after.every((answer) => answer.status === 200)).toBe(true);
    // Placement returns to the cloud once it is seen again, if it used it regularly before the cut.
    if (cloudBefore >= 3) expect(Number.isNaN(cloudAgainS)).toBe(false);
  });
});
