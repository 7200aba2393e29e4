"""Write torch reference outputs for check-onnx.mjs: a batch of held-out frames and the outputs.

  /usr/bin/python3 models/inspect/reference.py [--out /tmp/inspect-reference] [--surface gravel] [--checkpoint PT]

Files (raw little-endian float32): image.f32 [4,3,256,256], defect_map.f32 [4,1,64,64], score.f32 [4].
"""
import argparse
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from heldout import heldout_frames  # noqa: E402
from net import DefectNet, ExportWrapper  # noqa: E402
from train import CACHE, to_tensor  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description="Torch reference outputs for the ONNX check.")
    parser.add_argument("--out", default="/tmp/inspect-reference")
    # The checkpoint's architecture, as train.py was given it (round-3 options; defaults = deployed).
    parser.add_argument("--local-window", type=int, default=0)
    parser.add_argument("--frame-relative", action="store_true",
                        help="decoder also sees features normalised over the frame (net.py)")
    parser.add_argument("--width", type=int, nargs=4, default=[16, 32, 64, 96])
    parser.add_argument("--checkpoint", default=os.path.join(CACHE, "defect.pt"),
                        help="a specialist's is defect-<surface>.pt")
    parser.add_argument("--surface", default="gravel", help="held-out frames of this surface")
    args = parser.parse_args()
    net = DefectNet(width=tuple(args.width), local_window=args.local_window,
                    frame_relative=args.frame_relative)
    net.load_state_dict(torch.load(args.checkpoint))
    model = ExportWrapper(net).eval()
    # Two good and two defective frames: both outcomes are exercised.
    frames = [frame["pixels"] for _, frame in heldout_frames(args.surface, 4)]
    image = to_tensor(np.stack(frames))
    with torch.no_grad():
        defect_map, score = model(image)
    os.makedirs(args.out, exist_ok=True)
    for name, tensor in (("image", image), ("defect_map", defect_map), ("score", score)):
        tensor.numpy().astype("<f4").tofile(os.path.join(args.out, name + ".f32"))
    print("scores", score.numpy().round(4).tolist(), "->", args.out)


if __name__ == "__main__":
    main()
