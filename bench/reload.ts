/**
 * Does memory grow over model load/unload and hot-reload cycles, and do reloads fail requests?
 *
 *   npm run bench:reload            (npx tsx --expose-gc bench/reload.ts [--cycles 100] [--reloads 20])
 *
 * Part 1, memory: in one process (the runtime's worker threads count in its RSS), for each real
 * model - defect (1.2 MB) and nanodet (7.6 MB) - RSS and JS heap after 0, 10, 25, 50 and 100 cycles of
 * (a) load + unload and (b) hot reload between version 1 and version 2 (the card rewritten, then
 * load(): the new version is loaded and checked before the old one is dropped). Growth per cycle
 * is taken from cycle 10 and from cycle 50 to the last: the first few dozen loads fill the native
 * allocator's pools (onnxruntime's arenas, glibc's free lists) once, after that RSS is flat.
 *
 * Part 2, requests during reloads: a real node (HTTP), two clients streaming inspections (defect)
 * and two streaming detections (nanodet), pinned to the node, while both models are reloaded
 * v1 <-> v2 back to back through POST /v2/repository/models/{name}/load (with the registry's retire
 * grace: the replaced version answers requests that already named it for 1 s). Target: 0 failed.
 */
import { cp, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadConfig, PROJECT_ROOT } from '../services/core/config.ts';
import { startNode } from '../services/node.ts';
import { ModelRegistry } from '../services/registry/index.ts';
import { createRuntime } from '../services/runtime/index.ts';
import { printTable } from './lib/table.ts';
import { startProgress } from '../services/cli/progress.ts';

const { values } = parseArgs({
  options: {
    cycles: { type: 'string', default: '100' },
    reloads: { type: 'string', default: '20' },
    /** Internal: run only the memory part and print its rows as JSON (one child per allocator setting). */
    'memory-child': { type: 'boolean', default: false },
  },
});
const CYCLES = Number(values.cycles);
const RELOADS = Number(values.reloads);
const CHECKPOINTS = [...new Set([0, 10, 25, 50, 100, CYCLES].filter((n) => n <= Math.max(CYCLES, 0)))].sort((x, y) => x - y);
const MODELS = ['defect', 'nanodet'] as const;
const SOURCE = path.join(PROJECT_ROOT, 'models', 'repository');
const MB = 1024 * 1024;

const collect = (): void => {
  const gc = (globalThis as { gc?: () => void }).gc;
  // A few passes: worker-side buffers are released through finalizers on the main thread.
  for (let i = 0; i < 3; i += 1) gc?.();
};

async function settle(): Promise<{ rss: number; heap: number }> {
  collect();
  await new Promise((resolve) => setTimeout(resolve, 200));
  collect();
  const usage = process.memoryUsage();
  return { rss: usage.rss / MB, heap: usage.heapUsed / MB };
}

/** A repository with both models, each able to switch between version 1 and version 2 (same bytes). */
async function makeRepository(): Promise<string> {
  const root = await mkdtemp(path.join(tmpdir(), 'bench-reload-'));
  for (const name of MODELS) {
    await cp(path.join(SOURCE, name), path.join(root, name), { recursive: true });
    await cp(path.join(root, name, '1'), path.join(root, name, '2'), { recursive: true });
  }
  return root;
}

async function setVersion(root: string, name: string, version: 1 | 2): Promise<void> {
  const file = path.join(root, name, 'card.json');
  const card = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  await writeFile(`${file}.tmp`, JSON.stringify({ ...card, version: String(version), file: `${version}/model.onnx` }, null, 2));
  await rename(`${file}.tmp`, file);
}

async function memoryRows(root: string): Promise<Array<Array<string | number>>> {
  const config = loadConfig({ log: { level: 'silent' }, runtime: { workers: 1 }, models: { repository: root, load: [] } });
  const runtime = createRuntime(config);
  // No retire grace here: it only delays the old version's drop by a second per reload; the
  // request part below runs with it.
  const registry = new ModelRegistry({ root, runtime, maxQueueSize: config.runtime.maxQueueSize, queueTimeoutMs: config.runtime.queueTimeoutMs, retireGraceMs: 0 });
  await registry.refresh();
  const rows: Array<Array<string | number>> = [];
  const arenas = process.env.MALLOC_ARENA_MAX ?? 'default';
  const progress = startProgress({ label: `bench:reload memory (malloc arenas ${arenas})`, total: MODELS.length * 2 * CYCLES, unit: 'cycles' });
  try {
    for (const name of MODELS) {
      for (const kind of ['load/unload', 'reload v1<->v2'] as const) {
        await setVersion(root, name, 1);
        if (kind === 'reload v1<->v2') await registry.load(name);
        const samples = new Map<number, { rss: number; heap: number }>();
        const started = performance.now();
        for (let cycle = 0; cycle <= CYCLES; cycle += 1) {
          if (CHECKPOINTS.includes(cycle)) samples.set(cycle, await settle());
          if (cycle === CYCLES) break;
          if (kind === 'load/unload') {
            await registry.load(name);
            await registry.unload(name);
          } else {
            await setVersion(root, name, cycle % 2 === 0 ? 2 : 1);
            await registry.load(name);
          }
          progress.tick(1, `${name} ${kind}`);
        }
        const msPerCycle = (performance.now() - started) / CYCLES;
        if (kind === 'reload v1<->v2') await registry.unload(name);
        const from = samples.get(Math.min(10, CYCLES))!;
        const to = samples.get(CYCLES)!;
        const span = Math.max(1, CYCLES - Math.min(10, CYCLES));
        rows.push([
          name,
          kind,
          ...CHECKPOINTS.map((n) => samples.get(n)!.rss),
          ...CHECKPOINTS.map((n) => samples.get(n)!.heap),
          ((to.rss - from.rss) * 1024) / span,
          CYCLES > 50 ? ((to.rss - samples.get(50)!.rss) * 1024) / (CYCLES - 50) : NaN,
          ((to.heap - from.heap) * 1024) / span,
          msPerCycle,
        ]);
      }
    }
  } finally {
    progress.finish();
    await registry.close({ force: true });
  }
  return rows;
}

/**
 * Each allocator setting in its own process (RSS is per process): glibc's default arenas, and
 * MALLOC_ARENA_MAX=2 as `npm start` runs the node. One table, side by side.
 */
async function memoryPart(): Promise<void> {
  const rows: Array<Array<string | number>> = [];
  for (const arenas of ['default', '2']) {
    const env = { ...process.env };
    if (arenas === 'default') delete env.MALLOC_ARENA_MAX;
    else env.MALLOC_ARENA_MAX = arenas;
    // The child's stderr is ours: its progress and its errors show as they come.
    const child = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--memory-child', '--cycles', String(CYCLES)], { env, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024, stdio: ['ignore', 'pipe', 'inherit'] });
    if (child.status !== 0) throw new Error(`memory child (MALLOC_ARENA_MAX=${arenas}) failed with exit code ${child.status} (its errors above)`);
    const line = child.stdout.trim().split('\n').pop()!;
    // NaN (no such span) crosses JSON as null.
    for (const row of JSON.parse(line) as Array<Array<string | number | null>>) rows.push([arenas, ...row.map((cell) => cell ?? '-')]);
  }
  printTable(
    `Memory over ${CYCLES} cycles (1 worker thread; MB after n cycles; growth per cycle from cycle 10, and from cycle 50, to the last)`,
    ['malloc arenas', 'model', 'cycle', ...CHECKPOINTS.map((n) => `RSS ${n}`), ...CHECKPOINTS.map((n) => `heap ${n}`), 'RSS KB/cycle 10+', 'RSS KB/cycle 50+', 'heap KB/cycle 10+', 'ms/cycle'],
    rows,
  );
}

interface Tally {
  ok: number;
  failed: number;
  codes: Record<string, number>;
  versions: Record<string, number>;
}

function stream(url: string, route: string, image: Buffer, tally: Tally, running: () => boolean): Promise<void> {
  return (async () => {
    while (running()) {
      try {
        const response = await fetch(`${url}${route}`, { method: 'POST', headers: { 'content-type': 'image/jpeg', 'x-placement-tier': 'mec' }, body: image });
        const body = (await response.json()) as { version?: string; model?: { version?: string }; error?: { code?: string } };
        if (response.status === 200) {
          tally.ok += 1;
          const version = body.version ?? body.model?.version ?? '?';
          tally.versions[version] = (tally.versions[version] ?? 0) + 1;
        } else {
          tally.failed += 1;
          const code = body.error?.code ?? String(response.status);
          tally.codes[code] = (tally.codes[code] ?? 0) + 1;
        }
      } catch (error) {
        tally.failed += 1;
        tally.codes[(error as Error).message] = (tally.codes[(error as Error).message] ?? 0) + 1;
      }
    }
  })();
}

async function requestsPart(root: string): Promise<void> {
  for (const name of MODELS) await setVersion(root, name, 1);
  const node = await startNode(
    loadConfig({
      log: { level: 'silent' },
      server: { port: 0 },
      runtime: { workers: 2 },
      streams: { mqtt: { enabled: false } },
      models: { repository: root, load: [...MODELS], defaultDetector: 'nanodet' },
    }),
  );
  const tallies = { inspect: { ok: 0, failed: 0, codes: {}, versions: {} } as Tally, detect: { ok: 0, failed: 0, codes: {}, versions: {} } as Tally };
  let running = true;
  const brick = await readFile(path.join(PROJECT_ROOT, 'test', 'fixtures', 'inspect', 'brick-good.jpg'));
  const dog = await readFile(path.join(PROJECT_ROOT, 'test', 'fixtures', 'images', 'dog.jpg'));
  const clients = [
    stream(node.url, '/v1/inspect?surface=brick', brick, tallies.inspect, () => running),
    stream(node.url, '/v1/inspect?surface=brick', brick, tallies.inspect, () => running),
    stream(node.url, '/v1/vision/detect?model=nanodet', dog, tallies.detect, () => running),
    stream(node.url, '/v1/vision/detect?model=nanodet', dog, tallies.detect, () => running),
  ];
  const reloadFailures: string[] = [];
  const started = performance.now();
  const progress = startProgress({ label: 'bench:reload requests', total: RELOADS * MODELS.length, unit: 'reloads' });
  try {
    await new Promise((resolve) => setTimeout(resolve, 500));
    for (let reload = 0; reload < RELOADS; reload += 1) {
      for (const name of MODELS) {
        await setVersion(root, name, reload % 2 === 0 ? 2 : 1);
        const response = await fetch(`${node.url}/v2/repository/models/${name}/load`, { method: 'POST' });
        if (response.status !== 200) reloadFailures.push(`${name}: ${response.status} ${await response.text()}`);
        progress.tick(1, `${name} v${reload % 2 === 0 ? 2 : 1}`);
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  } finally {
    progress.finish(`${tallies.inspect.ok + tallies.detect.ok} requests answered`);
    running = false;
    await Promise.all(clients);
    await node.close();
  }
  const seconds = (performance.now() - started) / 1000;
  printTable(
    `Requests during ${RELOADS} hot reloads of each model (v1 <-> v2, back to back, ${seconds.toFixed(1)} s; 2 clients per route)`,
    ['route (model)', 'requests', 'failed', 'failure codes', 'answers by version', 'reloads failed'],
    [
      ['inspect (defect)', tallies.inspect.ok + tallies.inspect.failed, tallies.inspect.failed, JSON.stringify(tallies.inspect.codes), JSON.stringify(tallies.inspect.versions), reloadFailures.filter((line) => line.startsWith('defect')).length],
      ['detect (nanodet)', tallies.detect.ok + tallies.detect.failed, tallies.detect.failed, JSON.stringify(tallies.detect.codes), JSON.stringify(tallies.detect.versions), reloadFailures.filter((line) => line.startsWith('nanodet')).length],
    ],
  );
  if (reloadFailures.length > 0) process.stdout.write(`reload failures:\n${reloadFailures.join('\n')}\n`);
}

const root = await makeRepository();
try {
  if (values['memory-child']) {
    process.stdout.write(`${JSON.stringify(await memoryRows(root))}\n`);
  } else {
    if ((globalThis as { gc?: unknown }).gc === undefined) process.stdout.write('note: run with --expose-gc (npm run bench:reload does) for settled heap figures\n');
    await memoryPart();
    await requestsPart(root);
  }
} finally {
  await rm(root, { recursive: true, force: true });
}
