"""Approximate timestamp embeddings: encode each clip once, pool features per 1 s window.

The exact path encodes every 1 s frame separately (20 overlapping encoder passes per
second of audio at a 50 ms hop). Here the encoder runs once over the whole clip's log-mel
(normalised with the exact path's statistics) and each timestamp's embedding is the
mean + max of the encoder's per-time-step features inside the 1 s window around it. This is
an approximation (receptive fields cross window borders; convolutions see real neighbours
instead of zero padding): benchmarks/RESULTS.md reports how close it is.
"""
from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from hear_byols.encoders.fast import pools_over_time, time_features
from hear_byols.errors import InvalidOptionError
from hear_byols.model import ByolsModel
from hear_byols.normalization import apply_stats
from hear_byols.timestamps.exact import exact_timestamp_stats, timestamp_batch
from hear_byols.timestamps.framing import DEFAULT_FRAME_DURATION_MS, DEFAULT_HOP_SIZE_MS, MS_PER_SECOND


def sliding_timestamp_embeddings(
    model: ByolsModel,
    audio: Any,
    frame_duration: float = DEFAULT_FRAME_DURATION_MS,
    hop_size: float = DEFAULT_HOP_SIZE_MS,
) -> tuple[Tensor, Tensor]:
    """Same shapes and timestamps as the exact path, from one encoder pass per clip."""
    if not pools_over_time(model.encoder):
        raise InvalidOptionError(
            f"timestamp_mode='sliding' needs an encoder that pools over time; hear_byols.{model.variant}'s "
            "embedding is the last recurrent state: use timestamp_mode='exact'"
        )
    batch, grid = timestamp_batch(model, audio, frame_duration, hop_size)
    n_clips, device = batch.shape[0], batch.device
    model.to(device)
    hop_ms = MS_PER_SECOND * model.spec.frontend.hop_length / model.sample_rate
    with torch.inference_mode():
        means, stds = exact_timestamp_stats(model, batch, grid)
        log_mel = apply_stats(model.frontend(batch), means, stds)
        features = time_features(model.encoder, log_mel.unsqueeze(1))  # (b, T', D)
        ms_per_step = hop_ms * log_mel.shape[-1] / features.shape[1]
        timestamps = grid.timestamps_ms()
        out = torch.empty(n_clips, grid.n_frames, features.shape[-1], device=device)
        half = frame_duration / 2.0
        for k, centre in enumerate(timestamps.tolist()):
            first = max(0, math.floor((centre - half) / ms_per_step))
            last = min(features.shape[1], max(first + 1, math.ceil((centre + half) / ms_per_step)))
            window = features[:, first:last]
            out[:, k] = window.mean(dim=1) + window.amax(dim=1)
    return out, timestamps.to(device).expand(n_clips, -1)
