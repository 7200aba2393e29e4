/**
 * The semantic half of blueprint validation, what a JSON Schema cannot say: models exist and suit
 * their tier, the serve table matches what nodes load, the policy is valid and the blueprint's own
 * placements obey it (restricted data never on the cloud), cameras fit the defect model, names are
 * unique. Written defensively: it runs on documents that also broke the schema, so that one run
 * reports every problem.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { EdgeError } from '../core/errors.ts';
import { parsePolicy, policyVersion, type PlacementPolicy, type PolicyProblem } from '../scheduler/policy.ts';
import { DATA_CLASSES, PLACEMENT_TASKS, TIERS, type DataClass, type PlacementTask, type Tier } from '../scheduler/types.ts';
import { VARIANTS } from '../dispatch/catalog.ts';
import { CARD_TASK_OF, TIER_TASKS, type ModelCards } from './model-cards.ts';
import type { UnplacedProblem } from './problem.ts';

/** Policies are a few KB; a bigger file is a wrong path. */
const MAX_POLICY_BYTES = 1024 * 1024;
/** Rendered objects are named "<blueprint>-<node>", and a Service name is a DNS-1123 label. */
const MAX_OBJECT_NAME = 63;

export interface InlinePolicySource {
  /** The inline policy's YAML text, indented as in the blueprint, and the blueprint line it starts on. */
  text: string;
  firstLine: number;
}

export interface CheckContext {
  baseDir: string;
  cards: ModelCards;
  /** The inline policy's source, when spec.policy.inline is a mapping. */
  inlinePolicy?: InlinePolicySource;
}

export interface CheckResult {
  problems: UnplacedProblem[];
  policy?: PlacementPolicy;
}

type Rec = Record<string, unknown>;

function isRec(value: unknown): value is Rec {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

interface NodeRef {
  tier: Tier;
  name: string | undefined;
  path: string;
  models: string[];
  mqtt: boolean;
}

export async function checkSemantics(value: unknown, context: CheckContext): Promise<CheckResult> {
  const problems: UnplacedProblem[] = [];
  const add = (path: string, message: string, hint: string, line?: number) => problems.push({ path, message, hint, ...(line === undefined ? {} : { line }) });
  const root = isRec(value) ? value : {};
  const metadata = isRec(root.metadata) ? root.metadata : {};
  const spec = isRec(root.spec) ? root.spec : {};
  const tiers = isRec(spec.tiers) ? spec.tiers : {};
  const blueprintName = str(metadata.name);

  // Nodes of every tier; devices count as one pseudo-node per kind.
  const nodes: NodeRef[] = [];
  for (const tier of ['cloud', 'mec'] as const) {
    const section = isRec(tiers[tier]) ? tiers[tier] : {};
    list(section.nodes).forEach((node, index) => {
      if (!isRec(node)) return;
      nodes.push({
        tier,
        name: str(node.name),
        path: `/spec/tiers/${tier}/nodes/${index}`,
        models: list(node.models).filter((model): model is string => typeof model === 'string'),
        mqtt: isRec(node.mqtt) && node.mqtt.enabled === true,
      });
    });
  }
  const devices: NodeRef[] = [];
  list(tiers.devices).forEach((device, index) => {
    if (!isRec(device)) return;
    devices.push({ tier: 'device', name: str(device.kind), path: `/spec/tiers/devices/${index}`, models: list(device.models).filter((model): model is string => typeof model === 'string'), mqtt: false });
  });
  const present = new Set<Tier>([...nodes.map((node) => node.tier), ...(devices.length > 0 ? (['device'] as const) : [])]);

  // Names unique: nodes share one namespace (each becomes a Deployment and a Service).
  const firstSeen = new Map<string, string>();
  for (const node of nodes) {
    if (node.name === undefined) continue;
    const earlier = firstSeen.get(node.name);
    if (earlier !== undefined) add(`${node.path}/name`, `node name "${node.name}" is already used by ${earlier}`, 'give every cloud and MEC node its own name');
    else firstSeen.set(node.name, node.path);
    if (blueprintName !== undefined && `${blueprintName}-${node.name}`.length > MAX_OBJECT_NAME) {
      add(`${node.path}/name`, `"${blueprintName}-${node.name}" (the rendered object name) is longer than ${MAX_OBJECT_NAME} characters`, 'shorten the node name or metadata.name');
    }
  }
  const kinds = new Map<string, string>();
  for (const device of devices) {
    if (device.name === undefined) continue;
    const earlier = kinds.get(device.name);
    if (earlier !== undefined) add(`${device.path}/kind`, `device kind "${device.name}" is already described at ${earlier}`, 'merge the two entries (add their counts) or rename one');
    else kinds.set(device.name, device.path);
  }

  // Models: each exists with a card, and its task suits the tier that loads it.
  const available = await context.cards.available();
  // Relative to where the operator stands when the repository is below it; absolute otherwise.
  const relative = path.relative(process.cwd(), context.cards.repository);
  const repositoryShown = relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : context.cards.repository;
  const modelHint = (name: string) => `use one of ${available.join(', ')}, or add ${path.join(repositoryShown, name, 'card.json')}`;
  for (const holder of [...nodes, ...devices]) {
    const listPath = `${holder.path}/models`;
    for (const [index, name] of holder.models.entries()) {
      const facts = await context.cards.facts(name);
      if (typeof facts === 'string') {
        add(`${listPath}/${index}`, facts, modelHint(name));
        continue;
      }
      if (!TIER_TASKS[holder.tier].includes(facts.task)) {
        const fits = TIERS.filter((tier) => TIER_TASKS[tier].includes(facts.task));
        add(`${listPath}/${index}`, `${name} does ${facts.task}, which the ${holder.tier} tier cannot serve`, `load it on the ${fits.join(' or ')} tier instead`);
      } else if (holder.tier === 'device' && VARIANTS[name]?.variant === 'large') {
        add(`${listPath}/${index}`, `${name} is a large variant, meant for the cloud, not for devices`, `run a small variant on devices (${Object.keys(VARIANTS).filter((model) => VARIANTS[model]!.variant === 'small' && VARIANTS[model]!.task === VARIANTS[name]!.task).join(', ')})`);
      }
      for (const part of facts.frontEnd) {
        if (!holder.models.includes(part)) add(`${listPath}/${index}`, `${name} needs its front end model ${part} on the same node`, `add ${part} to this node's models`);
      }
    }
  }

  // The serve table: each variant exists, does the task, and is loaded where it serves.
  const models = isRec(spec.models) ? spec.models : {};
  const servedOn = (task: PlacementTask): Tier[] => (isRec(models[task]) ? TIERS.filter((tier) => list((models[task] as Rec)[tier]).length > 0) : []);
  for (const task of PLACEMENT_TASKS) {
    const byTier = models[task];
    if (!isRec(byTier)) continue;
    for (const tier of TIERS) {
      const tierPath = `/spec/models/${task}/${tier}`;
      if (byTier[tier] === undefined) continue;
      if (!present.has(tier)) {
        add(tierPath, `${task} is served on the ${tier} tier, but spec.tiers has no ${tier === 'device' ? 'devices' : `${tier} nodes`}`, `add the ${tier} tier under spec.tiers or remove this line`);
        continue;
      }
      for (const [index, name] of list(byTier[tier]).entries()) {
        if (typeof name !== 'string') continue;
        const variantPath = `${tierPath}/${index}`;
        const facts = await context.cards.facts(name);
        if (typeof facts === 'string') {
          add(variantPath, facts, modelHint(name));
          continue;
        }
        if (facts.task !== CARD_TASK_OF[task]) {
          add(variantPath, `${name} does ${facts.task}, not ${CARD_TASK_OF[task]} (task ${task})`, `list a ${CARD_TASK_OF[task]} model here`);
          continue;
        }
        const holders = tier === 'device' ? devices : nodes.filter((node) => node.tier === tier);
        if (tier === 'device') {
          if (!holders.some((device) => device.models.includes(name))) add(variantPath, `no device kind runs ${name}`, `add ${name} to the models of a device kind`);
        } else {
          for (const node of holders) {
            if (!node.models.includes(name)) add(variantPath, `${tier} node "${node.name ?? '?'}" does not load ${name}, which serves ${task} on its tier`, `add ${name} to ${node.path}/models`);
          }
        }
      }
    }
  }

  // The policy: exactly one source, valid by its own schema.
  const policyResult = await checkPolicy(spec.policy, context, add);

  // The blueprint's own placements obey the policy; restricted data never reaches the cloud.
  const policy = policyResult;
  const jobs = isRec(spec.jobs) ? spec.jobs : undefined;
  if (jobs !== undefined) {
    const jobTier: Tier = jobs.tier === 'cloud' ? 'cloud' : 'mec';
    if (!present.has(jobTier)) add('/spec/jobs/tier', `jobs run on the ${jobTier} tier, which has no nodes`, `add ${jobTier} nodes or set tier to ${jobTier === 'cloud' ? 'mec' : 'cloud'}`);
    const dataClass = isDataClassValue(jobs.dataClass) ? jobs.dataClass : policy?.spec.defaults.dataClass;
    const classPath = jobs.dataClass === undefined ? '/spec/jobs' : '/spec/jobs/dataClass';
    if (dataClass === 'restricted' && jobTier === 'cloud') {
      add(classPath, 'restricted job data would be processed on the cloud; restricted data never leaves the MEC node', 'run these jobs on the mec tier (tier: mec) or use a less sensitive data class');
    } else if (dataClass !== undefined && policy !== undefined && !policy.spec.dataClasses[dataClass].tiers.includes(jobTier)) {
      add(classPath, `the policy ${policyVersion(policy)} does not let ${dataClass} data reach the ${jobTier} tier, where these jobs run`, `run the jobs on a tier the policy allows (${policy.spec.dataClasses[dataClass].tiers.join(', ')})`);
    }
    for (const [index, task] of list(jobs.tasks).entries()) {
      if (typeof task === 'string' && isPlacementTask(task) && !servedOn(task).includes(jobTier)) {
        add(`/spec/jobs/tasks/${index}`, `${task} jobs run on the ${jobTier} tier, which does not serve ${task}`, `add a ${task} variant for ${jobTier} under spec.models.${task}`);
      }
    }
  }
  if (policy !== undefined) {
    for (const task of PLACEMENT_TASKS) {
      const tiersServing = servedOn(task);
      if (tiersServing.length === 0) continue;
      const dataClass = policy.spec.tasks[task]?.dataClass ?? policy.spec.defaults.dataClass;
      const allowed = policy.spec.dataClasses[dataClass].tiers;
      if (!tiersServing.some((tier) => allowed.includes(tier))) {
        const why = dataClass === 'restricted' && tiersServing.every((tier) => tier === 'cloud') ? ' (restricted data never leaves the MEC node)' : '';
        add(`/spec/models/${task}`, `${task} data is ${dataClass} under ${policyVersion(policy)}, which may reach ${allowed.join(', ')}, but ${task} is served only on ${tiersServing.join(', ')}${why}`, `serve ${task} on ${allowed.filter((tier) => tier !== 'device').join(' or ')} too`);
      }
    }
    // Images that need faces blurred before the cloud are blurred where they leave: the MEC node.
    const blurClasses = DATA_CLASSES.filter((dataClass) => policy.spec.dataClasses[dataClass].transforms.cloud?.includes('blur-faces'));
    if (blurClasses.length > 0 && servedOn('detect').includes('cloud')) {
      for (const node of nodes.filter((candidate) => candidate.tier === 'mec')) {
        const faceDetectors = [];
        for (const name of node.models) {
          const facts = await context.cards.facts(name);
          if (typeof facts !== 'string' && facts.task === 'face-detection') faceDetectors.push(name);
        }
        if (faceDetectors.length === 0) {
          add(`${node.path}/models`, `${policyVersion(policy)} blurs faces in ${blurClasses.join(', ')} images before they reach the cloud, but MEC node "${node.name ?? '?'}" loads no face detector`, 'add blazeface to its models');
        }
      }
    }
    for (const [index, device] of list(tiers.devices).entries()) {
      if (!isRec(device) || !isDataClassValue(device.dataClass)) continue;
      const allowed = policy.spec.dataClasses[device.dataClass].tiers;
      const reachable = TIERS.filter((tier) => present.has(tier) && allowed.includes(tier));
      if (!reachable.some((tier) => tier !== 'device')) add(`/spec/tiers/devices/${index}/dataClass`, `${device.dataClass} data may reach no tier of this blueprint besides the device`, 'add a MEC node or use another data class');
    }
  }

  // Cameras: their node exists and speaks their transport, their surface is known to the defect card.
  const streams = isRec(spec.streams) ? spec.streams : {};
  const cameraIds = new Map<string, number>();
  const inspectModels = isRec(models.inspect) ? list((models.inspect as Rec).mec).filter((name): name is string => typeof name === 'string') : [];
  const surfaces = new Set<string>();
  for (const name of inspectModels) {
    const facts = await context.cards.facts(name);
    if (typeof facts !== 'string') for (const surface of facts.surfaces) surfaces.add(surface);
  }
  for (const [index, camera] of list(streams.cameras).entries()) {
    if (!isRec(camera)) continue;
    const cameraPath = `/spec/streams/cameras/${index}`;
    const id = str(camera.id);
    if (id !== undefined) {
      if (cameraIds.has(id)) add(`${cameraPath}/id`, `camera id "${id}" is already used by camera ${cameraIds.get(id)}`, 'give every camera its own id (it is its MQTT topic and metric label)');
      else cameraIds.set(id, index);
    }
    const nodeName = str(camera.node);
    if (nodeName !== undefined) {
      const node = nodes.find((candidate) => candidate.name === nodeName && candidate.tier === 'mec');
      if (node === undefined) {
        add(`${cameraPath}/node`, `no MEC node is called "${nodeName}"`, `name one of the MEC nodes: ${nodes.filter((candidate) => candidate.tier === 'mec').map((candidate) => candidate.name).join(', ')}`);
      } else if (camera.transport === 'mqtt' && !node.mqtt) {
        add(`${cameraPath}/transport`, `camera streams over MQTT, but MEC node "${nodeName}" has no MQTT bridge`, `set mqtt: {enabled: true} on ${node.path} or use transport: websocket`);
      }
    }
    const surface = str(camera.surface);
    if (surface !== undefined) {
      if (inspectModels.length === 0) add(`${cameraPath}/surface`, 'cameras need inspection at the MEC tier, but spec.models.inspect.mec lists no model', 'add inspect: {mec: [defect]} under spec.models');
      else if (!surfaces.has(surface)) add(`${cameraPath}/surface`, `surface "${surface}" is unknown to ${inspectModels.join(', ')} (no threshold in its card)`, `use one of ${[...surfaces].sort().join(', ')}`);
    }
    if (policy !== undefined && isDataClassValue(camera.dataClass) && !policy.spec.dataClasses[camera.dataClass].tiers.includes('mec')) {
      add(`${cameraPath}/dataClass`, `the policy ${policyVersion(policy)} does not let ${camera.dataClass} data reach the MEC tier, where camera frames are inspected`, 'use a data class the policy allows on mec');
    }
  }

  // Links: jitter is applied per direction on half the round trip; more than that would be negative delay.
  const links = isRec(spec.links) ? spec.links : {};
  for (const name of ['device-mec', 'mec-cloud']) {
    const link = links[name];
    // An out-of-range latency is the schema's to report; comparing with it would only add noise.
    if (!isRec(link) || typeof link.jitterMs !== 'number' || typeof link.latencyMs !== 'number' || link.latencyMs < 0) continue;
    if (link.jitterMs > link.latencyMs / 2) {
      add(`/spec/links/${name}/jitterMs`, `jitter ${link.jitterMs} ms is more than half the ${link.latencyMs} ms round trip (each direction is delayed latencyMs / 2 +- jitterMs)`, `lower jitterMs to at most ${link.latencyMs / 2} or raise latencyMs`);
    }
  }

  const sync = isRec(spec.sync) ? spec.sync : undefined;
  if (sync?.enabled === true && !present.has('cloud')) add('/spec/sync/enabled', 'sync pulls models and policies from the cloud, but there is no cloud tier', 'add spec.tiers.cloud or set enabled: false');

  return { problems, ...(policy === undefined ? {} : { policy }) };
}

function isDataClassValue(value: unknown): value is DataClass {
  return typeof value === 'string' && (DATA_CLASSES as readonly string[]).includes(value);
}

function isPlacementTask(value: string): value is PlacementTask {
  return (PLACEMENT_TASKS as readonly string[]).includes(value);
}

async function checkPolicy(
  value: unknown,
  context: CheckContext,
  add: (path: string, message: string, hint: string, line?: number) => void,
): Promise<PlacementPolicy | undefined> {
  if (!isRec(value)) return undefined; // the schema reports a missing or malformed policy
  const hasFile = value.file !== undefined;
  const hasInline = value.inline !== undefined;
  if (hasFile === hasInline) {
    add('/spec/policy', hasFile ? 'policy gives both file and inline' : 'policy gives neither file nor inline', 'give exactly one: file: policies/default.yaml, or inline: a whole PlacementPolicy document');
    return undefined;
  }
  if (hasFile) {
    if (typeof value.file !== 'string') return undefined;
    const file = path.resolve(context.baseDir, value.file);
    let text: string;
    try {
      const info = await stat(file);
      if (!info.isFile()) throw new Error('not a regular file');
      if (info.size > MAX_POLICY_BYTES) throw new Error(`${info.size} bytes, more than a policy may have`);
      text = await readFile(file, 'utf8');
    } catch (error) {
      const policies = path.join(context.baseDir, 'policies');
      const found = await listYaml(policies);
      const choices = found.length > 0 ? ` (there: ${found.join(', ')})` : '';
      add('/spec/policy/file', `cannot read the policy file ${file}: ${(error as Error).message}`, `the path is relative to the blueprint's folder; point it at a file under policies/${choices}`);
      return undefined;
    }
    try {
      return parsePolicy(text, value.file);
    } catch (error) {
      for (const problem of policyProblems(error)) {
        add('/spec/policy/file', `${value.file}${problem.line === undefined ? '' : `:${problem.line}`}: ${problem.path === '' ? '' : `${problem.path}: `}${problem.message}`, `fix the policy file (its schema: services/scheduler/policy.ts, docs/placement.md)`);
      }
      return undefined;
    }
  }
  if (!isRec(value.inline) || context.inlinePolicy === undefined) return undefined;
  try {
    return parsePolicy(context.inlinePolicy.text, 'inline policy');
  } catch (error) {
    for (const problem of policyProblems(error)) {
      const line = problem.line === undefined ? undefined : context.inlinePolicy.firstLine + problem.line - 1;
      add('/spec/policy/inline', `${problem.path === '' ? '' : `${problem.path}: `}${problem.message}`, 'fix the inline policy (its schema: services/scheduler/policy.ts, docs/placement.md)', line);
    }
    return undefined;
  }
}

function policyProblems(error: unknown): PolicyProblem[] {
  if (error instanceof EdgeError && error.code === 'EDGE_ERR_POLICY_INVALID') {
    const errors = (error.details as { errors?: PolicyProblem[] } | undefined)?.errors;
    if (Array.isArray(errors) && errors.length > 0) return errors;
  }
  return [{ path: '', message: (error as Error).message }];
}

async function listYaml(folder: string): Promise<string[]> {
  try {
    return (await readdir(folder)).filter((name) => /\.ya?ml$/.test(name)).sort();
  } catch {
    return [];
  }
}
