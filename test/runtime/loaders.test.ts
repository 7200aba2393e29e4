/**
 * Session workers are TypeScript: they must start however the project itself was started. vitest
 * is covered by every other test file; here the same script runs under the tsx CLI and under plain
 * node with tsx registered through its API, as bin/mec.js does.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../services/core/config.ts';

const run = promisify(execFile);
const SCRIPT = path.join(PROJECT_ROOT, 'test', 'runtime', 'scripts', 'infer-sum.ts');
const EXPECTED = { ok: true, first: 1 };

function lastLine(stdout: string): unknown {
  return JSON.parse(stdout.trim().split('\n').at(-1)!);
}

describe('session workers under each way of starting the project', () => {
  it('tsx CLI (npx tsx)', async () => {
    const { stdout } = await run(path.join(PROJECT_ROOT, 'node_modules', '.bin', 'tsx'), [SCRIPT], { cwd: PROJECT_ROOT, timeout: 30_000 });
    expect(lastLine(stdout)).toEqual(EXPECTED);
  });

  it('node with tsx register() (bin/mec.js), started from another directory', async () => {
    const bootstrap = `import { register } from ${JSON.stringify(path.join(PROJECT_ROOT, 'node_modules', 'tsx', 'dist', 'esm', 'api', 'index.mjs'))}; register(); await import(${JSON.stringify(SCRIPT)});`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', bootstrap], { cwd: '/', timeout: 30_000 });
    expect(lastLine(stdout)).toEqual(EXPECTED);
  });
});
