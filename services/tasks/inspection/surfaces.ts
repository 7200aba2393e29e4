/**
 * Which surfaces the node can inspect: every loaded model whose card says task
 * "defect-inspection" lists its surfaces (with their thresholds) in `defaults.surfaces`. The
 * catalogue is read from the repository on each call, so loading or unloading a model changes the
 * surfaces at once; a card's settings are parsed once per loaded version.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { LoadedModel, ModelCard, ModelRepository, SurfaceInfo } from '../../core/contracts.ts';
import { EdgeError } from '../../core/errors.ts';

export const INSPECTION_TASK = 'defect-inspection';

const SurfaceSettingsSchema = Type.Object({
  threshold: Type.Number({ minimum: 0, maximum: 1 }),
  falseAlarmRate: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
});

const InspectionDefaultsSchema = Type.Object({
  surfaces: Type.Record(Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,63}$' }), SurfaceSettingsSchema, { minProperties: 1 }),
  /** Cells of the defect map at or above this probability form regions. */
  regionThreshold: Type.Number({ minimum: 0, maximum: 1 }),
});

export type InspectionSettings = Static<typeof InspectionDefaultsSchema>;

export interface SurfaceEntry {
  name: string;
  model: string;
  version: string;
  loaded: LoadedModel;
  threshold: number;
  falseAlarmRate: number | null;
  regionThreshold: number;
}

const settingsByCard = new WeakMap<ModelCard, InspectionSettings>();

/** The inspection settings of a card; EDGE_ERR_MODEL_CARD_INVALID when `defaults` does not hold them. */
export function inspectionSettings(card: ModelCard): InspectionSettings {
  let settings = settingsByCard.get(card);
  if (settings === undefined) {
    const problems = [...Value.Errors(InspectionDefaultsSchema, card.defaults)].slice(0, 3);
    if (problems.length > 0) {
      const problem = problems.map((entry) => `defaults${entry.path}: ${entry.message}`).join('; ');
      throw new EdgeError('EDGE_ERR_MODEL_CARD_INVALID', `model card of "${card.name}" is invalid for ${INSPECTION_TASK}: ${problem}`, {
        details: { model: card.name, problem },
      });
    }
    settings = card.defaults as unknown as InspectionSettings;
    settingsByCard.set(card, settings);
  }
  return settings;
}

export class SurfaceCatalogue {
  constructor(private readonly repository: ModelRepository) {}

  /**
   * Every inspectable surface, by name. Two models claiming one surface: the one claiming fewer
   * surfaces wins (a specialist trained on that surface alone before the all-surface model, which
   * stays the fallback while the specialist is not loaded), then the first by model name.
   */
  entries(): Map<string, SurfaceEntry> {
    const surfaces = new Map<string, SurfaceEntry>();
    const claimed = new Map<string, number>();
    const models = [...new Set(this.repository.index().filter((entry) => entry.state === 'READY').map((entry) => entry.name))].sort();
    for (const model of models) {
      let loaded: LoadedModel & { version: string };
      try {
        loaded = this.repository.get(model);
      } catch {
        continue; // unloaded between index() and get()
      }
      if (loaded.card.task !== INSPECTION_TASK) continue;
      const settings = inspectionSettings(loaded.card);
      const claims = Object.keys(settings.surfaces).length;
      for (const [name, surface] of Object.entries(settings.surfaces)) {
        if ((claimed.get(name) ?? Infinity) <= claims) continue;
        claimed.set(name, claims);
        surfaces.set(name, {
          name,
          model,
          version: loaded.version,
          loaded,
          threshold: surface.threshold,
          falseAlarmRate: surface.falseAlarmRate ?? null,
          regionThreshold: settings.regionThreshold,
        });
      }
    }
    return surfaces;
  }

  list(): SurfaceInfo[] {
    return [...this.entries().values()]
      .sort((a, b) => a.name.localeCompare(b.name))
      .map(({ name, model, version, threshold, falseAlarmRate }) => ({ name, model, version, threshold, falseAlarmRate }));
  }

  /** EDGE_ERR_SURFACE_NOT_FOUND (with the surfaces there are) when no loaded model covers `name`. */
  resolve(name: string): SurfaceEntry {
    const surfaces = this.entries();
    const entry = surfaces.get(name);
    if (entry === undefined) {
      const shown = name.length > 64 ? `${name.slice(0, 64)}...` : name;
      throw new EdgeError('EDGE_ERR_SURFACE_NOT_FOUND', `no loaded model inspects the surface ${JSON.stringify(shown)}; surfaces: ${[...surfaces.keys()].sort().join(', ') || 'none'}`, {
        details: { surface: shown, available: [...surfaces.keys()].sort() },
      });
    }
    return entry;
  }
}
