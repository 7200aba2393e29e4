"""The defect-inspection network: one small fully-convolutional net for every surface.

Input  image      [n, 3, 256, 256] RGB in [0, 1]
Output defect_map [n, 1, 64, 64]   per-cell defect probability at stride 4
Output score      [n]              image-level defect probability

An encoder down to stride 16 gives each cell enough context to tell a defect from the
texture's own structure (mortar lines, pebble edges, grass blades); a stride-4 skip keeps
thin scratches and small spots. Upsampling is bilinear + conv (ConvTranspose2d is ~20x
slower in this torch build).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


def conv_bn_relu(in_channels, out_channels, stride=1, dilation=1):
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=dilation,
                  dilation=dilation, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


def frame_mean(x):
    """Mean over channels and pixels, one axis at a time: onnxruntime's single float32 sum over
    196,608 values drifted 1e-4 from torch's; sums of <= 256 values agree to ~1e-7."""
    return x.mean(dim=3, keepdim=True).mean(dim=2, keepdim=True).mean(dim=1, keepdim=True)


class DefectNet(nn.Module):
    # Softmax-like pooling temperature of the map logits for the image score: high enough
    # that one small defect dominates, low enough that the gradient reaches several cells.
    POOL_TEMPERATURE = 4.0

    def __init__(self, width=(16, 32, 64, 96)):
        super().__init__()
        c1, c2, c3, c4 = width
        self.stride2 = conv_bn_relu(3, c1, stride=2)
        self.stride4 = nn.Sequential(conv_bn_relu(c1, c2, stride=2), conv_bn_relu(c2, c2))
        self.stride8 = nn.Sequential(conv_bn_relu(c2, c3, stride=2), conv_bn_relu(c3, c3))
        self.stride16 = nn.Sequential(
            conv_bn_relu(c3, c4, stride=2),
            conv_bn_relu(c4, c4, dilation=2),
            conv_bn_relu(c4, c4, dilation=4),
        )
        self.lateral16 = nn.Conv2d(c4, c2, 1)
        self.lateral8 = nn.Conv2d(c3, c2, 1)
        self.fuse = nn.Sequential(conv_bn_relu(c2, c2), nn.Conv2d(c2, 1, 1))
        self.image_head = nn.Linear(2 * c4, 1)
        self.map_weight = nn.Parameter(torch.tensor(1.0))

    def forward(self, image):
        # Per-frame standardisation: exposure, contrast and lighting vary from frame to frame,
        # the defects do not; the net then spends no capacity on the camera.
        mean = frame_mean(image)
        std = torch.sqrt(frame_mean((image - mean) ** 2))
        x2 = self.stride2((image - mean) / (std + 0.05))
        x4 = self.stride4(x2)
        x8 = self.stride8(x4)
        x16 = self.stride16(x8)
        up16 = F.interpolate(self.lateral16(x16), scale_factor=4.0, mode="bilinear",
                             align_corners=False)
        up8 = F.interpolate(self.lateral8(x8), scale_factor=2.0, mode="bilinear",
                            align_corners=False)
        map_logits = self.fuse(x4 + up8 + up16)
        flat = map_logits.flatten(1)
        t = self.POOL_TEMPERATURE
        pooled = (torch.logsumexp(t * flat, dim=1) - torch.log(torch.tensor(float(flat.shape[1])))) / t
        deep = torch.cat([x16.mean(dim=(2, 3)), x16.amax(dim=(2, 3))], dim=1)
        score_logit = self.map_weight * pooled + self.image_head(deep).squeeze(1)
        return map_logits, score_logit


class ExportWrapper(nn.Module):
    """The ONNX contract: probabilities, not logits."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, image):
        map_logits, score_logit = self.net(image)
        return torch.sigmoid(map_logits), torch.sigmoid(score_logit)


def count_parameters(model):
    return sum(p.numel() for p in model.parameters())
