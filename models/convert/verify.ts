/** Checks each ONNX file in the model repository against the sha256 its card records. */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelCard } from '../../services/core/contracts.ts';

export interface ShaCheck {
  name: string;
  file: string;
  expected: string;
  /** Empty when the file is missing. */
  actual: string;
  ok: boolean;
}

export function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

export function verifyCard(modelDir: string): ShaCheck {
  const card = JSON.parse(readFileSync(join(modelDir, 'card.json'), 'utf8')) as ModelCard;
  const file = join(modelDir, card.file);
  const actual = existsSync(file) ? sha256File(file) : '';
  return { name: card.name, file, expected: card.sha256, actual, ok: actual === card.sha256 };
}

/** Every <name>/card.json under `repositoryDir`, in name order. */
export function verifyRepository(repositoryDir: string): ShaCheck[] {
  return readdirSync(repositoryDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(repositoryDir, entry.name, 'card.json')))
    .map((entry) => entry.name)
    .sort()
    .map((name) => verifyCard(join(repositoryDir, name)));
}
