/**
 * The progress reporters of long work (services/cli/progress.ts, and models/progress.py for Python):
 * plain lines off a terminal (cadence, final line), a bar that redraws one line in place on a
 * terminal, and log() lines that survive the bar.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../services/core/config.ts';
import { clockText, startProgress, wantsBar, type ProgressStream } from '../../services/cli/progress.ts';

function collector(isTTY: boolean): ProgressStream & { writes: string[]; text: () => string } {
  const writes: string[] = [];
  return { isTTY, columns: 120, writes, write: (chunk: string) => writes.push(chunk), text: () => writes.join('') };
}

const env = {};

describe('plain lines (not a terminal)', () => {
  it('prints at most one line per 10 % of the total, then the final line', () => {
    const stream = collector(false);
    let clock = 0;
    const progress = startProgress({ label: 'eval:inspect brick', total: 200, unit: 'frames', stream, env, now: () => clock });
    for (let frame = 1; frame <= 200; frame += 1) {
      clock += 10; // 2 s in all: only the 10 % steps print
      progress.tick();
    }
    progress.finish('AUROC 0.97');
    const lines = stream.text().split('\n').filter(Boolean);
    expect(lines).toHaveLength(10);
    expect(lines[0]).toBe('eval:inspect brick: 20/200 frames (10 %), 0.2 s');
    expect(lines[3]).toBe('eval:inspect brick: 80/200 frames (40 %), 0.8 s');
    expect(lines[8]).toBe('eval:inspect brick: 180/200 frames (90 %), 1.8 s');
    expect(lines[9]).toBe('eval:inspect brick: 200/200 frames (100 %), 2.0 s - AUROC 0.97');
    expect(stream.text()).not.toMatch(/\r|\x1b/);
  });

  it('prints a line after 10 s without a 10 % step, and counts alone when the total is unknown', () => {
    const stream = collector(false);
    let clock = 0;
    const progress = startProgress({ label: 'bench:reload', total: 0, unit: 'reloads', stream, env, now: () => clock });
    clock = 9_000;
    progress.tick(3);
    expect(stream.writes).toHaveLength(0);
    clock = 10_500;
    progress.tick(1, 'v2');
    clock = 21_000;
    progress.tick(); // 10.5 s after the last line: printed, the note kept
    clock = 22_000;
    progress.finish();
    progress.finish();
    expect(stream.text()).toBe('bench:reload: 4 reloads, 10.5 s - v2\nbench:reload: 5 reloads, 21.0 s - v2\nbench:reload: 5 reloads, 22.0 s\n');
  });

  it('keeps log() lines whole and in order', () => {
    const stream = collector(false);
    let clock = 0;
    const progress = startProgress({ label: 'convert', total: 4, unit: 'models', stream, env, now: () => clock });
    progress.log('centernet  3.10 MB');
    clock = 1000;
    progress.update(2, 'nanodet');
    progress.finish('done');
    expect(stream.text()).toBe('centernet  3.10 MB\nconvert: 2/4 models (50 %), 1.0 s - nanodet\nconvert: 2/4 models (50 %), 1.0 s - done\n');
  });
});

describe('bar (a terminal)', () => {
  it('is drawn only on a TTY outside CI and without NO_PROGRESS=1', () => {
    expect(wantsBar(collector(true), {})).toBe(true);
    expect(wantsBar(collector(false), {})).toBe(false);
    expect(wantsBar(collector(true), { CI: 'true' })).toBe(false);
    expect(wantsBar(collector(true), { NO_PROGRESS: '1' })).toBe(false);
  });

  it('redraws one line in place, with elapsed time and ETA, until finish', async () => {
    const stream = collector(true);
    const progress = startProgress({ label: 'bench:vision', total: 10, unit: 'cases', stream, env });
    for (let step = 0; step < 3; step += 1) {
      progress.tick(1, `case ${step + 1}`);
      await new Promise((resolve) => setTimeout(resolve, 120));
    }
    const running = stream.text();
    expect(running).not.toContain('\n');
    // Each redraw returns to column 1 (CSI 1G, readline's carriage return) and clears the rest of the line.
    expect(running.split('\x1b[1G').length).toBeGreaterThan(3);
    expect(running).toMatch(/bench:vision \[[=-]+\] 30% \| 3\/10 cases \| \d+s elapsed, ETA \d+s - case 3/);
    progress.finish('done');
    expect(stream.text()).toMatch(/3\/10 cases \| \d+s elapsed, ETA \d+s - done\x1b\[0K\x1b\[\?7h\n$/);
    expect(stream.text()).not.toContain('\x1b8'); // no jump back to where the bar started
  });

  it('prints log() lines above the bar and draws the bar again below them', () => {
    const stream = collector(true);
    const progress = startProgress({ label: 'convert', total: 2, unit: 'models', stream, env });
    progress.tick(1);
    progress.log('centernet  3.10 MB  sha256 abc');
    const afterLog = stream.text().split('centernet  3.10 MB  sha256 abc\n')[1] ?? '';
    expect(stream.text()).toContain('\r\x1b[2Kcenternet  3.10 MB  sha256 abc\n');
    expect(afterLog).toMatch(/convert \[[=-]+\] \d+% \| \d\/2 models/);
    progress.finish();
    expect(stream.text().match(/centernet/g)).toHaveLength(1);
  });

  it('sends log(line, stdout) lines to that stream only, clearing the bar first', () => {
    const stream = collector(true);
    const stdout = collector(false);
    const progress = startProgress({ label: 'models:convert', total: 2, unit: 'models', stream, env });
    progress.tick(1);
    progress.log('| centernet | 3.10 |', stdout);
    progress.finish();
    expect(stdout.text()).toBe('| centernet | 3.10 |\n');
    expect(stream.text()).toContain('\r\x1b[2K');
    expect(stream.text()).not.toContain('centernet');
  });
});

describe('clock text', () => {
  it('reads as 7s, 3m05s, 1h02m, and - for an ETA not known yet', () => {
    expect([7, 185, 3720, 'INF', 'NULL', Number.NaN].map(clockText)).toEqual(['7s', '3m05s', '1h02m', '-', '-', '-']);
  });
});

describe('models/progress.py (the same contract for the Python training scripts)', () => {
  const python = (body: string): string =>
    execFileSync('/usr/bin/python3', ['-c', `import io, sys\nsys.path.insert(0, ${JSON.stringify(path.join(PROJECT_ROOT, 'models'))})\nfrom progress import Progress\n${body}`], { encoding: 'utf8' });
  const fakeStream = 'class Fake(io.StringIO):\n    def __init__(self, tty):\n        super().__init__()\n        self.tty = tty\n    def isatty(self):\n        return self.tty\nclock = [0.0]\n';

  it('plain lines every 10 % and the final line, off a terminal', () => {
    const out = python(`${fakeStream}s = Fake(False)\np = Progress("synth test", 200, "clips", stream=s, env={}, clock=lambda: clock[0])\nfor i in range(200):\n    clock[0] += 0.01\n    p.tick()\np.finish("ok")\nsys.stdout.write(s.getvalue())`);
    const lines = out.split('\n').filter(Boolean);
    expect(lines).toHaveLength(10);
    expect(lines[0]).toBe('synth test: 20/200 clips (10 %), 0.2 s');
    expect(lines[9]).toBe('synth test: 200/200 clips (100 %), 2.0 s - ok');
  });

  it('one line redrawn with \\r on a terminal; log() lines go to their own stream; CI=true means lines', () => {
    const out = python(`${fakeStream}s = Fake(True)\nresults = io.StringIO()\np = Progress("train asr", 10, "batches", stream=s, env={}, clock=lambda: clock[0])\nfor i in range(5):\n    clock[0] += 1\n    p.tick(note="epoch 1/40")\np.log("epoch 1: loss 0.5", results)\np.finish("done")\nprint(repr(s.getvalue()))\nprint(repr(results.getvalue()))\nprint(Progress("x", 10, stream=Fake(True), env={"CI": "true"}).bar)`);
    const [bar, results, ci] = out.trim().split('\n');
    expect(bar).not.toContain('\\n\\r');
    expect(bar).toContain('\\rtrain asr [============------------] 50% | 5/10 batches | 5s elapsed, ETA 5s - epoch 1/40\\x1b[K');
    expect(bar).toMatch(/\\r\\x1b\[2K\\rtrain asr .* - done\\x1b\[K\\n'$/);
    expect(results).toBe("'epoch 1: loss 0.5\\n'");
    expect(ci).toBe('False');
  });
});
