"""Log-mel normalisation policies and their statistics.

The reference ("reference") computes stats over the batch it is given: for the scene path,
the mean of per-clip means and of per-clip unbiased stds; for the timestamp path, the mean
and unbiased std over all frames of all clips, each divided by the total number of frames N
(a bug of the original, kept because the published numbers depend on it). Both make a clip's
embedding depend on its batch, so two batch-independent policies are offered too:
"per_clip" (each clip's own stats; no division by N) and fixed ``[mean, std]``.

Every policy divides by ``max(std, STD_FLOOR)``: silence (a constant log-mel) has a std of
exactly 0, and the reference's division then turns every embedding into NaN. The floor is
float32 machine epsilon, the clamp the original's own training code applies to its
normalisation statistics; results where ``std >= STD_FLOOR`` are unchanged.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import torch
from torch import Tensor

from hear_byols.errors import InvalidOptionError

REFERENCE = "reference"
PER_CLIP = "per_clip"
FIXED = "fixed"
#: Smallest standard deviation divided by (float32 eps, like the original's training code).
STD_FLOOR = float(torch.finfo(torch.float32).eps)


@dataclass(frozen=True)
class Normalization:
    """A parsed ``normalization`` option."""

    mode: str
    mean: float = 0.0
    std: float = 1.0

    def as_option(self) -> str | list[float]:
        """The JSON-serialisable form ``load_model(normalization=...)`` accepts."""
        return [self.mean, self.std] if self.mode == FIXED else self.mode


def parse_normalization(value: Any) -> Normalization:
    """Accept ``"reference"``, ``"per_clip"`` or ``[mean, std]`` (finite, std > 0)."""
    if isinstance(value, Normalization):
        return value
    if value in (REFERENCE, PER_CLIP):
        return Normalization(value)
    if isinstance(value, (list, tuple)) and len(value) == 2:
        try:
            mean, std = float(value[0]), float(value[1])
        except (TypeError, ValueError):
            mean = std = math.nan
        if math.isfinite(mean) and math.isfinite(std) and std > 0:
            return Normalization(FIXED, mean, std)
    raise InvalidOptionError(
        f"normalization={value!r} is not valid: use 'reference' (the original serab-byols behaviour, "
        "batch dependent), 'per_clip' (each clip's own statistics) or [mean, std] with finite numbers "
        "and std > 0 (fixed statistics, batch independent and streamable)"
    )


class Moments:
    """Count, mean and sum of squared deviations, merged chunk by chunk in float64.

    Lets the timestamp path compute the stats of every frame without holding all frames. The
    values stay tensors on the data's device, so accumulating never waits for the GPU; with
    ``rows`` they hold one value per leading index (per clip) of what is added.
    """

    def __init__(self) -> None:
        self.count = 0
        self.mean: Tensor | float = 0.0
        self.m2: Tensor | float = 0.0

    def add(self, values: Tensor, rows: bool = False) -> None:
        """Merge all elements of ``values`` (``rows``: each leading index's elements apart)."""
        if values.numel() == 0:
            return
        data = values.detach().double().flatten(1 if rows else 0)
        chunk_mean = data.mean(dim=-1)
        self._combine(data.shape[-1], chunk_mean, (data - chunk_mean.unsqueeze(-1)).square().sum(dim=-1))

    def _combine(self, count: int, mean: Tensor, m2: Tensor) -> None:
        """Chan et al.'s parallel update: exact in exact arithmetic, stable in float64."""
        total = self.count + count
        delta = mean - self.mean
        self.mean = self.mean + delta * count / total
        self.m2 = self.m2 + m2 + delta * delta * self.count * count / total
        self.count = total

    @classmethod
    def concat(cls, parts: Sequence["Moments"]) -> "Moments":
        """Row moments of several groups of rows with the same count, as one."""
        joined = cls()
        joined.count = parts[0].count
        joined.mean = torch.cat([torch.atleast_1d(part.mean) for part in parts])
        joined.m2 = torch.cat([torch.atleast_1d(part.m2) for part in parts])
        return joined

    def pooled(self) -> "Moments":
        """The moments of all rows' elements together (Chan's update over rows of equal count)."""
        assert isinstance(self.mean, Tensor) and isinstance(self.m2, Tensor)
        total = Moments()
        total.count = self.count * self.mean.numel()
        total.mean = self.mean.mean()
        total.m2 = self.m2.sum() + self.count * (self.mean - total.mean).square().sum()
        return total

    def std(self) -> Tensor | float:
        """Unbiased standard deviation, like ``Tensor.std()``."""
        return (self.m2 / (self.count - 1)) ** 0.5 if self.count > 1 else math.nan


def clip_mean_std(log_mels: Tensor) -> tuple[Tensor, Tensor]:
    """Per-clip mean and unbiased std of ``(B, n_mels, T)`` log-mels, float32 like the reference."""
    return log_mels.mean(dim=(1, 2)), log_mels.std(dim=(1, 2))


def scene_stats(norm: Normalization, clip_means: Tensor, clip_stds: Tensor) -> tuple[Tensor, Tensor]:
    """Per-clip ``(mean, std)`` to apply in the scene path, from every clip's own stats."""
    if norm.mode == REFERENCE:
        # the reference accumulates float32 per-clip values and divides by the clip count
        return clip_means.mean().expand_as(clip_means), clip_stds.mean().expand_as(clip_stds)
    if norm.mode == PER_CLIP:
        return clip_means, clip_stds
    return torch.full_like(clip_means, norm.mean), torch.full_like(clip_stds, norm.std)


def timestamp_stats(
    norm: Normalization, clip_moments: Moments, frames_per_clip: int
) -> tuple[Tensor | float, Tensor | float]:
    """``(mean, std)`` to apply in the timestamp path, from the per-clip rows of ``clip_moments``:
    per clip (tensors) for ``per_clip``, one for all clips otherwise."""
    if norm.mode == FIXED:
        return norm.mean, norm.std
    if norm.mode == PER_CLIP:
        return clip_moments.mean, clip_moments.std()
    pooled = clip_moments.pooled()
    n_frames = frames_per_clip * torch.numel(clip_moments.mean)
    # the reference divides BOTH mean and std by the number of frames in the batch
    return pooled.mean / n_frames, pooled.std() / n_frames


def apply_stats(log_mels: Tensor, mean: Tensor | float, std: Tensor | float) -> Tensor:
    """``(x - mean) / max(std, STD_FLOOR)``; tensors broadcast over ``(B, n_mels, T)`` as ``(B, 1, 1)``."""
    if isinstance(mean, Tensor):
        mean = mean.reshape(-1, *([1] * (log_mels.dim() - 1)))
        std = std.reshape(-1, *([1] * (log_mels.dim() - 1))).clamp(min=STD_FLOOR)
    else:
        std = max(std, STD_FLOOR)
    return (log_mels - mean) / std
