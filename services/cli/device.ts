/**
 * `mec device`: a simulated device - this machine, optionally slowed down in its own estimates to
 * stand for a phone or camera SoC - that holds small models, asks placement where each request runs
 * and sends N detect requests through a MEC node. One line per request (tier, model, reason,
 * predicted vs actual ms), then a table per tier. Ctrl-C stops sending; the summary still prints.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Option, type Command } from 'commander';
import type { DevicePlacement } from '../client/device/index.ts';
import { PROJECT_ROOT } from '../core/config.ts';
import { EdgeError, toEdgeError } from '../core/errors.ts';
import { DATA_CLASSES } from '../scheduler/types.ts';
import { number } from './option-parsers.ts';

/** The device-mec link of `mec up`. */
export const DEFAULT_MEC_URL = 'http://127.0.0.1:8081';
export const DEFAULT_IMAGES = ['dog.jpg', 'person.jpg', 'horses.jpg'].map((name) => path.join(PROJECT_ROOT, 'test', 'fixtures', 'images', name));

export interface DeviceRun {
  n: number;
  image: string;
  placement?: DevicePlacement;
  detections?: number;
  error?: { code: string; message: string };
}

export interface TierSummary {
  tier: string;
  count: number;
  /** Answers that ran on the device because the MEC node (or beyond) failed. */
  fallbacks: number;
  p50_ms: number;
  p95_ms: number;
}

interface DeviceFlags {
  mec: string;
  image?: string[];
  count: number;
  intervalMs: number;
  dataClass?: string;
  deadlineMs?: number;
  slowdown?: number;
  json?: boolean;
}

/** Nearest-rank percentile of ascending values. */
function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)]!;
}

/** Per tier that answered: how many, how many of them were fallbacks, p50 and p95 of the actual ms. */
export function summarizeRuns(runs: readonly DeviceRun[]): TierSummary[] {
  const byTier = new Map<string, DevicePlacement[]>();
  for (const run of runs) {
    if (!run.placement) continue;
    const list = byTier.get(run.placement.tier) ?? [];
    list.push(run.placement);
    byTier.set(run.placement.tier, list);
  }
  const order = ['device', 'mec', 'cloud'];
  return [...byTier.entries()]
    .sort(([a], [b]) => order.indexOf(a) - order.indexOf(b))
    .map(([tier, placements]) => {
      const actual = placements.map((placement) => placement.actual_ms).sort((a, b) => a - b);
      return {
        tier,
        count: placements.length,
        fallbacks: placements.filter((placement) => placement.reason.startsWith('fallback')).length,
        p50_ms: percentile(actual, 0.5),
        p95_ms: percentile(actual, 0.95),
      };
    });
}

export function formatRun(run: DeviceRun): string {
  const head = `#${String(run.n).padEnd(4)} ${run.image.padEnd(12)}`;
  if (run.error) return `${head} error   ${run.error.code}: ${run.error.message}\n`;
  const placement = run.placement!;
  const predicted = placement.predicted_ms.toFixed(1).padStart(8);
  const actual = placement.actual_ms.toFixed(1).padStart(8);
  return `${head} ${placement.tier.padEnd(7)} ${placement.model.padEnd(10)} predicted ${predicted} ms  actual ${actual} ms  ${placement.reason}\n`;
}

export function formatSummary(summary: readonly TierSummary[], failed: number): string {
  const lines = ['', `${'tier'.padEnd(8)} ${'count'.padStart(5)} ${'fallback'.padStart(8)} ${'p50 ms'.padStart(9)} ${'p95 ms'.padStart(9)}`];
  for (const row of summary) {
    lines.push(`${row.tier.padEnd(8)} ${String(row.count).padStart(5)} ${String(row.fallbacks).padStart(8)} ${row.p50_ms.toFixed(1).padStart(9)} ${row.p95_ms.toFixed(1).padStart(9)}`);
  }
  if (failed > 0) lines.push(`${'failed'.padEnd(8)} ${String(failed).padStart(5)}`);
  return `${lines.join('\n')}\n`;
}

async function readImages(files: readonly string[]): Promise<{ name: string; bytes: Buffer }[]> {
  return Promise.all(
    files.map(async (file) => {
      try {
        return { name: path.basename(file), bytes: await readFile(file) };
      } catch (error) {
        throw new EdgeError('EDGE_ERR_CONFIG_INVALID', `cannot read --image ${file}: ${(error as Error).message}`, { cause: error });
      }
    }),
  );
}

export function registerDeviceCommands(program: Command): void {
  program
    .command('device')
    .description('a simulated device: holds small models, asks placement per request, and sends detect requests through a MEC node')
    .option('--mec <url>', `the MEC node (default: ${DEFAULT_MEC_URL}, the device-mec link of \`mec up\`)`, DEFAULT_MEC_URL)
    .option('--image <file...>', 'images sent in turn (default: test/fixtures/images dog.jpg, person.jpg, horses.jpg)')
    .option('--count <n>', 'requests to send (default: 10)', number('--count', 1, 1_000_000, true), 10)
    .option('--interval-ms <ms>', 'a request starts every this many ms, once the one before has answered (default: 500)', number('--interval-ms', 0, 3_600_000, true), 500)
    .addOption(new Option('--data-class <class>', 'x-data-class of every request (default: the policy\'s)').choices([...DATA_CLASSES]))
    .option('--deadline-ms <ms>', 'hard deadline of every request (default: the policy\'s, a soft one)', number('--deadline-ms', 1, 600_000, false))
    .option('--slowdown <factor>', 'emulate a slower device: its own compute estimates are this machine\'s times this factor (default: 1)', number('--slowdown', 0.01, 1000, false))
    .option('--json', 'print one JSON document (every request and the summary) instead of lines')
    .action(async (flags: DeviceFlags) => {
      const images = await readImages(flags.image ?? DEFAULT_IMAGES);
      const stop = new AbortController();
      const onSignal = () => stop.abort();
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      const runs: DeviceRun[] = [];
      let firstFailure: EdgeError | undefined;
      try {
        const { DeviceClient } = await import('../client/device/index.ts');
        const device = await DeviceClient.start({ mecUrl: flags.mec, ...(flags.slowdown === undefined ? {} : { deviceSlowdown: flags.slowdown }) });
        try {
          if (!flags.json) {
            const reach = device.mecReachable ? 'reachable' : 'not reachable (requests run here until it answers)';
            process.stderr.write(`device: models ${device.models.join(', ')}, slowdown ${flags.slowdown ?? 1}; MEC node ${flags.mec} ${reach}\n`);
          }
          const started = performance.now();
          for (let n = 1; n <= flags.count && !stop.signal.aborted; n += 1) {
            // An absolute schedule: request n starts at (n-1) x interval, or at once if the last one ran late.
            const wait = started + (n - 1) * flags.intervalMs - performance.now();
            if (wait > 0) await sleep(wait, undefined, { signal: stop.signal }).catch(() => undefined);
            if (stop.signal.aborted) break;
            const image = images[(n - 1) % images.length]!;
            const run: DeviceRun = { n, image: image.name };
            try {
              const answer = await device.detect(image.bytes, {
                ...(flags.dataClass === undefined ? {} : { dataClass: flags.dataClass }),
                ...(flags.deadlineMs === undefined ? {} : { deadlineMs: flags.deadlineMs }),
              });
              run.placement = answer.placement;
              run.detections = Array.isArray(answer.result.detections) ? answer.result.detections.length : 0;
            } catch (error) {
              const failure = toEdgeError(error);
              firstFailure ??= failure;
              run.error = { code: failure.code, message: failure.message };
            }
            runs.push(run);
            if (!flags.json) process.stdout.write(formatRun(run));
          }
        } finally {
          await device.close();
        }
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
      const summary = summarizeRuns(runs);
      const failed = runs.filter((run) => run.error !== undefined).length;
      process.stdout.write(flags.json ? `${JSON.stringify({ mec: flags.mec, slowdown: flags.slowdown ?? 1, requests: runs, summary }, null, 2)}\n` : formatSummary(summary, failed));
      // After the summary: main.ts prints `mec: CODE: message` and exits 1.
      if (firstFailure) throw new EdgeError(firstFailure.code, `${failed} of ${runs.length} requests failed; the first: ${firstFailure.message}`);
    });
}
