"""A prepared run, in named parts: what it trains on, what it trains, how it makes its views,
and how far it has come (the part a checkpoint carries from one session to the next)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from hear_byols.pretraining.data import CropDataset
from hear_byols.pretraining.launch import Distributed
from hear_byols.pretraining.objectives.base import Objective
from hear_byols.pretraining.options import PretrainConfig
from hear_byols.pretraining.step import Views


@dataclass
class Position:
    """Where a run stands: optimiser steps done, epoch, micro-batches of that epoch consumed."""

    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0


@dataclass(frozen=True)
class TrainingData:
    """The files, their manifest (sha256 of names and bytes), the dataset of their crops, and
    the step budget they make."""

    files: list[Path]
    manifest: str
    dataset: CropDataset
    #: Crops per micro-batch on each process (global batch / processes / accumulation).
    micro_batch_size: int
    steps_per_epoch: int
    total_steps: int


@dataclass
class Progress:
    """How far a run has come over all its sessions (the first run and each resume)."""

    position: Position = field(default_factory=Position)
    #: Unreadable files: index -> why.
    failed: dict[int, str] = field(default_factory=dict)
    #: Facts recorded in run.json beside the config (the checkpoint's ``info``): the initial
    #: weights, the dataset statistics, set-up time, throughput, the replicas' parameter hashes.
    facts: dict[str, Any] = field(default_factory=dict)
    #: Training time of the earlier sessions.
    elapsed_before: float = 0.0
    #: One entry per session: its options, steps and why it ended.
    sessions: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Run:
    """Everything ``prepare`` builds; the loop advances ``progress`` and sets ``stopped_by``."""

    cfg: PretrainConfig
    ctx: Distributed
    data: TrainingData
    objective: Objective
    optimiser: torch.optim.Optimizer
    views: Views
    progress: Progress
    #: The checkpoint.pt this session continues (None for a new run).
    resumed_from: Path | None = None
    #: Why this session ended (``stopping.COMPLETED``, ``MAX_TIME`` or a signal's name); None while it runs.
    stopped_by: str | None = None
