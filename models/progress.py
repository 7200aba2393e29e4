"""Progress of long Python work (training, data synthesis): a bar on a terminal, plain lines otherwise.

The same contract as services/cli/progress.ts, with the standard library only (Debian's python3):
on a TTY (and not CI=true, not NO_PROGRESS=1) one line redrawn in place with a carriage return; else
plain lines `label: 40/200 clips (20 %), 12.3 s` at most every 10 % or every 10 s, and always the
final one. It writes to stderr, so what a script prints on stdout (results, summaries) is unchanged.

    progress = Progress("train asr", total=40, unit="epochs")
    progress.tick(note="loss 0.41")
    progress.log("epoch 1: ...")   # printed on stdout above the bar
    progress.finish("best val WER 7.1%")
"""
import os
import sys
import time

PLAIN_STEP_FRACTION = 0.1
PLAIN_INTERVAL_S = 10.0
# A terminal bar redraws at most this often; training steps can come hundreds a second.
BAR_REDRAW_S = 0.1
BAR_WIDTH = 24


def wants_bar(stream, env):
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and env.get("CI") != "true" and env.get("NO_PROGRESS") != "1"


def seconds(value):
    return f"{value:.1f} s"


def clock_text(value):
    """7s, 3m05s, 1h02m: as the TypeScript bar shows them."""
    value = int(round(value))
    if value >= 3600:
        return f"{value // 3600}h{value % 3600 // 60:02d}m"
    return f"{value // 60}m{value % 60:02d}s" if value >= 60 else f"{value}s"


class Progress:
    def __init__(self, label, total, unit="", stream=None, env=None, clock=time.monotonic):
        self.label = label
        self.total = total if total and total > 0 else 0
        self.unit = unit
        self.stream = stream if stream is not None else sys.stderr
        self.clock = clock
        self.bar = wants_bar(self.stream, os.environ if env is None else env)
        self.started = clock()
        self.done = 0
        self.note = ""
        self.finished = False
        self.last_line_at = self.started
        self.last_line_done = 0
        self.last_draw_at = None
        self.step = max(1.0, self.total * PLAIN_STEP_FRACTION)
        if self.bar:
            self._draw()

    def tick(self, n=1, note=None):
        self.update(self.done + n, note)

    def update(self, done, note=None):
        if self.finished:
            return
        self.done = done
        if note is not None:
            self.note = note
        now = self.clock()
        if self.bar:
            if self.last_draw_at is None or now - self.last_draw_at >= BAR_REDRAW_S:
                self._draw()
            return
        crossed_step = self.total and int(done // self.step) > int(self.last_line_done // self.step)
        quiet_too_long = done != self.last_line_done and now - self.last_line_at >= PLAIN_INTERVAL_S
        complete = self.total and done >= self.total
        if (crossed_step or quiet_too_long) and not complete:
            self._write(self._plain_line(now, self.note) + "\n")
            self.last_line_at = now
            self.last_line_done = done

    def log(self, line, out=None):
        """A whole line above the bar; to `out` (e.g. sys.stdout, where a script's results go) or the progress stream."""
        out = out if out is not None else self.stream
        if self.bar and not self.finished:
            self._write("\r\x1b[2K")
        out.write(line + "\n")
        out.flush()
        if self.bar and not self.finished:
            self._draw()

    def finish(self, summary=None):
        if self.finished:
            return
        self.finished = True
        if self.bar:
            self.note = summary or ""
            self._draw()
            self._write("\n")
        else:
            self._write(self._plain_line(self.clock(), summary) + "\n")

    def _count(self):
        unit = f" {self.unit}" if self.unit else ""
        if self.total:
            return f"{self.done}/{self.total}{unit} ({int(100 * self.done // self.total)} %)"
        return f"{self.done}{unit}"

    def _plain_line(self, now, note):
        return f"{self.label}: {self._count()}, {seconds(now - self.started)}" + (f" - {note}" if note else "")

    def _draw(self):
        now = self.clock()
        elapsed = now - self.started
        unit = f" {self.unit}" if self.unit else ""
        if self.total:
            share = min(1.0, self.done / self.total)
            filled = int(round(share * BAR_WIDTH))
            eta = clock_text(elapsed / self.done * (self.total - self.done)) if 0 < self.done < self.total else "-" if self.done == 0 else "0s"
            text = (f"{self.label} [{'=' * filled}{'-' * (BAR_WIDTH - filled)}] {int(share * 100)}% | "
                    f"{self.done}/{self.total}{unit} | {clock_text(elapsed)} elapsed, ETA {eta}")
        else:
            text = f"{self.label} {self.done}{unit} | {clock_text(elapsed)} elapsed"
        if self.note:
            text += f" - {self.note}"
        self._write("\r" + text + "\x1b[K")
        self.last_draw_at = now

    def _write(self, text):
        self.stream.write(text)
        self.stream.flush()
