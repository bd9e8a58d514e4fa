"""Approximate timestamp embeddings: encode each clip once, pool features per 1 s window.

The exact path encodes every 1 s frame separately (20 overlapping encoder passes per
second of audio at a 50 ms hop). Here the encoder runs once over the whole clip's log-mel
(normalised with the exact path's statistics) and each timestamp's embedding pools the
encoder's per-time-step features inside the 1 s window around it, the way the layer pools a
clip (mean + max; or the mean, for SERAB's mean-pooled CvT). This is
an approximation (receptive fields cross window borders; convolutions see real neighbours
instead of zero padding): benchmarks/RESULTS.md reports how close it is.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from hear_byols.encoders.base import MEAN_MAX, pool_over_time
from hear_byols.inference.model import ByolsModel
from hear_byols.logmel.normalization import apply_stats
from hear_byols.inference.runtime import inference, ordinary_empty
from hear_byols.timestamps.exact import exact_timestamp_stats, timestamp_batch
from hear_byols.timestamps.framing import DEFAULT_FRAME_DURATION_MS, DEFAULT_HOP_SIZE_MS, MS_PER_SECOND


#: Window steps gathered per pooling pass (bounds the ``(b, frames, width, D)`` gather).
POOLED_STEPS_PER_PASS = 1 << 13


def sliding_timestamp_embeddings(
    model: ByolsModel,
    audio: Any,
    frame_duration: float = DEFAULT_FRAME_DURATION_MS,
    hop_size: float = DEFAULT_HOP_SIZE_MS,
) -> tuple[Tensor, Tensor]:
    """Same shapes and timestamps as the exact path, from one encoder pass per clip."""
    layer = model.selected_layer  # one layer for the whole call, whatever other threads select
    model.require_pooling_over_time(layer)
    batch, grid = timestamp_batch(model, audio, frame_duration, hop_size)
    n_clips, audio_device = batch.shape[0], batch.device
    hop_ms = MS_PER_SECOND * model.spec.frontend.hop_length / model.sample_rate
    timestamps = grid.timestamps_ms()
    with inference(model) as device:
        batch = batch.to(device)
        means, stds = exact_timestamp_stats(model, batch, grid)
        log_mel = apply_stats(model.frontend(batch), means, stds)
        features = model.time_features(log_mel, layer)  # (b, T', D)
        ms_per_step = hop_ms * log_mel.shape[-1] / features.shape[1]
        firsts, lasts = window_steps(timestamps, frame_duration / 2.0, ms_per_step, features.shape[1])
        out = pool_windows(features, firsts, lasts, model.selected_layer.pooling)
    return out.to(audio_device), timestamps.to(audio_device).expand(n_clips, -1).clone()


def window_steps(centres_ms: Tensor, half_ms: float, ms_per_step: float, n_steps: int) -> tuple[Tensor, Tensor]:
    """First and end (exclusive) feature step of the window around each centre, at least one step."""
    centres = centres_ms.double()
    firsts = torch.floor((centres - half_ms) / ms_per_step).long().clamp(min=0)
    lasts = torch.minimum(torch.ceil((centres + half_ms) / ms_per_step).long().clamp(min=firsts + 1), torch.tensor(n_steps))
    return firsts, lasts


def pool_windows(features: Tensor, firsts: Tensor, lasts: Tensor, pooling: str) -> Tensor:
    """``features`` ``(b, T, D)`` pooled by ``pooling`` (``MEAN_MAX`` or ``MEAN``) over steps
    ``firsts[k] .. lasts[k]-1`` for every window ``k``: ``(b, n_windows, D)``.

    ``firsts`` and ``lasts`` are host tensors (no device sync). On CPU one contiguous slice per
    window is cheapest (the masked gathers below measured 1.3-1.7x slower in the benchmark); on
    an accelerator the per-window kernel launches dominate, so windows are pooled in a few gathers.
    """
    if features.device.type == "cpu":
        return pool_windows_by_slices(features, firsts, lasts, pooling)
    return pool_windows_by_gathers(features, firsts, lasts, pooling)


def pool_windows_by_slices(features: Tensor, firsts: Tensor, lasts: Tensor, pooling: str) -> Tensor:
    """``pool_windows`` as one slice per window."""
    out = ordinary_empty(features.shape[0], len(firsts), features.shape[-1], device=features.device)
    for k, (first, last) in enumerate(zip(firsts.tolist(), lasts.tolist())):
        out[:, k] = pool_over_time(features[:, first:last], pooling)
    return out


def pool_windows_by_gathers(features: Tensor, firsts: Tensor, lasts: Tensor, pooling: str) -> Tensor:
    """``pool_windows`` in passes of masked gathers (``POOLED_STEPS_PER_PASS`` steps each)."""
    out = ordinary_empty(features.shape[0], len(firsts), features.shape[-1], device=features.device)
    width = max(1, int((lasts - firsts).max()))
    firsts, lasts = firsts.to(features.device), lasts.to(features.device)
    offsets = torch.arange(width, device=features.device)
    per_pass = max(1, POOLED_STEPS_PER_PASS // (width * features.shape[0]))
    for begin in range(0, len(firsts), per_pass):
        first, last = firsts[begin : begin + per_pass, None], lasts[begin : begin + per_pass, None]
        steps = first + offsets  # (n, width)
        inside = (steps < last)[None, :, :, None]
        window = features[:, steps.clamp(max=features.shape[1] - 1)]  # (b, n, width, D)
        pooled = torch.where(inside, window, 0.0).sum(dim=2) / (last - first)
        if pooling == MEAN_MAX:
            pooled = pooled + torch.where(inside, window, -torch.inf).amax(dim=2)
        out[:, begin : begin + per_pass] = pooled
    return out
