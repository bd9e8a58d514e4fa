"""Timestamp embeddings: centred 1 s frames every 50 ms, each encoded like a scene.

Two passes over bounded chunks of frames: the first accumulates the normalisation
statistics (the reference needs stats over *all* frames before any frame is normalised;
skipped for fixed stats), the second normalises and encodes. Memory therefore depends on
the chunk size, not on the clip's length (apart from the output itself).
"""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from hear_byols.audio.validation import as_clip_groups
from hear_byols.errors import InvalidAudioError, InvalidOptionError
from hear_byols.timestamps.frame_log_mels import MaterializedFrames, SharedStftFrames, frame_log_mels
from hear_byols.encoders.fast import overlapping_frame_embeddings, shares_overlapping_frames
from hear_byols.timestamps.framing import (
    DEFAULT_FRAME_DURATION_MS,
    DEFAULT_HOP_SIZE_MS,
    FrameGrid,
    frame_grid,
    pad_for_frames,
)
from hear_byols.model import ByolsModel
from hear_byols.normalization import FIXED, Moments, apply_stats, timestamp_stats

#: Frames (over all clips) per forward pass: small chunks keep activations in cache (fastest on CPU)
#: and bound memory (~30 MB of activations for AudioNTT).
FRAMES_PER_FORWARD = 16
#: Frames (over all clips) per pass of encoders that share work between overlapping frames
#: (AudioNTT): longer runs of frames share more; ~100 MB of activations for AudioNTT.
SHARED_FRAMES_PER_FORWARD = 256

FRAME_METHODS = ("auto", "shared_stft", "materialized")


def timestamp_embeddings(
    model: ByolsModel,
    audio: Any,
    frame_duration: float = DEFAULT_FRAME_DURATION_MS,
    hop_size: float = DEFAULT_HOP_SIZE_MS,
    *,
    frame_method: str = "auto",
    frames_per_forward: int = FRAMES_PER_FORWARD,
) -> tuple[Tensor, Tensor]:
    """``(n_sounds, n_frames, D)`` embeddings and ``(n_sounds, n_frames)`` timestamps in ms."""
    if frame_method not in FRAME_METHODS:
        raise InvalidOptionError(f"frame_method={frame_method!r}; choose one of {FRAME_METHODS}")
    batch, grid = timestamp_batch(model, audio, frame_duration, hop_size)
    n_clips, device = batch.shape[0], batch.device
    model.to(device)
    with torch.inference_mode():
        frames = frame_log_mels(model.frontend, pad_for_frames(batch, grid), grid, frame_method)
        share = isinstance(frames, SharedStftFrames) and shares_overlapping_frames(model.encoder)
        # a chunk holds `count` frames of every clip: keep the total per forward pass bounded
        per_forward = SHARED_FRAMES_PER_FORWARD if share else frames_per_forward
        chunks = frame_chunks(grid.n_frames, max(1, per_forward // n_clips))
        means, stds = exact_timestamp_stats(model, batch, grid, frames, chunks)
        out = torch.empty(n_clips, grid.n_frames, model.timestamp_embedding_size, device=device)
        for first, count in chunks:
            log_mels = apply_stats(frames.chunk(first, count), means, stds)  # (b, count, n_mels, T)
            if share:
                span = apply_stats(frames.span(first, count), means, stds)
                embeddings = overlapping_frame_embeddings(
                    model.encoder, span, log_mels, frames.columns_per_step, frames.edge_width
                )
            else:
                embeddings = model(log_mels.flatten(0, 1)).unflatten(0, (n_clips, count))
            out[:, first : first + count] = embeddings
    timestamps = grid.timestamps_ms().to(device).expand(n_clips, -1)
    return out, timestamps


def timestamp_batch(model: ByolsModel, audio: Any, frame_duration: float, hop_size: float) -> tuple[Tensor, FrameGrid]:
    """Validated ``(n_sounds, n_samples)`` audio and its frame grid."""
    groups, _, _ = as_clip_groups(audio)
    if len(groups) > 1:
        lengths = sorted({group.audio.shape[1] for group in groups})
        raise InvalidAudioError(
            f"timestamp embeddings need clips of equal length to stack them (got lengths {lengths}): "
            "zero-pad the clips to one length, or call get_timestamp_embeddings once per clip"
        )
    batch = groups[0].audio
    grid = frame_grid(batch.shape[1], model.sample_rate, float(frame_duration), float(hop_size))
    model.require_samples(grid.frame_size, f"a frame of frame_duration={frame_duration} ms")
    return batch, grid


def frame_chunks(n_frames: int, per_chunk: int) -> list[tuple[int, int]]:
    """``(first, count)`` of consecutive chunks covering all frames."""
    return [(first, min(per_chunk, n_frames - first)) for first in range(0, n_frames, per_chunk)]


def exact_timestamp_stats(
    model: ByolsModel,
    batch: Tensor,
    grid: FrameGrid,
    frames: MaterializedFrames | SharedStftFrames | None = None,
    chunks: list[tuple[int, int]] | None = None,
) -> tuple[Tensor, Tensor]:
    """First pass: per-clip ``(mean, std)`` tensors from the moments of all frames' log-mels.

    Fixed statistics need no pass over the frames.
    """
    n_clips = batch.shape[0]
    moments = [Moments() for _ in range(n_clips)]
    if model.normalization.mode != FIXED:
        frames = frames or frame_log_mels(model.frontend, pad_for_frames(batch, grid), grid)
        for first, count in chunks or frame_chunks(grid.n_frames, FRAMES_PER_FORWARD):
            log_mels = frames.chunk(first, count)
            for clip, clip_moments in enumerate(moments):
                clip_moments.add(log_mels[clip])
    stats = timestamp_stats(model.normalization, moments, grid.n_frames)
    means = torch.tensor([mean for mean, _ in stats], device=batch.device)
    stds = torch.tensor([std for _, std in stats], device=batch.device)
    return means, stds
