"""Log-mel normalisation policies and their statistics.

The reference ("reference") computes stats over the batch it is given: for the scene path,
the mean of per-clip means and of per-clip unbiased stds; for the timestamp path, the mean
and unbiased std over all frames of all clips, each divided by the total number of frames N
(a bug of the original, kept because the published numbers depend on it). Both make a clip's
embedding depend on its batch, so two batch-independent policies are offered too:
"per_clip" (each clip's own stats; no division by N) and fixed ``[mean, std]``.

Statistics of a constant log-mel (digital silence: ``log(0 + eps)`` everywhere) normalise it to
exactly 0. Their float32 std is not 0 but rounding: the mean of equal values is off by up to an
ulp, so the std comes out near ``eps * |mean|`` (~9.5e-7 for silence), and dividing by it made
the embedding amplified rounding noise that changed with the clip's length and its batch (the
reference gives NaN, 0 / 0). So a std below ``CONSTANT_STD_RATIO * |mean|`` is taken for what
it is, the statistics of a constant, whose deviation from its mean is 0. Any other std is used
as is (divided by ``max(std, STD_FLOOR)``, float32 eps, the clamp of the original's training
code, which only matters when the mean is 0 too): real audio's results are the reference's, bit
for bit.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import Tensor

from hear_byols.errors import InvalidOptionError
from hear_byols.logmel.frontend import FrontendSpec
from hear_byols.logmel.stats_file import frontend_description, read_stats, require_frontend

REFERENCE = "reference"
PER_CLIP = "per_clip"
FIXED = "fixed"
#: Smallest standard deviation divided by (float32 eps, like the original's training code).
STD_FLOOR = float(torch.finfo(torch.float32).eps)
#: ``std / |mean|`` below which statistics describe a constant log-mel up to float32 rounding.
#: Measured: silence of 0.5-60 s, alone and in batches of 1-8, <= 0.51 eps; real audio far more:
#: noise at 1e-7 (below a 24-bit LSB) >= 45 eps, at 1e-6 >= 4,400 eps, a 1e-7 sine at 100 Hz
#: 112 eps. 4 eps sits 8x above the one and 11x below the other (tests/api/test_hardening_api.py
#: keeps both margins). Between them lies audio at ~1e-8, whose log-mel differs from silence's
#: by an ulp or two: taken for a constant, as float32 cannot tell it apart.
CONSTANT_STD_RATIO = 4 * STD_FLOOR


@dataclass(frozen=True)
class Normalization:
    """A parsed ``normalization`` option."""

    mode: str
    mean: float = 0.0
    std: float = 1.0
    #: where fixed statistics came from: a stats file (``hear-byols stats``), its sha256, the
    #: statistic taken and the frontend it was measured with; None for numbers given directly.
    #: Provenance only: two policies with the same numbers are equal.
    source: str | None = field(default=None, compare=False)
    sha256: str | None = field(default=None, compare=False)
    statistic: str | None = field(default=None, compare=False)
    frontend: dict[str, Any] | None = field(default=None, compare=False)

    def as_option(self) -> str | list[float]:
        """The JSON-serialisable form ``load_model(normalization=...)`` accepts."""
        return [self.mean, self.std] if self.mode == FIXED else self.mode


def parse_normalization(
    value: Any, frontend: FrontendSpec | dict[str, Any] | None = None, owner: str = "the model"
) -> Normalization:
    """Accept ``"reference"``, ``"per_clip"``, ``[mean, std]`` (finite, std > 0) or the path of a
    ``.json`` statistics file (``hear-byols stats``; its default statistic). ``frontend``: the
    model's (``owner`` names it), which a statistics file must have been measured with."""
    if isinstance(value, Normalization):
        if frontend is not None and value.frontend is not None:
            require_frontend(value.frontend, frontend_description(frontend), str(value.source), owner)
        return value
    if names_stats_file(value):
        return _from_stats_file(value, frontend, owner)
    if value in (REFERENCE, PER_CLIP):
        return Normalization(value)
    if isinstance(value, (list, tuple)) and len(value) == 2:
        try:
            mean, std = float(value[0]), float(value[1])
        except (TypeError, ValueError):
            mean = std = math.nan
        if math.isfinite(mean) and math.isfinite(std) and std > 0:
            _refuse_constant(value, mean, std)
            return Normalization(FIXED, mean, std)
    raise InvalidOptionError(
        f"normalization={value!r} is not valid: use 'reference' (the original serab-byols behaviour, "
        "batch dependent), 'per_clip' (each clip's own statistics), [mean, std] with finite numbers "
        "and std > 0 (fixed statistics, batch independent and streamable), or the path of a .json "
        "file written by hear-byols stats (fixed statistics measured on your corpus)"
    )


def names_stats_file(value: Any) -> bool:
    """Whether ``value`` is a path (str or PathLike) ending in ``.json``: a statistics file."""
    return isinstance(value, (str, os.PathLike)) and os.fspath(value).lower().endswith(".json")


def _from_stats_file(
    path: str | os.PathLike[str], frontend: FrontendSpec | dict[str, Any] | None, owner: str
) -> Normalization:
    stats, sha256 = read_stats(path, frontend=frontend, owner=owner)
    mean, std = stats.normalization()
    _refuse_constant(os.fspath(path), mean, std)
    return Normalization(FIXED, mean, std, source=str(Path(path).resolve()), sha256=sha256,
                         statistic=stats.default, frontend=stats.frontend)


def _refuse_constant(value: Any, mean: float, std: float) -> None:
    if describes_constant(mean, std):
        raise InvalidOptionError(
            f"normalization={value!r}: std {std:g} is below the float32 resolution of log-mels near the "
            f"mean {mean:g} (std must be at least {CONSTANT_STD_RATIO * abs(mean):.3g}): such statistics "
            "describe a constant; use the std of your data's log-mels"
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

    def merge(self, other: "Moments") -> None:
        """Add ``other``'s elements (pooled moments, or row moments of the same shape)."""
        if other.count:
            self._combine(other.count, other.mean, other.m2)

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


def describes_constant(mean: Tensor | float, std: Tensor | float) -> Tensor | bool:
    """Whether ``(mean, std)`` are the statistics of a constant log-mel, up to float32 rounding."""
    return std < CONSTANT_STD_RATIO * abs(mean)


def apply_stats(log_mels: Tensor, mean: Tensor | float, std: Tensor | float) -> Tensor:
    """``(x - mean) / max(std, STD_FLOOR)``, and exactly 0 where the statistics describe a constant
    (``describes_constant``); tensors broadcast over ``(B, n_mels, T)`` as ``(B, 1, 1)``."""
    if not isinstance(mean, Tensor):
        if describes_constant(mean, std):
            return torch.zeros_like(log_mels)
        return (log_mels - mean) / max(std, STD_FLOOR)
    mean = mean.reshape(-1, *([1] * (log_mels.dim() - 1)))
    std = std.reshape(-1, *([1] * (log_mels.dim() - 1)))
    normalised = (log_mels - mean) / std.clamp(min=STD_FLOOR)
    # in place: one more pass over the log-mels, no copy; unflagged clips keep the reference's bits
    return normalised.masked_fill_(describes_constant(mean, std), 0.0)
