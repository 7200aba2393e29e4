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


def window_sums(x, window, dim):
    """Sums over `window` neighbours along dim 2 or 3 (zero outside the frame), by a running
    sum: O(1) per pixel. Pooling or convolving with a 21-px window made a training step
    2.5x slower on one thread."""
    pad = window // 2
    size = x.shape[dim]
    padding = (pad + 1, pad, 0, 0) if dim == 3 else (0, 0, pad + 1, pad)
    running = F.pad(x, padding).cumsum(dim)
    return running.narrow(dim, window, size) - running.narrow(dim, 0, size)


def box_mean(x, window):
    """Mean over a window x window neighbourhood; at the edges over the part inside the frame."""
    ones = torch.ones(1, 1, x.shape[2], x.shape[3], dtype=x.dtype)
    sums = window_sums(window_sums(x, window, 3), window, 2)
    return sums / window_sums(window_sums(ones, window, 3), window, 2)


def local_contrast(gray, window, eps):
    """(x - local mean) / (local std + eps): a defect's visibility is defined against the
    texture's local std, so this is the quantity the net has to judge."""
    mean = box_mean(gray, window)
    variance = (box_mean(gray * gray, window) - mean * mean).clamp(min=0.0)
    return (gray - mean) / (torch.sqrt(variance) + eps)


def frame_mean(x):
    """Mean over channels and pixels, one axis at a time: onnxruntime's single float32 sum over
    196,608 values drifted 1e-4 from torch's; sums of <= 256 values agree to ~1e-7."""
    return x.mean(dim=3, keepdim=True).mean(dim=2, keepdim=True).mean(dim=1, keepdim=True)


def frame_norm(x):
    """Each channel relative to its mean and spread over the frame (instance normalisation without
    affine), written out: F.instance_norm's backward made a training step ~10 % slower still."""
    mean = x.mean(dim=(2, 3), keepdim=True)
    variance = ((x - mean) ** 2).mean(dim=(2, 3), keepdim=True)
    return (x - mean) / torch.sqrt(variance + 1e-5)


class DefectNet(nn.Module):
    # Softmax-like pooling temperature of the map logits for the image score: high enough
    # that one small defect dominates, low enough that the gradient reaches several cells.
    POOL_TEMPERATURE = 4.0

    # local_window > 0 adds a local-contrast channel (round 3, not in the deployed model: README
    # "Tried and not kept"). Floor of the local std (frames in [0, 1]): keeps sensor noise on
    # flat metal from being blown up; the visibility rule's smallest defect change is 0.08.
    LOCAL_EPS = 0.02

    def __init__(self, width=(16, 32, 64, 96), local_window=0, frame_relative=False):
        super().__init__()
        c1, c2, c3, c4 = width
        self.local_window = local_window
        self.frame_relative = frame_relative
        in_channels = 4 if local_window else 3
        self.stride2 = conv_bn_relu(in_channels, c1, stride=2)
        self.stride4 = nn.Sequential(conv_bn_relu(c1, c2, stride=2), conv_bn_relu(c2, c2))
        self.stride8 = nn.Sequential(conv_bn_relu(c2, c3, stride=2), conv_bn_relu(c3, c3))
        self.stride16 = nn.Sequential(
            conv_bn_relu(c3, c4, stride=2),
            conv_bn_relu(c4, c4, dilation=2),
            conv_bn_relu(c4, c4, dilation=4),
        )
        # frame_relative: the decoder also sees each feature relative to its mean and spread over
        # this frame (instance normalisation, no affine): a defect is what is rare in its own
        # frame, so texture that differs from the training region's (another part of the photo,
        # more leaves, darker gaps) but fills the frame stops looking like a defect. Round 5
        # tried it on gravel and grass and did not keep it (models/inspect/README.md).
        relative = 2 if frame_relative else 1
        self.lateral16 = nn.Conv2d(relative * c4, c2, 1)
        self.lateral8 = nn.Conv2d(relative * c3, c2, 1)
        self.lateral4 = nn.Conv2d(c2, c2, 1) if frame_relative else None
        self.fuse = nn.Sequential(conv_bn_relu(c2, c2), nn.Conv2d(c2, 1, 1))
        self.image_head = nn.Linear(2 * c4, 1)
        self.map_weight = nn.Parameter(torch.tensor(1.0))

    def forward(self, image):
        # Per-frame standardisation: exposure, contrast and lighting vary from frame to frame,
        # the defects do not; the net then spends no capacity on the camera.
        mean = frame_mean(image)
        std = torch.sqrt(frame_mean((image - mean) ** 2))
        x = (image - mean) / (std + 0.05)
        if self.local_window:
            # Both views: the local one (of brightness: the visibility rule's quantity) for thin
            # and small defects; the frame-wide colour one keeps large and tinted stains, which
            # a window smaller than the stain would flatten.
            gray = image.mean(dim=1, keepdim=True)
            x = torch.cat([x, local_contrast(gray, self.local_window, self.LOCAL_EPS)], dim=1)
        x2 = self.stride2(x)
        x4 = self.stride4(x2)
        x8 = self.stride8(x4)
        x16 = self.stride16(x8)
        tap16, tap8, skip4 = x16, x8, x4
        if self.frame_relative:
            tap16 = torch.cat([x16, frame_norm(x16)], dim=1)
            tap8 = torch.cat([x8, frame_norm(x8)], dim=1)
            skip4 = x4 + self.lateral4(frame_norm(x4))
        up16 = F.interpolate(self.lateral16(tap16), scale_factor=4.0, mode="bilinear",
                             align_corners=False)
        up8 = F.interpolate(self.lateral8(tap8), scale_factor=2.0, mode="bilinear",
                            align_corners=False)
        map_logits = self.fuse(skip4 + up8 + up16)
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
