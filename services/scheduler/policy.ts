/**
 * The privacy and placement policy: which tiers each data class may reach, the transforms data
 * needs before it may go there, and per-tenant / per-task defaults. Parsed from YAML once, checked
 * in full (every problem reported with its path and line, not just the first), then frozen.
 *
 * Pure: no I/O here (services/scheduler/policy-file.ts reads files), so the device SDK, the nodes
 * and the simulation share it.
 */
import { LineCounter, parseDocument } from 'yaml';
import { describeValue as show, lineOfPath } from '../core/yaml-document.ts';
import { EdgeError } from '../core/errors.ts';
import {
  DATA_CLASSES,
  PLACEMENT_TASKS,
  TIERS,
  TRANSFORMS,
  isDataClass,
  isTier,
  type DataClass,
  type PlacementTask,
  type Tier,
  type Transform,
} from './types.ts';

export const POLICY_API_VERSION = 'mec.placement/v1';
export const POLICY_KIND = 'PlacementPolicy';

/** How joint inference picks hard examples for the bigger model (Sedna's hard example mining). */
export const JOINT_INFERENCE_FILTERS = ['threshold', 'entropy'] as const;
export type JointInferenceFilter = (typeof JOINT_INFERENCE_FILTERS)[number];

export interface DataClassRule {
  /** Tiers data of this class may reach; any other tier is denied. */
  readonly tiers: readonly Tier[];
  /** Transforms required before the data may reach a tier (beyond 'strip-metadata', always done). */
  readonly transforms: Readonly<Partial<Record<Tier, readonly Transform[]>>>;
}

export interface DataClassDefault {
  readonly dataClass: DataClass;
}

export interface JointInferenceRule {
  readonly enabled: boolean;
  /** 'threshold': a result below `threshold` confidence is hard; 'entropy': above `threshold` normalised entropy. */
  readonly filter: JointInferenceFilter;
  readonly threshold: number;
}

export interface PlacementPolicy {
  readonly apiVersion: typeof POLICY_API_VERSION;
  readonly kind: typeof POLICY_KIND;
  readonly metadata: { readonly name: string; readonly version: number };
  readonly spec: {
    readonly dataClasses: Readonly<Record<DataClass, DataClassRule>>;
    readonly defaults: {
      readonly dataClass: DataClass;
      readonly deadlineMs: Readonly<Record<PlacementTask, number>>;
    };
    readonly tenants: Readonly<Record<string, DataClassDefault>>;
    readonly tasks: Readonly<Partial<Record<PlacementTask, DataClassDefault>>>;
    readonly jointInference: Readonly<Partial<Record<PlacementTask, JointInferenceRule>>>;
  };
}

/** One problem of a policy file: where (path in the document, line when known) and what. */
export interface PolicyProblem {
  path: string;
  line?: number;
  message: string;
}

/** Same rule as camera ids: safe in headers, logs and metric labels. */
const TENANT_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
/** The name goes into "name@version" in every answer and audit record. */
const POLICY_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const MAX_DEADLINE_MS = 3_600_000;
/** Policy files are small; anchors and aliases beyond this are an attack (billion laughs), not a policy. */
const MAX_ALIAS_COUNT = 100;

type PathSegment = string | number;
type Path = readonly PathSegment[];

export function policyVersion(policy: PlacementPolicy): string {
  return `${policy.metadata.name}@${policy.metadata.version}`;
}

/**
 * The data class of a request: a valid `x-data-class` header wins, then the tenant's default, then
 * the task's, then the policy default. A tenant's class is also a floor: a request may label its
 * data more sensitive than its tenant's, never less (a health-care tenant cannot send
 * `x-data-class: public` to reach the cloud). A header that names no class is refused, never ignored.
 */
export function resolveDataClass(
  policy: PlacementPolicy,
  request: { header?: string | undefined; tenant?: string | undefined; task: PlacementTask },
): DataClass {
  // Own properties only: a tenant called "constructor" must not find Object.prototype's.
  const { tenants, tasks, defaults } = policy.spec;
  const tenantClass = request.tenant !== undefined && Object.hasOwn(tenants, request.tenant) ? tenants[request.tenant]!.dataClass : undefined;
  if (request.header !== undefined) {
    const header = request.header.trim();
    if (!isDataClass(header)) {
      throw new EdgeError('EDGE_ERR_DATA_CLASS_INVALID', `x-data-class must be one of ${DATA_CLASSES.join(', ')}; got ${JSON.stringify(request.header)}`, {
        details: { header: 'x-data-class', allowed: [...DATA_CLASSES] },
      });
    }
    if (tenantClass !== undefined && DATA_CLASSES.indexOf(tenantClass) > DATA_CLASSES.indexOf(header)) return tenantClass;
    return header;
  }
  if (tenantClass !== undefined) return tenantClass;
  if (Object.hasOwn(tasks, request.task)) return tasks[request.task]!.dataClass;
  return defaults.dataClass;
}

/**
 * Parses and checks a policy document. `source` names it in messages (a file path, "cloud sync").
 * Throws EdgeError EDGE_ERR_POLICY_INVALID with details {source, errors: [{path, line?, message}]}.
 */
export function parsePolicy(text: string, source: string): PlacementPolicy {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    // A document that does not parse cannot be walked: report the syntax errors alone.
    throw policyInvalid(
      source,
      doc.errors.map((error) => ({ path: '', line: lineCounter.linePos(error.pos[0]).line, message: error.message })),
    );
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (error) {
    throw policyInvalid(source, [{ path: '', message: (error as Error).message }]);
  }
  const checker = new PolicyChecker();
  const policy = checker.policy(value);
  if (checker.problems.length > 0 || policy === undefined) {
    const problems = checker.problems.map(({ path, message }): PolicyProblem => {
      const line = lineOfPath(doc, lineCounter, path);
      return { path: formatPath(path), ...(line === undefined ? {} : { line }), message };
    });
    // In file order, as an editor walks them; Array.prototype.sort is stable for equal lines.
    throw policyInvalid(source, problems.sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity)));
  }
  return deepFreeze(policy);
}

function policyInvalid(source: string, errors: PolicyProblem[]): EdgeError {
  const lines = errors.map(({ path, line, message }) => `${source}${line === undefined ? '' : `:${line}`}: ${path === '' ? '' : `${path}: `}${message}`);
  return new EdgeError(
    'EDGE_ERR_POLICY_INVALID',
    `invalid placement policy ${source} (${errors.length} ${errors.length === 1 ? 'problem' : 'problems'}):\n  ${lines.join('\n  ')}`,
    { details: { source, errors } },
  );
}

/** Collects every problem of a policy value and builds the policy when there is none. */
class PolicyChecker {
  readonly problems: { path: Path; message: string }[] = [];

  private fail(path: Path, message: string): undefined {
    this.problems.push({ path, message });
    return undefined;
  }

  policy(value: unknown): PlacementPolicy | undefined {
    const root = this.object(value, [], ['apiVersion', 'kind', 'metadata', 'spec'], ['apiVersion', 'kind', 'metadata', 'spec']);
    if (root === undefined) return undefined;
    if (root.apiVersion !== undefined && root.apiVersion !== POLICY_API_VERSION) {
      this.fail(['apiVersion'], `must be "${POLICY_API_VERSION}"; got ${show(root.apiVersion)}`);
    }
    if (root.kind !== undefined && root.kind !== POLICY_KIND) this.fail(['kind'], `must be "${POLICY_KIND}"; got ${show(root.kind)}`);
    const metadata = root.metadata === undefined ? undefined : this.metadata(root.metadata, ['metadata']);
    const spec = root.spec === undefined ? undefined : this.spec(root.spec, ['spec']);
    if (metadata === undefined || spec === undefined || this.problems.length > 0) return undefined;
    return { apiVersion: POLICY_API_VERSION, kind: POLICY_KIND, metadata, spec };
  }

  private metadata(value: unknown, path: Path): PlacementPolicy['metadata'] | undefined {
    const metadata = this.object(value, path, ['name', 'version'], ['name', 'version']);
    if (metadata === undefined) return undefined;
    let name: string | undefined;
    if (metadata.name !== undefined) {
      if (typeof metadata.name === 'string' && POLICY_NAME.test(metadata.name)) name = metadata.name;
      else this.fail([...path, 'name'], `must be 1-64 of A-Z a-z 0-9 _ . - starting with a letter or digit; got ${show(metadata.name)}`);
    }
    let version: number | undefined;
    if (metadata.version !== undefined) {
      if (Number.isSafeInteger(metadata.version) && (metadata.version as number) >= 1) version = metadata.version as number;
      else this.fail([...path, 'version'], `must be a positive integer; got ${show(metadata.version)}`);
    }
    return name === undefined || version === undefined ? undefined : { name, version };
  }

  private spec(value: unknown, path: Path): PlacementPolicy['spec'] | undefined {
    const spec = this.object(value, path, ['dataClasses', 'defaults', 'tenants', 'tasks', 'jointInference'], ['dataClasses', 'defaults']);
    if (spec === undefined) return undefined;
    const dataClasses = spec.dataClasses === undefined ? undefined : this.dataClasses(spec.dataClasses, [...path, 'dataClasses']);
    const defaults = spec.defaults === undefined ? undefined : this.defaults(spec.defaults, [...path, 'defaults']);
    const tenants = spec.tenants === undefined ? {} : this.tenants(spec.tenants, [...path, 'tenants']);
    const tasks = spec.tasks === undefined ? {} : this.perTask(spec.tasks, [...path, 'tasks'], (rule, rulePath) => this.classDefault(rule, rulePath));
    const jointInference =
      spec.jointInference === undefined ? {} : this.perTask(spec.jointInference, [...path, 'jointInference'], (rule, rulePath) => this.jointInference(rule, rulePath));
    if (dataClasses === undefined || defaults === undefined || tenants === undefined || tasks === undefined || jointInference === undefined) return undefined;
    return { dataClasses, defaults, tenants, tasks, jointInference };
  }

  private dataClasses(value: unknown, path: Path): Record<DataClass, DataClassRule> | undefined {
    const classes = this.object(value, path, DATA_CLASSES, DATA_CLASSES);
    if (classes === undefined) return undefined;
    const rules: Partial<Record<DataClass, DataClassRule>> = {};
    for (const dataClass of DATA_CLASSES) {
      if (classes[dataClass] === undefined) continue;
      const rule = this.dataClassRule(dataClass, classes[dataClass], [...path, dataClass]);
      if (rule !== undefined) rules[dataClass] = rule;
    }
    return DATA_CLASSES.every((dataClass) => rules[dataClass] !== undefined) ? (rules as Record<DataClass, DataClassRule>) : undefined;
  }

  private dataClassRule(dataClass: DataClass, value: unknown, path: Path): DataClassRule | undefined {
    const rule = this.object(value, path, ['tiers', 'transforms'], ['tiers']);
    if (rule === undefined) return undefined;
    const tiers = rule.tiers === undefined ? undefined : this.uniqueList(rule.tiers, [...path, 'tiers'], TIERS, 'tier');
    if (tiers !== undefined && tiers.length === 0) this.fail([...path, 'tiers'], 'must list at least one tier');
    if (dataClass === 'restricted' && Array.isArray(rule.tiers)) {
      // The hard rule: whatever a file says, restricted data never leaves the MEC node.
      rule.tiers.forEach((tier: unknown, index) => {
        if (tier === 'cloud') this.fail([...path, 'tiers', index], '"cloud" is not allowed for restricted data (restricted data never leaves the MEC node)');
      });
    }
    const transforms: Partial<Record<Tier, readonly Transform[]>> = {};
    if (rule.transforms !== undefined) {
      const byTier = this.object(rule.transforms, [...path, 'transforms'], TIERS, []);
      for (const [tier, list] of Object.entries(byTier ?? {})) {
        if (!isTier(tier)) continue; // reported as an unknown field
        const tierPath = [...path, 'transforms', tier];
        if (tier === 'device') {
          this.fail(tierPath, 'transforms apply to data leaving the device; "device" takes none');
        } else if (dataClass === 'restricted' && tier === 'cloud') {
          this.fail(tierPath, 'restricted data never reaches the cloud, so it takes no transforms for it');
        } else if (tiers !== undefined && !tiers.includes(tier)) {
          this.fail(tierPath, `transforms for "${tier}", which ${dataClass} data may not reach (add it to tiers or remove this)`);
        }
        const parsed = this.uniqueList(list, tierPath, TRANSFORMS, 'transform');
        if (parsed !== undefined) transforms[tier] = parsed;
      }
    }
    return tiers === undefined ? undefined : { tiers, transforms };
  }

  private defaults(value: unknown, path: Path): PlacementPolicy['spec']['defaults'] | undefined {
    const defaults = this.object(value, path, ['dataClass', 'deadlineMs'], ['dataClass', 'deadlineMs']);
    if (defaults === undefined) return undefined;
    const dataClass = defaults.dataClass === undefined ? undefined : this.dataClass(defaults.dataClass, [...path, 'dataClass']);
    let deadlineMs: Record<PlacementTask, number> | undefined;
    if (defaults.deadlineMs !== undefined) {
      const deadlinePath = [...path, 'deadlineMs'];
      const byTask = this.object(defaults.deadlineMs, deadlinePath, PLACEMENT_TASKS, PLACEMENT_TASKS);
      if (byTask !== undefined) {
        const parsed: Partial<Record<PlacementTask, number>> = {};
        for (const task of PLACEMENT_TASKS) {
          const ms = byTask[task];
          if (ms === undefined) continue;
          if (Number.isSafeInteger(ms) && (ms as number) >= 1 && (ms as number) <= MAX_DEADLINE_MS) parsed[task] = ms as number;
          else this.fail([...deadlinePath, task], `must be an integer number of milliseconds from 1 to ${MAX_DEADLINE_MS}; got ${show(ms)}`);
        }
        if (PLACEMENT_TASKS.every((task) => parsed[task] !== undefined)) deadlineMs = parsed as Record<PlacementTask, number>;
      }
    }
    return dataClass === undefined || deadlineMs === undefined ? undefined : { dataClass, deadlineMs };
  }

  private tenants(value: unknown, path: Path): Record<string, DataClassDefault> | undefined {
    const byTenant = this.object(value, path, undefined, []);
    if (byTenant === undefined) return undefined;
    const tenants: Record<string, DataClassDefault> = {};
    let ok = true;
    for (const [tenant, rule] of Object.entries(byTenant)) {
      if (!TENANT_ID.test(tenant)) {
        this.fail([...path, tenant], 'a tenant id is 1-64 of A-Z a-z 0-9 _ . - starting with a letter or digit');
        ok = false;
        continue;
      }
      const parsed = this.classDefault(rule, [...path, tenant]);
      if (parsed === undefined) ok = false;
      else Object.defineProperty(tenants, tenant, { value: parsed, enumerable: true, writable: true, configurable: true });
    }
    return ok ? tenants : undefined;
  }

  /** A map keyed by task name (unknown tasks refused), each value checked by `check`. */
  private perTask<T>(value: unknown, path: Path, check: (rule: unknown, rulePath: Path) => T | undefined): Partial<Record<PlacementTask, T>> | undefined {
    const byTask = this.object(value, path, PLACEMENT_TASKS, []);
    if (byTask === undefined) return undefined;
    const rules: Partial<Record<PlacementTask, T>> = {};
    let ok = true;
    for (const task of PLACEMENT_TASKS) {
      if (byTask[task] === undefined) continue;
      const rule = check(byTask[task], [...path, task]);
      if (rule === undefined) ok = false;
      else rules[task] = rule;
    }
    return ok ? rules : undefined;
  }

  private classDefault(value: unknown, path: Path): DataClassDefault | undefined {
    const rule = this.object(value, path, ['dataClass'], ['dataClass']);
    if (rule === undefined || rule.dataClass === undefined) return undefined;
    const dataClass = this.dataClass(rule.dataClass, [...path, 'dataClass']);
    return dataClass === undefined ? undefined : { dataClass };
  }

  private jointInference(value: unknown, path: Path): JointInferenceRule | undefined {
    const rule = this.object(value, path, ['enabled', 'filter', 'threshold'], ['enabled', 'filter', 'threshold']);
    if (rule === undefined) return undefined;
    const { enabled, filter, threshold } = rule;
    const enabledOk = typeof enabled === 'boolean';
    const filterOk = isJointInferenceFilter(filter);
    // Both filters compare with a number in 0..1: a confidence, or an entropy normalised by its maximum.
    const thresholdOk = typeof threshold === 'number' && threshold >= 0 && threshold <= 1;
    if (!enabledOk && enabled !== undefined) this.fail([...path, 'enabled'], `must be true or false; got ${show(enabled)}`);
    if (!filterOk && filter !== undefined) this.fail([...path, 'filter'], `must be one of ${JOINT_INFERENCE_FILTERS.join(', ')}; got ${show(filter)}`);
    if (!thresholdOk && threshold !== undefined) this.fail([...path, 'threshold'], `must be a number from 0 to 1; got ${show(threshold)}`);
    return enabledOk && filterOk && thresholdOk ? { enabled, filter, threshold } : undefined;
  }

  private dataClass(value: unknown, path: Path): DataClass | undefined {
    return isDataClass(value) ? value : this.fail(path, `must be one of ${DATA_CLASSES.join(', ')}; got ${show(value)}`);
  }

  /** A list of distinct values from `allowed`; each bad item is reported at its index. */
  private uniqueList<T extends string>(value: unknown, path: Path, allowed: readonly T[], what: string): T[] | undefined {
    if (!Array.isArray(value)) return this.fail(path, `must be a list of ${what}s (${allowed.join(', ')}); got ${show(value)}`);
    const items: T[] = [];
    let ok = true;
    value.forEach((item: unknown, index) => {
      if (!(allowed as readonly unknown[]).includes(item)) this.fail([...path, index], `unknown ${what} ${show(item)} (one of ${allowed.join(', ')})`);
      else if (items.includes(item as T)) this.fail([...path, index], `${show(item)} is listed twice`);
      else return void items.push(item as T);
      ok = false;
    });
    return ok ? items : undefined;
  }

  /**
   * A mapping; keys outside `known` (undefined: any key) and missing `required` keys are reported,
   * and the known keys are still checked by the caller. Unknown keys are errors, so that a misspelt
   * rule ("tenant:" for "tenants:") cannot silently do nothing.
   */
  private object(value: unknown, path: Path, known: readonly string[] | undefined, required: readonly string[]): Record<string, unknown> | undefined {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      return this.fail(path, `${path.length === 0 ? 'the policy document' : 'this'} must be a mapping; got ${show(value)}`);
    }
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      if (known !== undefined && !known.includes(key)) this.fail([...path, key], `unknown field (allowed here: ${known.join(', ')})`);
    }
    for (const key of required) {
      if (record[key] === undefined || !Object.hasOwn(record, key)) this.fail(path, `"${key}" is required`);
    }
    return record;
  }
}

function isJointInferenceFilter(value: unknown): value is JointInferenceFilter {
  return (JOINT_INFERENCE_FILTERS as readonly unknown[]).includes(value);
}

/** spec.dataClasses.restricted.tiers[1], spec.tenants["acme.health"] */
function formatPath(path: Path): string {
  let text = '';
  for (const segment of path) {
    if (typeof segment === 'number') text += `[${segment}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(segment)) text += text === '' ? segment : `.${segment}`;
    else text += `[${JSON.stringify(segment)}]`;
  }
  return text;
}

/** The line of the deepest node on `path` the document has: the key's line for a mapping entry. */
function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
