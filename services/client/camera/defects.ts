/**
 * Defects drawn as SVG shapes over a surface frame, each with its bounding box in frame pixels.
 *
 * This renderer is deliberately NOT the one that made the training data: a model that only learned
 * the quirks of its own training renderer fails here, which is the honest generalisation check.
 * Boxes cover everything the shape changes: the stroke, the antialiased edge and the blur tail.
 */
import type { Box } from '../../core/contracts.ts';
import type { Random } from './random.ts';

export const DEFECT_TYPES = ['scratch', 'spot', 'stain', 'crack', 'hole'] as const;
export type DefectType = (typeof DEFECT_TYPES)[number];

/** One defect: what it is, where it is, and the SVG that draws it. */
export interface DrawnDefect {
  type: DefectType;
  box: Box;
  /** SVG elements in frame pixels, without a filter. */
  svg: string;
  /** Gaussian blur (sigma in pixels) applied to the elements; 0 = sharp edges. */
  blurSigma: number;
}

interface Point {
  x: number;
  y: number;
}

/** A blur changes pixels up to about 3 sigma away (librsvg approximates it by three box blurs). */
const BLUR_REACH = 3;

function fixed(value: number): string {
  return value.toFixed(2);
}

function grey(level: number): string {
  const value = Math.round(Math.min(255, Math.max(0, level)));
  return `rgb(${value},${value},${value})`;
}

/** Dark or light, so that a defect shows on both bright and dark surfaces. */
function darkOrLight(random: Random): string {
  return random.chance(0.5) ? grey(random.between(5, 50)) : grey(random.between(205, 250));
}

/** The box around points grown by `margin` pixels, clipped to the frame, in whole pixels. */
function boxAround(points: readonly Point[], margin: number, width: number, height: number): Box {
  const xs = points.map((point) => point.x);
  const ys = points.map((point) => point.y);
  const x1 = Math.max(0, Math.floor(Math.min(...xs) - margin));
  const y1 = Math.max(0, Math.floor(Math.min(...ys) - margin));
  const x2 = Math.min(width, Math.ceil(Math.max(...xs) + margin));
  const y2 = Math.min(height, Math.ceil(Math.max(...ys) + margin));
  return { x: x1, y: y1, width: Math.max(0, x2 - x1), height: Math.max(0, y2 - y1) };
}

function polyline(points: readonly Point[]): string {
  return points.map((point) => `${fixed(point.x)},${fixed(point.y)}`).join(' ');
}

/** A thin, slightly curved line (quadratic Bezier), light or dark. */
function scratch(random: Random, width: number, height: number, scale: number): DrawnDefect {
  const centre = { x: random.between(0.2, 0.8) * width, y: random.between(0.2, 0.8) * height };
  const length = random.between(0.25, 0.6) * Math.min(width, height);
  const angle = random.between(0, Math.PI);
  const dx = (Math.cos(angle) * length) / 2;
  const dy = (Math.sin(angle) * length) / 2;
  const bend = random.between(-0.2, 0.2) * length;
  const start = { x: centre.x - dx, y: centre.y - dy };
  const end = { x: centre.x + dx, y: centre.y + dy };
  const control = { x: centre.x - Math.sin(angle) * bend, y: centre.y + Math.cos(angle) * bend };
  const strokeWidth = random.between(1, 2.5) * scale;
  // The curve's extent, sampled: tighter than the control polygon, so localisation is judged fairly.
  const curve: Point[] = [];
  for (let i = 0; i <= 32; i++) {
    const t = i / 32;
    curve.push({
      x: (1 - t) ** 2 * start.x + 2 * (1 - t) * t * control.x + t ** 2 * end.x,
      y: (1 - t) ** 2 * start.y + 2 * (1 - t) * t * control.y + t ** 2 * end.y,
    });
  }
  const path = `M${fixed(start.x)},${fixed(start.y)} Q${fixed(control.x)},${fixed(control.y)} ${fixed(end.x)},${fixed(end.y)}`;
  return {
    type: 'scratch',
    box: boxAround(curve, strokeWidth / 2 + 1, width, height),
    svg: `<path d="${path}" fill="none" stroke="${darkOrLight(random)}" stroke-width="${fixed(strokeWidth)}" stroke-linecap="round" stroke-opacity="${fixed(random.between(0.75, 0.95))}"/>`,
    blurSigma: 0,
  };
}

/** A small soft disc, dark or light. */
function spot(random: Random, width: number, height: number, scale: number): DrawnDefect {
  const centre = { x: random.between(0.1, 0.9) * width, y: random.between(0.1, 0.9) * height };
  const radius = random.between(3, 7) * scale;
  const blurSigma = random.between(0.6, 1.5) * scale;
  return {
    type: 'spot',
    box: boxAround([centre], radius + BLUR_REACH * blurSigma + 1, width, height),
    svg: `<circle cx="${fixed(centre.x)}" cy="${fixed(centre.y)}" r="${fixed(radius)}" fill="${darkOrLight(random)}" fill-opacity="${fixed(random.between(0.85, 1))}"/>`,
    blurSigma,
  };
}

/** A larger irregular blurred blob of low contrast (oil, water, discolouration). */
function stain(random: Random, width: number, height: number, scale: number): DrawnDefect {
  const centre = { x: random.between(0.2, 0.8) * width, y: random.between(0.2, 0.8) * height };
  const radius = random.between(12, 32) * scale;
  const squash = random.between(0.5, 1);
  const turn = random.between(0, Math.PI);
  const outline: Point[] = [];
  for (let i = 0; i < 12; i++) {
    const angle = (2 * Math.PI * i) / 12;
    const r = radius * random.between(0.7, 1.25);
    const along = Math.cos(angle) * r;
    const across = Math.sin(angle) * r * squash;
    outline.push({
      x: centre.x + along * Math.cos(turn) - across * Math.sin(turn),
      y: centre.y + along * Math.sin(turn) + across * Math.cos(turn),
    });
  }
  const colour = random.chance(0.6) ? 'rgb(60,42,25)' : 'rgb(235,228,205)';
  const blurSigma = random.between(2.5, 5) * scale;
  return {
    type: 'stain',
    box: boxAround(outline, BLUR_REACH * blurSigma + 1, width, height),
    svg: `<polygon points="${polyline(outline)}" fill="${colour}" fill-opacity="${fixed(random.between(0.45, 0.65))}"/>`,
    blurSigma,
  };
}

/** A jagged dark polyline with one or two branches. */
function crack(random: Random, width: number, height: number, scale: number): DrawnDefect {
  const heading = random.between(0, 2 * Math.PI);
  const walk = (from: Point, direction: number, steps: number): Point[] => {
    const points = [from];
    let at = from;
    for (let i = 0; i < steps; i++) {
      const angle = direction + random.between(-0.7, 0.7);
      const length = random.between(4, 10) * scale;
      at = { x: at.x + Math.cos(angle) * length, y: at.y + Math.sin(angle) * length };
      points.push(at);
    }
    return points;
  };
  const trunk = walk({ x: random.between(0.25, 0.75) * width, y: random.between(0.25, 0.75) * height }, heading, random.integer(6, 12));
  const branches = Array.from({ length: random.integer(1, 2) }, () => {
    const from = random.pick(trunk.slice(1, -1));
    const side = random.chance(0.5) ? 1 : -1;
    return walk(from, heading + side * random.between(0.5, 1.1), random.integer(3, 6));
  });
  const strokeWidth = random.between(1.2, 2.4) * scale;
  const colour = grey(random.between(5, 40));
  const lines = [trunk, ...branches].map(
    (points) => `<polyline points="${polyline(points)}" fill="none" stroke="${colour}" stroke-width="${fixed(strokeWidth)}" stroke-linejoin="round" stroke-linecap="round"/>`,
  );
  return {
    type: 'crack',
    box: boxAround([...trunk, ...branches.flat()], strokeWidth / 2 + 1, width, height),
    svg: lines.join(''),
    blurSigma: 0,
  };
}

/** A dark disc with a lighter rim, like a pit or a punched hole. */
function hole(random: Random, width: number, height: number, scale: number): DrawnDefect {
  const centre = { x: random.between(0.1, 0.9) * width, y: random.between(0.1, 0.9) * height };
  const radius = random.between(3, 8) * scale;
  const rimWidth = random.between(1.5, 3) * scale;
  return {
    type: 'hole',
    box: boxAround([centre], radius + rimWidth + 1, width, height),
    svg:
      `<circle cx="${fixed(centre.x)}" cy="${fixed(centre.y)}" r="${fixed(radius + rimWidth / 2)}" fill="none" stroke="${grey(random.between(170, 230))}" stroke-width="${fixed(rimWidth)}" stroke-opacity="0.85"/>` +
      `<circle cx="${fixed(centre.x)}" cy="${fixed(centre.y)}" r="${fixed(radius)}" fill="${grey(random.between(3, 25))}"/>`,
    blurSigma: 0,
  };
}

const DRAW: Record<DefectType, (random: Random, width: number, height: number, scale: number) => DrawnDefect> = {
  scratch,
  spot,
  stain,
  crack,
  hole,
};

/** One defect of the given type at a random place, size, contrast and orientation. */
export function drawDefect(type: DefectType, random: Random, width: number, height: number): DrawnDefect {
  // Sizes are tuned on 256-pixel frames and scale with the frame.
  const scale = Math.min(width, height) / 256;
  return DRAW[type](random, width, height, scale);
}

/** An SVG document of the frame's size holding the defects, for sharp's composite(). */
export function defectsSvg(defects: readonly DrawnDefect[], width: number, height: number): string {
  const filters: string[] = [];
  const shapes = defects.map((defect, index) => {
    if (defect.blurSigma <= 0) return defect.svg;
    // The filter region is the whole frame: the default (shape bbox + 10%) would clip the blur tail.
    filters.push(
      `<filter id="blur${index}" filterUnits="userSpaceOnUse" x="0" y="0" width="${width}" height="${height}"><feGaussianBlur stdDeviation="${fixed(defect.blurSigma)}"/></filter>`,
    );
    return `<g filter="url(#blur${index})">${defect.svg}</g>`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}"><defs>${filters.join('')}</defs>${shapes.join('')}</svg>`;
}
