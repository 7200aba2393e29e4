/**
 * Loads the `sum` fixture into a fresh runtime, runs it once and prints one JSON line. The loader
 * test runs this under `tsx` and under plain `node` with tsx registered through its API (as
 * bin/mec.js does), to prove the session workers start in both.
 */
import { loadConfig } from '../../../services/core/config.ts';
import { createRuntime } from '../../../services/runtime/index.ts';
import { fixture, sumInputs } from '../helpers.ts';

const runtime = createRuntime(loadConfig({ runtime: { workers: 1 } }));
try {
  await runtime.load(fixture('sum'));
  const result = await runtime.infer('sum', '1', sumInputs(1, 1));
  process.stdout.write(`${JSON.stringify({ ok: true, first: (result.outputs.OUTPUT0!.data as Float32Array)[0] })}\n`);
} finally {
  await runtime.close();
}
