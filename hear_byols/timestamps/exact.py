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
from hear_byols.inference.chunking import items_per_forward
from hear_byols.inference.model import ByolsModel
from hear_byols.logmel.normalization import FIXED, Moments, apply_stats, timestamp_stats
from hear_byols.inference.runtime import inference, ordinary_empty

#: Frames per forward pass on CPU: small chunks keep activations in cache (fastest on CPU) and
#: bound memory (~30 MB of activations for AudioNTT).
FRAMES_PER_FORWARD = 16
#: Frames per pass on CPU of encoders that share work between overlapping frames (AudioNTT):
#: longer runs of frames share more; ~100 MB of activations for AudioNTT.
SHARED_FRAMES_PER_FORWARD = 256
#: At most this many frames per pass on a GPU, however much memory is free.
MAX_FRAMES_PER_FORWARD = 8192

FRAME_METHODS = ("auto", "shared_stft", "materialized")

#: ``(clips, first, count)``: frames ``first .. first+count-1`` of the clips ``clips``
Chunk = tuple[slice, int, int]


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
    n_clips, audio_device = batch.shape[0], batch.device
    layer = model.selected_layer  # one layer for the whole call, whatever other threads select
    with inference(model) as device:
        batch = batch.to(device)
        frames = frame_log_mels(model.frontend, pad_for_frames(batch, grid), grid, frame_method)
        share = (
            isinstance(frames, SharedStftFrames)
            and model.is_final(layer)  # the shared-frame path computes the final layer only
            and shares_overlapping_frames(model.encoder)
        )
        cpu_frames = SHARED_FRAMES_PER_FORWARD if share else frames_per_forward
        chunks = frame_chunks(n_clips, grid.n_frames, frames_per_pass(model, grid, cpu_frames, device))
        means, stds = exact_timestamp_stats(model, batch, grid, frames, chunks)
        out = ordinary_empty(n_clips, grid.n_frames, layer.size, device=device)
        for clips, first, count in chunks:
            mean, std = means[clips], stds[clips]
            log_mels = apply_stats(frames.chunk(first, count, clips), mean, std)  # (b, count, n_mels, T)
            if share:
                span = apply_stats(frames.span(first, count, clips), mean, std)
                with model.encoder_precision(device):
                    embeddings = overlapping_frame_embeddings(
                        model.encoder, span, log_mels, frames.columns_per_step, frames.edge_width
                    ).float()
            else:
                embeddings = model(log_mels.flatten(0, 1), layer).unflatten(0, (log_mels.shape[0], count))
            out[clips, first : first + count] = embeddings
    timestamps = grid.timestamps_ms().to(audio_device).expand(n_clips, -1).clone()
    return out.to(audio_device), timestamps


def frames_per_pass(model: ByolsModel, grid: FrameGrid, cpu_frames: int, device: torch.device) -> int:
    """Frames per forward pass: ``cpu_frames`` on CPU, sized from free memory on CUDA."""
    frame_columns = model.spec.frontend.n_columns(grid.frame_size)
    return items_per_forward(device, cpu_frames, frame_columns, MAX_FRAMES_PER_FORWARD)


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


def frame_chunks(n_clips: int, n_frames: int, per_forward: int) -> list[Chunk]:
    """Chunks of at most ``per_forward`` frames: a run of up to ``per_forward`` consecutive
    frames, of as many clips as fit beside it.

    The working set of a chunk therefore never grows with the batch (256 short clips used to
    give 1-frame runs of all 256 clips: no sharing between overlapping frames and 16x the
    activations), and runs stay as long as the clip allows, which is what frame sharing needs.
    """
    count = min(n_frames, per_forward)
    clips_per_chunk = max(1, per_forward // count)
    return [
        (slice(first_clip, min(first_clip + clips_per_chunk, n_clips)), first, min(count, n_frames - first))
        for first_clip in range(0, n_clips, clips_per_chunk)
        for first in range(0, n_frames, count)
    ]


def exact_timestamp_stats(
    model: ByolsModel,
    batch: Tensor,
    grid: FrameGrid,
    frames: MaterializedFrames | SharedStftFrames | None = None,
    chunks: list[Chunk] | None = None,
) -> tuple[Tensor, Tensor]:
    """First pass: per-clip ``(mean, std)`` float32 tensors ``(n_clips,)`` from the moments of
    all frames' log-mels, computed on the batch's device without host syncs.

    Fixed statistics need no pass over the frames.
    """
    n_clips = batch.shape[0]
    moments = Moments()
    if model.normalization.mode != FIXED:
        frames = frames or frame_log_mels(model.frontend, pad_for_frames(batch, grid), grid)
        groups: dict[tuple[int, int], Moments] = {}
        per_pass = frames_per_pass(model, grid, FRAMES_PER_FORWARD, batch.device)
        for clips, first, count in chunks or frame_chunks(n_clips, grid.n_frames, per_pass):
            groups.setdefault((clips.start, clips.stop), Moments()).add(frames.chunk(first, count, clips), rows=True)
        moments = Moments.concat([groups[key] for key in sorted(groups)])
    mean, std = timestamp_stats(model.normalization, moments, grid.n_frames)
    return _per_clip(mean, n_clips, batch.device), _per_clip(std, n_clips, batch.device)


def _per_clip(value: Tensor | float, n_clips: int, device: torch.device) -> Tensor:
    """A statistic as float32 ``(n_clips,)`` on ``device`` (one value broadcast, or one per clip)."""
    return torch.as_tensor(value, device=device).float().expand(n_clips)
