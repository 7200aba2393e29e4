/**
 * `mec worker --node URL [--redis URL] [--prefix P] [--concurrency N]`: a job worker in a process
 * of its own. It takes jobs from Redis and runs each through the node's synchronous task routes
 * (so placement, transforms, egress rule and audit apply as for any request); it pauses the cloud
 * queue while the node reports its cloud unreachable (GET /v1/tier/status) and both queues while
 * the node does not answer. Killing it loses nothing: its jobs are taken over once their lock
 * (offload.worker.lockMs) expires.
 */
import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { loadConfig, mergeConfig, type ConfigInput } from '../core/config.ts';
import { EdgeError } from '../core/errors.ts';
import { integer } from './option-parsers.ts';

interface WorkerOptions {
  node: string;
  redis?: string;
  prefix?: string;
  concurrency?: number;
  lockMs?: number;
  config?: string;
}

async function configFile(file: string | undefined): Promise<ConfigInput> {
  if (file === undefined) return {};
  try {
    return JSON.parse(await readFile(file, 'utf8')) as ConfigInput;
  } catch (error) {
    throw new EdgeError('EDGE_ERR_CONFIG_INVALID', `cannot read the configuration file ${file}: ${(error as Error).message}`);
  }
}

export function registerWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description('run durable jobs (POST /v1/jobs) from Redis through a node\'s task routes, in a process of its own')
    .requiredOption('--node <url>', 'the node whose task routes run the jobs, e.g. http://127.0.0.1:8080')
    .option('--redis <url>', 'Redis holding the jobs (default: redis://127.0.0.1:6379)')
    .option('--prefix <prefix>', 'BullMQ key prefix, as the node\'s --jobs-prefix (default: mec)')
    .option('--concurrency <n>', 'jobs run at once per queue (default: 2)', integer('--concurrency', 1, 256))
    .option('--lock-ms <ms>', 'how long a job stays locked to this worker if it dies (default: 30000)', integer('--lock-ms', 500, 600_000))
    .option('--config <file>', 'JSON file with an `offload` section (services/core/config.ts); flags override it')
    .action(async (options: WorkerOptions) => {
      let nodeUrl: URL;
      try {
        nodeUrl = new URL(options.node);
        if (nodeUrl.protocol !== 'http:' && nodeUrl.protocol !== 'https:') throw new Error('not http(s)');
      } catch {
        throw new EdgeError('EDGE_ERR_CONFIG_INVALID', `--node must be the node's http(s) URL, e.g. http://127.0.0.1:8080; got ${options.node}`);
      }
      const flags: ConfigInput = {
        offload: {
          enabled: true,
          ...(options.redis === undefined ? {} : { redisUrl: options.redis }),
          ...(options.prefix === undefined ? {} : { prefix: options.prefix }),
          worker: {
            ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
            ...(options.lockMs === undefined ? {} : { lockMs: options.lockMs }),
          },
        },
      };
      const config = loadConfig(mergeConfig(await configFile(options.config), flags));
      const origin = nodeUrl.origin;
      const { polledReachability, workersFromConfig } = await import('../offload/index.ts');
      const workers = workersFromConfig(config, origin, polledReachability(origin));
      process.stdout.write(`Job worker running jobs from ${config.offload.redisUrl} (prefix ${config.offload.prefix}) through ${origin}\n`);
      let closing = false;
      const stop = (signal: string) => {
        if (closing) {
          void workers.close({ force: true }).finally(() => process.exit(1));
          return;
        }
        closing = true;
        process.stderr.write(`${signal}: finishing running jobs (again to force)\n`);
        void workers.close().then(() => process.exit(0), () => process.exit(1));
      };
      process.on('SIGINT', () => stop('SIGINT'));
      process.on('SIGTERM', () => stop('SIGTERM'));
    });
}
