/**
 * Puts a synced model version into the edge's repository and hot-reloads it, or leaves everything
 * as it was. Steps: download every file into a staging folder inside the repository (same file
 * system, so the move is a rename), verify each sha256 and the card, move the folder to
 * <repository>/<name>/<version>/, replace card.json atomically, persist the held version, then
 * registry.load() (which loads and checks the new version before it drops the old one).
 * A failed load puts the old card back (a restart must not try the bad version again) and removes
 * the new folder; the old version never stopped serving.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { ModelRepository } from '../core/contracts.ts';
import { EdgeError, type ErrorCode } from '../core/errors.ts';
import { parseModelCard } from '../registry/model-card.ts';
import { fsyncFolder, writeFileAtomic } from './atomic-file.ts';
import { parseVersion, type ResourceFile, type SyncResource } from './resources.ts';

export interface ModelInstallOptions {
  /** The edge's model repository folder. */
  root: string;
  resource: SyncResource;
  download: (file: ResourceFile, destination: string, mismatchCode: ErrorCode) => Promise<void>;
  registry: Pick<ModelRepository, 'load'>;
  /** Records the version as held (state.json) once it is on disk and before it is loaded. */
  persist: () => Promise<void>;
}

export interface ModelInstallResult {
  /** The version that served before (kept on disk as the one previous version). */
  previous: number | undefined;
  /** Version folders deleted (older than the previous one). */
  removed: string[];
}

const CARD = 'card.json';

async function readOptional(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

function previousVersionOf(cardText: string | undefined): number | undefined {
  if (cardText === undefined) return undefined;
  try {
    return parseVersion((JSON.parse(cardText) as { version?: unknown }).version);
  } catch {
    return undefined;
  }
}

/** Downloads and checks every file; returns the card to write (its "file" pointing into <version>/). */
async function stage(options: ModelInstallOptions, staging: string): Promise<string> {
  const { resource } = options;
  for (const file of resource.files) {
    const destination = path.join(staging, ...file.path.split('/'));
    await mkdir(path.dirname(destination), { recursive: true });
    await options.download(file, destination, 'EDGE_ERR_MODEL_CHECKSUM_MISMATCH');
  }
  const cardText = await readOptional(path.join(staging, CARD));
  if (cardText === undefined) throw new EdgeError('EDGE_ERR_MODEL_CARD_INVALID', `model ${resource.name} version ${resource.version}: the cloud published no card.json`);
  const card = parseModelCard(resource.name, cardText);
  if (parseVersion(card.version) !== resource.version) {
    throw new EdgeError('EDGE_ERR_SYNC_VERSION_INVALID', `model ${resource.name}: the card says version ${card.version}, the manifest ${resource.version}`);
  }
  const modelFile = resource.files.find((file) => file.path !== CARD && file.sha256 === card.sha256);
  if (card.sha256 !== resource.sha256 || modelFile === undefined) {
    throw new EdgeError('EDGE_ERR_MODEL_CHECKSUM_MISMATCH', `model ${resource.name} version ${resource.version}: the card's sha256 matches no published file`);
  }
  await rm(path.join(staging, CARD));
  const raw = JSON.parse(cardText) as Record<string, unknown>;
  return `${JSON.stringify({ ...raw, file: `${resource.version}/${modelFile.path}` }, null, 2)}\n`;
}

/** Keeps the serving version and the one before it; older numbered folders go. */
async function removeOlderVersions(modelFolder: string, serving: number, previous: number | undefined): Promise<string[]> {
  const removed: string[] = [];
  for (const entry of await readdir(modelFolder, { withFileTypes: true })) {
    const version = parseVersion(entry.name);
    if (!entry.isDirectory() || version === undefined || version === serving || version === previous || version > serving) continue;
    await rm(path.join(modelFolder, entry.name), { recursive: true, force: true });
    removed.push(entry.name);
  }
  return removed;
}

export async function installModel(options: ModelInstallOptions): Promise<ModelInstallResult> {
  const { root, resource } = options;
  const modelFolder = path.join(root, resource.name);
  const target = path.join(modelFolder, String(resource.version));
  // A dot first: the registry never takes it for a model folder.
  const staging = path.join(root, `.sync-${resource.name}-${resource.version}-${randomBytes(4).toString('hex')}`);
  await mkdir(modelFolder, { recursive: true });
  await mkdir(staging);
  const cardFile = path.join(modelFolder, CARD);
  let oldCard: string | undefined;
  try {
    const newCard = await stage(options, staging);
    oldCard = await readOptional(cardFile);
    // A folder left by an earlier attempt of this version (a crash, a rejection) is replaced.
    await rm(target, { recursive: true, force: true });
    await rename(staging, target);
    await fsyncFolder(modelFolder);
    await writeFileAtomic(cardFile, newCard);
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
  const previous = previousVersionOf(oldCard);
  try {
    await options.persist();
    await options.registry.load(resource.name);
  } catch (error) {
    // Back to the old card first: from here a restart loads the old version again.
    if (oldCard === undefined) await rm(cardFile, { force: true });
    else await writeFileAtomic(cardFile, oldCard);
    if (previous !== resource.version) await rm(target, { recursive: true, force: true });
    throw error;
  }
  const removed = await removeOlderVersions(modelFolder, resource.version, previous).catch(() => []);
  return { previous, removed };
}
