"""Score the trained torch model on the held-out (test-split) frames, with the card's thresholds.

  /usr/bin/python3 models/inspect/evaluate.py [--per-surface 200] [--checkpoint /tmp/inspect-cache/defect.pt]
  /usr/bin/python3 models/inspect/evaluate.py --surfaces gravel --checkpoint /tmp/inspect-cache/defect-gravel.pt \
      --card models/repository/defect-gravel/card.json      # a specialist

Prints image-level AUROC per surface and per defect type, the false-alarm and detection rates
at the card's per-surface thresholds, and the localisation hit rate (a true defect box counts
as found when a predicted region overlaps it).
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from defects import DEFECT_TYPES  # noqa: E402
from heldout import heldout_frames  # noqa: E402
from metrics import auroc, hit_count  # noqa: E402
from net import DefectNet  # noqa: E402
from surfaces import SURFACES  # noqa: E402
from train import CACHE, REPO, predict  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description="Evaluate the defect model on held-out frames.")
    parser.add_argument("--per-surface", type=int, default=200)
    parser.add_argument("--checkpoint", default=os.path.join(CACHE, "defect.pt"))
    # The checkpoint's architecture, as train.py was given it (round-3 options; defaults = deployed).
    parser.add_argument("--local-window", type=int, default=0)
    parser.add_argument("--frame-relative", action="store_true",
                        help="decoder also sees features normalised over the frame (net.py)")
    parser.add_argument("--width", type=int, nargs=4, default=[16, 32, 64, 96])
    parser.add_argument("--surfaces", default=",".join(SURFACES),
                        help="comma-separated surfaces to evaluate (a specialist: its own)")
    parser.add_argument("--card", default=os.path.join(REPO, "models", "repository", "defect", "card.json"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    with open(args.card) as f:
        defaults = json.load(f)["defaults"]
    net = DefectNet(width=tuple(args.width), local_window=args.local_window,
                    frame_relative=args.frame_relative)
    net.load_state_dict(torch.load(args.checkpoint))

    kinds, scores_all, surfaces_all = [], [], []
    hits = boxes_total = 0
    report = {"surfaces": {}}
    for surface in args.surfaces.split(","):
        frames = [frame for _, frame in heldout_frames(surface, args.per_surface)]
        maps, scores = predict(net, np.stack([frame["pixels"] for frame in frames]))
        labels = np.array([1 if frame["defects"] else 0 for frame in frames])
        threshold = defaults["surfaces"][surface]["threshold"]
        surface_hits = surface_boxes = 0
        for frame, defect_map in zip(frames, maps):
            boxes = [defect["box"] for defect in frame["defects"]]
            surface_hits += hit_count(defect_map, boxes, defaults["regionThreshold"])
            surface_boxes += len(boxes)
        report["surfaces"][surface] = {
            "auroc": round(auroc(scores, labels), 4),
            "falseAlarmRate": round(float(np.mean(scores[labels == 0] > threshold)), 4),
            "detectionRate": round(float(np.mean(scores[labels == 1] > threshold)), 4),
            "hitRate": round(surface_hits / max(surface_boxes, 1), 4),
        }
        hits += surface_hits
        boxes_total += surface_boxes
        kinds += [frame["defects"][0]["kind"] if frame["defects"] else None for frame in frames]
        scores_all.append(scores)
        surfaces_all += [surface] * len(frames)
    scores_all = np.concatenate(scores_all)
    kinds = np.array(kinds, dtype=object)
    good = np.array([kind is None for kind in kinds])
    report["aurocByDefect"] = {}
    for kind in DEFECT_TYPES:
        rows = good | (kinds == kind)
        report["aurocByDefect"][kind] = round(auroc(scores_all[rows], (~good)[rows]), 4)
    report["hitRate"] = round(hits / max(boxes_total, 1), 4)
    report["frames"] = len(scores_all)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
