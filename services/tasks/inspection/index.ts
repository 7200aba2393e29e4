/**
 * The defect-inspection task layer. Other layers call createInspectionTasks and see only the
 * InspectionTasks contract.
 */
import type { InspectionTasks, ModelRepository } from '../../core/contracts.ts';
import type { Config } from '../../core/config.ts';
import { admissionGateFor, type AdmissionGate } from '../admission.ts';
import { createInspectionContext } from './context.ts';
import { createInspect } from './inspect.ts';

export interface InspectionTasksDeps {
  repository: ModelRepository;
  config: Readonly<Config>;
  /** The node's admission gate, shared with the other tasks. */
  admission?: AdmissionGate;
}

export function createInspectionTasks({ repository, config, admission = admissionGateFor(config) }: InspectionTasksDeps): InspectionTasks {
  const context = createInspectionContext(repository, config, admission);
  return {
    inspect: createInspect(context),
    surfaces: () => context.surfaces.list(),
    assertSurface: (name) => void context.surfaces.resolve(name),
  };
}

export { INSPECTION_TASK } from './surfaces.ts';
