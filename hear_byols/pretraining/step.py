"""One optimisation step of the recipe: a batch's two augmented views, then gradients
accumulated over micro-batches, the EMA update and the AdamW step."""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, ContextManager, NamedTuple, Sequence

import torch
from torch import Tensor, nn

from hear_byols.errors import TrainingDataError
from hear_byols.logmel.frontend import LogMelFrontend
from hear_byols.pretraining.augment import TwoViews
from hear_byols.pretraining.data import Batch, name_files
from hear_byols.pretraining.learner import ByolLearner
from hear_byols.pretraining.norm import FixedNorm, RunningNorm


class ViewPair(NamedTuple):
    """What the objective sees of one micro-batch: two augmented views and the crops' targets."""

    view1: Tensor
    view2: Tensor
    targets: Tensor | None


@dataclass
class Views:
    """Crops -> log-mel -> pre-normalised -> two augmented, jointly normalised views."""

    frontend: LogMelFrontend
    prenorm: FixedNorm | RunningNorm
    augment: TwoViews
    device: torch.device

    def __call__(self, batch: Batch, normalise_targets: Callable[[Tensor | None], Tensor | None]) -> ViewPair:
        """The views of ``batch`` and its targets, normalised by the objective."""
        with torch.no_grad():
            lms = self.prenorm(self.frontend(batch.crops.to(self.device)).unsqueeze(1))
            view1, view2 = self.augment(lms)
        targets = None if batch.targets is None else batch.targets.to(self.device)
        return ViewPair(view1, view2, normalise_targets(targets))


def require_two_crops(batch: Batch, files: list[Path], size: int) -> Batch:
    """``batch`` (of ``size`` crops when all are readable), if it kept the 2 crops BatchNorm needs."""
    if len(batch.crops) < 2:
        unreadable = dict(batch.failed)
        raise TrainingDataError(
            f"a micro-batch kept {len(batch.crops)} readable crop(s) of {size} (BatchNorm needs 2): "
            f"{len(unreadable)} of its files are unreadable: {name_files(files, list(unreadable), unreadable)}; "
            "remove them from DATA or raise --batch-size")
    return batch


def optimiser_step(
    model: nn.Module,
    learner: ByolLearner,
    optimiser: torch.optim.Optimizer,
    micro_batches: Sequence[tuple[Tensor, Tensor, Tensor | None]],
    *,
    autocast: Callable[[], ContextManager[object]] = contextlib.nullcontext,
    before_update: Callable[[dict[str, float]], None] | None = None,
) -> dict[str, float]:
    """Accumulate gradients over ``micro_batches`` (DDP synchronises on the last only), then
    update the EMA target from the pre-step online weights, then step AdamW: the original's
    order (Lightning 1.3 with SERAB's ``on_before_zero_grad`` hook). ``before_update(losses)``
    sees the synchronised gradients first and may stop the step. Returns the mean losses by name."""
    sums: dict[str, float] = {}
    count = len(micro_batches)
    for index, (view1, view2, targets) in enumerate(micro_batches):
        last = index == count - 1
        sync = contextlib.nullcontext() if last or not hasattr(model, "no_sync") else model.no_sync()
        with sync:
            with autocast():
                losses = model(view1, view2, targets)
            (losses["loss"].float() / count).backward()
        for name, value in losses.items():
            sums[name] = sums.get(name, 0.0) + float(value.detach()) / count
    if before_update is not None:
        before_update(sums)
    learner.update_target()
    optimiser.step()
    optimiser.zero_grad(set_to_none=True)
    return sums


def trainable(model: nn.Module) -> list[nn.Parameter]:
    """What the optimiser updates: everything but the EMA target (which has no gradients)."""
    return [p for p in model.parameters() if p.requires_grad]
