/**
 * What renderKubernetes needs besides the blueprint, read from disk: the policy's text (the file
 * the blueprint names, or its inline policy written out) and the card.json of every model a node
 * loads. Kept apart so that the renderer stays pure.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'yaml';
import { EdgeError } from '../core/errors.ts';
import { DEFAULT_MODEL_REPOSITORY } from './load-blueprint.ts';
import type { RenderInput } from './render-kubernetes.ts';

type Rec = Record<string, any>;

export interface RenderInputOptions {
  /** The blueprint file: relative policy paths start from its folder. */
  file: string;
  repository?: string;
  image?: string;
}

export async function readRenderInputs(blueprint: Readonly<Record<string, unknown>>, options: RenderInputOptions): Promise<RenderInput> {
  const spec = (blueprint as Rec).spec as Rec;
  let policyText: string;
  if (typeof spec.policy?.file === 'string') {
    policyText = await readFile(path.resolve(path.dirname(path.resolve(options.file)), spec.policy.file), 'utf8');
  } else {
    policyText = stringify(spec.policy.inline, { lineWidth: 0 });
  }
  const repository = options.repository ?? DEFAULT_MODEL_REPOSITORY;
  const names = new Set<string>();
  for (const tier of ['cloud', 'mec']) for (const node of (spec.tiers?.[tier]?.nodes ?? []) as Rec[]) for (const model of node.models as string[]) names.add(model);
  const cards: Record<string, string> = {};
  for (const name of [...names].sort()) {
    try {
      cards[name] = await readFile(path.join(repository, name, 'card.json'), 'utf8');
    } catch (error) {
      throw new EdgeError('EDGE_ERR_BLUEPRINT_INVALID', `cannot read the card of model ${name}: ${(error as Error).message}`, { cause: error });
    }
  }
  return { blueprint, policyText, cards, ...(options.image === undefined ? {} : { image: options.image }) };
}
