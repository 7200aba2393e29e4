/**
 * Checks a model's ONNX file before any session sees it: the path stays inside the model's folder
 * (also through symlinks), the bytes match the card's sha256, and no external-data reference
 * leaves the folder.
 */
import { createHash } from 'node:crypto';
import { readFile, realpath } from 'node:fs/promises';
import path from 'node:path';
import type { ModelCard } from '../core/contracts.ts';
import { EdgeError } from '../core/errors.ts';
import { externalDataLocations, OnnxFormatError } from './onnx-external-data.ts';

function isInside(folder: string, candidate: string): boolean {
  const relative = path.relative(folder, candidate);
  return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative);
}

function outside(card: ModelCard, what: string, code: 'EDGE_ERR_MODEL_CARD_INVALID' | 'EDGE_ERR_MODEL_LOAD_FAILED' = 'EDGE_ERR_MODEL_CARD_INVALID'): EdgeError {
  return new EdgeError(code, `model "${card.name}": ${what} resolves outside the model's folder`, {
    details: { model: card.name, file: card.file },
  });
}

async function realpathOrNotFound(card: ModelCard, file: string): Promise<string> {
  try {
    return await realpath(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new EdgeError('EDGE_ERR_MODEL_LOAD_FAILED', `model "${card.name}": file ${card.file} does not exist`, { details: { model: card.name, file: card.file } });
    }
    throw error;
  }
}

/** Returns the real path of the verified ONNX file of `card`, whose folder is `modelFolder`. */
export async function verifyModelFile(modelFolder: string, card: ModelCard): Promise<string> {
  const folder = await realpath(modelFolder);
  if (path.isAbsolute(card.file) || card.file.includes('\0') || !isInside(folder, path.resolve(folder, card.file))) throw outside(card, `"file" ${JSON.stringify(card.file)}`);
  const file = await realpathOrNotFound(card, path.resolve(folder, card.file));
  if (!isInside(folder, file)) throw outside(card, `"file" ${JSON.stringify(card.file)} (through a link)`);

  const bytes = await readFile(file);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  if (sha256 !== card.sha256) {
    throw new EdgeError('EDGE_ERR_MODEL_CHECKSUM_MISMATCH', `model "${card.name}": ${card.file} has sha256 ${sha256}, the card says ${card.sha256}`, {
      details: { model: card.name, file: card.file, expected: card.sha256, actual: sha256 },
    });
  }

  let locations: string[];
  try {
    locations = externalDataLocations(bytes);
  } catch (error) {
    if (!(error instanceof OnnxFormatError)) throw error;
    throw new EdgeError('EDGE_ERR_MODEL_LOAD_FAILED', `model "${card.name}": ${card.file} is not a valid ONNX file (${error.message})`, { details: { model: card.name } });
  }
  for (const location of locations) {
    const target = path.resolve(path.dirname(file), location);
    if (path.isAbsolute(location) || location.includes('\0') || !isInside(folder, target)) throw outside(card, `external data ${JSON.stringify(location)}`, 'EDGE_ERR_MODEL_LOAD_FAILED');
    const real = await realpathOrNotFound(card, target);
    if (!isInside(folder, real)) throw outside(card, `external data ${JSON.stringify(location)} (through a link)`, 'EDGE_ERR_MODEL_LOAD_FAILED');
  }
  return file;
}
