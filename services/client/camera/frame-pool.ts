/**
 * Frames rendered ahead of their send time, so that rendering (a few ms of sharp per frame) never
 * delays a send. Frames come out in a fixed order from the camera's seed, so a run is reproducible.
 * With `distinct` set, only that many frames are rendered and then cycled: many cameras at high
 * fps on 2 cores would otherwise spend the CPU the node needs on rendering.
 */
import type { GroundTruthDefect } from './ledger.ts';
import { planFrame, renderFrame, type PlanOptions, type RenderOptions, type Texture } from './frames.ts';
import { mulberry32, type Random } from './random.ts';

export interface RenderedFrame {
  /** Position in the camera's frame sequence. */
  index: number;
  bytes: Buffer;
  defects: GroundTruthDefect[];
}

export interface FramePoolOptions {
  texture: Texture;
  seed: number;
  plan: PlanOptions;
  render: RenderOptions;
  /** Frames kept ready. */
  ahead: number;
  /** Render only this many frames and cycle them. */
  distinct?: number;
}

export class FramePool {
  private readonly options: FramePoolOptions;
  private readonly random: Random;
  private readonly ready: RenderedFrame[] = [];
  private readonly cycle: RenderedFrame[] = [];
  private nextIndex = 0;
  private taken = 0;
  private rendering = false;
  private stopped = false;
  private failure: unknown;
  private waiter: (() => void) | undefined;

  constructor(options: FramePoolOptions) {
    this.options = options;
    this.random = mulberry32(options.seed);
  }

  private async renderNext(): Promise<RenderedFrame> {
    const { texture, plan: planOptions, render } = this.options;
    const plan = planFrame(this.random, texture, planOptions);
    const bytes = await renderFrame(texture, plan, render);
    return { index: this.nextIndex++, bytes, defects: plan.defects.map(({ type, box }) => ({ type, box })) };
  }

  /** Renders the first frames (or all of them, with `distinct`) before the clock starts. */
  async prefill(): Promise<void> {
    const { distinct, ahead } = this.options;
    if (distinct !== undefined) {
      while (this.cycle.length < distinct) this.cycle.push(await this.renderNext());
      return;
    }
    while (this.ready.length < ahead) this.ready.push(await this.renderNext());
  }

  /** The next frame; waits only when rendering fell behind. */
  async take(): Promise<RenderedFrame> {
    if (this.cycle.length > 0) {
      const frame = this.cycle[this.taken++ % this.cycle.length]!;
      // The index counts sends, so that a frame id is unique even when the picture repeats.
      return { ...frame, index: this.taken - 1 };
    }
    while (this.ready.length === 0) {
      if (this.failure !== undefined) throw this.failure;
      this.pump();
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
    const frame = this.ready.shift()!;
    this.taken++;
    this.pump();
    return frame;
  }

  /** Renders one frame at a time in the background until `ahead` are ready. */
  private pump(): void {
    if (this.rendering || this.stopped || this.ready.length >= this.options.ahead) return;
    this.rendering = true;
    this.renderNext().then(
      (frame) => {
        this.rendering = false;
        this.ready.push(frame);
        this.wake();
        this.pump();
      },
      (error: unknown) => {
        this.rendering = false;
        this.failure = error;
        this.wake();
      },
    );
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  }

  stop(): void {
    this.stopped = true;
  }
}
