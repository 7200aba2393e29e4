#!/usr/bin/env node
// The `mec` command. It runs the compiled JavaScript in dist/ when that is current (`npm run build`,
// which `npm start` and `npm test` run first): it starts faster and each worker thread saves the
// memory of a TypeScript loader. Otherwise it runs the TypeScript sources through tsx.
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const stamp = path.join(root, 'dist', 'BUILT');
const compiledMain = path.join(root, 'dist', 'services', 'cli', 'main.js');

function newestSourceMs(folder) {
  let newest = 0;
  for (const entry of readdirSync(folder, { withFileTypes: true })) {
    const full = path.join(folder, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSourceMs(full));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(full).mtimeMs);
  }
  return newest;
}

const compiledIsCurrent =
  process.env.MEC_FROM_SOURCE !== '1' &&
  existsSync(stamp) &&
  existsSync(compiledMain) &&
  statSync(stamp).mtimeMs >= newestSourceMs(path.join(root, 'services'));

if (compiledIsCurrent) {
  await import(compiledMain);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../services/cli/main.ts');
}
