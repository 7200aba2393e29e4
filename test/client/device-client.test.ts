/**
 * The device SDK against real MEC nodes (startNode on port 0, real HTTP, real ONNX models): where
 * placement sends a request, local fallback when the MEC node goes away, privacy classes, and the
 * metadata stripped before an image leaves the device (checked in the MEC node's audit log).
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceClient, type DevicePlacement } from '../../services/client/device/index.ts';
import { loadConfig, type ConfigInput } from '../../services/core/config.ts';
import { startNode, type RunningNode } from '../../services/node.ts';
import { stripMetadata } from '../../services/tasks/privacy/index.ts';
import { IMAGES } from '../http/helpers.ts';

function mecConfig(extra: ConfigInput['placement'] = {}, tasks: ConfigInput['tasks'] = {}) {
  return loadConfig({
    log: { level: 'silent' },
    server: { port: 0 },
    runtime: { workers: 1 },
    tasks,
    models: { load: ['nanodet'], defaultDetector: 'nanodet' },
    streams: { mqtt: { enabled: false } },
    placement: { tier: 'mec', ...extra },
  });
}

function expectFullPlacement(placement: DevicePlacement): void {
  expect(placement).toMatchObject({ model: 'nanodet', variant: 'small', escalated: false, policy_version: 'default@3' });
  expect(['device', 'mec', 'cloud']).toContain(placement.tier);
  expect(typeof placement.reason).toBe('string');
  expect(placement.predicted_ms).toBeGreaterThan(0);
  expect(placement.actual_ms).toBeGreaterThan(0);
  expect(Array.isArray(placement.alternatives)).toBe(true);
  expect(Array.isArray(placement.transforms)).toBe(true);
}

interface AuditLine {
  tier: string;
  dataClass: string;
  reason: string;
  payloadSha256: string;
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

describe('DeviceClient against a real MEC node', () => {
  let folder: string;
  let auditFile: string;
  let mec: RunningNode;
  /** Emulates a device 50x slower than this machine: the MEC node is then the faster tier. */
  let slowDevice: DeviceClient;
  let dog: Buffer;

  const auditLines = async (): Promise<AuditLine[]> =>
    (await readFile(auditFile, 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as AuditLine);

  beforeAll(async () => {
    folder = await mkdtemp(path.join(tmpdir(), 'device-client-'));
    auditFile = path.join(folder, 'audit.jsonl');
    dog = await readFile(path.join(IMAGES, 'dog.jpg'));
    mec = await startNode(mecConfig({ auditLog: auditFile }));
    slowDevice = await DeviceClient.start({ mecUrl: mec.url, heartbeatMs: 100, deviceSlowdown: 50 });
  });

  afterAll(async () => {
    await slowDevice?.close();
    await mec?.close();
    await rm(folder, { recursive: true, force: true });
  });

  it('sends a public request with a short deadline to the tier decide() picks, with a full placement', async () => {
    expect(slowDevice.mecReachable).toBe(true);
    const { result, placement } = await slowDevice.detect(dog, { dataClass: 'public', deadlineMs: 1500 });
    expectFullPlacement(placement);
    // The slowed device cannot make 1.5 s; the MEC node has no cloud: the MEC node it is.
    expect(placement).toMatchObject({ tier: 'mec', reason: 'lowest-latency', data_class: 'public', transforms: ['strip-metadata'] });
    expect(placement.predicted_ms).toBeLessThanOrEqual(1500);
    const device = placement.alternatives.find((alternative) => alternative.tier === 'device');
    expect(device?.rejected_because).toMatch(/^deadline: predicted \d/);
    expect(placement.alternatives.find((alternative) => alternative.tier === 'cloud')?.rejected_because).toBe('unreachable: the MEC node has no cloud tier');
    // Offloaded unpinned: the MEC node decided between itself and the cloud (it has none) and says so.
    expect(placement.remote).toMatchObject({ tier: 'mec', model: 'nanodet', reason: 'only-eligible', data_class: 'public' });
    expect(placement.actual_ms).toBeGreaterThanOrEqual(placement.remote!.actual_ms);
    expect((result.detections as { label: string }[]).some((detection) => detection.label === 'dog')).toBe(true);
    expect(result).not.toHaveProperty('placement');
    const last = (await auditLines()).at(-1);
    expect(last).toMatchObject({ tier: 'mec', dataClass: 'public', reason: 'only-eligible' });
  });

  it('keeps restricted data off the cloud: placed on device or MEC, refused when pinned to the cloud', async () => {
    const { placement } = await slowDevice.detect(dog, { dataClass: 'restricted' });
    expect(['device', 'mec']).toContain(placement.tier);
    expect(placement.data_class).toBe('restricted');
    expect(placement.alternatives.find((alternative) => alternative.tier === 'cloud')?.rejected_because).toMatch(/^privacy: /);

    const before = (await auditLines()).length;
    const refused = await slowDevice.detect(dog, { dataClass: 'restricted', pin: 'cloud' }).catch((error: unknown) => error);
    expect(refused).toMatchObject({ code: 'EDGE_ERR_PRIVACY_DENIED' });
    // Refused on the device: nothing reached the MEC node.
    expect((await auditLines()).length).toBe(before);

    const pinned = await slowDevice.detect(dog, { dataClass: 'restricted', pin: 'mec' });
    expect(pinned.placement).toMatchObject({ tier: 'mec', reason: 'pinned', data_class: 'restricted' });
    expect((await auditLines()).at(-1)).toMatchObject({ tier: 'mec', dataClass: 'restricted' });
  });

  it('strips image metadata before the upload: the MEC node receives the stripped bytes', async () => {
    const canary = 'device-sdk-exif-canary-7f3a';
    const tagged = await sharp(dog).withExif({ IFD0: { ImageDescription: canary } }).jpeg().toBuffer();
    const stripped = (await stripMetadata(tagged)).bytes;
    expect(tagged.includes(canary)).toBe(true);
    expect(stripped.includes(canary)).toBe(false);

    const { placement } = await slowDevice.detect(tagged, { dataClass: 'public', pin: 'mec' });
    expect(placement).toMatchObject({ tier: 'mec', transforms: ['strip-metadata'] });
    const last = (await auditLines()).at(-1)!;
    expect(last.payloadSha256).toBe(sha256(stripped));
    expect(last.payloadSha256).not.toBe(sha256(tagged));
  });

  it('BAD CALL - an unknown data class, a bad deadline and a MEC URL that is not http are refused with their codes', async () => {
    await expect(slowDevice.detect(dog, { dataClass: 'secret' })).rejects.toMatchObject({ code: 'EDGE_ERR_DATA_CLASS_INVALID' });
    await expect(slowDevice.detect(dog, { deadlineMs: -5 })).rejects.toMatchObject({ code: 'EDGE_ERR_HEADER_INVALID' });
    await expect(slowDevice.detect(new Uint8Array(0))).rejects.toMatchObject({ code: 'EDGE_ERR_BODY_EMPTY' });
    // Neither the device nor the MEC node holds the defect model: no tier can inspect.
    await expect(slowDevice.inspect(dog, { surface: 'gravel' })).rejects.toMatchObject({ code: 'EDGE_ERR_PLACEMENT_INFEASIBLE' });
    await expect(DeviceClient.start({ mecUrl: 'ftp://127.0.0.1:8081' })).rejects.toMatchObject({ code: 'EDGE_ERR_CONFIG_INVALID' });
    await expect(DeviceClient.start({ mecUrl: mec.url, deviceSlowdown: 0 })).rejects.toMatchObject({ code: 'EDGE_ERR_CONFIG_INVALID' });
  });

  it('weighs the cloud through the MEC node, which forwards a cloud-pinned request there', async () => {
    const cloud = await startNode(
      loadConfig({
        log: { level: 'silent' },
        server: { port: 0 },
        runtime: { workers: 1 },
        models: { load: ['nanodet'], defaultDetector: 'nanodet' },
        streams: { mqtt: { enabled: false } },
        // The small detector keeps the test fast; a real cloud serves the large one (centernet).
        placement: { tier: 'cloud', serve: { detect: ['nanodet'], inspect: [], asr: [] } },
      }),
    );
    const edge = await startNode(mecConfig({ cloudUrl: cloud.url, heartbeatMs: 100 }));
    const device = await DeviceClient.start({ mecUrl: edge.url, heartbeatMs: 100, deviceSlowdown: 50 });
    try {
      // The MEC node learns of the cloud on its heartbeat, the device of that on its own.
      const seen = Date.now();
      while (device.mecStatus?.cloud?.reachable !== true && Date.now() - seen < 5_000) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(device.mecStatus?.cloud?.reachable).toBe(true);

      const placed = await device.detect(dog, { dataClass: 'public' });
      expectFullPlacement(placed.placement);
      const others = placed.placement.alternatives.filter((alternative) => alternative.tier !== 'device');
      // Both far tiers were weighed with a prediction: one chosen, the other listed.
      expect(['mec', 'cloud']).toContain(placed.placement.tier);
      expect(others).toHaveLength(1);
      expect(others[0]!.predicted_ms).toBeGreaterThan(0);

      const { result, placement } = await device.detect(dog, { dataClass: 'public', pin: 'cloud' });
      expectFullPlacement(placement);
      expect(placement).toMatchObject({ tier: 'cloud', reason: 'pinned', transforms: ['strip-metadata'] });
      expect(placement.remote).toMatchObject({ tier: 'cloud', reason: 'pinned' });
      expect((result.detections as { label: string }[]).some((detection) => detection.label === 'dog')).toBe(true);
    } finally {
      await device.close();
      await edge.close();
      await cloud.close();
    }
  });

  it('a MEC node that sheds load (503 QUEUE_FULL) is left alone for its Retry-After, not counted as unreachable', async () => {
    // One place and no queue: any request that finds the place taken is refused at once.
    const busyMec = await startNode(mecConfig({}, { concurrency: 1, maxWaiting: 0 }));
    const device = await DeviceClient.start({ mecUrl: busyMec.url, heartbeatMs: 60_000, deviceSlowdown: 50 });
    try {
      const answers = await Promise.all(Array.from({ length: 6 }, () => device.detect(dog, { dataClass: 'public' })));
      const fellBack = answers.filter((answer) => answer.placement.reason.startsWith('fallback: '));
      expect(fellBack.length).toBeGreaterThan(0);
      for (const answer of fellBack) expect(answer.placement.reason).toMatch(/^fallback: the mec tier answered 503: /);
      // Refusals are not link failures: the breaker stays closed.
      expect(device.mecReachable).toBe(true);
      // For its Retry-After the MEC node is a last resort: the (slow) device takes the next request, and says why.
      const next = await device.detect(dog, { dataClass: 'public' });
      expect(next.placement.tier).toBe('device');
      expect(next.placement.alternatives.find((alternative) => alternative.tier === 'mec')?.rejected_because).toMatch(/^overloaded: it refused work as overloaded/);
      // Then it is offered work again.
      await new Promise((resolve) => setTimeout(resolve, 2_100));
      const later = await device.detect(dog, { dataClass: 'public' });
      expect(later.placement.tier).toBe('mec');
    } finally {
      await device.close();
      await busyMec.close();
    }
  }, 60_000);

  it('answers on the device when the MEC node goes away: fallback first, then the MEC node counts as unreachable', async () => {
    const ownMec = await startNode(mecConfig());
    // No heartbeat between the requests below: only the failed uploads tell the device the MEC node is gone.
    const device = await DeviceClient.start({ mecUrl: ownMec.url, heartbeatMs: 60_000 });
    try {
      // As fast as the MEC node's compute, and no link to cross: the device is the faster tier.
      const near = await device.detect(dog, { dataClass: 'public' });
      expectFullPlacement(near.placement);
      expect(near.placement).toMatchObject({ tier: 'device', reason: 'lowest-latency', transforms: [] });
      expect(near.placement.remote).toBeUndefined();
      expect(near.placement.alternatives.find((alternative) => alternative.tier === 'mec')?.rejected_because).toMatch(/^slower: /);

      await ownMec.close();
      for (let attempt = 0; attempt < 2; attempt += 1) {
        const { result, placement } = await device.detect(dog, { dataClass: 'public', pin: 'mec' });
        expect(placement.tier).toBe('device');
        expect(placement.reason).toMatch(/^fallback: the mec tier at http:\/\/127\.0\.0\.1:\d+ is unavailable/);
        expect((result.detections as unknown[]).length).toBeGreaterThan(0);
      }
      // Two failed uploads in a row (unreachableAfterMisses): the MEC node is now out of the running.
      expect(device.mecReachable).toBe(false);
      const alone = await device.detect(dog, { dataClass: 'public' });
      expect(alone.placement.tier).toBe('device');
      expect(alone.placement.alternatives.find((alternative) => alternative.tier === 'mec')?.rejected_because).toMatch(/^unreachable: MEC node: /);
      await expect(device.detect(dog, { pin: 'mec' })).rejects.toMatchObject({ code: 'EDGE_ERR_PLACEMENT_INFEASIBLE' });
    } finally {
      await device.close();
      await device.close();
      await ownMec.close();
    }
    await expect(device.detect(dog)).rejects.toMatchObject({ code: 'EDGE_ERR_SHUTTING_DOWN' });
  });
});
