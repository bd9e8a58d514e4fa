"""BYOL-S: the BYOL loss of the 2021 recipe, nothing else (the objective of a plain run)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from torch import Tensor, nn

from hear_byols.pretraining.learner import ByolLearner
from hear_byols.pretraining.objectives.base import Objective

if TYPE_CHECKING:
    from hear_byols.pretraining.options import PretrainConfig


@dataclass(frozen=True, kw_only=True)
class ByolOptions:
    """BYOL-S has no options of its own (``--tau`` is the learner's, shared by every objective)."""


class ByolObjective(Objective):
    """The symmetrised BYOL loss of the two views."""

    name = "byol"
    Options = ByolOptions
    loss_names = ("loss", "byol_loss")

    @classmethod
    def create(cls, cfg: PretrainConfig, net: nn.Module, embedding_size: int) -> ByolObjective:
        return cls(ByolLearner(net, embedding_size, tau=cfg.tau))

    def forward(self, view1: Tensor, view2: Tensor, targets: Tensor | None) -> dict[str, Tensor]:
        byol, _ = self.learner(view1, view2)
        return {"loss": byol, "byol_loss": byol}
