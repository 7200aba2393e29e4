/**
 * The inspect task: image bytes + surface -> is it defective, how likely, where. The image is
 * decoded and scaled in one libvips pass, cut into the model's tiles (one batch, one run), and the
 * tiles' defect maps are stitched back into regions in the original image's pixels.
 */
import type { Box, InspectOptions, InspectResult } from '../../core/contracts.ts';
import { EdgeError, throwIfCancelled } from '../../core/errors.ts';
import { openImage } from '../common/image.ts';
import { PhaseClock } from '../common/phases.ts';
import { whileAdmitted } from '../common/admitted.ts';
import { whileHolding } from '../common/held.ts';
import { inferOptionsOf } from '../common/run-options.ts';
import type { InspectionContext } from './context.ts';
import { stitch, tilesToInput } from './defect-model.ts';
import { findRegions, peak, type CellRegion } from './regions.ts';
import { planTiles, type TilePlan } from './tiling.ts';

const round4 = (value: number): number => Math.round(value * 10_000) / 10_000;

/** A region's cells -> a box in original pixels (clamped to the image). */
function toBox(region: CellRegion, stride: number, plan: TilePlan, width: number, height: number): Box {
  const sx = width / plan.scaledWidth;
  const sy = height / plan.scaledHeight;
  const x0 = Math.max(0, Math.floor(region.left * stride * sx));
  const y0 = Math.max(0, Math.floor(region.top * stride * sy));
  const x1 = Math.min(width, Math.ceil((region.right + 1) * stride * sx));
  const y1 = Math.min(height, Math.ceil((region.bottom + 1) * stride * sy));
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

function checkThreshold(threshold: number | undefined): void {
  if (threshold !== undefined && !(Number.isFinite(threshold) && threshold >= 0 && threshold <= 1)) {
    throw new EdgeError('EDGE_ERR_QUERY_INVALID', `threshold must be a number from 0 to 1, got ${threshold}`);
  }
}

export function createInspect(context: InspectionContext): (image: Uint8Array, options: InspectOptions) => Promise<InspectResult> {
  return async function inspect(image, options) {
    const clock = new PhaseClock('inspect', '');
    try {
      checkThreshold(options.threshold);
      throwIfCancelled(options.signal);
      const surface = context.surfaces.resolve(options.surface);
      clock.model = surface.model;
      clock.version = surface.version;
      const bound = context.bind(surface);
      const threshold = options.threshold ?? options.thresholdFor?.(surface.model, surface.version) ?? surface.threshold;
      const versions = [{ name: surface.model, version: surface.version }];

      return await whileHolding(context.repository, versions, () => whileAdmitted(context.admission, clock, options, async () => {
        const { rgb, plan, width, height } = await clock.time('decode', async () => {
          const source = await openImage(image, context.decodeLimits);
          const plan = planTiles(source.width, source.height, bound.tileSize, bound.stride, context.maxTiles);
          const same = plan.scaledWidth === source.width && plan.scaledHeight === source.height;
          const rgb = await source.rasterize((pipeline) => (same ? pipeline : pipeline.resize(plan.scaledWidth, plan.scaledHeight, { fit: 'fill', kernel: 'linear' })));
          return { rgb, plan, width: source.width, height: source.height };
        });
        const input = clock.timeSync('preprocess', () => tilesToInput(rgb, plan, bound.tileSize));
        const result = await context.repository.infer(surface.model, surface.version, { image: input }, inferOptionsOf(clock, options, bound.outputs));
        clock.addInference(result.timings);
        return clock.timeSync('postprocess', () => {
          const { grid, score } = stitch(result.outputs, plan, bound);
          const defective = score >= threshold;
          // A defective image always names a place: if no cell reaches the region threshold, the
          // strongest cells (half the peak and up) form the region.
          const highest = peak(grid);
          const regionThreshold = highest >= surface.regionThreshold ? surface.regionThreshold : highest * 0.5;
          const regions = defective
            ? findRegions(grid, regionThreshold, context.maxRegions).map((region) => ({ box: toBox(region, bound.stride, plan, width, height), score: round4(region.score) }))
            : [];
          return {
            surface: surface.name,
            model: surface.model,
            version: result.version,
            width,
            height,
            defective,
            score: round4(score),
            threshold,
            regions,
            timings: clock.finish(),
          };
        });
      }));
    } catch (error) {
      clock.finish(error);
      throw error;
    }
  };
}
