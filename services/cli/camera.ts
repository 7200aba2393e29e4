/**
 * `mec camera simulate`: production-line cameras for demos, tests and benchmarks. They stream
 * rendered surface frames (real textures, drawn defects) to a node over MQTT or WebSocket and check
 * the answers. Ctrl-C stops sending and waits for the outstanding answers; a second Ctrl-C stops
 * waiting.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { DEFECT_TYPES, type DefectType } from '../client/camera/defects.ts';
import { SURFACES } from '../client/camera/surfaces.ts';
import type { SimulationOptions } from '../client/camera/simulate.ts';
import { number } from './option-parsers.ts';

function defectTypes(value: string): DefectType[] {
  const types = value.split(',').map((type) => type.trim()).filter(Boolean);
  const unknown = types.filter((type) => !(DEFECT_TYPES as readonly string[]).includes(type));
  if (types.length === 0 || unknown.length > 0) throw new InvalidArgumentError(`defect types must be some of ${DEFECT_TYPES.join(', ')}`);
  return types as DefectType[];
}

/** What commander parses: the simulation's options under their flag names, plus output flags. */
type SimulateFlags = Omit<SimulationOptions, 'qos' | 'textureFile' | 'signal' | 'drainSignal' | 'recordFrames'> & {
  qos?: number;
  texture?: string;
  json?: boolean;
};

export function registerCameraCommands(program: Command): void {
  const camera = program.command('camera').description('simulated production-line cameras that stream surface frames to a node');
  camera
    .command('simulate')
    .description('stream rendered surface frames with drawn defects to a node and check its answers')
    .option('--fps <n>', 'frames per second per camera', number('--fps', 0.01, 1000, false), 15)
    .option('--surface <name>', `surface texture: ${SURFACES.join(', ')}`, 'gravel')
    .option('--defect-rate <p>', 'share of frames with drawn defects, 0..1', number('--defect-rate', 0, 1, false), 0.1)
    .option('--count <n>', 'frames per camera (default: until Ctrl-C)', number('--count', 1, Number.MAX_SAFE_INTEGER, true))
    .option('--camera-id <id>', 'camera id, 1-64 of A-Z a-z 0-9 _ . - (default: cam-<random>)')
    .option('--cameras <k>', 'cameras in this process, ids <id>-1..K', number('--cameras', 1, 1000, true))
    .addOption(new Option('--mqtt <url>', 'MQTT broker the node listens on (default: mqtt://127.0.0.1:1883)').conflicts('ws'))
    .addOption(new Option('--ws <url>', 'node WebSocket base URL, e.g. ws://127.0.0.1:8080').conflicts('mqtt'))
    .option('--size <px>', 'side of the square frames (default: 256)', number('--size', 32, 4096, true))
    .option('--seed <n>', 'seed for a reproducible run (default: random, printed)', number('--seed', 0, 0xffffffff, true))
    .option('--timeout-ms <ms>', 'wait this long for outstanding answers at the end (default: 5000)', number('--timeout-ms', 0, 3_600_000, true))
    .addOption(new Option('--format <format>', 'frame encoding (default: jpeg)').choices(['jpeg', 'png']))
    .option('--quality <q>', 'JPEG quality (default: 90)', number('--quality', 1, 100, true))
    .option('--qos <qos>', 'MQTT QoS of frames, 0 or 1 (default: 0)', number('--qos', 0, 1, true))
    .option('--distinct-frames <n>', 'render only n frames per camera and cycle them (saves CPU with many cameras)', number('--distinct-frames', 1, 100_000, true))
    .option('--defect-types <list>', `comma-separated subset of ${DEFECT_TYPES.join(',')}`, defectTypes)
    .option('--texture <file>', 'texture image instead of models/inspect/textures/<surface>.png')
    .option('--json', 'print the report as JSON')
    .action(async (flags: SimulateFlags) => {
      const stopSending = new AbortController();
      const stopWaiting = new AbortController();
      const onSignal = () => {
        if (!stopSending.signal.aborted) {
          process.stderr.write('stopping: waiting for outstanding answers (Ctrl-C again to stop waiting)\n');
          stopSending.abort();
        } else {
          stopWaiting.abort();
        }
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      try {
        const { formatProgress, formatReport, simulateCameras } = await import('../client/camera/simulate.ts');
        const report = await simulateCameras({
          fps: flags.fps,
          surface: flags.surface,
          defectRate: flags.defectRate,
          ...(flags.count === undefined ? {} : { count: flags.count }),
          ...(flags.cameraId === undefined ? {} : { cameraId: flags.cameraId }),
          ...(flags.cameras === undefined ? {} : { cameras: flags.cameras }),
          ...(flags.mqtt === undefined ? {} : { mqtt: flags.mqtt }),
          ...(flags.ws === undefined ? {} : { ws: flags.ws }),
          ...(flags.size === undefined ? {} : { size: flags.size }),
          ...(flags.seed === undefined ? {} : { seed: flags.seed }),
          ...(flags.timeoutMs === undefined ? {} : { timeoutMs: flags.timeoutMs }),
          ...(flags.format === undefined ? {} : { format: flags.format }),
          ...(flags.quality === undefined ? {} : { quality: flags.quality }),
          ...(flags.qos === undefined ? {} : { qos: flags.qos as 0 | 1 }),
          ...(flags.distinctFrames === undefined ? {} : { distinctFrames: flags.distinctFrames }),
          ...(flags.defectTypes === undefined ? {} : { defectTypes: flags.defectTypes }),
          ...(flags.texture === undefined ? {} : { textureFile: flags.texture }),
          // Running totals on stderr, so that --json output on stdout stays one document.
          onProgress: (totals) => process.stderr.write(formatProgress(totals)),
          signal: stopSending.signal,
          drainSignal: stopWaiting.signal,
        });
        process.stdout.write(flags.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
        const answered = report.total.results + Object.values(report.total.errors).reduce((sum, count) => sum + count, 0);
        if (report.total.sent > 0 && answered === 0) {
          process.stderr.write(`no answers from the node to ${report.total.sent} frames: is it running and serving camera streams at ${report.url}?\n`);
          process.exitCode = 1;
        }
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}
