/**
 * A reload of the defect model while an inspection waits between its lookup and its run (here: paused
 * just before the run): the inspection holds the version it looked up (tasks/common/held.ts), so it
 * runs on it even though the registry, with no reload grace, would drop it the moment version 2 serves.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, PROJECT_ROOT } from '../../services/core/config.ts';
import { createInspectionTasks } from '../../services/tasks/inspection/index.ts';
import { pauseRuns, reloadToVersion2, scratchRegistry, type ScratchRegistry } from '../support/reload-pause.ts';

let scratch: ScratchRegistry;

beforeAll(async () => {
  scratch = await scratchRegistry(['defect']);
});

afterAll(async () => {
  await scratch?.close();
});

describe('reloading the defect model during an inspection', () => {
  it('the inspection runs on the version it looked up; the old version is dropped after it', async () => {
    const { registry, root, runtime } = scratch;
    const paused = pauseRuns(registry, 'defect');
    const inspection = createInspectionTasks({ repository: paused.repository, config: loadConfig({ runtime: { workers: 1 } }) });
    const frame = await readFile(path.join(PROJECT_ROOT, 'test/fixtures/inspect/brick-hole.jpg'));
    const inspected = inspection.inspect(frame, { surface: 'brick' });
    await paused.reached;
    const { reload } = await reloadToVersion2(registry, root, 'defect');
    paused.proceed();

    const result = await inspected;
    expect(result.version).toBe('1');
    expect(result.defective).toBe(true);
    await reload;
    expect(runtime.signature('defect', '1')).toBeUndefined();
  });
});
