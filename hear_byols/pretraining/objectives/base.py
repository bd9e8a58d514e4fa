"""What every pretraining objective provides (``Objective``), and what it is given to prepare
its targets (``TargetSetup``).

The loop, the checkpoint and run.json see an objective only through this class: its losses by
name, its per-crop targets, its options, its run.json entry and the package versions it
depends on. Nothing outside an objective's own module asks which objective a run trains.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Iterable

from torch import Tensor, nn

from hear_byols.pretraining.learner import ByolLearner
from hear_byols.pretraining.norm import ZScore

if TYPE_CHECKING:
    from hear_byols.pretraining.data import Batch, CropDataset, TargetSource
    from hear_byols.pretraining.launch import Distributed
    from hear_byols.pretraining.options import PretrainConfig


@dataclass
class TargetSetup:
    """What an objective may use before the first step: the data, the processes, RUN_DIR (for a
    cache), the data manifest (its key), ``read(indices)`` (batches of those files, read by the
    run's loader workers) and the run's record of unreadable files (to add to)."""

    dataset: CropDataset
    ctx: Distributed
    run_dir: Path
    manifest: str
    read: Callable[[list[int]], Iterable[Batch]]
    failed: dict[int, str]


class Objective(nn.Module):
    """What DDP wraps: the BYOL learner (whose online encoder becomes ``encoder.pth``) and the
    objective's own heads. ``forward(view1, view2, targets)`` returns the losses by name; the
    one named ``loss`` is minimised, and every one is logged in metrics.csv.

    A subclass sets the class attributes below and implements ``create`` and ``forward``; its
    targets (per-crop values its heads predict) come from ``target_source`` and are z-scored
    with dataset statistics (the checkpoint's ``zscore``) before ``forward`` sees them."""

    #: The registry's name of the objective.
    name: ClassVar[str]
    #: Its options: a frozen, ``kw_only`` dataclass of ``optionfield.option`` fields, which
    #: become ``PretrainConfig`` fields and flags. Each of them must be the checkpoint's on resume.
    Options: ClassVar[type]
    #: The option whose being set selects this objective (None: the objective of a plain run).
    selected_by: ClassVar[str | None] = None
    #: What ``forward`` returns, the total (``loss``) first: the metrics.csv columns it fills.
    loss_names: ClassVar[tuple[str, ...]]
    #: The run.json entry that ``record`` fills (null in runs of other objectives); None: none.
    record_key: ClassVar[str | None] = None

    def __init__(self, learner: ByolLearner) -> None:
        super().__init__()
        self.learner = learner
        #: Target standardisation, fitted on the dataset sample (None without targets).
        self.zscore: ZScore | None = None

    @classmethod
    def create(cls, cfg: PretrainConfig, net: nn.Module, embedding_size: int) -> Objective:
        """The objective of a new run around the variant's encoder ``net`` (seeded by the caller)."""
        raise NotImplementedError

    @classmethod
    def resume_keys(cls) -> tuple[str, ...]:
        """The options a checkpoint must match to be resumed: all of the objective's."""
        return tuple(field.name for field in fields(cls.Options))

    def forward(self, view1: Tensor, view2: Tensor, targets: Tensor | None) -> dict[str, Tensor]:
        raise NotImplementedError

    def target_source(self, setup: TargetSetup) -> TargetSource | None:
        """Per-crop targets of the dataset (None: this objective needs none)."""
        return None

    def fit_targets(self, sums: Tensor) -> None:
        """Standardise the targets with their statistics: summed rows ``[count, sum, sum of squares]``."""
        self.zscore = ZScore.from_sums(sums)

    def normalised(self, targets: Tensor | None) -> Tensor | None:
        return None if targets is None or self.zscore is None else self.zscore(targets)

    def record(self) -> dict[str, Any]:
        """This objective's entry of run.json (keyed ``record_key``)."""
        return {}

    def versions(self) -> dict[str, str]:
        """Versions of the packages its targets come from (recorded in run.json)."""
        return {}
