"""Hybrid BYOL-S: the BYOL loss plus the MSE of a head that predicts the crop's openSMILE
functionals from each view's online representation.

The original hybrid training code was never published: this is our reconstruction from the
paper's description (functionals of ComParE 2016, 6,373 values, predicted from the online
representation beside the BYOL loss). NaN functionals (undefined on silence) become 0; the
targets are z-scored with dataset statistics before the MSE.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor, nn

from hear_byols.argtypes import between
from hear_byols.storage.atomic import atomic_write
from hear_byols.errors import UsageError
from hear_byols.pretraining.learner import MLP, ByolLearner
from hear_byols.pretraining.objectives.base import Objective, TargetSetup
from hear_byols.pretraining.optionfield import option
from hear_byols.pretraining.run_files import save_json

if TYPE_CHECKING:
    from hear_byols.pretraining.data import TargetSource
    from hear_byols.pretraining.options import PretrainConfig

#: ``--hybrid`` name -> (openSMILE feature set, number of functionals).
FEATURE_SETS = {"compare2016": ("ComParE_2016", 6373), "egemaps": ("eGeMAPSv02", 88)}
#: Width of the head's hidden layer (ours: the original's is unknown).
HEAD_HIDDEN = 1024
#: The cache of the functionals of fixed (``--crop first``) crops, in RUN_DIR.
TARGET_CACHE = "hybrid_targets.npy"


@dataclass(frozen=True, kw_only=True)
class HybridOptions:
    hybrid: str | None = option(None, choices=tuple(FEATURE_SETS),
                                help="Hybrid BYOL-S: also predict openSMILE functionals")
    hybrid_weight: float = option(1.0, parse=between(0), metavar="LAMBDA",
                                  help="weight of the hybrid MSE (default %(default)s)")
    byol_weight: float = option(1.0, parse=between(0), help="weight of the BYOL loss (default %(default)s)")


class HybridObjective(Objective):
    """``byol_weight`` x BYOL + ``hybrid_weight`` x the MSE of the head, averaged over both views."""

    name = "hybrid"
    Options = HybridOptions
    selected_by = "hybrid"
    loss_names = ("loss", "byol_loss", "hybrid_loss")
    record_key = "hybrid"

    def __init__(self, learner: ByolLearner, head: nn.Module, functionals: Functionals, byol_weight: float = 1.0,
                 hybrid_weight: float = 1.0) -> None:
        super().__init__(learner)
        self.head, self.functionals = head, functionals
        self.byol_weight, self.hybrid_weight = byol_weight, hybrid_weight

    @classmethod
    def create(cls, cfg: PretrainConfig, net: nn.Module, embedding_size: int) -> HybridObjective:
        functionals = Functionals(cfg.hybrid)  # refused before any weight is drawn when openSMILE is missing
        head = MLP(embedding_size, functionals.size, HEAD_HIDDEN)  # drawn before the learner's MLPs, as always
        learner = ByolLearner(net, embedding_size, tau=cfg.tau)
        return cls(learner, head, functionals, cfg.byol_weight, cfg.hybrid_weight)

    def forward(self, view1: Tensor, view2: Tensor, targets: Tensor | None) -> dict[str, Tensor]:
        byol, representations = self.learner(view1, view2)
        assert targets is not None, "a hybrid objective needs openSMILE targets"
        mse = torch.stack([nn.functional.mse_loss(self.head(rep).float(), targets) for rep in representations]).mean()
        return {"loss": self.byol_weight * byol + self.hybrid_weight * mse, "byol_loss": byol, "hybrid_loss": mse}

    def target_source(self, setup: TargetSetup) -> TargetSource:
        """Looked up from the cached table for fixed crops, computed per crop otherwise."""
        if setup.dataset.mode != "first":
            return OnTheFly(self.functionals)
        return TargetTable(target_table(setup, self.functionals, setup.run_dir / TARGET_CACHE))

    def record(self) -> dict[str, Any]:
        feature_set, size = FEATURE_SETS[self.functionals.name]
        return {"feature_set": feature_set, "functionals": size,
                "note": "our reconstruction: the original Hybrid BYOL-S training code was never published"}

    def versions(self) -> dict[str, str]:
        return {"opensmile": require_opensmile().__version__}


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


def target_table(setup: TargetSetup, functionals: Functionals, cache: Path) -> np.ndarray:
    """The functionals of every file's fixed (``first``) crop, computed once over all ranks and
    cached in RUN_DIR (reused while the data manifest and feature set are unchanged)."""
    dataset, ctx = setup.dataset, setup.ctx
    key = {"manifest": setup.manifest, "feature_set": functionals.name, "n_files": len(dataset)}
    sidecar = cache.with_suffix(".json")
    if not (cache.is_file() and sidecar.is_file() and json.loads(sidecar.read_text()) == key):
        dataset.targets = OnTheFly(functionals)
        mine: list[tuple[int, np.ndarray]] = []
        for item in setup.read(list(range(ctx.rank, len(dataset), ctx.world))):
            setup.failed.update(item.failed)
            if item.targets is not None:
                mine.extend(zip(item.indices, item.targets.numpy()))
        parts = ctx.gather(mine)
        if ctx.main:
            table = np.zeros((len(dataset), functionals.size), np.float32)
            for part in parts:
                for index, values in part:
                    table[index] = values
            atomic_write(cache, lambda fh: np.save(fh, table))
            save_json(sidecar, key)
        ctx.barrier()
    return np.load(cache)
