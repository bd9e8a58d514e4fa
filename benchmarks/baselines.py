"""Straightforward implementations of the embedding contract, the yardstick of bench.py.

They do what the original serab-byols does, written plainly with this package's pieces:
the scene path loops over clips one at a time, the timestamp path materialises every
overlapping 1 s frame, computes its log-mel separately and encodes 512 frames at a time.
Same numbers as the package's fast paths (the parity tests hold for both), different cost.
"""
from __future__ import annotations

import torch
from torch import Tensor

from hear_byols.timestamps.framing import (
    DEFAULT_FRAME_DURATION_MS,
    DEFAULT_HOP_SIZE_MS,
    frame_grid,
    frames_view,
    pad_for_frames,
)
from hear_byols.inference.model import ByolsModel
from hear_byols.logmel.normalization import apply_stats, clip_mean_std

REFERENCE_FRAME_BATCH = 512


def scene_per_clip_loop(model: ByolsModel, audio: Tensor) -> Tensor:
    """Reference scene stats, then one encoder call per clip."""
    with torch.inference_mode():
        means, stds = clip_mean_std(model.frontend(audio))
        mean, std = means.mean().item(), stds.mean().item()
        return torch.cat([model(apply_stats(model.frontend(clip[None]), mean, std)) for clip in audio])


def timestamp_materialized(model: ByolsModel, audio: Tensor) -> Tensor:
    """Every frame materialised, its own STFT, reference stats divided by N, 512 frames per call."""
    with torch.inference_mode():
        grid = frame_grid(audio.shape[1], model.sample_rate, DEFAULT_FRAME_DURATION_MS, DEFAULT_HOP_SIZE_MS)
        frames = frames_view(pad_for_frames(audio, grid), grid, 0, grid.n_frames).contiguous()
        log_mels = model.frontend(frames.flatten(0, 1))
        n_frames = log_mels.shape[0]
        mean, std = log_mels.mean().item() / n_frames, log_mels.std().item() / n_frames
        normalised = apply_stats(log_mels, mean, std)
        embeddings = torch.cat([model(chunk) for chunk in normalised.split(REFERENCE_FRAME_BATCH)])
        return embeddings.unflatten(0, (audio.shape[0], grid.n_frames))
