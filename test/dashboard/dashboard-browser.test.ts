/**
 * The dashboard in a real browser: a real node (startNode in-process, models defect + nanodet,
 * MQTT off), Debian's chromium driven by playwright-core. Real requests go in (POST
 * /v1/vision/detect, a WebSocket camera with inspection fixtures) and the page must show them
 * live: decisions, tier health, the camera tile with its defect boxes, a transcript. Also the
 * route's bad calls.
 * Leaves a screenshot in test-artifacts/dashboard.png.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import http from 'node:http';
import WebSocket from 'ws';
import { chromium, type Browser, type Page } from 'playwright-core';
import { PROJECT_ROOT, loadConfig } from '../../services/core/config.ts';
import { startNode, type RunningNode } from '../../services/node.ts';
import { GOFORWARD_WAV } from '../support/real-speech.ts';

const DOG = readFileSync(path.join(PROJECT_ROOT, 'test/fixtures/images/dog.jpg'));
const METAL_HOLE = readFileSync(path.join(PROJECT_ROOT, 'test/fixtures/inspect/metal-hole.jpg'));
const METAL_GOOD = readFileSync(path.join(PROJECT_ROOT, 'test/fixtures/inspect/metal-good.jpg'));
// A real voice: "go forward ten meters" (see test/support/real-speech.ts).
const GOFORWARD = readFileSync(GOFORWARD_WAV);
const ARTIFACTS = path.join(PROJECT_ROOT, 'test-artifacts');

let cloud: RunningNode | undefined;
let node: RunningNode;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  // Two tiers: a cloud node (the large detector) and the MEC node whose dashboard is watched.
  cloud = await startNode(loadConfig({ server: { port: 0 }, runtime: { workers: 1 }, models: { load: ['centernet'] }, placement: { tier: 'cloud' }, streams: { mqtt: { enabled: false } }, log: { level: 'silent' } }));
  node = await startNode(loadConfig({ server: { port: 0 }, runtime: { workers: 1 }, placement: { tier: 'mec', cloudUrl: cloud.url }, models: { load: ['defect', 'nanodet', 'melspec', 'speech_embedding', 'silero_vad', 'asr'] }, streams: { mqtt: { enabled: false } }, log: { level: 'silent' } }));
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
});

afterAll(async () => {
  await browser?.close();
  await node?.close();
  await cloud?.close();
});

describe('live dashboard in a real browser', () => {
  it('shows tier health, model versions, live placement decisions and a camera tile with its defect boxes', async () => {
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${node.url}/`);
    await page.locator('#feed-state', { hasText: 'live' }).waitFor();
    // Tier health and models come with the snapshot and every `tiers` tick.
    await page.locator('#tier-health tbody tr td.ok', { hasText: 'up' }).first().waitFor();
    await page.locator('#models tbody tr', { hasText: 'nanodet' }).first().waitFor();
    await page.locator('#models tbody tr', { hasText: 'defect' }).first().waitFor();
    // The cloud as the MEC node sees it: reachable, its RTT, the variants it serves.
    await page.locator('#tier-health tr[data-tier="cloud"] td.ok', { hasText: 'rtt' }).waitFor();
    await page.locator('#models tbody tr', { hasText: 'centernet' }).first().waitFor();
    expect(await page.locator('#decisions li').count()).toBe(0);

    // Real detections: each becomes a decision in the list, live.
    for (let i = 0; i < 3; i += 1) {
      const response = await fetch(`${node.url}/v1/vision/detect`, { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: DOG });
      expect(response.status).toBe(200);
    }
    // Page-side code as strings: this project's TypeScript has no DOM lib.
    await page.waitForFunction("document.querySelectorAll('#decisions li').length === 3");
    const first = await page.locator('#decisions li').first().textContent();
    expect(first).toContain('detect');
    await page.locator('#decision-counts', { hasText: '3' }).waitFor();
    // The latency chart's legend names the tier that served them.
    await page.locator('#latency-legend span').first().waitFor();

    // A camera over WebSocket: a good frame then one with a hole.
    const socket = new WebSocket(`${node.url.replace('http', 'ws')}/v1/streams/line-1?surface=metal`);
    const answers: Array<{ frame_id: string; defective?: boolean }> = [];
    socket.on('message', (data) => answers.push(JSON.parse(data.toString())));
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    socket.send(JSON.stringify({ frame_id: 'good-1' }));
    socket.send(METAL_GOOD);
    await until(() => answers.length === 1);
    socket.send(JSON.stringify({ frame_id: 'hole-1' }));
    socket.send(METAL_HOLE);
    await until(() => answers.length === 2);
    expect(answers[1]).toMatchObject({ frame_id: 'hole-1', defective: true });

    const tile = page.locator('[data-camera="line-1"]');
    await tile.locator('.meta', { hasText: 'frame hole-1 · DEFECT' }).waitFor();
    // The image loaded from /v1/dashboard/cameras/line-1/frame and boxes were drawn on the overlay.
    await page.waitForFunction(`(() => {
      const img = document.querySelector('[data-camera="line-1"] img');
      return img !== null && img.complete && img.naturalWidth > 0 && img.src.includes('/v1/dashboard/cameras/line-1/frame');
    })()`);
    // Pixels painted on the overlay: the defect box (the overlay is transparent elsewhere).
    const redPixels = await page.evaluate<number>(`(() => {
      const canvas = document.querySelector('[data-camera="line-1"] canvas');
      const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
      let painted = 0;
      for (let i = 0; i < data.length; i += 4) if (data[i + 3] > 0) painted += 1;
      return painted;
    })()`);
    expect(redPixels).toBeGreaterThan(50);
    // Frame rate and drops come with the next `tiers` tick.
    await tile.locator('.meta', { hasText: 'dropped' }).waitFor();
    socket.close();

    // A transcript: a real recording through POST /v1/asr shows up in the list.
    const asr = await fetch(`${node.url}/v1/asr`, { method: 'POST', headers: { 'content-type': 'audio/wav' }, body: GOFORWARD });
    expect(asr.status).toBe(200);
    const { text } = (await asr.json()) as { text: string };
    expect(text.length).toBeGreaterThan(0);
    await page.locator('#transcripts li', { hasText: text }).waitFor();

    // A few more seconds of traffic so that the latency chart has a line: one detection per live tick.
    for (let second = 0; second < 4; second += 1) {
      const ticks = Number(await page.locator('body').getAttribute('data-ticks'));
      expect((await fetch(`${node.url}/v1/vision/detect`, { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: DOG })).status).toBe(200);
      await page.waitForFunction(`Number(document.body.dataset.ticks) > ${ticks}`);
    }
    await page.waitForFunction("document.querySelectorAll('#decisions li').length === 8");

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard.png'), fullPage: true });
    expect(errors).toEqual([]);
  });

  it('GET /v1/dashboard/cameras/{id}/frame gives the latest frame bytes', async () => {
    const response = await fetch(`${node.url}/v1/dashboard/cameras/line-1/frame`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('image/jpeg');
    expect(response.headers.get('x-frame-id')).toBe('hole-1');
    expect(Buffer.from(await response.arrayBuffer()).equals(METAL_HOLE)).toBe(true);
    // The frame before it, by seq (the page asks for the frame of the event it got).
    const seq = Number(response.headers.get('x-frame-seq'));
    const previous = await fetch(`${node.url}/v1/dashboard/cameras/line-1/frame?seq=${seq - 1}`);
    expect(previous.status).toBe(200);
    expect(previous.headers.get('x-frame-id')).toBe('good-1');
    expect(Buffer.from(await previous.arrayBuffer()).equals(METAL_GOOD)).toBe(true);
    const gone = await fetch(`${node.url}/v1/dashboard/cameras/line-1/frame?seq=${seq + 5}`);
    expect(gone.status).toBe(404);
    expect(((await gone.json()) as { error: { code: string } }).error.code).toBe('EDGE_ERR_DASHBOARD_FRAME_NOT_FOUND');
  });

  it('BAD CALL - /dashboard/../package.json, encoded traversal and unknown files -> 404 EDGE_ERR_ROUTE_NOT_FOUND', async () => {
    for (const url of ['/dashboard/../package.json', '/dashboard/..%2Fpackage.json', '/dashboard/%2e%2e%2fpackage.json', '/dashboard/secret.js', '/dashboard/', '/dashboard/constructor', '/dashboard/__proto__']) {
      const response = await fetch(`${node.url}${url}`);
      expect(response.status, url).toBe(404);
      expect(((await response.json()) as { error: { code: string } }).error.code, url).toBe('EDGE_ERR_ROUTE_NOT_FOUND');
    }
    const ok = await fetch(`${node.url}/dashboard/dashboard.js`);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toMatch(/^text\/javascript/);
  });

  it('BAD CALL - a bad camera id -> 400 EDGE_ERR_STREAM_CAMERA_ID_INVALID; a camera without frames -> 404 EDGE_ERR_DASHBOARD_FRAME_NOT_FOUND', async () => {
    // Raw paths (node:http does not normalise `..` as fetch does).
    for (const id of ['..', '.', 'a%20b', 'x'.repeat(65), 'cam%2F1', 'cam%00']) {
      const { status, body } = await rawGet(`/v1/dashboard/cameras/${id}/frame`);
      expect(status, id).toBe(400);
      expect(JSON.parse(body).error.code, id).toBe('EDGE_ERR_STREAM_CAMERA_ID_INVALID');
    }
    const traversal = await rawGet('/dashboard/../package.json');
    expect(traversal.status).toBe(404);
    expect(traversal.body).not.toContain('"dependencies"');
    const none = await fetch(`${node.url}/v1/dashboard/cameras/never-seen/frame`);
    expect(none.status).toBe(404);
    expect(((await none.json()) as { error: { code: string } }).error.code).toBe('EDGE_ERR_DASHBOARD_FRAME_NOT_FOUND');
  });

  it('the link state follows the cloud live: the cloud node stops, the page shows it unreachable', async () => {
    await page.locator('#tier-health tr[data-tier="cloud"] td.ok', { hasText: 'rtt' }).waitFor();
    await cloud!.close();
    cloud = undefined;
    await page.locator('#tier-health tr[data-tier="cloud"] td.bad', { hasText: 'cut' }).waitFor({ timeout: 20_000 });
    expect(await page.locator('#tier-health tr[data-tier="cloud"] td').nth(1).textContent()).toBe('unreachable');
    // The topology's link is drawn red and dashed.
    expect(await page.locator('#topology line[stroke="#f85149"]').count()).toBe(1);
  });
});

async function until(check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function rawGet(pathname: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.get(`${node.url}${pathname}`.replace(/^(http:\/\/[^/]+).*$/, '$1'), { path: pathname }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    request.on('error', reject);
  });
}
