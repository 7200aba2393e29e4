/**
 * Surface frames with known defects for the inspection tests: rendered by models/inspect/heldout.py
 * from held-out seeds and texture pixels (never seen in training), saved as JPEG as a camera would
 * send them. test/fixtures/inspect/manifest.json says which frame shows what, and where.
 * Per surface: the first defect-free frame and the first frame with one hole (`models/inspect/
 * fixtures.py --types hole`), holes being what the model finds on every surface (held-out AUROC
 * 0.96). These tests pin the API's behaviour on a real model; accuracy is `npm run eval:inspect`'s.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Box } from '../../services/core/contracts.ts';
import { PROJECT_ROOT } from '../../services/core/config.ts';

export const INSPECT_FIXTURES = path.join(PROJECT_ROOT, 'test', 'fixtures', 'inspect');

export interface InspectFixture {
  file: string;
  surface: string;
  defect: string | null;
  boxes: Box[];
  bytes: Buffer;
}

export function inspectFixtures(): InspectFixture[] {
  const manifest = JSON.parse(readFileSync(path.join(INSPECT_FIXTURES, 'manifest.json'), 'utf8')) as Omit<InspectFixture, 'bytes'>[];
  return manifest.map((entry) => ({ ...entry, bytes: readFileSync(path.join(INSPECT_FIXTURES, entry.file)) }));
}
