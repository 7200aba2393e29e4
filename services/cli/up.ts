/**
 * `mec up [FILE]`: what `npm start` runs - the default blueprint (blueprints/trial.yaml: every
 * workload, a cloud and a MEC node) on this machine, with a simulated phone and the blueprint's
 * cameras so there is something to watch, and audit logs in var/audit. It is `mec blueprint up FILE
 * --simulate` with a trial's defaults, plus flags to change the links and the policy without editing
 * the blueprint.
 */
import type { Command } from 'commander';
import path from 'node:path';
import { PROJECT_ROOT } from '../core/config.ts';
import type { LinkSettings } from '../links/link-settings.ts';
import { DEFAULT_STATE_DIR } from './blueprint-state.ts';
import { number, positive } from './option-parsers.ts';
import { addTopologyAddressOptions, topologyAddresses, type TopologyAddresses } from './topology-options.ts';

export const DEFAULT_BLUEPRINT = path.join(PROJECT_ROOT, 'blueprints', 'trial.yaml');

interface UpOptions extends TopologyAddresses {
  cloudLatencyMs?: number;
  cloudBandwidthMbit?: number;
  deviceLatencyMs?: number;
  deviceBandwidthMbit?: number;
  policy?: string;
  auditDir: string;
  logLevel: string;
  device: boolean;
  deviceIntervalMs: number;
  cameras: boolean;
  mqtt: boolean | string;
  redis?: string;
  stateDir: string;
}

function linkOverride(latencyMs: number | undefined, bandwidthMbit: number | undefined): Partial<LinkSettings> | undefined {
  if (latencyMs === undefined && bandwidthMbit === undefined) return undefined;
  return { ...(latencyMs === undefined ? {} : { latencyMs }), ...(bandwidthMbit === undefined ? {} : { bandwidthMbit }) };
}

export function registerUpCommand(program: Command): void {
  const up = program
    .command('up')
    .description('what npm start runs: a blueprint (default blueprints/trial.yaml) on this machine with a simulated phone and its cameras; stays in the foreground')
    .argument('[file]', 'blueprint YAML file', DEFAULT_BLUEPRINT);
  addTopologyAddressOptions(up)
    .option('--cloud-latency-ms <ms>', 'mec-cloud round-trip time (default: the blueprint\'s)', number('--cloud-latency-ms', 0, 600_000, false))
    .option('--cloud-bandwidth-mbit <mbit>', 'mec-cloud bandwidth each way (default: the blueprint\'s)', positive('--cloud-bandwidth-mbit'))
    .option('--device-latency-ms <ms>', 'device-mec round-trip time (default: the blueprint\'s)', number('--device-latency-ms', 0, 600_000, false))
    .option('--device-bandwidth-mbit <mbit>', 'device-mec bandwidth each way (default: the blueprint\'s)', positive('--device-bandwidth-mbit'))
    .option('--policy <file>', 'placement and privacy policy for both nodes instead of the blueprint\'s')
    .option('--audit-dir <dir>', 'where the nodes write their audit logs (mec.jsonl, cloud.jsonl)', 'var/audit')
    .option('--log-level <level>', 'the nodes\' log level', 'warn')
    .option('--no-device', 'no simulated phone')
    .option('--device-interval-ms <ms>', 'how often the simulated phone sends a photo', positive('--device-interval-ms'), 2000)
    .option('--no-cameras', 'do not simulate the blueprint\'s cameras')
    .option('--mqtt <url>', 'the MQTT broker of the MEC node and its cameras (default: mqtt://127.0.0.1:1883)')
    .option('--no-mqtt', 'no MQTT bridge on the MEC node (and no MQTT cameras)')
    .option('--redis <url>', 'Redis for durable jobs; when none answers the stack runs without jobs (default: redis://127.0.0.1:6379)')
    .option('--state-dir <dir>', 'where the running stack is recorded (mec blueprint down reads it)', DEFAULT_STATE_DIR)
    .addHelpText(
      'after',
      '\nExamples:\n  mec up                                   the trial: photos, speech, a line camera; dashboard on http://127.0.0.1:8080/\n' +
        '  mec up blueprints/field-speech.yaml      another blueprint, simulated\n  mec up --cloud-latency-ms 300 --no-cameras\n' +
        '\nExit codes: 1 the blueprint is invalid or already running, 2 usage error or unreadable file; once up, 0 after Ctrl-C/SIGTERM (mec blueprint down), 1 when a tier died.',
    )
    .action(async (file: string, options: UpOptions) => {
      const cloudLink = linkOverride(options.cloudLatencyMs, options.cloudBandwidthMbit);
      const deviceLink = linkOverride(options.deviceLatencyMs, options.deviceBandwidthMbit);
      const { blueprintUp } = await import('./blueprint-up.ts');
      process.exitCode = await blueprintUp(
        file,
        {
          ...topologyAddresses(options),
          logLevel: options.logLevel,
          stateDir: options.stateDir,
          auditDir: options.auditDir,
          simulate: options.device || options.cameras,
          ...(options.device ? { deviceIntervalMs: options.deviceIntervalMs } : {}),
          simulateCameras: options.cameras,
          // commander: --no-mqtt sets mqtt to false, --mqtt URL to the URL, neither leaves it true.
          ...(options.mqtt === true ? {} : { mqtt: options.mqtt }),
          ...(options.redis === undefined ? {} : { redis: options.redis }),
          ...(options.policy === undefined ? {} : { policy: options.policy }),
          links: { ...(cloudLink ? { 'mec-cloud': cloudLink } : {}), ...(deviceLink ? { 'device-mec': deviceLink } : {}) },
        },
        (line) => process.stdout.write(`${line}\n`),
        (line) => process.stderr.write(`${line}\n`),
      );
    });
}
