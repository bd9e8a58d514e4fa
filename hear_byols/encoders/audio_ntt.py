"""AudioNTT2020 encoder (BYOL-A / BYOL-S): three conv blocks, an MLP per time step, mean+max."""
from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from hear_byols.encoders.audio_ntt_overlap import overlapping_frame_embeddings
from hear_byols.encoders.base import Encoder, flatten_channels_per_time_step
from hear_byols.encoders.conv_ops import fold_batch_norm, max_pool_2x2


#: Log-mel columns per pooled time step (three 2x2 max-pools).
STEP_COLUMNS = 8
#: Time steps computed per window in eval mode (~1 MB of conv activations per step per clip).
STEPS_PER_WINDOW = 512


def _conv_block(in_channels: int, out_channels: int) -> list[nn.Module]:
    return [
        nn.Conv2d(in_channels, out_channels, 3, stride=1, padding=1),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(),
        nn.MaxPool2d(2, stride=2),
    ]


class AudioNTT2020(Encoder):
    """Module tree (``features.*``, ``fc.*``) identical to the reference's, so checkpoints load."""

    min_frames = 8  # three 2x2 max-pools need 8 time steps to leave one

    def __init__(self, n_mels: int = 64, d: int = 2048) -> None:
        super().__init__()
        self.features = nn.Sequential(*_conv_block(1, 64), *_conv_block(64, 64), *_conv_block(64, 64))
        self.fc = nn.Sequential(
            nn.Linear(64 * (n_mels // 2**3), d),
            nn.ReLU(),
            nn.Dropout(p=0.3),
            nn.Linear(d, d),
            nn.ReLU(),
        )
        self.embedding_size = d

    def time_features(self, log_mel: Tensor) -> Tensor:
        if self.training:
            return self.fc(flatten_channels_per_time_step(self.features(log_mel)))
        n_steps = log_mel.shape[-1] // STEP_COLUMNS
        if n_steps <= STEPS_PER_WINDOW:
            return self.fc(flatten_channels_per_time_step(self._eval_features(log_mel)))
        return torch.cat(
            [self._window_time_features(log_mel, first, min(first + STEPS_PER_WINDOW, n_steps))
             for first in range(0, n_steps, STEPS_PER_WINDOW)],
            dim=1,
        )

    def _window_time_features(self, log_mel: Tensor, first: int, end: int) -> Tensor:
        """Steps ``first..end-1`` from a window of the log-mel: step ``j`` only sees columns
        ``[8j - 7, 8j + 14]`` (three 3x3 convs and 2x2 pools), so a window aligned to 8 columns
        with that much context gives exactly the whole clip's steps, in memory bounded by the
        window, not the clip (a 10-minute scene embedding would otherwise take ~2.3 GB)."""
        start = max(0, (first - 1) * STEP_COLUMNS)
        stop = min(log_mel.shape[-1], end * STEP_COLUMNS + 2 * STEP_COLUMNS)
        window = self._eval_features(log_mel[..., start:stop])
        skip = first - start // STEP_COLUMNS
        return self.fc(flatten_channels_per_time_step(window[..., skip : skip + end - first]))

    @property
    def shares_overlapping_frames(self) -> bool:
        return not self.training

    def overlapping_frame_embeddings(self, span: Tensor, frames: Tensor, step: int, edge_width: int) -> Tensor:
        return overlapping_frame_embeddings(self, span, frames, step, edge_width)

    def _eval_features(self, x: Tensor) -> Tensor:
        """``self.features`` in eval mode, rearranged for CPU speed (same numbers within ~1e-6).

        Each block's BatchNorm is folded into its convolution, the 2x2 max-pool is taken
        before the ReLU (they commute exactly), on 4x less data, and the pool itself is an
        element-wise maximum of four strided views: on CPU ``max_pool2d`` (which also
        computes indices) and the separate BatchNorm/ReLU passes took half the encoder's time.
        """
        for conv, batch_norm in self.conv_blocks():
            weight, bias = fold_batch_norm(conv, batch_norm)
            x = F.relu_(max_pool_2x2(F.conv2d(x, weight, bias, padding=conv.padding)))
        return x

    def conv_blocks(self) -> list[tuple[nn.Conv2d, nn.BatchNorm2d]]:
        """``(conv, batch_norm)`` of each block (each followed by ReLU and a 2x2 max-pool)."""
        return list(zip(self.features[0::4], self.features[1::4]))

