/**
 * The numbers of a simulation run, per camera and in total, from the cameras' ledgers, and their
 * printed form. Latency is measured here, by the device: answer arrival - send time of that frame.
 */
import { boxesOverlap } from '../../core/box.ts';
import { DEFECT_TYPES, type DefectType } from './defects.ts';
import type { CameraLedger, FrameRecord } from './ledger.ts';

export interface LatencySummary {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export interface DetectionCheck {
  /** Frames with drawn defects that got a result (not an error). */
  defective_answered: number;
  /** ... of which the node said defective. */
  detected: number;
  /** ... of which a result region overlaps a drawn box. */
  localised: number;
  good_answered: number;
  /** Good frames the node called defective. */
  false_alarms: number;
  /** Per drawn defect: answered, detected (its frame called defective), localised (a region overlaps its box). */
  by_type: Record<DefectType, { answered: number; detected: number; localised: number }>;
}

export interface CameraReport {
  camera_id: string;
  sent: number;
  not_sent: { offline: number; backpressure: number };
  /** Answers that are results. */
  results: number;
  errors: Record<string, number>;
  /** Sent frames with no answer by the end (superseded by the node, or lost). */
  unanswered: number;
  /** Sum of the node's own `dropped` counters. */
  server_dropped: number;
  malformed: number;
  unmatched: number;
  duplicates: number;
  alerts: number;
  /** Defective results whose alert never came (MQTT only). */
  alerts_missing: number;
  disconnects: number;
  /** Why the node ended a camera's stream for good (WebSocket 1008/1009). */
  refused?: string;
  /** Results per second from the first send to the last answer. */
  answered_per_second: number;
  latency_ms: LatencySummary;
  /** How late sends left after their slot: pacing quality. */
  send_lag_ms: { p50: number; p99: number; max: number };
  check: DetectionCheck;
  malformed_reasons?: string[];
}

export interface SimulationReport {
  transport: 'mqtt' | 'ws';
  url: string;
  surface: string;
  fps: number;
  defect_rate: number;
  size: number;
  format: string;
  seed: number;
  started_at: string;
  /** From the first send to the end of the wait for outstanding answers. */
  duration_s: number;
  cameras: CameraReport[];
  total: CameraReport;
  /** With recordFrames: every frame, for tests and benchmarks that check more. */
  frames?: Record<string, FrameRecord[]>;
}

/** Nearest-rank percentile of ascending values; 0 for none. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

const round = (value: number, digits = 2): number => Number(value.toFixed(digits));

function latencySummary(values: number[]): LatencySummary {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    count: sorted.length,
    p50: round(percentile(sorted, 50)),
    p95: round(percentile(sorted, 95)),
    p99: round(percentile(sorted, 99)),
    max: round(sorted.at(-1) ?? 0),
  };
}

function emptyByType(): DetectionCheck['by_type'] {
  return Object.fromEntries(DEFECT_TYPES.map((type) => [type, { answered: 0, detected: 0, localised: 0 }])) as DetectionCheck['by_type'];
}

function check(frames: Iterable<FrameRecord>): DetectionCheck {
  const result: DetectionCheck = { defective_answered: 0, detected: 0, localised: 0, good_answered: 0, false_alarms: 0, by_type: emptyByType() };
  for (const frame of frames) {
    const answer = frame.answer;
    if (answer?.kind !== 'result') continue;
    if (frame.defects.length === 0) {
      result.good_answered++;
      if (answer.defective) result.false_alarms++;
      continue;
    }
    result.defective_answered++;
    if (answer.defective) result.detected++;
    // A region only counts when the node also called the frame defective.
    const regions = answer.defective ? answer.regions : [];
    let frameLocalised = false;
    for (const defect of frame.defects) {
      const found = regions.some((region) => boxesOverlap(region.box, defect.box));
      const tally = result.by_type[defect.type];
      tally.answered++;
      if (answer.defective) tally.detected++;
      if (found) tally.localised++;
      frameLocalised ||= found;
    }
    if (frameLocalised) result.localised++;
  }
  return result;
}

/** The report of one camera, or of several pooled (the total: percentiles over all samples). */
export function summarize(cameraId: string, ledgers: readonly CameraLedger[], refused?: string): CameraReport {
  const frames = ledgers.flatMap((ledger) => [...ledger.frames.values()]);
  const latencies: number[] = [];
  const errors: Record<string, number> = {};
  let results = 0;
  for (const frame of frames) {
    if (frame.answer?.kind === 'result') {
      results++;
      latencies.push(frame.answer.receivedAt - frame.sentAt);
    }
  }
  for (const ledger of ledgers) {
    for (const [code, count] of Object.entries(ledger.errorsByCode)) errors[code] = (errors[code] ?? 0) + count;
  }
  const sum = (pick: (ledger: CameraLedger) => number) => ledgers.reduce((total, ledger) => total + pick(ledger), 0);
  // Each camera's rate over its own window; the total is their sum (cameras run side by side).
  const rate = (ledger: CameraLedger): number => {
    const answered = [...ledger.frames.values()].filter((frame) => frame.answer?.kind === 'result').length;
    if (answered === 0 || ledger.firstSentAt === undefined || ledger.lastAnswerAt === undefined) return 0;
    const seconds = (ledger.lastAnswerAt - ledger.firstSentAt) / 1000;
    return seconds > 0 ? answered / seconds : 0;
  };
  const lags = ledgers.flatMap((ledger) => ledger.sendLagsMs).sort((a, b) => a - b);
  const malformedReasons = [...new Set(ledgers.flatMap((ledger) => ledger.malformedReasons))];
  return {
    camera_id: cameraId,
    sent: frames.length,
    not_sent: { offline: sum((ledger) => ledger.notSent.offline), backpressure: sum((ledger) => ledger.notSent.backpressure) },
    results,
    errors,
    unanswered: frames.filter((frame) => frame.answer === undefined).length,
    server_dropped: sum((ledger) => ledger.serverDropped),
    malformed: sum((ledger) => ledger.malformed),
    unmatched: sum((ledger) => ledger.unmatched),
    duplicates: sum((ledger) => ledger.duplicates),
    alerts: sum((ledger) => ledger.alerts),
    alerts_missing: sum((ledger) =>
      ledger.expectAlerts ? [...ledger.frames.values()].filter((frame) => frame.answer?.kind === 'result' && frame.answer.defective && !frame.alerted).length : 0,
    ),
    disconnects: sum((ledger) => ledger.disconnects),
    answered_per_second: round(sum(rate)),
    latency_ms: latencySummary(latencies),
    send_lag_ms: { p50: round(percentile(lags, 50)), p99: round(percentile(lags, 99)), max: round(lags.at(-1) ?? 0) },
    check: check(frames),
    ...(malformedReasons.length > 0 ? { malformed_reasons: malformedReasons } : {}),
    ...(refused === undefined ? {} : { refused }),
  };
}

function share(part: number, whole: number): string {
  return whole === 0 ? '-' : `${((100 * part) / whole).toFixed(1)}%`;
}

function cameraLines(report: CameraReport): string[] {
  const { check: c } = report;
  const errors = Object.entries(report.errors).map(([code, count]) => `${code} x${count}`).join(', ') || 'none';
  const lines = [
    `  sent ${report.sent} (not sent: ${report.not_sent.offline} offline, ${report.not_sent.backpressure} backpressure), results ${report.results}, errors: ${errors}`,
    `  unanswered ${report.unanswered} (node says dropped ${report.server_dropped}), answered ${report.answered_per_second}/s, disconnects ${report.disconnects}`,
    `  frame-to-result ms: p50 ${report.latency_ms.p50}  p95 ${report.latency_ms.p95}  p99 ${report.latency_ms.p99}  max ${report.latency_ms.max}   (send lag p99 ${report.send_lag_ms.p99} ms)`,
    `  defective frames: ${c.defective_answered} answered, detected ${c.detected} (${share(c.detected, c.defective_answered)}), localised ${c.localised} (${share(c.localised, c.defective_answered)})`,
    `  good frames: ${c.good_answered} answered, false alarms ${c.false_alarms} (${share(c.false_alarms, c.good_answered)})`,
  ];
  const types = DEFECT_TYPES.filter((type) => c.by_type[type].answered > 0)
    .map((type) => `${type} ${c.by_type[type].detected}/${c.by_type[type].answered} det, ${c.by_type[type].localised} loc`);
  if (types.length > 0) lines.push(`  by defect: ${types.join('; ')}`);
  const oddities = [
    report.malformed ? `${report.malformed} malformed (${(report.malformed_reasons ?? []).join('; ')})` : '',
    report.unmatched ? `${report.unmatched} for unknown frames` : '',
    report.duplicates ? `${report.duplicates} duplicates` : '',
    report.alerts_missing ? `${report.alerts_missing} defective results without their alert` : '',
  ].filter(Boolean);
  if (oddities.length > 0) lines.push(`  answers that did not fit: ${oddities.join(', ')}`);
  if (report.refused) lines.push(`  the node refused the stream: ${report.refused}`);
  return lines;
}

/** One line of running totals, for long runs. */
export function formatProgress(totals: CameraReport): string {
  const errors = Object.values(totals.errors).reduce((sum, count) => sum + count, 0);
  return `sent ${totals.sent}, results ${totals.results}, errors ${errors}, p50 ${totals.latency_ms.p50} ms, p99 ${totals.latency_ms.p99} ms, ` +
    `detected ${totals.check.detected}/${totals.check.defective_answered}, false alarms ${totals.check.false_alarms}/${totals.check.good_answered}\n`;
}

export function formatReport(report: SimulationReport): string {
  const lines = [
    `camera simulation: ${report.cameras.length} camera(s) over ${report.transport.toUpperCase()} ${report.url}, ${report.surface}, ${report.fps} fps, ` +
      `defect rate ${report.defect_rate}, ${report.size}px ${report.format}, seed ${report.seed}, ${report.duration_s} s`,
  ];
  if (report.cameras.length > 1) {
    for (const camera of report.cameras) lines.push(`${camera.camera_id}:`, ...cameraLines(camera));
    lines.push('total:');
  }
  lines.push(...cameraLines(report.total));
  return `${lines.join('\n')}\n`;
}
