#!/usr/bin/env bash
# The recogniser from nothing: synthesise the corpus, compute the front end's features, train,
# tune the decoder on validation, write the card. Every step is seeded; the same run gives the
# same corpus and (up to float summation order across threads) the same model.
#
#   bash models/asr/build.sh [DATA_DIR]        (default models/asr/data; ~14 GB free needed)
#
# Needs: Debian's python3-torch python3-onnx python3-numpy, espeak-ng, festival with festvox-kallpc16k,
# festvox-kdlpc16k and festvox-us-slt-hts, sox (apt-get install ...), and `npm ci` done.
# Times measured on this 2-core machine (see models/asr/README.md): synthesis ~7 min, features
# ~20 min, training 25 min (its own budget, --minutes), decoder tuning ~3 min.
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA="${1:-models/asr/data}"
OUT=models/repository/asr
PY=/usr/bin/python3
step() { echo "== $1 ($(date +%T))"; }

step "synthesise train, train2, val, test"
$PY models/asr/synth.py --out "$DATA"
step "front-end features (melspec + speech_embedding through onnxruntime-node)"
npx tsx models/asr/features.ts "$DATA" train train2 val test
step "train (CTC, 25 min budget) and export ONNX"
$PY models/asr/train.py --data "$DATA" --out "$OUT" --minutes 25 --seed 7
$PY models/asr/card.py --out "$OUT"
step "tune the beam decoder on validation"
npx tsx models/asr/tune-decoder.ts "$DATA"
$PY models/asr/card.py --out "$OUT"
step "done: npm run eval:asr -- --data $DATA"
