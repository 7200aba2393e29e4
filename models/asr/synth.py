"""Synthesises the speech corpus: sentences (sentences.py) spoken by espeak-ng and Festival voices
(voices.py), then put through the field: reverberation, band limits, level, and noise.

    python3 synth.py --out DIR [--train 12000 --extra 12000 --val 400 --test 800 --seed 4]

writes DIR/{train,train2,val,test}/NNNNNN.wav (16 kHz, 16-bit mono) and DIR/{split}.jsonl, one line per clip:
{"id", "file", "text", "engine", "voice", "condition"}. Everything is drawn from seeded generators:
the same arguments give the same corpus. The test sentences are drawn first and never trained on.

Why these effects: operators speak near machines (broadband and tonal noise, 0-30 dB SNR), in halls
(reverberation), through headsets and radios (300-3400 Hz band limits), at any level."""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import wave
from multiprocessing import Pool

import numpy as np

sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from progress import Progress  # noqa: E402  (models/progress.py)
import sentences
from voices import ACCENTS, HELDOUT_FESTIVAL, HELDOUT_VARIANTS, TRAIN_FESTIVAL, TRAIN_VARIANTS

RATE = 16000
SHIFTED_SPLITS = ("train2",)


def pick(rng, items):
    return items[rng.integers(len(items))]


def field_condition(rng, clean_share):
    """The acoustic conditions of one clip, drawn up front so the plan is reproducible."""
    if rng.random() < clean_share:
        return {"name": "clean", "reverb": None, "band": None, "snr": None, "noise": None,
                "level_db": float(rng.uniform(-28, -12)), "lead": float(rng.uniform(0.15, 0.6)),
                "tail": float(rng.uniform(0.15, 0.6)), "seed": int(rng.integers(2**31))}
    return {
        "name": "field",
        "reverb": [int(rng.integers(10, 80)), int(rng.integers(20, 100))] if rng.random() < 0.4 else None,
        "band": pick(rng, ["phone", "highpass", "lowpass"]) if rng.random() < 0.3 else None,
        "snr": float(rng.uniform(0, 30)) if rng.random() < 0.85 else None,
        "noise": pick(rng, ["white", "pink", "brown", "hum", "machine"]),
        "level_db": float(rng.uniform(-34, -8)),
        "lead": float(rng.uniform(0.1, 0.8)),
        "tail": float(rng.uniform(0.1, 0.8)),
        "seed": int(rng.integers(2**31)),
    }


def plan(split, count, seed, exclude):
    """Jobs for one split: sentence, voice, speaking rate and pitch, field condition."""
    texts = sentences.corpus(count, seed, exclude)
    rng = np.random.default_rng(seed + 1)
    variants = HELDOUT_VARIANTS if split == "test" else TRAIN_VARIANTS  # train, train2, val
    festival = HELDOUT_FESTIVAL if split == "test" else TRAIN_FESTIVAL
    festival_share = 0.25 if split == "test" else 0.15
    clean_share = 0.5 if split in ("val", "test") else 0.15
    # train2 adds speakers (half its clips pitch-shifted by sox) and clips with little or no
    # silence around the speech; drawn from their own generator, so the other splits are exactly
    # as they were without it.
    shifts = np.random.default_rng(seed + 2) if split in SHIFTED_SPLITS else None
    jobs = []
    for index, text in enumerate(texts):
        job = {"id": f"{split}-{index:06d}", "text": text, "condition": field_condition(rng, clean_share)}
        if shifts is not None:
            if shifts.random() < 0.5:
                job["condition"]["pitch"] = int(shifts.choice([-1, 1]) * shifts.integers(150, 450))
            # Requests that start or stop right at the speech (no silence around it), as phones send.
            if shifts.random() < 0.3:
                job["condition"]["lead"] = float(shifts.uniform(0, 0.1))
            if shifts.random() < 0.3:
                job["condition"]["tail"] = float(shifts.uniform(0, 0.1))
        if rng.random() < festival_share:
            job.update(engine="festival", voice=pick(rng, festival), stretch=float(rng.uniform(0.8, 1.3)))
        else:
            job.update(engine="espeak", voice=f"{pick(rng, ACCENTS)}+{pick(rng, variants)}",
                       speed=int(rng.integers(110, 210)), pitch=int(rng.integers(20, 80)),
                       gap=int(rng.integers(0, 8)))
        jobs.append(job)
    return jobs


def write_wav(path, samples):
    pcm = np.clip(np.round(samples * 32767), -32768, 32767).astype("<i2")
    with wave.open(path, "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(RATE)
        handle.writeframes(pcm.tobytes())


def sox_effects(source, condition):
    """Resample to 16 kHz mono, then the room and the channel (sox is the reference for both).
    Float output, no dither (-D) and repeatable random effects (-R): the same clip every run."""
    effects = ["gain", "-6"]
    if condition.get("pitch"):
        # A new speaker from an old voice: pitch (and with it the formants) shifted, tempo kept.
        effects += ["pitch", str(condition["pitch"])]
    effects += ["rate", "-v", str(RATE)]
    if condition["reverb"]:
        reverberance, room = condition["reverb"]
        effects += ["reverb", str(reverberance), "50", str(room)]
        effects += ["channels", "1"]
    band = condition["band"]
    if band == "phone":
        effects += ["sinc", "300-3400"]
    elif band == "highpass":
        effects += ["highpass", "300"]
    elif band == "lowpass":
        effects += ["lowpass", "3000"]
    result = subprocess.run(["sox", "-V1", "-D", "-R", source, "-r", str(RATE), "-c", "1", "-t", "f32", "-"] + effects,
                            check=True, stdout=subprocess.PIPE)
    return np.frombuffer(result.stdout, dtype="<f4")


def noise(kind, length, rng):
    """Unit-RMS noise of a kind heard on a shop floor."""
    if kind == "white":
        out = rng.standard_normal(length)
    elif kind in ("pink", "brown"):
        spectrum = np.fft.rfft(rng.standard_normal(length))
        freqs = np.maximum(np.fft.rfftfreq(length, 1 / RATE), 20.0)
        spectrum /= np.sqrt(freqs) if kind == "pink" else freqs
        out = np.fft.irfft(spectrum, length)
    elif kind == "hum":
        t = np.arange(length) / RATE
        base = pick(rng, [50.0, 60.0])
        out = sum(rng.uniform(0.2, 1) * np.sin(2 * np.pi * base * k * t + rng.uniform(0, 6.3)) for k in range(1, 8))
        out = out + 0.1 * rng.standard_normal(length)
    else:  # machine: tones of a motor, amplitude-modulated broadband noise
        t = np.arange(length) / RATE
        tones = sum(rng.uniform(0.1, 1) * np.sin(2 * np.pi * rng.uniform(80, 2000) * t) for _ in range(4))
        beat = 1 + 0.8 * np.sin(2 * np.pi * rng.uniform(2, 25) * t)
        out = tones + beat * rng.standard_normal(length) * rng.uniform(0.3, 1.5)
    out = np.asarray(out, dtype=np.float64)
    return out / (np.sqrt(np.mean(out**2)) + 1e-12)


def finish(speech, condition):
    """Pads silence around the speech, sets its level and adds noise at the planned SNR."""
    rng = np.random.default_rng(condition["seed"])
    speech = speech.astype(np.float64)
    voiced = speech[np.abs(speech) > 1e-4]
    rms = np.sqrt(np.mean(voiced**2)) if voiced.size else 1e-3
    speech = speech * (10 ** (condition["level_db"] / 20) / max(rms, 1e-6))
    lead, tail = int(condition["lead"] * RATE), int(condition["tail"] * RATE)
    out = np.concatenate([np.zeros(lead), speech, np.zeros(tail)])
    if condition["snr"] is not None:
        out += noise(condition["noise"], out.size, rng) * 10 ** ((condition["level_db"] - condition["snr"]) / 20)
    else:
        out += rng.standard_normal(out.size) * 10 ** (-80 / 20)  # a real microphone is never exactly silent
    peak = np.max(np.abs(out))
    return out / peak * 0.98 if peak > 0.98 else out


def espeak(job, raw):
    args = ["espeak-ng", "-v", job["voice"], "-s", str(job["speed"]), "-p", str(job["pitch"]),
            "-g", str(job["gap"]), "-w", raw, job["text"]]
    subprocess.run(args, check=True)


def render(job_and_dir):
    """One espeak clip, or the post-processing of a festival one already rendered to `raw`."""
    job, directory = job_and_dir
    target = os.path.join(directory, job["id"] + ".wav")
    with tempfile.TemporaryDirectory() as scratch:
        raw = job.get("raw") or os.path.join(scratch, "raw.wav")
        if job["engine"] == "espeak":
            espeak(job, raw)
        speech = sox_effects(raw, job["condition"])
        write_wav(target, finish(speech, job["condition"]))
    return target


def festival_batch(jobs, scratch):
    """All festival clips of a split in one festival process per voice (start-up costs ~0.5 s)."""
    for voice in sorted({job["voice"] for job in jobs}):
        lines = [f"(voice_{voice})"]
        for job in (job for job in jobs if job["voice"] == voice):
            job["raw"] = os.path.join(scratch, job["id"] + ".raw.wav")
            text = job["text"].replace('"', "")
            lines.append(f"(Parameter.set 'Duration_Stretch {job['stretch']:.3f})")
            lines.append(f'(utt.save.wave (utt.synth (Utterance Text "{text}")) "{job["raw"]}" \'riff)')
        script = os.path.join(scratch, f"{voice}.scm")
        with open(script, "w") as handle:
            handle.write("\n".join(lines) + "\n")
        subprocess.run(["festival", "-b", script], check=True, stdout=subprocess.DEVNULL)


def synthesise(out, split, jobs, processes):
    directory = os.path.join(out, split)
    os.makedirs(directory, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        festival_batch([job for job in jobs if job["engine"] == "festival"], scratch)
        reporter = Progress(f"synth {split}", len(jobs), "clips")
        with Pool(processes) as pool:
            for _ in pool.imap_unordered(render, [(job, directory) for job in jobs], chunksize=16):
                reporter.tick()
        reporter.finish()
    with open(os.path.join(out, f"{split}.jsonl"), "w") as handle:
        for job in jobs:
            record = {"id": job["id"], "file": f"{split}/{job['id']}.wav", "text": job["text"], "engine": job["engine"],
                      "voice": job["voice"], "condition": job["condition"]["name"]}
            handle.write(json.dumps(record) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--train", type=int, default=12000)
    parser.add_argument("--val", type=int, default=400)
    parser.add_argument("--test", type=int, default=800)
    parser.add_argument("--extra", type=int, default=12000, help="clips of a second training split, train2 (other sentences, voices and conditions)")
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--splits", default="test,val,train,train2")
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    test_texts = frozenset(sentences.corpus(args.test, args.seed * 1000 + 3))
    sizes = {"test": args.test, "val": args.val, "train": args.train, "train2": args.extra}
    seeds = {"test": args.seed * 1000 + 3, "val": args.seed * 1000 + 2, "train": args.seed * 1000 + 1, "train2": args.seed * 1000 + 5}
    for split in args.splits.split(","):
        exclude = frozenset() if split == "test" else test_texts
        jobs = plan(split, sizes[split], seeds[split], exclude)
        synthesise(args.out, split, jobs, args.processes)
        print(f"{split}: {len(jobs)} clips", flush=True)


if __name__ == "__main__":
    main()
