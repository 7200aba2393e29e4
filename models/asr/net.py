"""The acoustic model: log-mel frames and speech embeddings (the frozen front end's two outputs)
-> per-40-ms log-probabilities over the words plus the CTC blank.

mel [1, T, 32] -> two stride-2 convolutions (10 ms -> 40 ms frames) -> 128-d
embeddings [1, N, 96] (one per 80 ms, centred near mel frame 8i + 38) -> upsampled x2, shifted by
EMBEDDING_SHIFT frames so each 40-ms frame sees the embedding centred on it -> 128-d
concatenated -> residual dilated 1-D convolutions (dilations 1 2 4 1 2 4, kernel 5: 2.3 s of
context) -> linear -> log_softmax.

Why both inputs: the embeddings come from a model trained on a great deal of real speech, which
carries synthetic-speech training over to human voices (openWakeWord's insight); the mel frames
keep the fine timing that tells "one one" from "one" and places word boundaries.
Why convolutions rather than a recurrent net: on this CPU a 2-layer BiGRU trained ~5x slower per
batch than this stack for the same context, and the training budget is 30 minutes on 2 cores."""
import torch
from torch import nn

MEL_BANDS = 32
EMBEDDING_SIZE = 96
EMBEDDING_SHIFT = 9  # embedding i's centre, mel frame 8i + 38, is 40-ms frame 2i + 9
DILATIONS = (1, 2, 4, 1, 2, 4)


def output_frames(mel_frames):
    """Frames after the two stride-2 convolutions (kernel 5, padding 2): ceil(ceil(T / 2) / 2)."""
    return ((mel_frames + 1) // 2 + 1) // 2


class FrameNorm(nn.Module):
    """LayerNorm over channels, frame by frame: unlike batch or group norm it does not depend on
    the other clips of a batch or on padding, so training and serving (batch 1) see the same."""

    def __init__(self, channels):
        super().__init__()
        self.norm = nn.LayerNorm(channels)

    def forward(self, x):
        return self.norm(x.transpose(1, 2)).transpose(1, 2)


class Block(nn.Module):
    def __init__(self, channels, dilation, dropout):
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, 5, padding=2 * dilation, dilation=dilation)
        self.norm = FrameNorm(channels)
        self.act = nn.GELU()
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        return x + self.dropout(self.act(self.norm(self.conv(x))))


class AcousticModel(nn.Module):
    def __init__(self, vocabulary, channels=192, width=128, dropout=0.1, mel_drop=0.0):
        super().__init__()
        # Training only: the share of clips whose mel branch is silenced, so the model also learns
        # to recognise from the embeddings alone (trained on real speech, they carry over to people).
        self.mel_drop = mel_drop
        self.register_buffer("mel_mean", torch.zeros(MEL_BANDS))
        self.register_buffer("mel_std", torch.ones(MEL_BANDS))
        self.register_buffer("emb_mean", torch.zeros(EMBEDDING_SIZE))
        self.register_buffer("emb_std", torch.ones(EMBEDDING_SIZE))
        self.mel_conv = nn.Sequential(
            nn.Conv1d(MEL_BANDS, width, 5, stride=2, padding=2), nn.GELU(),
            nn.Conv1d(width, width, 5, stride=2, padding=2), nn.GELU(),
        )
        self.emb_proj = nn.Sequential(nn.Linear(EMBEDDING_SIZE, width), nn.GELU())
        self.mix = nn.Conv1d(2 * width, channels, 1)
        self.blocks = nn.Sequential(*[Block(channels, d, dropout) for d in DILATIONS])
        self.norm = FrameNorm(channels)
        self.out = nn.Conv1d(channels, vocabulary + 1, 1)

    def encode(self, mel, embeddings):
        """[B, T, 32], [B, N, 96] -> [B, 2 * width, T4] aligned frame features."""
        mel = (mel - self.mel_mean) / self.mel_std
        frames = self.mel_conv(mel.transpose(1, 2))
        if self.training and self.mel_drop > 0:
            frames = frames * (torch.rand(frames.shape[0], 1, 1) >= self.mel_drop).to(frames.dtype)
        count = frames.shape[2]
        emb = self.emb_proj((embeddings - self.emb_mean) / self.emb_std)
        batch, windows, width = emb.shape
        emb = emb.unsqueeze(2).expand(batch, windows, 2, width).reshape(batch, 2 * windows, width)
        head = emb[:, :1].expand(batch, EMBEDDING_SHIFT, width)
        tail = emb[:, -1:].expand(batch, count, width)
        emb = torch.cat([head, emb, tail], dim=1)[:, :count]
        return torch.cat([frames, emb.transpose(1, 2)], dim=1)

    def forward(self, mel, embeddings, lengths=None):
        """-> [B, T4, words + 1] log-probabilities (lengths unused: kept for the training loop's call)."""
        x = self.blocks(self.mix(self.encode(mel, embeddings)))
        return torch.log_softmax(self.out(self.norm(x)), dim=1).transpose(1, 2)
