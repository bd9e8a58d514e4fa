"""Validate the audio handed to the HEAR API and group it into batches.

HEAR passes a float32 ``(n_sounds, n_samples)`` tensor in [-1, 1] at 16 kHz; serab-byols also
accepted a list of 1-D tensors. We accept both (and NumPy arrays, without copying), and we
refuse rather than guess: no silent casting, resampling or truncation.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from hear_byols.errors import AudioTypeError, InvalidAudioError

_DTYPE_FIX = {
    torch.float64: "convert it with audio.float() (or np.float32) first",
    torch.float16: "convert it with audio.float() first",
    torch.bfloat16: "convert it with audio.float() first",
}


@dataclass(frozen=True)
class ClipGroup:
    """Clips of equal length stacked as ``(b, n_samples)``, with their positions in the input."""

    indices: list[int]
    audio: Tensor


def _as_tensor(value: Any, what: str) -> Tensor:
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value)
    if isinstance(value, Tensor):
        return value
    raise AudioTypeError(
        f"{what} must be a torch.Tensor or numpy.ndarray, got {type(value).__name__}; HEAR expects a float32 "
        "tensor of shape (n_sounds, n_samples) at 16 kHz, or a list of 1-D float32 tensors"
    )


def _check_dtype(audio: Tensor, what: str) -> None:
    if audio.dtype == torch.float32:
        return
    if audio.dtype.is_floating_point or audio.dtype.is_complex:
        fix = _DTYPE_FIX.get(audio.dtype, "convert it to float32 first")
    else:
        fix = (
            "integer PCM must be scaled to float32 in [-1, 1] first, e.g. "
            "audio.float() / 32768 for int16 (hear_byols does not guess the scale)"
        )
    raise AudioTypeError(f"{what} has dtype {audio.dtype}, expected torch.float32: {fix}")


def _check_values(audio: Tensor, what: str) -> None:
    finite = torch.isfinite(audio)
    if not bool(finite.all()):
        bad = (~finite).nonzero()[0].tolist()
        raise InvalidAudioError(
            f"{what} contains NaN or Inf (first at index {tuple(bad)}); clean the signal "
            "(e.g. torch.nan_to_num) before embedding it"
        )


def as_clip_groups(audio: Any) -> tuple[list[ClipGroup], int, torch.device]:
    """Validate ``audio`` and return equal-length groups, the number of clips and the device."""
    if isinstance(audio, (list, tuple)):
        clips = [_as_tensor(clip, f"audio[{i}]") for i, clip in enumerate(audio)]
        if not clips:
            raise InvalidAudioError("the audio list is empty: pass at least one clip")
        for i, clip in enumerate(clips):
            if clip.dim() != 1:
                raise InvalidAudioError(
                    f"audio[{i}] has shape {tuple(clip.shape)}; list items must be 1-D mono clips (n_samples,)"
                )
            _check_dtype(clip, f"audio[{i}]")
        devices = {clip.device for clip in clips}
        if len(devices) > 1:
            raise InvalidAudioError(f"the clips are on several devices {sorted(map(str, devices))}: move them to one")
        by_length: dict[int, list[int]] = {}
        for i, clip in enumerate(clips):
            by_length.setdefault(clip.shape[0], []).append(i)
        groups = [ClipGroup(idx, torch.stack([clips[i] for i in idx])) for idx in by_length.values()]
        n_clips, device = len(clips), clips[0].device
    else:
        batch = _as_tensor(audio, "audio")
        if batch.dim() != 2:
            raise InvalidAudioError(
                f"audio has shape {tuple(batch.shape)}; expected 2-D (n_sounds, n_samples) mono audio at 16 kHz "
                "(for one clip use audio.unsqueeze(0); downmix multichannel audio first)"
            )
        _check_dtype(batch, "audio")
        if batch.shape[0] == 0:
            raise InvalidAudioError("audio has 0 clips (shape (0, n)): pass at least one clip")
        groups = [ClipGroup(list(range(batch.shape[0])), batch)]
        n_clips, device = batch.shape[0], batch.device
    for group in groups:
        if group.audio.shape[1] == 0:
            raise InvalidAudioError(f"clip(s) {group.indices} have 0 samples: remove empty clips")
        _check_values(group.audio, f"audio clip(s) {group.indices}")
    return groups, n_clips, device

