/**
 * `mec blueprint up FILE` / `mec blueprint down [NAME]`: a blueprint's local topology on this machine
 * (services/blueprint/local-plan.ts -> services/topology/local-topology.ts). `up` stays in the
 * foreground and records itself in <state-dir>/<name>.json {pid, urls, startedAt}; `down` signals
 * that pid, waits for it to exit and removes the file.
 */
import { readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { PROJECT_ROOT } from '../core/config.ts';
import { EdgeError } from '../core/errors.ts';
import { checkBlueprintFile, formatProblem } from '../blueprint/load-blueprint.ts';
import { localPlan, type LocalPlan } from '../blueprint/local-plan.ts';
import { startLocalTopology, type LocalTopology, type TopologyUrls } from '../topology/local-topology.ts';

export const DEFAULT_STATE_DIR = path.join(PROJECT_ROOT, 'var', 'blueprint');
/** How long `down` waits after SIGTERM before SIGKILL. */
const DOWN_GRACE_MS = 10_000;

export interface BlueprintUpOptions {
  host: string;
  mecPort: number;
  cloudPort: number;
  deviceLinkPort: number;
  cloudLinkPort: number;
  controlPort: number;
  redis?: string;
  jobsPrefix?: string;
  mqtt?: string;
  auditDir?: string;
  logLevel: string;
  stateDir: string;
  repository?: string;
}

export interface BlueprintState {
  name: string;
  file: string;
  pid: number;
  urls: TopologyUrls;
  startedAt: string;
}

type Print = (line: string) => void;

function stateFile(stateDir: string, name: string): string {
  return path.join(stateDir, `${name}.json`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: it exists but is someone else's.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  // An exited process its parent has not reaped yet (a zombie) still answers signal 0: it has stopped.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

async function readState(file: string): Promise<BlueprintState | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as BlueprintState;
  } catch {
    return undefined;
  }
}

export function describeUp(plan: LocalPlan, urls: TopologyUrls, auditDir: string | undefined): string[] {
  return [
    `mec blueprint ${plan.name}: ${plan.cloud ? 'cloud and MEC node' : 'MEC node (no cloud tier)'} up`,
    `  MEC node    ${urls.mec}   (${plan.mecNode}; apps and cameras; docs ${urls.mec}/docs; metrics ${urls.mec}/metrics)`,
    `  cloud node  ${urls.cloud === undefined ? 'none in this blueprint' : `${urls.cloud}   (${plan.cloudNode})`}`,
    `  links       device-mec ${urls.deviceToMec} -> ${urls.mec}${urls.mecToCloud === undefined ? '' : `; mec-cloud ${urls.mecToCloud} -> ${urls.cloud}`}`,
    `  control     ${urls.control}   (mec link show | mec link set device-mec --latency-ms 50 | --down | --up)`,
    ...(auditDir === undefined ? [] : [`  audit logs  ${auditDir}/{mec,cloud}.jsonl   (mec audit verify FILE)`]),
    ...plan.notes.map((note) => `  note        ${note}`),
    `  stop        Ctrl-C, or mec blueprint down ${plan.name}`,
  ];
}

/**
 * Validates, starts and records the topology; resolves with the exit code only when it did not start
 * (1 invalid or already running, 2 unreadable). Once up, the process ends on SIGINT/SIGTERM.
 */
export async function blueprintUp(file: string, options: BlueprintUpOptions, out: Print, err: Print): Promise<number> {
  let check;
  try {
    check = await checkBlueprintFile(file, options.repository === undefined ? {} : { repository: options.repository });
  } catch (error) {
    if (error instanceof EdgeError && error.details?.unreadable === true) {
      err(`${file}: ${error.message}`);
      return 2;
    }
    throw error;
  }
  if (check.blueprint === undefined) {
    for (const problem of check.problems) out(formatProblem(file, problem));
    err(`${file}: invalid (${check.problems.length} problem${check.problems.length === 1 ? '' : 's'}); nothing started`);
    return 1;
  }
  const stateDir = path.resolve(options.stateDir);
  const name = String((check.blueprint.metadata as Record<string, unknown>).name);
  const own = stateFile(stateDir, name);
  const previous = await readState(own);
  if (previous !== undefined && alive(previous.pid)) {
    err(`mec blueprint up: ${name} is already running (pid ${previous.pid}, ${previous.urls.mec}); stop it with mec blueprint down ${name}`);
    return 1;
  }
  await mkdir(stateDir, { recursive: true });
  const plan = localPlan(check.blueprint, {
    file,
    ...(options.redis === undefined ? {} : { redisUrl: options.redis }),
    ...(options.jobsPrefix === undefined ? {} : { jobsPrefix: options.jobsPrefix }),
    ...(options.mqtt === undefined ? {} : { mqttUrl: options.mqtt }),
    syncCacheDir: path.join(stateDir, `${name}.sync`),
  });
  let policyFile: string;
  if ('file' in plan.policy) {
    policyFile = plan.policy.file;
  } else {
    // The nodes read a policy file: the inline policy is written out next to the state file.
    policyFile = path.join(stateDir, `${name}.policy.yaml`);
    await writeFile(policyFile, stringify(plan.policy.inline, { lineWidth: 0 }));
  }
  const auditDir = options.auditDir === undefined ? undefined : path.resolve(options.auditDir);
  const stopping = { now: false };
  let topology: LocalTopology | undefined;
  const stop = async (code: number): Promise<void> => {
    if (stopping.now) return;
    stopping.now = true;
    await topology?.close().catch(() => undefined);
    await rm(own, { force: true });
    process.exit(code);
  };
  // Registered before the (slow) start so that a signal during it still stops the tiers.
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
  topology = await startLocalTopology({
    host: options.host,
    mecPort: options.mecPort,
    cloudPort: options.cloudPort,
    deviceLinkPort: options.deviceLinkPort,
    cloudLinkPort: options.cloudLinkPort,
    controlPort: options.controlPort,
    cloud: plan.cloud,
    links: plan.links,
    policyFile,
    logLevel: options.logLevel,
    // The plan's args carry the detector (or none).
    mecDetector: null,
    mecArgs: plan.mecArgs,
    cloudArgs: plan.cloudArgs,
    ...(auditDir === undefined ? {} : { auditDir }),
    onExit: (tier, code, signal) => {
      if (stopping.now) return;
      err(`mec blueprint up: the ${tier} node exited (${signal ?? `code ${code}`}); stopping the topology`);
      void stop(1);
    },
  });
  if (stopping.now) {
    await topology.close();
    return 0;
  }
  const state: BlueprintState = { name, file: path.resolve(file), pid: process.pid, urls: topology.urls, startedAt: new Date().toISOString() };
  await writeFile(own, `${JSON.stringify(state, null, 2)}\n`);
  for (const line of describeUp(plan, topology.urls, auditDir)) out(line);
  return new Promise<number>(() => undefined);
}

/** Returns the exit code: 0 stopped, 1 nothing running (or NAME not running), 2 several running and no NAME. */
export async function blueprintDown(name: string | undefined, options: { stateDir: string }, out: Print, err: Print): Promise<number> {
  const stateDir = path.resolve(options.stateDir);
  let names: string[];
  if (name !== undefined) {
    names = [name];
  } else {
    const entries = await readdir(stateDir).catch(() => [] as string[]);
    names = entries.filter((entry) => entry.endsWith('.json')).map((entry) => entry.slice(0, -'.json'.length));
    if (names.length > 1) {
      err(`mec blueprint down: ${names.length} blueprints are running (${names.join(', ')}); name one`);
      return 2;
    }
  }
  const target = names[0];
  const state = target === undefined ? undefined : await readState(stateFile(stateDir, target));
  if (target === undefined || state === undefined) {
    err(`mec blueprint down: ${target === undefined ? 'no blueprint is running' : `${target} is not running`} (nothing in ${stateDir})`);
    return 1;
  }
  const file = stateFile(stateDir, target);
  if (!alive(state.pid)) {
    await rm(file, { force: true });
    err(`mec blueprint down: ${target} is not running (pid ${state.pid} is gone); removed its stale state file`);
    return 1;
  }
  process.kill(state.pid, 'SIGTERM');
  const deadline = Date.now() + DOWN_GRACE_MS;
  while (alive(state.pid) && Date.now() < deadline) await sleep(100);
  let forced = false;
  if (alive(state.pid)) {
    forced = true;
    process.kill(state.pid, 'SIGKILL');
    const killDeadline = Date.now() + 5_000;
    while (alive(state.pid) && Date.now() < killDeadline) await sleep(50);
    if (alive(state.pid)) {
      err(`mec blueprint down: ${target} (pid ${state.pid}) did not exit even after SIGKILL; its state file is kept`);
      return 1;
    }
  }
  await rm(file, { force: true });
  out(`mec blueprint down: ${target} stopped (pid ${state.pid}${forced ? `, killed after ${DOWN_GRACE_MS / 1000} s` : ''})`);
  return 0;
}
