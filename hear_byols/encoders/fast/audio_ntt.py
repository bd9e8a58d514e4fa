"""AudioNTT2020 in eval mode, arranged for CPU speed and bounded memory (same numbers ~1e-6)."""
from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from hear_byols.encoders.audio_ntt import AudioNTT2020
from hear_byols.encoders.base import flatten_channels_per_time_step
from hear_byols.encoders.fast.conv_ops import fold_batch_norm, max_pool_2x2

#: Log-mel columns per pooled time step (three 2x2 max-pools).
STEP_COLUMNS = 8
#: Time steps computed per window (~1 MB of conv activations per step per clip).
STEPS_PER_WINDOW = 512


def conv_blocks(encoder: AudioNTT2020) -> list[tuple[nn.Conv2d, nn.BatchNorm2d]]:
    """``(conv, batch_norm)`` of each block (each followed by ReLU and a 2x2 max-pool)."""
    return list(zip(encoder.features[0::4], encoder.features[1::4]))


def eval_features(encoder: AudioNTT2020, x: Tensor) -> Tensor:
    """``encoder.features`` in eval mode, rearranged for CPU speed.

    Each block's BatchNorm is folded into its convolution, the 2x2 max-pool is taken
    before the ReLU (they commute exactly), on 4x less data, and the pool itself is an
    element-wise maximum of four strided views: on CPU ``max_pool2d`` (which also
    computes indices) and the separate BatchNorm/ReLU passes took half the encoder's time.
    """
    for conv, batch_norm in conv_blocks(encoder):
        weight, bias = fold_batch_norm(conv, batch_norm)
        x = F.relu_(max_pool_2x2(F.conv2d(x, weight, bias, padding=conv.padding)))
    return x


def time_features(encoder: AudioNTT2020, log_mel: Tensor) -> Tensor:
    """``encoder.time_features`` in eval mode; long inputs in aligned windows of steps."""
    n_steps = log_mel.shape[-1] // STEP_COLUMNS
    if n_steps <= STEPS_PER_WINDOW:
        return encoder.fc(flatten_channels_per_time_step(eval_features(encoder, log_mel)))
    return torch.cat(
        [_window_time_features(encoder, log_mel, first, min(first + STEPS_PER_WINDOW, n_steps))
         for first in range(0, n_steps, STEPS_PER_WINDOW)],
        dim=1,
    )


def _window_time_features(encoder: AudioNTT2020, log_mel: Tensor, first: int, end: int) -> Tensor:
    """Steps ``first..end-1`` from a window of the log-mel: step ``j`` only sees columns
    ``[8j - 7, 8j + 14]`` (three 3x3 convs and 2x2 pools), so a window aligned to 8 columns
    with that much context gives exactly the whole clip's steps, in memory bounded by the
    window, not the clip (a 10-minute scene embedding would otherwise take ~2.3 GB)."""
    start = max(0, (first - 1) * STEP_COLUMNS)
    stop = min(log_mel.shape[-1], end * STEP_COLUMNS + 2 * STEP_COLUMNS)
    window = eval_features(encoder, log_mel[..., start:stop])
    skip = first - start // STEP_COLUMNS
    return encoder.fc(flatten_channels_per_time_step(window[..., skip : skip + end - first]))
