/**
 * `mec blueprint up FILE` / `mec blueprint down [NAME]`: a blueprint's local topology on this machine
 * (services/blueprint/local-plan.ts -> services/topology/local-topology.ts). `up` stays in the
 * foreground and records itself in <state-dir>/<name>.json {pid, urls, startedAt}; `down` signals
 * that pid, waits for it to exit and removes the file.
 */
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { EdgeError } from '../core/errors.ts';
import { checkBlueprintFile, formatProblem } from '../blueprint/load-blueprint.ts';
import { LOCAL_MQTT_URL, LOCAL_REDIS_URL, localPlan, type LocalPlan, type LocalPlanOptions } from '../blueprint/local-plan.ts';
import type { LinkSettings } from '../links/link-settings.ts';
import { redisAnswers } from '../offload/index.ts';
import { brokerAnswers } from '../streams/broker-probe.ts';
import { startBlueprintSimulation, type BlueprintSimulation } from '../topology/blueprint-simulation.ts';
import { startLocalTopology, type LocalTopology, type TopologyUrls } from '../topology/local-topology.ts';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from './exit-codes.ts';
import { alive, readState, stateFile, type BlueprintState } from './blueprint-state.ts';
import { topologyAddresses, type TopologyAddresses } from './topology-options.ts';

/** How long `down` waits after SIGTERM before SIGKILL. */
const DOWN_GRACE_MS = 10_000;

export interface BlueprintUpOptions extends TopologyAddresses {
  redis?: string;
  jobsPrefix?: string;
  /** A broker URL, or false (`--no-mqtt`): no MQTT bridge on the MEC node. */
  mqtt?: string | false;
  auditDir?: string;
  logLevel: string;
  stateDir: string;
  repository?: string;
  /** Run a phone and the blueprint's cameras beside the tiers (services/topology/blueprint-simulation.ts). */
  simulate?: boolean;
  /** The simulated phone's interval; with `simulate`; unset: no phone. */
  deviceIntervalMs?: number;
  /** With `simulate`: false leaves the blueprint's cameras out. */
  simulateCameras?: boolean;
  /** `mec up`'s flags: a policy file instead of the blueprint's, and link settings over the blueprint's. */
  policy?: string;
  links?: { 'device-mec'?: Partial<LinkSettings>; 'mec-cloud'?: Partial<LinkSettings> };
}

type Print = (line: string) => void;

export function describeUp(plan: LocalPlan, urls: TopologyUrls, auditDir: string | undefined, simulated: readonly string[] = []): string[] {
  return [
    `mec blueprint ${plan.name}: ${plan.cloud ? 'cloud and MEC node' : 'MEC node (no cloud tier)'} up`,
    `  MEC node    ${urls.mec}   (${plan.mecNode}; apps and cameras; live dashboard ${urls.mec}/; docs ${urls.mec}/docs; metrics ${urls.mec}/metrics)`,
    `  cloud node  ${urls.cloud === undefined ? 'none in this blueprint' : `${urls.cloud}   (${plan.cloudNode})`}`,
    `  links       device-mec ${urls.deviceToMec} -> ${urls.mec}${urls.mecToCloud === undefined ? '' : `; mec-cloud ${urls.mecToCloud} -> ${urls.cloud}`}`,
    `  control     ${urls.control}   (mec link show | mec link set device-mec --latency-ms 50 | --down | --up)`,
    ...(auditDir === undefined ? [] : [`  audit logs  ${auditDir}/{mec,cloud}.jsonl   (mec audit verify FILE)`]),
    ...(plan.jobs ? [`  jobs        POST ${urls.mec}/v1/jobs   (durable, Redis; docs/jobs.md)`] : []),
    ...simulated.map((part) => `  simulated   ${part}`),
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
      return EXIT_USAGE;
    }
    throw error;
  }
  if (check.blueprint === undefined) {
    for (const problem of check.problems) out(formatProblem(file, problem));
    err(`${file}: invalid (${check.problems.length} problem${check.problems.length === 1 ? '' : 's'}); nothing started`);
    return EXIT_FAILURE;
  }
  const stateDir = path.resolve(options.stateDir);
  const name = String((check.blueprint.metadata as Record<string, unknown>).name);
  const own = stateFile(stateDir, name);
  const previous = await readState(own);
  if (previous !== undefined && alive(previous.pid)) {
    err(`mec blueprint up: ${name} is already running (pid ${previous.pid}, ${previous.urls.mec}); stop it with mec blueprint down ${name}`);
    return EXIT_FAILURE;
  }
  await mkdir(stateDir, { recursive: true });
  const planOptions: LocalPlanOptions = {
    file,
    ...(options.redis === undefined ? {} : { redisUrl: options.redis }),
    ...(options.jobsPrefix === undefined ? {} : { jobsPrefix: options.jobsPrefix }),
    ...(options.mqtt === undefined ? {} : { mqttUrl: options.mqtt }),
    syncCacheDir: path.join(stateDir, `${name}.sync`),
  };
  let plan = localPlan(check.blueprint, planOptions);
  // A trial on a machine without Redis or Mosquitto still comes up, without durable jobs or the MQTT
  // bridge (cameras then stream over WebSocket), and says so.
  if (plan.jobs && !(await redisAnswers(options.redis ?? LOCAL_REDIS_URL))) planOptions.redisUnavailable = true;
  const brokerUrl = typeof options.mqtt === 'string' ? options.mqtt : LOCAL_MQTT_URL;
  if (plan.mecArgs.includes('--mqtt') && !(await brokerAnswers(brokerUrl))) {
    planOptions.mqttUrl = false;
    planOptions.mqttOffBecause = `no MQTT broker answers at ${brokerUrl}`;
  }
  plan = localPlan(check.blueprint, planOptions);
  for (const link of ['device-mec', 'mec-cloud'] as const) {
    const own = plan.links[link];
    if (own !== undefined && options.links?.[link] !== undefined) plan.links[link] = { ...own, ...options.links[link] };
  }
  let policyFile: string;
  if (options.policy !== undefined) {
    policyFile = path.resolve(options.policy);
  } else if ('file' in plan.policy) {
    policyFile = plan.policy.file;
  } else {
    // The nodes read a policy file: the inline policy is written out next to the state file.
    policyFile = path.join(stateDir, `${name}.policy.yaml`);
    await writeFile(policyFile, stringify(plan.policy.inline, { lineWidth: 0 }));
  }
  const auditDir = options.auditDir === undefined ? undefined : path.resolve(options.auditDir);
  const stopping = { now: false };
  let topology: LocalTopology | undefined;
  let simulation: BlueprintSimulation | undefined;
  const stop = async (code: number): Promise<void> => {
    if (stopping.now) return;
    stopping.now = true;
    await simulation?.close().catch(() => undefined);
    await topology?.close().catch(() => undefined);
    await rm(own, { force: true });
    process.exit(code);
  };
  // Registered before the (slow) start so that a signal during it still stops the tiers.
  process.on('SIGINT', () => void stop(EXIT_OK));
  process.on('SIGTERM', () => void stop(EXIT_OK));
  topology = await startLocalTopology({
    ...topologyAddresses(options),
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
      void stop(EXIT_FAILURE);
    },
  });
  if (stopping.now) {
    await topology.close();
    return EXIT_OK;
  }
  const state: BlueprintState = { name, file: path.resolve(file), pid: process.pid, urls: topology.urls, startedAt: new Date().toISOString() };
  await writeFile(own, `${JSON.stringify(state, null, 2)}\n`);
  if (options.simulate === true) {
    simulation = await startBlueprintSimulation({
      deviceToMecUrl: topology.urls.deviceToMec,
      mqttUrl: typeof options.mqtt === 'string' ? options.mqtt : LOCAL_MQTT_URL,
      ...(plan.mecDetector === undefined ? {} : { detector: plan.mecDetector }),
      ...(options.deviceIntervalMs === undefined ? {} : { deviceIntervalMs: options.deviceIntervalMs }),
      cameras: options.simulateCameras === false ? [] : plan.cameras,
      write: out,
    });
  }
  for (const line of describeUp(plan, topology.urls, auditDir, simulation?.parts)) out(line);
  return new Promise<number>(() => undefined);
}

/** Returns the exit code: EXIT_OK stopped, EXIT_FAILURE nothing running (or NAME not running), EXIT_USAGE several running and no NAME. */
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
      return EXIT_USAGE;
    }
  }
  const target = names[0];
  const state = target === undefined ? undefined : await readState(stateFile(stateDir, target));
  if (target === undefined || state === undefined) {
    err(`mec blueprint down: ${target === undefined ? 'no blueprint is running' : `${target} is not running`} (nothing in ${stateDir})`);
    return EXIT_FAILURE;
  }
  const file = stateFile(stateDir, target);
  if (!alive(state.pid)) {
    await rm(file, { force: true });
    err(`mec blueprint down: ${target} is not running (pid ${state.pid} is gone); removed its stale state file`);
    return EXIT_FAILURE;
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
      return EXIT_FAILURE;
    }
  }
  await rm(file, { force: true });
  out(`mec blueprint down: ${target} stopped (pid ${state.pid}${forced ? `, killed after ${DOWN_GRACE_MS / 1000} s` : ''})`);
  return EXIT_OK;
}
