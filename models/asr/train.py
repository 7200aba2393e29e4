"""Trains the acoustic model with CTC on the synthesised corpus's features and exports it to ONNX.

    python3 train.py --data DIR --out models/repository/asr [--minutes 25 --seed 7]

DIR holds features/{train,train2,val}.* from features.ts. Training is seeded (torch, numpy, batch
order) and stops after --minutes of wall time or --epochs, whichever comes first; the checkpoint
with the lowest validation word error rate (greedy decoding) is exported. Also writes the word
bigram of the training sentences for the decoder (bigram.json beside the card).

Guards that keep CTC from diverging (it did, to NaN, without them): inputs standardised with
training statistics baked into the model, zero_infinity, gradient-norm clipping, and a warm-up."""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
from torch import nn

sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from progress import Progress  # noqa: E402  (models/progress.py)
from net import EMBEDDING_SIZE, MEL_BANDS, AcousticModel, output_frames
from vocabulary import BLANK, WORDS, tokens


def load_split(data, split):
    folder = os.path.join(data, "features")
    with open(os.path.join(folder, f"{split}.index.json")) as handle:
        index = json.load(handle)
    mel = np.fromfile(os.path.join(folder, f"{split}.mel.f32"), dtype="<f4").reshape(-1, MEL_BANDS)
    emb = np.fromfile(os.path.join(folder, f"{split}.emb.f32"), dtype="<f4").reshape(-1, EMBEDDING_SIZE)
    clips = []
    for clip in index["clips"]:
        clips.append({
            "text": clip["text"],
            "tokens": tokens(clip["text"]),
            "mel": mel[clip["melRow"]: clip["melRow"] + clip["frames"]],
            "emb": emb[clip["embRow"]: clip["embRow"] + clip["windows"]],
        })
    return clips, mel, emb


def spec_augment(mel, rng):
    """Masks a few mel bands and short stretches of time (SpecAugment): the model cannot lean on
    any one band or moment, as noise and dropouts take them away in the field."""
    mel = mel.copy()
    frames = mel.shape[0]
    floor = mel.min()
    for _ in range(2):
        width = rng.integers(0, 6)
        start = rng.integers(0, MEL_BANDS - width + 1)
        mel[:, start:start + width] = floor
    for _ in range(max(1, frames // 150)):
        width = rng.integers(0, 12)
        start = rng.integers(0, max(1, frames - width))
        mel[start:start + width] = floor
    return mel


def batches(clips, batch_size, rng, augment):
    """Batches of similar length (less padding), in a seeded random order."""
    order = sorted(range(len(clips)), key=lambda i: len(clips[i]["mel"]) + rng.random() * 40)
    groups = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    rng.shuffle(groups)
    for group in groups:
        items = [clips[i] for i in group]
        frames = max(len(item["mel"]) for item in items)
        windows = max(len(item["emb"]) for item in items)
        mel = np.zeros((len(items), frames, MEL_BANDS), np.float32)
        emb = np.zeros((len(items), windows, EMBEDDING_SIZE), np.float32)
        for row, item in enumerate(items):
            values = spec_augment(item["mel"], rng) if augment else item["mel"]
            mel[row, : len(values)] = values
            mel[row, len(values):] = values[-1]
            emb[row, : len(item["emb"])] = item["emb"]
            emb[row, len(item["emb"]):] = item["emb"][-1]
        lengths = torch.tensor([output_frames(len(item["mel"])) for item in items])
        targets = torch.tensor([t for item in items for t in item["tokens"]])
        target_lengths = torch.tensor([len(item["tokens"]) for item in items])
        yield torch.from_numpy(mel), torch.from_numpy(emb), lengths, targets, target_lengths, items


def greedy(log_probs, length):
    best = log_probs[:length].argmax(-1).tolist()
    words, previous = [], BLANK
    for token in best:
        if token != previous and token != BLANK:
            words.append(WORDS[token - 1])
        previous = token
    return words


def edit_distance(a, b):
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (x != y))
    return row[-1]


def word_error_rate(model, clips):
    model.eval()
    errors = words = 0
    rng = np.random.default_rng(0)
    with torch.no_grad():
        for mel, emb, lengths, _, _, items in batches(clips, 32, rng, augment=False):
            out = model(mel, emb, lengths)
            for row, item in enumerate(items):
                reference = item["text"].split()
                errors += edit_distance(greedy(out[row], int(lengths[row])), reference)
                words += len(reference)
    model.train()
    return errors / max(words, 1)


def bigram(clips):
    """log P(next | previous) over the training sentences, add-k smoothed, with <s> and </s> rows:
    index 0 is the sentence boundary, word w is TOKEN[w]."""
    size = len(WORDS) + 1
    counts = np.full((size, size), 0.1)
    for clip in clips:
        sequence = [0] + clip["tokens"] + [0]
        for a, b in zip(sequence, sequence[1:]):
            counts[a, b] += 1
    return np.log(counts / counts.sum(axis=1, keepdims=True))


def export(model, out, stats):
    model.eval()
    path = os.path.join(out, "1", "model.onnx")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    mel = torch.randn(1, 300, MEL_BANDS)
    emb = torch.randn(1, 28, EMBEDDING_SIZE)
    torch.onnx.export(
        model, (mel, emb), path, opset_version=13,
        input_names=["mel", "embeddings"], output_names=["log_probs"],
        dynamic_axes={"mel": {1: "frames"}, "embeddings": {1: "windows"}, "log_probs": {1: "steps"}},
    )
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--minutes", type=float, default=25)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--channels", type=int, default=192)
    parser.add_argument("--dropout", type=float, default=0.15)
    parser.add_argument("--mel-drop", type=float, default=0.0, help="share of training clips with the mel branch silenced")
    parser.add_argument("--train-splits", default="train,train2")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    train, train_mel, train_emb = [], [], []
    for split in args.train_splits.split(","):
        clips, mel, emb = load_split(args.data, split)
        train += clips
        train_mel.append(mel)
        train_emb.append(emb)
    train_mel, train_emb = np.concatenate(train_mel), np.concatenate(train_emb)
    val, _, _ = load_split(args.data, "val")
    model = AcousticModel(len(WORDS), channels=args.channels, dropout=args.dropout, mel_drop=args.mel_drop)
    model.mel_mean.copy_(torch.from_numpy(train_mel.mean(0)))
    model.mel_std.copy_(torch.from_numpy(train_mel.std(0) + 1e-5))
    model.emb_mean.copy_(torch.from_numpy(train_emb.mean(0)))
    model.emb_std.copy_(torch.from_numpy(train_emb.std(0) + 1e-5))
    print(f"{len(train)} training clips ({len(train_mel) / 100 / 3600:.1f} h), {len(val)} validation; "
          f"{sum(p.numel() for p in model.parameters()) / 1e6:.2f} M parameters", flush=True)

    optimiser = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-2)
    steps_per_epoch = math.ceil(len(train) / args.batch)
    ctc = nn.CTCLoss(blank=BLANK, zero_infinity=True)
    started = time.time()
    budget = args.minutes * 60
    best = (math.inf, None)
    step = 0
    # The wall-time budget usually ends training before the last epoch: the bar counts batches of all epochs.
    reporter = Progress("train asr", args.epochs * steps_per_epoch, "batches")
    for epoch in range(args.epochs):
        total = 0.0
        for mel, emb, lengths, targets, target_lengths, _ in batches(train, args.batch, rng, augment=True):
            # Warm-up, then cosine decay over the time budget (wall time, since the budget is time).
            progress = min(1.0, (time.time() - started) / budget)
            warm = min(1.0, (step + 1) / 300)
            for group in optimiser.param_groups:
                group["lr"] = args.lr * warm * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress)))
            log_probs = model(mel, emb, lengths)
            loss = ctc(log_probs.transpose(0, 1), targets, lengths, target_lengths)
            optimiser.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimiser.step()
            total += loss.item()
            step += 1
            reporter.tick(note=f"epoch {epoch + 1}/{args.epochs}, budget {args.minutes:g} min")
        wer = word_error_rate(model, val)
        elapsed = time.time() - started
        reporter.log(f"epoch {epoch + 1}: loss {total / steps_per_epoch:.3f}, val WER {wer * 100:.2f}%, {elapsed:.0f} s", sys.stdout)
        if wer < best[0]:
            best = (wer, {k: v.clone() for k, v in model.state_dict().items()})
        if elapsed + elapsed / (epoch + 1) > budget:
            break
    reporter.finish(f"{epoch + 1} epochs, best val WER {best[0] * 100:.2f}%")
    model.load_state_dict(best[1])
    path = export(model, args.out, None)
    with open(os.path.join(args.out, "bigram.json"), "w") as handle:
        json.dump({"words": WORDS, "logProb": np.round(bigram(train), 3).tolist()}, handle)
    summary = {"validationWer": round(best[0], 4), "epochs": epoch + 1, "seconds": round(time.time() - started),
               "trainingClips": len(train), "trainingHours": round(len(train_mel) / 100 / 3600, 2),
               "parameters": sum(p.numel() for p in model.parameters()), "seed": args.seed,
               "dropout": args.dropout, "melDrop": args.mel_drop, "minutes": args.minutes}
    with open(os.path.join(args.out, "training.json"), "w") as handle:
        json.dump(summary, handle, indent=2)
    print(json.dumps(summary), path)


if __name__ == "__main__":
    main()
