"""Log-mel statistics of a corpus, accumulated clip by clip, exact and mergeable.

Two statistics come out of one pass (docs/STATS.md):

* ``pooled``: the mean and unbiased std of every log-mel bin of every clip together, as
  ``torch.cat(log_mels, dim=-1).double()`` would give them, via ``Moments`` (float64, Chan's
  merge), so shards and processes combine without holding any log-mel;
* ``serab``: SERAB's statistic (and the reference scene path's over a batch): the mean of the
  per-clip means and the mean of the per-clip unbiased stds, from float64 per-clip values.

A clip whose log-mel is constant (digital silence: ``log(eps)`` everywhere) is not measured but
counted in ``silent``: it has no spread (its std is 0 up to rounding), so it would pull SERAB's
std towards 0 and the mean towards the log floor for no acoustic content, and the model maps
such clips to 0 by themselves anyway. The rule is ``describes_constant``, the one the model
applies. Only torch: no files (``hear_byols.stats`` reads the audio, ``stats_file`` the JSON).
"""
from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from hear_byols.errors import InvalidAudioError, StatisticsError
from hear_byols.logmel.normalization import Moments, describes_constant

#: The raw state ``state()`` gives and ``from_state`` takes: what a shard's part file keeps.
STATE_KEYS = ("n_mels", "clips", "frames", "silent", "bins", "pooled_mean", "pooled_m2", "sum_means", "sum_stds")


class LogMelStats:
    """Accumulates ``(n_mels, T)`` log-mels; ``pooled`` and ``serab`` give ``(mean, std)``."""

    def __init__(self) -> None:
        self.moments = Moments()
        self.n_mels: int | None = None
        self.clips = 0  # clips measured (silent ones not included)
        self.frames = 0  # log-mel columns of the clips measured
        self.silent = 0  # constant clips seen and left out
        self.sum_means = 0.0
        self.sum_stds = 0.0

    def add(self, log_mel: Tensor) -> bool:
        """Measure one clip's log-mel ``(n_mels, T)``; False when it is constant (left out, counted
        in ``silent``). InvalidAudioError for another shape or non-finite values."""
        self._check(log_mel)
        clip = Moments()
        clip.add(log_mel)
        mean, std = float(clip.mean), float(clip.std())
        if describes_constant(mean, std):
            self.silent += 1
            return False
        self.moments.merge(clip)
        self.clips += 1
        self.frames += log_mel.shape[-1]
        self.sum_means += mean
        self.sum_stds += std
        return True

    def _check(self, log_mel: Tensor) -> None:
        if not isinstance(log_mel, Tensor) or log_mel.dim() != 2 or not log_mel.is_floating_point():
            raise InvalidAudioError(f"expected one clip's float log-mel (n_mels, T), got {_describe(log_mel)}")
        if self.n_mels is not None and log_mel.shape[0] != self.n_mels:
            raise InvalidAudioError(f"log-mel of {log_mel.shape[0]} mel bands, the clips before had {self.n_mels}")
        if log_mel.numel() < 2:
            raise InvalidAudioError(f"log-mel {tuple(log_mel.shape)} has fewer than 2 values: no std")
        if not bool(torch.isfinite(log_mel).all()):
            raise InvalidAudioError("log-mel has NaN or Inf values (audio far outside [-1, 1]?)")
        self.n_mels = log_mel.shape[0]

    def merge(self, other: "LogMelStats") -> None:
        """Add everything ``other`` measured (another shard's clips): exact up to float64 rounding."""
        if other.n_mels is not None and self.n_mels is not None and other.n_mels != self.n_mels:
            raise StatisticsError(f"cannot merge statistics of {other.n_mels} mel bands into {self.n_mels}")
        self.n_mels = self.n_mels if self.n_mels is not None else other.n_mels
        self.moments.merge(other.moments)
        self.clips += other.clips
        self.frames += other.frames
        self.silent += other.silent
        self.sum_means += other.sum_means
        self.sum_stds += other.sum_stds

    @property
    def pooled(self) -> tuple[float, float]:
        """Mean and unbiased std of all log-mel bins of all clips measured."""
        self._require_clips()
        return float(self.moments.mean), float(self.moments.std())

    @property
    def serab(self) -> tuple[float, float]:
        """Mean of the per-clip means, mean of the per-clip unbiased stds."""
        self._require_clips()
        return self.sum_means / self.clips, self.sum_stds / self.clips

    def _require_clips(self) -> None:
        if self.clips == 0:
            silent = f" ({self.silent} silent clip(s) left out: constant log-mels)" if self.silent else ""
            raise StatisticsError(f"no clip was measured{silent}: there are no statistics to give")

    def state(self) -> dict[str, Any]:
        """The raw sums, JSON-ready (Python floats round-trip exactly through ``json``)."""
        return {"n_mels": self.n_mels, "clips": self.clips, "frames": self.frames, "silent": self.silent,
                "bins": self.moments.count, "pooled_mean": float(self.moments.mean),
                "pooled_m2": float(self.moments.m2), "sum_means": self.sum_means, "sum_stds": self.sum_stds}

    @classmethod
    def from_state(cls, state: Any) -> "LogMelStats":
        """The accumulator ``state()`` described; StatisticsError naming what is wrong with it."""
        if not isinstance(state, dict) or sorted(state) != sorted(STATE_KEYS):
            raise StatisticsError(f"accumulator: expected the keys {', '.join(STATE_KEYS)}")
        counts = ("clips", "frames", "silent", "bins")
        if any(type(state[key]) is not int or state[key] < 0 for key in counts):
            raise StatisticsError(f"accumulator: {', '.join(counts)} must be integers >= 0")
        values = ("pooled_mean", "pooled_m2", "sum_means", "sum_stds")
        if any(not isinstance(state[key], (int, float)) or not math.isfinite(state[key]) for key in values):
            raise StatisticsError(f"accumulator: {', '.join(values)} must be finite numbers")
        if state["pooled_m2"] < 0 or state["sum_stds"] < 0:
            raise StatisticsError("accumulator: pooled_m2 and sum_stds cannot be negative")
        if state["n_mels"] is not None and (type(state["n_mels"]) is not int or state["n_mels"] < 1):
            raise StatisticsError("accumulator: n_mels must be a positive integer")
        stats = cls()
        stats.n_mels = state["n_mels"]
        stats.clips, stats.frames, stats.silent = state["clips"], state["frames"], state["silent"]
        stats.sum_means, stats.sum_stds = float(state["sum_means"]), float(state["sum_stds"])
        stats.moments.count = state["bins"]
        stats.moments.mean = torch.tensor(float(state["pooled_mean"]), dtype=torch.float64)
        stats.moments.m2 = torch.tensor(float(state["pooled_m2"]), dtype=torch.float64)
        return stats


def _describe(value: Any) -> str:
    if isinstance(value, Tensor):
        return f"a {value.dtype} tensor of shape {tuple(value.shape)}"
    return type(value).__name__
