/**
 * `mec link show` and `mec link set`: read and change the emulated network links of a running
 * local topology through its link control API (services/links/link-control.ts).
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { EdgeError, isErrorCode } from '../core/errors.ts';
import type { LinkSettings } from '../links/link-settings.ts';
import type { LinkStats } from '../links/link-proxy.ts';

export const DEFAULT_LINK_CONTROL_URL = 'http://127.0.0.1:8079';

/** What the control API answers: JSON carries "no bandwidth cap" as null. */
export type LinkStatsJson = Omit<LinkStats, 'settings'> & { settings: Omit<LinkSettings, 'bandwidthMbit'> & { bandwidthMbit: number | null } };

/** A PUT body: bandwidthMbit null lifts the cap. */
export type LinkSettingsChange = Partial<Omit<LinkSettings, 'bandwidthMbit'>> & { bandwidthMbit?: number | null };

export function controlUrlOf(flag: string | undefined): string {
  return (flag ?? process.env.MEC_LINK_CONTROL ?? DEFAULT_LINK_CONTROL_URL).replace(/\/+$/, '');
}

async function callControl<T>(controlUrl: string, path: string, init: RequestInit = {}): Promise<T> {
  let response: Response;
  try {
    response = await fetch(`${controlUrl}${path}`, { ...init, signal: AbortSignal.timeout(10_000) });
  } catch (error) {
    throw new EdgeError('EDGE_ERR_TOPOLOGY_UNREACHABLE', `no local topology answers at ${controlUrl}: start one with \`mec up\``, { cause: error });
  }
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new EdgeError('EDGE_ERR_TOPOLOGY_UNREACHABLE', `${controlUrl} answered ${response.status} with something that is not the link control API: is another program on that port?`);
  }
  if (!response.ok) {
    const failure = body as { error?: unknown; code?: unknown };
    const code = isErrorCode(failure.code) ? failure.code : 'EDGE_ERR_INTERNAL';
    throw new EdgeError(code, typeof failure.error === 'string' ? failure.error : `the link control API answered ${response.status}`);
  }
  return body as T;
}

export function fetchLinks(controlUrl: string): Promise<LinkStatsJson[]> {
  return callControl<LinkStatsJson[]>(controlUrl, '/links');
}

export function changeLink(controlUrl: string, name: string, change: LinkSettingsChange): Promise<LinkStatsJson> {
  return callControl<LinkStatsJson>(controlUrl, `/links/${encodeURIComponent(name)}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(change),
  });
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** A fixed-width table, one row per link. */
export function formatLinkTable(links: readonly LinkStatsJson[]): string {
  const header = ['NAME', 'LISTEN -> TARGET', 'LATENCY', 'JITTER', 'BANDWIDTH', 'MODE', 'CONNS', 'BYTES UP/DOWN'];
  const rows = links.map((link) => [
    link.name,
    `${link.listen} -> ${link.target}`,
    `${link.settings.latencyMs} ms`,
    `${link.settings.jitterMs} ms`,
    link.settings.bandwidthMbit === null ? 'no cap' : `${link.settings.bandwidthMbit} Mbit/s`,
    // A link that should listen but could not take its port back yet says so.
    link.settings.mode !== 'down' && !link.listening ? `${link.settings.mode} (not listening)` : link.settings.mode,
    String(link.connections),
    `${formatBytes(link.bytesUp)} / ${formatBytes(link.bytesDown)}`,
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  return [header, ...rows].map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()).join('\n') + '\n';
}

function milliseconds(name: string) {
  return (value: string): number => {
    const parsed = Number(value);
    if (value.trim() === '' || !Number.isFinite(parsed) || parsed < 0) throw new InvalidArgumentError(`${name} must be a number of milliseconds >= 0`);
    return parsed;
  };
}

/** "none" is Infinity here (commander would take a null for a missing value) and null in the JSON sent. */
function bandwidth(value: string): number {
  if (['none', 'inf', 'infinity', 'unlimited'].includes(value.trim().toLowerCase())) return Infinity;
  const parsed = Number(value);
  if (value.trim() === '' || !Number.isFinite(parsed) || parsed <= 0) throw new InvalidArgumentError('--bandwidth-mbit must be a number of Mbit/s above 0, or "none" for no cap');
  return parsed;
}

interface SetFlags {
  latencyMs?: number;
  jitterMs?: number;
  bandwidthMbit?: number;
  down?: boolean;
  up?: boolean;
  blackhole?: boolean;
  reset?: boolean;
  control?: string;
}

export function changeOf(flags: SetFlags): LinkSettingsChange {
  const mode = flags.down ? 'down' : flags.up ? 'up' : flags.blackhole ? 'blackhole' : flags.reset ? 'reset' : undefined;
  return {
    ...(flags.latencyMs === undefined ? {} : { latencyMs: flags.latencyMs }),
    ...(flags.jitterMs === undefined ? {} : { jitterMs: flags.jitterMs }),
    ...(flags.bandwidthMbit === undefined ? {} : { bandwidthMbit: Number.isFinite(flags.bandwidthMbit) ? flags.bandwidthMbit : null }),
    ...(mode === undefined ? {} : { mode }),
  };
}

const CONTROL_HELP = `link control API (default: env MEC_LINK_CONTROL or ${DEFAULT_LINK_CONTROL_URL})`;

export function registerLinkCommands(program: Command): void {
  const link = program.command('link').description('show and change the emulated network links of the local topology (device-mec, mec-cloud)');
  link
    .command('show')
    .description('print each link: listen -> target, latency, jitter, bandwidth, mode, connections, bytes')
    .option('--control <url>', CONTROL_HELP)
    .action(async (flags: { control?: string }) => {
      process.stdout.write(formatLinkTable(await fetchLinks(controlUrlOf(flags.control))));
    });
  const modes = ['down', 'up', 'blackhole', 'reset'] as const;
  const modeHelp: Record<(typeof modes)[number], string> = {
    down: 'refuse connections and close open ones',
    up: 'forward again',
    blackhole: 'accept connections but forward nothing (clients time out)',
    reset: 'reset open and new connections',
  };
  const set = link
    .command('set')
    .description('change a link at once (open connections too) and print its new settings')
    .argument('<name>', 'link name, e.g. device-mec or mec-cloud')
    .option('--latency-ms <n>', 'round-trip time added, ms (each direction gets half)', milliseconds('--latency-ms'))
    .option('--jitter-ms <n>', '+- uniform jitter per chunk and direction, ms', milliseconds('--jitter-ms'))
    .option('--bandwidth-mbit <n>', 'cap per direction, Mbit/s ("none": no cap)', bandwidth)
    .option('--control <url>', CONTROL_HELP);
  for (const mode of modes) {
    set.addOption(new Option(`--${mode}`, modeHelp[mode]).conflicts(modes.filter((other) => other !== mode)));
  }
  set.action(async (name: string, flags: SetFlags) => {
    const stats = await changeLink(controlUrlOf(flags.control), name, changeOf(flags));
    process.stdout.write(formatLinkTable([stats]));
  });
}
