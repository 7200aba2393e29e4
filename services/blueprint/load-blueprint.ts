/**
 * Reads a blueprint (blueprints/*.yaml): YAML with line numbers, then the JSON Schema
 * (blueprint-schema.ts), then the checks a schema cannot make (blueprint-checks.ts). Every problem
 * is reported with its path, line and a hint, sorted by line; nothing stops at the first.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { isMap, LineCounter, parseDocument } from 'yaml';
import { PROJECT_ROOT } from '../core/config.ts';
import { EdgeError } from '../core/errors.ts';
import { policyVersion, type PlacementPolicy } from '../scheduler/policy.ts';
import { schemaProblems } from './blueprint-schema.ts';
import { checkSemantics, type InlinePolicySource } from './blueprint-checks.ts';
import { ModelCards } from './model-cards.ts';
import { sortProblems, type BlueprintProblem } from './problem.ts';
import { lineOfPointer, nodeAtPointer, rangeEnd, rangeStart } from '../core/yaml-document.ts';

export const BLUEPRINT_API_VERSION = 'mec.blueprints/v1';
/** Blueprints are a few KB; anything past this is the wrong file. */
const MAX_BLUEPRINT_BYTES = 1024 * 1024;
/** Anchors and aliases past this are an attack (billion laughs), not a blueprint. */
const MAX_ALIAS_COUNT = 100;

export const DEFAULT_MODEL_REPOSITORY = path.join(PROJECT_ROOT, 'models', 'repository');

export interface BlueprintOptions {
  /** Folder of model cards (default models/repository). */
  repository?: string;
  /** Folder relative policy paths start from (default: the blueprint file's folder). */
  baseDir?: string;
}

/** What a valid blueprint adds up to, for one line of output. */
export interface BlueprintSummary {
  name: string;
  tiers: number;
  nodes: number;
  devices: number;
  models: number;
  cameras: number;
  policy: string;
}

export interface BlueprintCheck {
  source: string;
  problems: BlueprintProblem[];
  /** Set when there is no problem. */
  blueprint?: Readonly<Record<string, unknown>>;
  policy?: PlacementPolicy;
  summary?: BlueprintSummary;
}

/** Checks blueprint text; `source` names it in messages. Never throws for a bad blueprint: see problems. */
export async function checkBlueprint(text: string, source: string, options: BlueprintOptions = {}): Promise<BlueprintCheck> {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    // A document that does not parse cannot be walked: its syntax errors alone.
    const problems = doc.errors.map((error) => ({
      path: '',
      line: lineCounter.linePos(error.pos[0]).line,
      message: error.message.split('\n')[0] ?? error.message,
      hint: error.code === 'DUPLICATE_KEY' ? 'remove or rename the repeated key' : 'fix the YAML syntax at this line (indentation, a missing ":" or a stray character)',
    }));
    return { source, problems: sortProblems(problems) };
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (error) {
    return { source, problems: [{ path: '', line: 1, message: (error as Error).message, hint: 'use fewer YAML aliases; write the values out' }] };
  }
  const baseDir = options.baseDir ?? process.cwd();
  const cards = new ModelCards(options.repository ?? DEFAULT_MODEL_REPOSITORY);
  const inlinePolicy = inlinePolicySource(doc, text, lineCounter);
  const semantic = await checkSemantics(value, { baseDir, cards, ...(inlinePolicy === undefined ? {} : { inlinePolicy }) });
  const unplaced = [...schemaProblems(value), ...semantic.problems];
  const problems = sortProblems(unplaced.map((problem) => ({ ...problem, line: problem.line ?? lineOfPointer(doc, lineCounter, problem.path) })));
  if (problems.length > 0 || semantic.policy === undefined) return { source, problems };
  const blueprint = deepFreeze(value as Record<string, unknown>);
  return { source, problems, blueprint, policy: semantic.policy, summary: summarise(blueprint, semantic.policy) };
}

/** Reads and checks a blueprint file; throws EDGE_ERR_BLUEPRINT_INVALID with details.problems. */
export async function loadBlueprint(file: string, options: BlueprintOptions = {}): Promise<BlueprintCheck & { blueprint: Readonly<Record<string, unknown>> }> {
  const check = await checkBlueprintFile(file, options);
  if (check.blueprint === undefined) throw blueprintInvalid(check);
  return check as BlueprintCheck & { blueprint: Readonly<Record<string, unknown>> };
}

/** Reads a blueprint file and checks it; throws EDGE_ERR_BLUEPRINT_INVALID only when it cannot be read. */
export async function checkBlueprintFile(file: string, options: BlueprintOptions = {}): Promise<BlueprintCheck> {
  const text = await readBlueprintText(file);
  return checkBlueprint(text, file, { ...options, baseDir: options.baseDir ?? path.dirname(path.resolve(file)) });
}

/** Thrown when the file itself cannot be read (missing, a folder, too big): details.unreadable is true. */
export async function readBlueprintText(file: string): Promise<string> {
  try {
    const info = await stat(file);
    if (!info.isFile()) throw new Error('not a regular file');
    if (info.size > MAX_BLUEPRINT_BYTES) throw new Error(`${info.size} bytes, more than the ${MAX_BLUEPRINT_BYTES} a blueprint may have`);
    return await readFile(file, 'utf8');
  } catch (error) {
    throw new EdgeError('EDGE_ERR_BLUEPRINT_INVALID', `cannot read the blueprint ${file}: ${(error as Error).message}`, {
      details: { source: file, unreadable: true, problems: [] },
      cause: error,
    });
  }
}

export function blueprintInvalid(check: BlueprintCheck): EdgeError {
  const lines = check.problems.map((problem) => formatProblem(check.source, problem));
  return new EdgeError('EDGE_ERR_BLUEPRINT_INVALID', `invalid blueprint ${check.source} (${check.problems.length} ${check.problems.length === 1 ? 'problem' : 'problems'}):\n  ${lines.join('\n  ')}`, {
    details: { source: check.source, problems: check.problems },
  });
}

/** FILE:LINE: /path: message (hint) - the form editors and CI annotate. */
export function formatProblem(source: string, problem: BlueprintProblem): string {
  return `${source}:${problem.line}: ${problem.path === '' ? '' : `${problem.path}: `}${problem.message} (${problem.hint})`;
}

/**
 * The inline policy's own text, so that parsePolicy reports lines in the blueprint: the slice is
 * re-indented on its first line (it starts mid-line, after "inline:").
 */
function inlinePolicySource(doc: ReturnType<typeof parseDocument>, text: string, lineCounter: LineCounter): InlinePolicySource | undefined {
  const node = nodeAtPointer(doc, '/spec/policy/inline');
  if (!isMap(node)) return undefined;
  const start = rangeStart(node);
  const end = rangeEnd(node);
  if (start === undefined || end === undefined) return undefined;
  const { line, col } = lineCounter.linePos(start);
  return { text: ' '.repeat(col - 1) + text.slice(start, end), firstLine: line };
}

function summarise(blueprint: Record<string, unknown>, policy: PlacementPolicy): BlueprintSummary {
  const spec = blueprint.spec as Record<string, any>;
  const tiers = spec.tiers as Record<string, any>;
  const nodes = [...(tiers.cloud?.nodes ?? []), ...(tiers.mec?.nodes ?? [])] as { models: string[] }[];
  const devices = (tiers.devices ?? []) as { models?: string[] }[];
  const models = new Set<string>([...nodes.flatMap((node) => node.models), ...devices.flatMap((device) => device.models ?? [])]);
  return {
    name: String((blueprint.metadata as Record<string, unknown>).name),
    tiers: (tiers.cloud ? 1 : 0) + (tiers.mec ? 1 : 0) + (devices.length > 0 ? 1 : 0),
    nodes: nodes.length,
    devices: devices.length,
    models: models.size,
    cameras: (spec.streams?.cameras ?? []).length,
    policy: policyVersion(policy),
  };
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
