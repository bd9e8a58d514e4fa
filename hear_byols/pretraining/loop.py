"""One optimiser step of the recipe, and the training loop around it."""
from __future__ import annotations

import contextlib
from typing import Callable, ContextManager, Sequence

import torch
from torch import Tensor, nn

from hear_byols.pretraining.learner import ByolLearner

MicroBatch = tuple[Tensor, Tensor, "Tensor | None"]


class Objective(nn.Module):
    """What DDP wraps: the BYOL loss, plus for Hybrid BYOL-S ``hybrid_weight`` x the MSE of a head
    that predicts the crop's z-scored openSMILE functionals from each view's online representation."""

    def __init__(self, learner: ByolLearner, head: nn.Module | None = None, byol_weight: float = 1.0,
                 hybrid_weight: float = 1.0) -> None:
        super().__init__()
        self.learner, self.head = learner, head
        self.byol_weight, self.hybrid_weight = byol_weight, hybrid_weight

    def forward(self, view1: Tensor, view2: Tensor, targets: Tensor | None) -> tuple[Tensor, dict[str, Tensor]]:
        byol, representations = self.learner(view1, view2)
        if self.head is None:
            return byol, {"loss": byol, "byol_loss": byol}
        assert targets is not None, "a hybrid objective needs openSMILE targets"
        mse = torch.stack([nn.functional.mse_loss(self.head(rep).float(), targets) for rep in representations]).mean()
        total = self.byol_weight * byol + self.hybrid_weight * mse
        return total, {"loss": total, "byol_loss": byol, "hybrid_loss": mse}


def optimiser_step(
    model: nn.Module,
    learner: ByolLearner,
    optimiser: torch.optim.Optimizer,
    micro_batches: Sequence[MicroBatch],
    *,
    autocast: Callable[[], ContextManager[object]] = contextlib.nullcontext,
    before_update: Callable[[], None] | None = None,
) -> dict[str, float]:
    """Accumulate gradients over ``micro_batches`` (DDP synchronises on the last only), then
    update the EMA target from the pre-step online weights, then step AdamW: the original's
    order (Lightning 1.3 with SERAB's ``on_before_zero_grad`` hook). Returns the mean losses."""
    sums: dict[str, float] = {}
    count = len(micro_batches)
    for index, (view1, view2, targets) in enumerate(micro_batches):
        last = index == count - 1
        sync = contextlib.nullcontext() if last or not hasattr(model, "no_sync") else model.no_sync()
        with sync:
            with autocast():
                loss, parts = model(view1, view2, targets)
            (loss.float() / count).backward()
        for name, value in parts.items():
            sums[name] = sums.get(name, 0.0) + float(value.detach()) / count
    if before_update is not None:
        before_update()
    learner.update_target()
    optimiser.step()
    optimiser.zero_grad(set_to_none=True)
    return sums
