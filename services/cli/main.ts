/**
 * The `mec` command: `mec serve` starts one node; every other command registers itself from its own
 * file. Exit codes are the same everywhere (exit-codes.ts): a usage error is 2 in every command, an
 * error that ends a command maps to 1 (failed), 2 (called wrong) or 3 (something did not answer).
 */
import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { loadConfig, mergeConfig, PROJECT_ROOT, type ConfigInput } from '../core/config.ts';
import { EdgeError } from '../core/errors.ts';
import { registerCameraCommands } from './camera.ts';
import { registerAuditCommands } from './audit.ts';
import { registerLinkCommands } from './link.ts';
import { registerUpCommand } from './up.ts';
import { registerDeviceCommands } from './device.ts';
import { registerWorkerCommand } from './worker.ts';
import { registerBlueprintCommands } from './blueprint.ts';
import { registerLongWorkCommands } from './long-work.ts';
import { integer } from './option-parsers.ts';
import { EXIT_CODES_HELP, EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, exitCodeFor } from './exit-codes.ts';

function packageVersion(): string {
  return (JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}

async function readConfigFile(file: string): Promise<ConfigInput> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    throw new EdgeError('EDGE_ERR_CONFIG_INVALID', `cannot read the configuration file ${file}: ${(error as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new EdgeError('EDGE_ERR_CONFIG_INVALID', `the configuration file ${file} must hold a JSON object`);
  }
  return parsed as ConfigInput;
}

const program = new Command()
  .name('mec')
  .description('MEC ML inference offloading platform: three tiers (device, MEC node, cloud), placement decided per request')
  .version(packageVersion(), '-V, --version', 'print the version')
  .showHelpAfterError('(mec --help lists the commands; mec COMMAND --help their options)')
  .addHelpText('after', `${EXIT_CODES_HELP}\nEvery command has --help (mec COMMAND --help, mec blueprint up --help).`)
  // Inherited by every subcommand registered below: an unknown option, a missing argument or a bad
  // value exits 2 everywhere (commander's own default is 1, which means "the work failed" here).
  .exitOverride((error) => {
    process.exit(error.exitCode === 0 ? EXIT_OK : EXIT_USAGE);
  });

program
  .command('serve')
  .description('start one node (a MEC node, or with --role cloud a cloud node) serving HTTP with its models loaded; stays in the foreground')
  .option('--config <file>', 'JSON file with any part of the configuration (services/core/config.ts); flags override it')
  .option('--port <port>', 'TCP port to listen on (default: 8080)', integer('--port', 0, 65535))
  .option('--host <host>', 'address to bind (default: 127.0.0.1)')
  .option('--workers <n>', 'inference worker threads (default: min(2, cores))', integer('--workers', 1, 64))
  .option('--intra-op-threads <n>', 'cores one inference may use', integer('--intra-op-threads', 1, 64))
  .option('--models <names>', 'comma-separated models to load at start (default: all default models)')
  .option('--repository <dir>', 'model repository folder (default: models/repository)')
  .option('--max-queue <n>', 'per-model queue bound; past it requests get 503', integer('--max-queue', 1, 100000))
  .option('--log-level <level>', 'fatal|error|warn|info|debug|silent (default: info)')
  .option('--mqtt <url>', 'MQTT broker the cameras publish frames to (default: mqtt://127.0.0.1:1883)')
  .option('--no-mqtt', 'no MQTT camera bridge (cameras can still stream over WebSocket)')
  .option('--role <tier>', 'mec (near the users; default) or cloud (larger model variants, farther away)')
  .option('--cloud-url <url>', 'a MEC node\'s way to the cloud tier (e.g. through `mec up`\'s mec-cloud link)')
  .option('--policy <file>', 'placement and privacy policy, YAML (default: blueprints/policies/default.yaml)')
  .option('--audit-log <file>', 'append-only, hash-chained audit log of placement decisions (JSON Lines)')
  .option('--sync', 'model and policy sync (docs/sync.md): a cloud node publishes, a MEC node with --cloud-url pulls')
  .option('--sync-cache <dir>', 'MEC node: where synced policies and the sync state are kept (default: <repository>/.sync)')
  .option('--sync-policies <dir>', 'cloud node: the policy files it publishes (default: blueprints/policies)')
  .option('--detector <model>', 'the detector this node serves when a request names none (default: centernet)')
  .option('--redis <url>', 'Redis for durable jobs (POST /v1/jobs); turns offload on (docs/jobs.md)')
  .option('--jobs-prefix <prefix>', 'BullMQ key prefix of this node\'s jobs (default: mec)')
  .addHelpText(
    'after',
    '\nEnvironment:\n  MEC_ADMIN_TOKEN  bearer token for model load/unload (unset: loopback clients only)\n' +
      '  MEC_SYNC_TOKEN   shared secret of a cloud and its MEC nodes for model and policy sync (unset: the cloud answers loopback clients only)',
  )
  .action(async (options: Record<string, string | number | boolean | undefined>) => {
    const adminToken = process.env.MEC_ADMIN_TOKEN;
    const flags: ConfigInput = {
      server: {
        ...(options.port === undefined ? {} : { port: options.port as number }),
        ...(options.host === undefined ? {} : { host: String(options.host) }),
        ...(adminToken ? { adminToken } : {}),
      },
      runtime: {
        ...(options.workers === undefined ? {} : { workers: options.workers as number }),
        ...(options.intraOpThreads === undefined ? {} : { intraOpThreads: options.intraOpThreads as number }),
        ...(options.maxQueue === undefined ? {} : { maxQueueSize: options.maxQueue as number }),
      },
      models: {
        ...(options.models === undefined ? {} : { load: String(options.models).split(',').map((name) => name.trim()).filter(Boolean) }),
        ...(options.repository === undefined ? {} : { repository: String(options.repository) }),
        ...(options.detector === undefined ? {} : { defaultDetector: String(options.detector) }),
      },
      log: options.logLevel === undefined ? {} : { level: options.logLevel as never },
      placement: {
        ...(options.role === undefined ? {} : { tier: String(options.role) as never }),
        ...(options.cloudUrl === undefined ? {} : { cloudUrl: String(options.cloudUrl) }),
        ...(options.policy === undefined ? {} : { policyFile: String(options.policy) }),
        ...(options.auditLog === undefined ? {} : { auditLog: String(options.auditLog) }),
      },
      streams: {
        mqtt: {
          // commander: --no-mqtt sets mqtt to false, --mqtt URL to the URL, neither leaves it true.
          ...(options.mqtt === false ? { enabled: false } : {}),
          ...(typeof options.mqtt === 'string' ? { url: options.mqtt } : {}),
        },
      },
      offload: {
        ...(options.redis === undefined ? {} : { enabled: true, redisUrl: String(options.redis) }),
        ...(options.jobsPrefix === undefined ? {} : { prefix: String(options.jobsPrefix) }),
      },
    };
    const syncToken = process.env.MEC_SYNC_TOKEN;
    flags.sync = {
      ...(options.sync === true ? { enabled: true } : {}),
      ...(syncToken ? { token: syncToken } : {}),
      ...(options.syncCache === undefined ? {} : { cacheDir: String(options.syncCache) }),
      ...(options.syncPolicies === undefined ? {} : { policiesDir: String(options.syncPolicies) }),
    };
    const fromFile = options.config === undefined ? {} : await readConfigFile(String(options.config));
    const config = loadConfig(mergeConfig(fromFile, flags));
    // Loaded here, not at the top: the other commands (and --help) need not load onnxruntime, sharp and fastify.
    const { startNode } = await import('../node.ts');
    const node = await startNode(config);
    const mqtt = node.streams.mqtt ? `; cameras: MQTT ${config.streams.mqtt.url} and ${node.url.replace('http', 'ws')}/v1/streams/{cameraId}` : `; cameras: ${node.url.replace('http', 'ws')}/v1/streams/{cameraId}`;
    const role = config.placement.tier === 'cloud' ? 'Cloud node' : 'MEC node';
    process.stdout.write(`${role} serving on ${node.url} (models: ${node.models.join(', ')}; docs: ${node.url}/docs${mqtt})\n`);
    let closing = false;
    const stop = (signal: string) => {
      if (closing) {
        process.stderr.write(`${signal} again: forcing shutdown\n`);
        void node.close({ force: true }).finally(() => process.exit(EXIT_INTERRUPTED));
        return;
      }
      closing = true;
      process.stderr.write(`${signal}: draining and shutting down (again to force)\n`);
      void node.close().then(() => process.exit(EXIT_OK), () => process.exit(EXIT_FAILURE));
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
    // Started by `mec up`: a topology whose parent died (SIGKILL, a closed terminal) must not leave
    // nodes holding ports. Linux re-parents an orphan, so a changed parent pid means the parent is gone.
    if (process.env.MEC_EXIT_WITH_PARENT === '1') {
      const parent = process.ppid;
      setInterval(() => {
        if (process.ppid !== parent) stop('parent gone');
      }, 1000).unref();
    }
  });

registerCameraCommands(program);
registerAuditCommands(program);
registerLinkCommands(program);
registerUpCommand(program);
registerDeviceCommands(program);
registerWorkerCommand(program);
registerBlueprintCommands(program);
registerLongWorkCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  const message = error instanceof EdgeError ? `${error.code}: ${error.message}` : error instanceof Error ? error.message : String(error);
  process.stderr.write(`mec: ${message}\n`);
  process.exit(exitCodeFor(error));
}
