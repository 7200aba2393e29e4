"""The recogniser's words (issue 4), in a fixed order: token k of the acoustic model is WORDS[k - 1],
token 0 is the CTC blank. Changing this list changes the model's output layer: retrain and re-export."""

DIGITS = ["zero", "oh", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
NUMBER_WORDS = DIGITS + ["ten", "eleven", "twelve", "twenty", "thirty", "forty", "fifty", "hundred", "point"]
VERBS = ["go", "start", "stop", "open", "close", "turn", "set", "check", "report", "move", "raise",
         "lower", "hold", "resume", "confirm", "cancel"]
DIRECTIONS = ["forward", "back", "left", "right", "up", "down"]
THINGS = ["valve", "pump", "conveyor", "line", "motor", "station", "pressure", "temperature", "speed",
          "gate", "belt", "alarm", "sensor"]
UNITS = ["meters", "degrees", "bar", "percent"]
GLUE = ["on", "off", "to", "the", "at", "is", "status", "emergency"]

WORDS = NUMBER_WORDS + VERBS + DIRECTIONS + THINGS + UNITS + GLUE
assert len(WORDS) == len(set(WORDS)), "a word is listed twice"
BLANK = 0
TOKEN = {word: index + 1 for index, word in enumerate(WORDS)}


def tokens(text):
    """Sentence -> token ids; a word outside the vocabulary is a bug in the generator."""
    return [TOKEN[word] for word in text.split()]
