/**
 * Model cards a blueprint names, read from the repository once per validation: what task each
 * model does decides which tiers may load it.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseModelCard } from '../registry/model-card.ts';
import { isValidModelName } from '../registry/model-name.ts';
import type { PlacementTask, Tier } from '../scheduler/types.ts';

export interface CardFacts {
  task: string;
  version: string;
  /** defect: the surfaces with a threshold. */
  surfaces: string[];
  /** asr: the models its front end needs on the same node. */
  frontEnd: string[];
}

/**
 * Card tasks each tier can serve. Devices run the SDK's small vision models (and blur faces before
 * an image leaves them); audio front ends, speech recognition and defect inspection need a node.
 */
export const TIER_TASKS: Readonly<Record<Tier, readonly string[]>> = Object.freeze({
  device: ['object-detection', 'face-detection', 'face-expression'],
  mec: ['object-detection', 'face-detection', 'face-expression', 'defect-inspection', 'speech-recognition', 'speech-features', 'voice-activity'],
  cloud: ['object-detection', 'face-detection', 'face-expression', 'defect-inspection', 'speech-recognition', 'speech-features', 'voice-activity'],
});

/** The card task that serves each placement task. */
export const CARD_TASK_OF: Readonly<Record<PlacementTask, string>> = Object.freeze({
  detect: 'object-detection',
  inspect: 'defect-inspection',
  asr: 'speech-recognition',
});

export class ModelCards {
  readonly #repository: string;
  readonly #cache = new Map<string, Promise<CardFacts | string>>();

  constructor(repository: string) {
    this.#repository = repository;
  }

  get repository(): string {
    return this.#repository;
  }

  /** The card's facts, or why there is none. */
  facts(name: string): Promise<CardFacts | string> {
    let pending = this.#cache.get(name);
    if (pending === undefined) {
      pending = this.#read(name);
      this.#cache.set(name, pending);
    }
    return pending;
  }

  /** Model folders with a card.json, for hints. */
  async available(): Promise<string[]> {
    try {
      return (await readdir(this.#repository, { withFileTypes: true }))
        .filter((entry) => entry.isDirectory() && isValidModelName(entry.name))
        .map((entry) => entry.name)
        .sort();
    } catch {
      return [];
    }
  }

  async #read(name: string): Promise<CardFacts | string> {
    // The name becomes a path: nothing that could leave the repository.
    if (!isValidModelName(name) || name.includes('..')) return `"${name}" is not a model name`;
    let text: string;
    try {
      text = await readFile(path.join(this.#repository, name, 'card.json'), 'utf8');
    } catch {
      return `model "${name}" is not in the model repository`;
    }
    try {
      const card = parseModelCard(name, text) as unknown as { task: string; version: string; defaults?: Record<string, unknown> };
      const surfaces = card.defaults?.surfaces;
      const frontEnd = card.defaults?.frontEnd;
      return {
        task: card.task,
        version: card.version,
        surfaces: surfaces !== null && typeof surfaces === 'object' ? Object.keys(surfaces) : [],
        frontEnd: frontEnd !== null && typeof frontEnd === 'object' ? Object.values(frontEnd).filter((value): value is string => typeof value === 'string') : [],
      };
    } catch (error) {
      return `model "${name}" has an invalid card: ${(error as Error).message}`;
    }
  }
}
