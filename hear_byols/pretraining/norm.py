"""Pre-normalisation of the log-mel crops, before the augmentations; standardisation of an
objective's targets (``ZScore``).

Default: one mean/std of the dataset, measured on a sample of crops before training (summed
over all ranks, so every rank uses the same numbers) and recorded with the run. Option
``running``: the 2021 recipe's running statistics, updated crop by crop (per rank) for the
first 20 epochs' worth of crops and then frozen, with the original's update arithmetic.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from hear_byols.pretraining.augment import EPS



class FixedNorm:
    """``(x - mean) / std`` with the dataset's statistics."""

    def __init__(self, mean: float, std: float) -> None:
        self.mean, self.std = mean, std

    def __call__(self, batch: Tensor) -> Tensor:
        return (batch - self.mean) / self.std

    def state_dict(self) -> dict[str, Any]:
        return {"mean": self.mean, "std": self.std}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.mean, self.std = state["mean"], state["std"]


class RunningNorm:
    """BYOL-A's ``RunningNorm``: each crop updates ``mu += (m - mu) / n`` (``n`` counts the
    earlier updates, so the second crop replaces the first: the original's formula) and the
    mean squared deviation likewise, then is normalised with the statistics so far."""

    def __init__(self, max_updates: int) -> None:
        self.max_updates = max_updates
        self.n = 0
        self.mu = self.s2 = torch.zeros(())
        self.mean, self.std = torch.zeros(()), torch.ones(())

    def __call__(self, batch: Tensor) -> Tensor:
        return torch.stack([self._one(lms) for lms in batch])

    def _one(self, lms: Tensor) -> Tensor:
        if self.n < self.max_updates:
            mean, divisor = lms.mean().cpu(), max(self.n, 1)
            self.mu = mean if self.n == 0 else self.mu + (mean - self.mu) / divisor
            square = ((lms.cpu() - self.mu) ** 2).mean()
            self.s2 = square if self.n == 0 else self.s2 + (square - self.s2) / divisor
            self.n += 1
            self.mean, self.std = self.mu, self.s2.sqrt().clamp(EPS, torch.finfo(torch.float32).max)
        return (lms - self.mean.to(lms.device)) / self.std.to(lms.device)

    def state_dict(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in ("max_updates", "n", "mu", "s2", "mean", "std")}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for key, value in state.items():
            setattr(self, key, value)


def mean_std(total: Tensor) -> tuple[float, float]:
    """``(mean, std)`` from summed ``[count, sum, sum of squares]`` (float64)."""
    count, value_sum, square_sum = total.tolist()
    mean = value_sum / count
    return mean, max(square_sum / count - mean * mean, 0.0) ** 0.5


class ZScore:
    """Per-target standardisation with dataset statistics (constant targets -> 0)."""

    def __init__(self, mean: Tensor, std: Tensor) -> None:
        self.mean, self.std = mean.float(), torch.where(std > 0, std, torch.ones_like(std)).float()

    def __call__(self, targets: Tensor) -> Tensor:
        return (targets - self.mean.to(targets.device)) / self.std.to(targets.device)

    @classmethod
    def from_sums(cls, total: Tensor) -> "ZScore":
        """From summed rows ``[count..., sum, sum of squares]`` as a ``(3, n)`` float64 tensor."""
        count, value_sum, square_sum = total
        mean = value_sum / count
        return cls(mean, (square_sum / count - mean * mean).clamp_min(0).sqrt())

    def state_dict(self) -> dict[str, Tensor]:
        return {"mean": self.mean, "std": self.std}
