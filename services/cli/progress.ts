/**
 * Progress of long work (model conversion, evaluations, benchmarks): a bar on a terminal, plain
 * lines in a log or CI. It writes to stderr only, so results and tables on stdout stay pipeable.
 *
 *   const progress = startProgress({ label: 'eval:inspect held-out', total: 200, unit: 'frames' });
 *   progress.tick(); progress.log('a line above the bar'); progress.finish('done');
 */
import cliProgress from 'cli-progress';

/** The part of a stream the reporter uses (process.stderr, or a test's collector). */
export interface ProgressStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressOptions {
  label: string;
  /** Units of work in all; 0 when unknown (then only counts and elapsed time are shown). */
  total: number;
  unit?: string;
  /** Default: process.stderr. */
  stream?: ProgressStream;
  /** Default: process.env (CI and NO_PROGRESS turn the bar off). */
  env?: Record<string, string | undefined>;
  /** Milliseconds clock, for tests of the plain-line cadence. Default: performance.now. */
  now?: () => number;
}

export interface Progress {
  /** `n` more units done (default 1); `note` says what is being done now (it stays until another replaces it). */
  tick(n?: number, note?: string): void;
  /** `done` units done in all. */
  update(done: number, note?: string): void;
  /**
   * A whole line of text, printed above the bar without breaking it: to `output` (process.stdout
   * for a script's results, so they stay where they were) or, by default, to the progress stream.
   */
  log(line: string, output?: ProgressStream): void;
  /** Final line (always printed), then the bar is gone; idempotent. */
  finish(summary?: string): void;
}

/** Plain lines come at most this often: every 10 % of the total, or every 10 s. */
const PLAIN_STEP_FRACTION = 0.1;
const PLAIN_INTERVAL_MS = 10_000;

/** A bar only where a person watches it: a TTY, not CI, not turned off with NO_PROGRESS=1. */
export function wantsBar(stream: ProgressStream, env: Record<string, string | undefined>): boolean {
  return stream.isTTY === true && env.CI !== 'true' && env.NO_PROGRESS !== '1';
}

export function startProgress(options: ProgressOptions): Progress {
  const stream = options.stream ?? process.stderr;
  const env = options.env ?? process.env;
  return wantsBar(stream, env) ? barProgress(options, stream) : plainProgress(options, stream);
}

/** Elapsed time and ETA on the bar: 7s, 3m05s, 1h02m; '-' while the ETA is unknown (cli-progress gives 'NULL' or 'INF'). */
export function clockText(seconds: unknown): string {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0) return '-';
  const whole = Math.round(seconds);
  if (whole >= 3600) return `${Math.floor(whole / 3600)}h${String(Math.floor((whole % 3600) / 60)).padStart(2, '0')}m`;
  if (whole >= 60) return `${Math.floor(whole / 60)}m${String(whole % 60).padStart(2, '0')}s`;
  return `${whole}s`;
}

function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** `label: 40/200 frames (20 %), 12.3 s - note` */
export function plainLine(label: string, done: number, total: number, unit: string, elapsedMs: number, note?: string): string {
  const count = total > 0 ? `${done}/${total}${unit ? ` ${unit}` : ''} (${Math.floor((100 * done) / total)} %)` : `${done}${unit ? ` ${unit}` : ''}`;
  return `${label}: ${count}, ${formatSeconds(elapsedMs)}${note ? ` - ${note}` : ''}\n`;
}

function plainProgress(options: ProgressOptions, stream: ProgressStream): Progress {
  const now = options.now ?? (() => performance.now());
  const unit = options.unit ?? '';
  const started = now();
  let done = 0;
  let lastLineAt = started;
  let lastLineDone = 0;
  let finished = false;
  let note: string | undefined;
  const step = Math.max(1, options.total * PLAIN_STEP_FRACTION);

  const advance = (value: number, newNote?: string) => {
    if (finished) return;
    done = value;
    if (newNote !== undefined) note = newNote;
    const at = now();
    const crossedStep = options.total > 0 && Math.floor(done / step) > Math.floor(lastLineDone / step);
    const quietTooLong = done !== lastLineDone && at - lastLineAt >= PLAIN_INTERVAL_MS;
    if ((crossedStep || quietTooLong) && !(options.total > 0 && done >= options.total)) {
      stream.write(plainLine(options.label, done, options.total, unit, at - started, note));
      lastLineAt = at;
      lastLineDone = done;
    }
  };
  return {
    tick: (n = 1, note) => advance(done + n, note),
    update: (value, note) => advance(value, note),
    log: (line, output = stream) => {
      output.write(`${line}\n`);
    },
    finish: (summary) => {
      if (finished) return;
      finished = true;
      stream.write(plainLine(options.label, done, options.total, unit, now() - started, summary));
    },
  };
}

/**
 * Two changes to cli-progress's single bar. It re-arms a timer on every redraw: unref'd, a
 * forgotten finish() cannot keep the process alive. It restores the cursor position saved at start
 * when it stops: after log() lines have moved the bar down, that would jump back over them.
 */
class UnrefBar extends cliProgress.SingleBar {
  constructor(...args: ConstructorParameters<typeof cliProgress.SingleBar>) {
    super(...args);
    const terminal = (this as unknown as { terminal: { cursorSave: () => void; cursorRestore: () => void } }).terminal;
    terminal.cursorSave = () => {};
    terminal.cursorRestore = () => {};
  }

  override render(): void {
    super.render();
    (this as unknown as { timer?: NodeJS.Timeout | null }).timer?.unref?.();
  }
}

function barProgress(options: ProgressOptions, stream: ProgressStream): Progress {
  const unit = options.unit ? ` ${options.unit}` : '';
  const label = options.label.replace(/[{}]/g, '');
  const known = options.total > 0;
  const bar = new UnrefBar(
    {
      stream: stream as NodeJS.WritableStream,
      format: known
        ? `${label} [{bar}] {percentage}% | {value}/{total}${unit} | {duration_formatted} elapsed, ETA {eta_formatted}{note}`
        : `${label} {value}${unit} | {duration_formatted} elapsed{note}`,
      barsize: 24,
      formatTime: clockText,
      hideCursor: false,
      // Redraw on every timer tick (10/s) so a log() line never leaves the bar missing.
      forceRedraw: true,
    },
    cliProgress.Presets.legacy,
  );
  let done = 0;
  let finished = false;
  let lastNote: string | undefined;
  const note = (text?: string) => ({ note: text ? ` - ${text}` : '' });
  // A new note is drawn at once: synchronous work (a conversion) would otherwise hide it until it ends.
  const show = (text?: string) => {
    const changed = text !== undefined && text !== lastNote;
    if (text !== undefined) lastNote = text;
    bar.update(done, note(lastNote));
    if (changed) bar.render();
  };
  // The bar turns terminal line wrapping off while it runs; a process that exits mid-way gets it back.
  const restoreOnExit = () => finish();
  process.once('exit', restoreOnExit);
  bar.start(known ? options.total : 0, 0, note());

  function finish(summary?: string) {
    if (finished) return;
    finished = true;
    process.removeListener('exit', restoreOnExit);
    bar.update(done, note(summary));
    bar.stop();
  }
  return {
    tick: (n = 1, text) => {
      if (finished) return;
      done += n;
      show(text);
    },
    update: (value, text) => {
      if (finished) return;
      done = value;
      show(text);
    },
    log: (line, output = stream) => {
      if (finished) {
        output.write(`${line}\n`);
        return;
      }
      // Over the bar's line: clear it, print the text, and draw the bar again below.
      stream.write('\r\x1b[2K');
      output.write(`${line}\n`);
      bar.render();
    },
    finish,
  };
}
