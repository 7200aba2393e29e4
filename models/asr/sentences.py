"""Sentences field operators say: commands, readings and digit strings over the vocabulary, plus a
share of free word sequences so no word is only ever heard in one context.

Every sentence is drawn from a numpy Generator, so a seed gives the same corpus every time."""
import numpy as np

from vocabulary import DIGITS, WORDS

ONES = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
TENS = ["twenty", "thirty", "forty", "fifty"]
DEVICES = ["valve", "pump", "conveyor", "line", "motor", "station", "gate", "belt", "alarm", "sensor"]
QUANTITIES = {"pressure": "bar", "temperature": "degrees", "speed": "percent"}


def pick(rng, items):
    return items[rng.integers(len(items))]


def cardinal(rng):
    """0-999 as spoken with this vocabulary (no teens past twelve, no sixty-ninety)."""
    roll = rng.random()
    if roll < 0.35:
        return pick(rng, ["zero"] + ONES + ["ten", "eleven", "twelve"])
    if roll < 0.7:
        tens = pick(rng, TENS)
        return tens if rng.random() < 0.3 else f"{tens} {pick(rng, ONES)}"
    hundreds = f"{pick(rng, ONES)} hundred"
    rest = rng.random()
    if rest < 0.3:
        return hundreds
    if rest < 0.6:
        return f"{hundreds} {pick(rng, ONES + ['ten', 'eleven', 'twelve'])}"
    tens = pick(rng, TENS)
    return f"{hundreds} {tens}" if rng.random() < 0.4 else f"{hundreds} {tens} {pick(rng, ONES)}"


def number(rng):
    """A cardinal, sometimes with a decimal part ("four point two", "zero point oh five")."""
    whole = cardinal(rng)
    if rng.random() < 0.35:
        decimals = " ".join(pick(rng, DIGITS) for _ in range(1 + (rng.random() < 0.3)))
        return f"{whole} point {decimals}"
    return whole


def unit_id(rng):
    """Which valve, pump, line...: mostly small numbers, sometimes two digits read out."""
    if rng.random() < 0.8:
        return pick(rng, ONES + ["ten", "eleven", "twelve"])
    return f"{pick(rng, ONES)} {pick(rng, DIGITS)}"


def digit_string(rng):
    return " ".join(pick(rng, DIGITS) for _ in range(rng.integers(2, 9)))


def device(rng):
    the = "the " if rng.random() < 0.25 else ""
    return f"{the}{pick(rng, DEVICES)} {unit_id(rng)}"


def command(rng):
    kind = rng.integers(12)
    if kind == 0:
        verb = pick(rng, ["go", "move"])
        tail = f" {number(rng)} meters" if rng.random() < 0.7 else ""
        return f"{verb} {pick(rng, ['forward', 'back', 'left', 'right', 'up', 'down'])}{tail}"
    if kind == 1:
        quantity = pick(rng, list(QUANTITIES))
        target = pick(rng, ["", f" at {device(rng)}", f" on {device(rng)}"]) if rng.random() < 0.4 else ""
        return f"set {quantity}{target} to {number(rng)} {QUANTITIES[quantity]}"
    if kind == 2:
        return f"{pick(rng, ['start', 'stop', 'hold', 'resume'])} {device(rng)}"
    if kind == 3:
        return f"{pick(rng, ['open', 'close'])} {pick(rng, ['valve', 'gate'])} {unit_id(rng)}"
    if kind == 4:
        state = pick(rng, ["on", "off"])
        return f"turn {device(rng)} {state}" if rng.random() < 0.5 else f"turn {state} {device(rng)}"
    if kind == 5:
        what = pick(rng, ["pressure", "temperature", "speed", "status", "the pressure", "the temperature", "the speed", "the status"])
        where = f" at {device(rng)}" if rng.random() < 0.6 else ""
        return f"{pick(rng, ['check', 'report'])} {what}{where}"
    if kind == 6:
        what = pick(rng, ["gate", "belt speed", "temperature", "pressure", "speed", "the gate", "line speed"])
        tail = f" to {number(rng)} {pick(rng, ['percent', 'degrees', 'bar'])}" if rng.random() < 0.4 else ""
        return f"{pick(rng, ['raise', 'lower'])} {what}{tail}"
    if kind == 7:
        return pick(rng, ["confirm", "cancel", "hold", "resume", "emergency stop", "stop", "start",
                          "report status", "check status", "stop the line", "start the conveyor",
                          "cancel alarm", "confirm alarm", "stop stop"])
    if kind == 8:
        return f"emergency stop {device(rng)}"
    if kind == 9:
        return f"turn {device(rng)} {pick(rng, ['left', 'right'])}"
    if kind == 10:
        return f"{pick(rng, ['confirm', 'cancel'])} {pick(rng, ['alarm', 'stop', 'status'])} {unit_id(rng)}"
    return f"move {pick(rng, ['conveyor', 'belt', 'gate', 'line'])} {unit_id(rng)} {pick(rng, ['forward', 'back', 'up', 'down'])}"


def reading(rng):
    kind = rng.integers(5)
    quantity = pick(rng, list(QUANTITIES))
    if kind == 0:
        return f"{quantity} is {number(rng)} {QUANTITIES[quantity]}"
    if kind == 1:
        return f"{device(rng)} {quantity} is {number(rng)} {QUANTITIES[quantity]}"
    if kind == 2:
        return f"{device(rng)} is {pick(rng, ['on', 'off', 'up', 'down', 'open'])}"
    if kind == 3:
        return f"{pick(rng, ['alarm', 'emergency'])} at {device(rng)}"
    return f"{quantity} at {device(rng)} {number(rng)} {QUANTITIES[quantity]}"


def free_sequence(rng):
    return " ".join(pick(rng, WORDS) for _ in range(rng.integers(1, 9)))


def sentence(rng):
    roll = rng.random()
    if roll < 0.45:
        text = command(rng)
    elif roll < 0.7:
        text = reading(rng)
    elif roll < 0.85:
        text = digit_string(rng)
    else:
        text = free_sequence(rng)
    return " ".join(text.split())


def corpus(count, seed, exclude=frozenset()):
    """`count` sentences, none of them in `exclude` (the held-out sentences stay unheard)."""
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < count:
        text = sentence(rng)
        if text not in exclude:
            out.append(text)
    return out


if __name__ == "__main__":
    for text in corpus(25, 1):
        print(text)
