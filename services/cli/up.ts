/**
 * `mec up`: the local three-tier topology (services/topology) with flags for ports and link
 * profiles, plus a simulated device that keeps sending photos through the device-mec link so the
 * placement decisions can be watched (and the metrics and audit logs fill). `npm start` runs it.
 */
import { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { PROJECT_ROOT } from '../core/config.ts';
import { startLocalTopology } from '../topology/local-topology.ts';
import { startSimulatedDevice } from '../topology/simulated-device.ts';
import { redisAnswers } from '../offload/index.ts';
import { number, port, positive } from './option-parsers.ts';

interface UpOptions {
  host: string;
  mecPort: number;
  cloudPort: number;
  deviceLinkPort: number;
  cloudLinkPort: number;
  controlPort: number;
  cloudLatencyMs?: number;
  cloudBandwidthMbit?: number;
  deviceLatencyMs?: number;
  deviceBandwidthMbit?: number;
  policy?: string;
  auditDir: string;
  logLevel: string;
  device: boolean;
  deviceIntervalMs: number;
  mqtt: boolean;
}

export function registerUpCommand(program: Command): void {
  program
    .command('up')
    .description('start the three tiers on this machine: a cloud node, a MEC node and a simulated device, joined by emulated links')
    .option('--host <host>', 'address every part binds', '127.0.0.1')
    .option('--mec-port <port>', 'the MEC node (apps and cameras use it)', port('--mec-port'), 8080)
    .option('--cloud-port <port>', 'the cloud node', port('--cloud-port'), 8090)
    .option('--device-link-port <port>', 'the device-mec link: devices reach the MEC node here', port('--device-link-port'), 8081)
    .option('--cloud-link-port <port>', 'the mec-cloud link: the MEC node reaches the cloud here', port('--cloud-link-port'), 8091)
    .option('--control-port <port>', 'the link control API that `mec link` uses', port('--control-port'), 8079)
    .option('--cloud-latency-ms <ms>', 'mec-cloud round-trip time (default 40)', number('--cloud-latency-ms', 0, 600_000, false))
    .option('--cloud-bandwidth-mbit <mbit>', 'mec-cloud bandwidth each way (default 50)', positive('--cloud-bandwidth-mbit'))
    .option('--device-latency-ms <ms>', 'device-mec round-trip time (default 5)', number('--device-latency-ms', 0, 600_000, false))
    .option('--device-bandwidth-mbit <mbit>', 'device-mec bandwidth each way (default 100)', positive('--device-bandwidth-mbit'))
    .option('--policy <file>', 'placement and privacy policy for both nodes (default: blueprints/policies/default.yaml)')
    .option('--audit-dir <dir>', 'where the nodes write their audit logs (mec.jsonl, cloud.jsonl)', 'var/audit')
    .option('--log-level <level>', 'the nodes\' log level', 'warn')
    .option('--no-device', 'no simulated device')
    .option('--device-interval-ms <ms>', 'how often the simulated device sends a photo', positive('--device-interval-ms'), 2000)
    .option('--no-mqtt', 'no MQTT camera bridge on the MEC node')
    .action(async (options: UpOptions) => {
      const stopping = { now: false };
      // Durable jobs on the MEC node when the machine's Redis answers; the topology runs without them otherwise.
      const redisUrl = 'redis://127.0.0.1:6379';
      const jobs = await redisAnswers(redisUrl);
      const topology = await startLocalTopology({
        host: options.host,
        mecPort: options.mecPort,
        cloudPort: options.cloudPort,
        deviceLinkPort: options.deviceLinkPort,
        cloudLinkPort: options.cloudLinkPort,
        controlPort: options.controlPort,
        links: {
          'mec-cloud': {
            ...(options.cloudLatencyMs === undefined ? {} : { latencyMs: options.cloudLatencyMs }),
            ...(options.cloudBandwidthMbit === undefined ? {} : { bandwidthMbit: options.cloudBandwidthMbit }),
          },
          'device-mec': {
            ...(options.deviceLatencyMs === undefined ? {} : { latencyMs: options.deviceLatencyMs }),
            ...(options.deviceBandwidthMbit === undefined ? {} : { bandwidthMbit: options.deviceBandwidthMbit }),
          },
        },
        ...(options.policy ? { policyFile: path.resolve(options.policy) } : {}),
        auditDir: path.resolve(options.auditDir),
        logLevel: options.logLevel,
        ...(options.mqtt ? {} : { mecArgs: ['--no-mqtt'] }),
        ...(jobs ? { redisUrl } : {}),
        onExit: (tier, code, signal) => {
          if (stopping.now) return;
          process.stderr.write(`mec up: the ${tier} node exited (${signal ?? `code ${code}`}); stopping the topology\n`);
          void stop(1);
        },
      });
      const device = options.device ? await startSimulatedDevice({ mecUrl: topology.urls.deviceToMec, intervalMs: options.deviceIntervalMs }) : undefined;
      const { urls } = topology;
      const pkg = JSON.parse(await readFile(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string };
      process.stdout.write(
        [
          `mec ${pkg.version}: three tiers up`,
          `  MEC node    ${urls.mec}   (apps and cameras; live dashboard ${urls.mec}/; docs ${urls.mec}/docs; metrics ${urls.mec}/metrics)`,
          `  cloud node  ${urls.cloud}`,
          `  device      ${options.device ? `simulated, sending a photo every ${options.deviceIntervalMs} ms through ${urls.deviceToMec}` : 'none (--no-device); devices connect to ' + urls.deviceToMec}`,
          `  links       device-mec ${urls.deviceToMec} -> ${urls.mec}; mec-cloud ${urls.mecToCloud} -> ${urls.cloud}`,
          `  control     ${urls.control}   (mec link show | mec link set mec-cloud --latency-ms 200 | --down | --up)`,
          `  audit logs  ${path.resolve(options.auditDir)}/{mec,cloud}.jsonl   (mec audit verify FILE)`,
          `  jobs        ${jobs ? `POST ${urls.mec}/v1/jobs (Redis ${redisUrl}; docs/jobs.md)` : `off (no Redis answers at ${redisUrl})`}`,
          '',
        ].join('\n'),
      );

      async function stop(code: number): Promise<void> {
        if (stopping.now) return;
        stopping.now = true;
        await device?.close().catch(() => undefined);
        await topology.close().catch(() => undefined);
        process.exit(code);
      }
      process.on('SIGINT', () => void stop(0));
      process.on('SIGTERM', () => void stop(0));
    });
}
