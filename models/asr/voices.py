"""Which synthetic voices train the recogniser and which are held out to test it.

espeak-ng voices are an accent plus a variant ("en-us+f3"); the held-out variants are never heard
in training, in any accent. Festival adds two other synthesizers' voices to training (kal diphone,
slt HTS) and holds a third out (ked diphone), so the test also measures speech from a voice built
another way. Real human speech is tested separately (heldout.py, pocketsphinx's test recordings)."""

ACCENTS = ["en-us", "en-gb", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-rp", "en-gb-x-gbcwmd", "en-029", "en-us-nyc"]

# espeak-ng --voices=variant (espeak-ng 1.51), minus the held-out ones below.
TRAIN_VARIANTS = [
    "adam", "Alex", "Alicia", "Andrea", "Annie", "antonio", "aunty", "benjamin", "boris", "caleb",
    "david", "Denis", "Diogo", "ed", "edward", "edward2", "Gene", "Gene2", "gustave", "announcer",
    "Henrique", "Hugo", "iven", "iven2", "iven4", "Jacky", "john", "kaukovalta", "Lee", "linda",
    "marcelo", "Marco", "Mario", "max", "Michael", "miguel", "Mike", "Mr", "Nguyen", "pablo", "paul",
    "pedro", "RicishayMax", "RicishayMax2", "RicishayMax3", "rob", "robosoft", "robosoft2",
    "robosoft3", "robosoft4", "robosoft5", "robosoft6", "robosoft7", "robosoft8", "steph", "steph3",
    "Storm", "Tweaky", "UniRobot", "zac", "anika", "anikaRobot", "AnxiousAndy", "f2", "f4", "f5",
    "grandpa", "klatt", "klatt3", "klatt4", "klatt5", "klatt6", "m2", "m4", "m5", "m6", "m7",
    "norbert", "sandro", "shelby", "travis", "victor", "m8", "f1", "croak", "m1", "grandma",
    "whisper", "whisperf",
]
HELDOUT_VARIANTS = ["f3", "m3", "klatt2", "belinda", "steph2", "Andy", "quincy", "robert", "iven3", "michel"]
assert not set(TRAIN_VARIANTS) & set(HELDOUT_VARIANTS)

TRAIN_FESTIVAL = ["kal_diphone", "cmu_us_slt_arctic_hts"]
HELDOUT_FESTIVAL = ["ked_diphone"]
