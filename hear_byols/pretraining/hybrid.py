"""Hybrid BYOL-S targets: openSMILE functionals of the un-augmented crop.

The original hybrid training code was never published: this is our reconstruction from the
paper's description (functionals of ComParE 2016, 6,373 values, predicted from the online
representation beside the BYOL loss). NaN functionals (undefined on silence) become 0; the
targets are z-scored with dataset statistics before the MSE.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from hear_byols.errors import UsageError

#: ``--hybrid`` name -> (openSMILE feature set, number of functionals).
FEATURE_SETS = {"compare2016": ("ComParE_2016", 6373), "egemaps": ("eGeMAPSv02", 88)}
#: Width of the head's hidden layer (ours: the original's is unknown).
HEAD_HIDDEN = 1024


def require_opensmile() -> Any:
    """The ``opensmile`` module, or a usage error saying how to install it."""
    try:
        import opensmile
    except ImportError:
        raise UsageError("--hybrid needs openSMILE: pip install 'hear_byols[train]' (or pip install opensmile)") from None
    return opensmile


class Functionals:
    """``functionals(crop)`` -> float32 ``(n,)``; the openSMILE extractor is built on first use
    in each process (DataLoader workers included), since it does not pickle."""

    def __init__(self, name: str, sample_rate: int = 16000) -> None:
        if name not in FEATURE_SETS:
            raise UsageError(f"--hybrid {name!r}: choose one of {sorted(FEATURE_SETS)}")
        self.name, self.sample_rate = name, sample_rate
        self.size = FEATURE_SETS[name][1]
        self._smile: Any = None
        require_opensmile()

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_smile": None}

    def __call__(self, crop: np.ndarray) -> np.ndarray:
        if self._smile is None:
            opensmile = require_opensmile()
            feature_set = getattr(opensmile.FeatureSet, FEATURE_SETS[self.name][0])
            self._smile = opensmile.Smile(feature_set=feature_set, feature_level=opensmile.FeatureLevel.Functionals)
        values = self._smile.process_signal(crop, self.sample_rate).to_numpy(dtype=np.float32).reshape(-1)
        return np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)


class TargetTable:
    """Targets computed once for fixed (``first``) crops, looked up by file index."""

    def __init__(self, table: np.ndarray) -> None:
        self.table, self.size = table, table.shape[1]

    def __call__(self, index: int, crop: np.ndarray) -> np.ndarray:
        return self.table[index]


class OnTheFly:
    """Targets of random crops, computed from each crop in the data workers."""

    def __init__(self, functionals: Functionals) -> None:
        self.functionals, self.size = functionals, functionals.size

    def __call__(self, index: int, crop: np.ndarray) -> np.ndarray:
        return self.functionals(crop)


class ZScore:
    """Per-functional standardisation with dataset statistics (constant functionals -> 0)."""

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
