/**
 * The whole three-tier topology on one machine, as `npm start` and `mec up` run it:
 *
 *   device --[device-mec link]--> MEC node (:8080) --[mec-cloud link]--> cloud node (:8090)
 *
 * The cloud and the MEC node are real `mec serve` processes (their own event loops and inference
 * workers); the links are our TCP proxies (services/links) in this process, changed at run time
 * through the link control API that `mec link` talks to. The MEC node reaches the cloud only
 * through its link, so cutting or slowing the link is what the MEC node's placement sees.
 * Start order: cloud -> mec-cloud link -> MEC node -> device-mec link -> control API; close is the
 * reverse, and a tier that dies on its own is reported (onExit) rather than left half-running.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { PROJECT_ROOT } from '../core/config.ts';
import { EdgeError } from '../core/errors.ts';
import { startLinkControl, type LinkControl } from '../links/link-control.ts';
import { LinkSet } from '../links/link-set.ts';
import { DEFAULT_LINKS, type LinkName, type LinkSettings } from '../links/link-settings.ts';

export interface TopologyOptions {
  host?: string;
  /** The MEC node's port (the one apps and cameras use). */
  mecPort?: number;
  cloudPort?: number;
  /** Where the device-mec link listens (devices connect here) and where the mec-cloud link listens. */
  deviceLinkPort?: number;
  cloudLinkPort?: number;
  /** The link control API (`mec link`). */
  controlPort?: number;
  links?: { 'device-mec'?: Partial<LinkSettings>; 'mec-cloud'?: Partial<LinkSettings> };
  policyFile?: string;
  /** Folder for the nodes' audit logs (mec.jsonl, cloud.jsonl); unset: none written. */
  auditDir?: string;
  logLevel?: string;
  /** Extra `mec serve` flags per tier (e.g. ['--no-mqtt'], ['--workers', '1']). */
  mecArgs?: string[];
  /** Redis for the MEC node's durable jobs (`--redis`, POST /v1/jobs); unset: offload off. */
  redisUrl?: string;
  cloudArgs?: string[];
  /** false: no cloud process and no mec-cloud link; the MEC node then has no --cloud-url (default true). */
  cloud?: boolean;
  /** The MEC node's --detector; null: none (a node that serves no detect); unset: nanodet. */
  mecDetector?: string | null;
  /** A tier process exited while the topology was up. */
  onExit?: (tier: 'mec' | 'cloud', code: number | null, signal: string | null) => void;
}

export interface TopologyUrls {
  mec: string;
  /** Unset when the topology has no cloud tier (cloud: false), as are mecToCloud and pids.cloud. */
  cloud?: string;
  /** What a device uses: the MEC node behind the device-mec link. */
  deviceToMec: string;
  /** What the MEC node uses: the cloud behind the mec-cloud link. */
  mecToCloud?: string;
  control: string;
}

export interface LocalTopology {
  urls: TopologyUrls;
  links: LinkSet;
  pids: { mec: number; cloud?: number };
  /** Idempotent: the device-side link first, the cloud last. */
  close(): Promise<void>;
}

interface TierProcess {
  child: ChildProcess;
  url: string;
}

const START_TIMEOUT_MS = 120_000;

/** Starts `mec serve <args>` and resolves once it prints its URL. */
async function startTier(tier: 'mec' | 'cloud', args: string[], onExit: TopologyOptions['onExit']): Promise<TierProcess> {
  const child = spawn(process.execPath, [path.join(PROJECT_ROOT, 'bin/mec.js'), 'serve', ...args], {
    env: { ...process.env, MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? '2', MEC_EXIT_WITH_PARENT: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4000);
    process.stderr.write(chunk.replace(/^(?=.)/gm, `[${tier}] `));
  });
  const lines = createInterface({ input: child.stdout! });
  const timer = setTimeout(() => child.kill('SIGKILL'), START_TIMEOUT_MS);
  try {
    for await (const line of lines) {
      const match = /serving on (http:\/\/\S+)/.exec(line);
      if (match) {
        child.once('exit', (code, signal) => onExit?.(tier, code, signal));
        // Keep reading so the pipe never fills; later lines are the node's own.
        lines.on('line', (later) => process.stdout.write(`[${tier}] ${later}\n`));
        return { child, url: match[1] as string };
      }
    }
  } finally {
    clearTimeout(timer);
  }
  throw new EdgeError('EDGE_ERR_CONFIG_INVALID', `the ${tier} node exited before it served: ${stderr.trim().split('\n').slice(-5).join(' | ')}`);
}

async function stopTier(tier: TierProcess | undefined): Promise<void> {
  if (!tier || tier.child.exitCode !== null || tier.child.signalCode !== null) return;
  const exited = once(tier.child, 'exit');
  tier.child.kill('SIGTERM');
  const timer = setTimeout(() => tier.child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

export async function startLocalTopology(options: TopologyOptions = {}): Promise<LocalTopology> {
  const host = options.host ?? '127.0.0.1';
  const common = [
    '--host', host,
    ...(options.policyFile ? ['--policy', options.policyFile] : []),
    '--log-level', options.logLevel ?? 'warn',
  ];
  const audit = (tier: string) => (options.auditDir ? ['--audit-log', path.join(options.auditDir, `${tier}.jsonl`)] : []);
  const links = new LinkSet();
  // A named link in front of a tier's port, with the default profile and the caller's changes.
  const addLink = (name: LinkName, listenPort: number, targetPort: number) =>
    links.add(name, { listenHost: host, listenPort, targetHost: host, targetPort, settings: { ...DEFAULT_LINKS[name], ...options.links?.[name] } });
  let cloud: TierProcess | undefined;
  let mec: TierProcess | undefined;
  let control: LinkControl | undefined;
  try {
    // The cloud serves the large detector; camera streams are the MEC node's (no MQTT there).
    let mecToCloud: string | undefined;
    if (options.cloud !== false) {
      cloud = await startTier('cloud', ['--role', 'cloud', '--port', String(options.cloudPort ?? 8090), '--no-mqtt', ...common, ...audit('cloud'), ...(options.cloudArgs ?? [])], options.onExit);
      const cloudPort = Number(new URL(cloud.url).port);
      const cloudLink = await addLink('mec-cloud', options.cloudLinkPort ?? 8091, cloudPort);
      mecToCloud = `http://${host}:${cloudLink.port}`;
    }
    const detector = options.mecDetector === undefined ? 'nanodet' : options.mecDetector;
    mec = await startTier(
      'mec',
      ['--role', 'mec', '--port', String(options.mecPort ?? 8080), ...(mecToCloud ? ['--cloud-url', mecToCloud] : []), ...(detector === null ? [] : ['--detector', detector]), ...common, ...audit('mec'), ...(options.redisUrl ? ['--redis', options.redisUrl] : []), ...(options.mecArgs ?? [])],
      options.onExit,
    );
    const mecPort = Number(new URL(mec.url).port);
    const deviceLink = await addLink('device-mec', options.deviceLinkPort ?? 8081, mecPort);
    control = await startLinkControl(links, { host, port: options.controlPort ?? 8079 });
    const tiers = { mec, cloud };
    const linkControl = control;
    let closed: Promise<void> | undefined;
    return {
      urls: { mec: mec.url, ...(cloud ? { cloud: cloud.url } : {}), deviceToMec: `http://${host}:${deviceLink.port}`, ...(mecToCloud ? { mecToCloud } : {}), control: linkControl.url },
      links,
      pids: { mec: mec.child.pid!, ...(cloud ? { cloud: cloud.child.pid! } : {}) },
      close() {
        closed ??= (async () => {
          await linkControl.close();
          await stopTier(tiers.mec);
          await links.close();
          await stopTier(tiers.cloud);
        })();
        return closed;
      },
    };
  } catch (error) {
    await control?.close().catch(() => undefined);
    await stopTier(mec);
    await links.close().catch(() => undefined);
    await stopTier(cloud);
    throw error;
  }
}
