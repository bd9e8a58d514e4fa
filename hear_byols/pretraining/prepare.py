"""Set up a run (or the continuation of one): check a ``--resume`` checkpoint before anything
is read, list and check the data, build the objective, its targets and the views, then either
measure the dataset statistics (a new run) or restore the checkpoint's state (a resumed one)."""
from __future__ import annotations

import time
from dataclasses import asdict
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any

import torch
from torch import nn

from hear_byols.errors import UsageError
from hear_byols.logmel.frontend import LogMelFrontend
from hear_byols.pretraining.augment import TwoViews
from hear_byols.pretraining.build import data_manifest, dataset_statistics, initial_weights, read_batches
from hear_byols.pretraining.data import CropDataset, epoch_batches, list_audio
from hear_byols.pretraining.launch import Distributed
from hear_byols.pretraining.norm import FixedNorm, RunningNorm
from hear_byols.pretraining.objectives import chosen_objective
from hear_byols.pretraining.objectives.base import Objective, TargetSetup
from hear_byols.pretraining.options import PretrainConfig
from hear_byols.pretraining.resume import (check_same_data, check_same_settings, checkpoint_file,
                                           read_resume_checkpoint, restore, restored_progress)
from hear_byols.pretraining.state import Progress, Run, TrainingData
from hear_byols.pretraining.step import Views, trainable
from hear_byols.variants import variant_spec


def prepare(cfg: PretrainConfig, ctx: Distributed) -> Run:
    """Build everything; a resumed run restores its exact state from ``checkpoint.pt``, whose file
    and options are checked before the data are listed, and its data before any is read."""
    started = time.monotonic()
    checkpoint, resumed_from = None, None
    if cfg.resume:
        checkpoint, resumed_from = read_resume_checkpoint(cfg.resume), checkpoint_file(cfg.resume)
        check_same_settings(checkpoint, cfg, ctx, resumed_from)
    data = training_data(cfg, ctx, checkpoint, resumed_from)
    spec = variant_spec(cfg.variant)
    torch.manual_seed(cfg.seed)  # the same initial weights on every rank
    net = spec.build_encoder().train()
    starts_from = cfg.init if checkpoint is None else None  # a resumed run's weights are its checkpoint's
    init = initial_weights(net, starts_from, cfg.variant) if starts_from else None
    objective = placed(chosen_objective(cfg).create(cfg, net, spec.embedding_size), cfg, ctx)
    torch.manual_seed(cfg.seed + ctx.rank)  # dropout differs per rank, like the data
    frontend = LogMelFrontend(spec.frontend).to(ctx.device)
    optimiser = torch.optim.AdamW(trainable(objective), lr=cfg.lr)
    augment = TwoViews(torch.Generator().manual_seed(cfg.seed * 7919 + ctx.rank))
    failed: dict[int, str] = {}
    read = partial(read_batches, data.dataset, batch=data.micro_batch_size, workers=cfg.workers)
    setup = TargetSetup(data.dataset, ctx, Path(cfg.out), data.manifest, read, failed)
    data.dataset.targets = objective.target_source(setup)
    if checkpoint is not None and resumed_from is not None:
        views = Views(frontend, initial_prenorm(cfg, data, ctx), augment, ctx.device)
        restore(checkpoint, resumed_from, objective, optimiser, views, ctx)
        progress = restored_progress(checkpoint)
        progress.facts = {"init": init, **progress.facts}
    else:
        prenorm, facts = measured_prenorm(cfg, ctx, data, frontend, objective, failed)
        views = Views(frontend, prenorm, augment, ctx.device)
        progress = Progress(failed=failed, facts={"init": init, **facts})
    progress.facts["setup_s"] = time.monotonic() - started
    progress.sessions.append({"config": asdict(cfg), "processes": ctx.world, "device": str(ctx.device),
                              "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                              "setup_s": progress.facts["setup_s"], "from_step": progress.position.step,
                              "to_step": progress.position.step, "elapsed_s": 0.0, "stopped_by": None})
    return Run(cfg=cfg, ctx=ctx, data=data, objective=objective, optimiser=optimiser, views=views, progress=progress,
               resumed_from=resumed_from)


def training_data(cfg: PretrainConfig, ctx: Distributed, checkpoint: dict[str, Any] | None,
                  resumed_from: Path | None) -> TrainingData:
    """The files (the checkpoint's, when resuming), their dataset and the step budget."""
    files = list_audio(list(cfg.data))
    manifest = data_manifest(files, ctx)
    if checkpoint is not None and resumed_from is not None:
        check_same_data(checkpoint, manifest, len(files), resumed_from)
    micro = cfg.batch_size // (ctx.world * cfg.accumulate)
    if micro * ctx.world * cfg.accumulate != cfg.batch_size or micro < 2:
        raise UsageError(f"--batch-size {cfg.batch_size} must be a multiple of processes x --accumulate "
                         f"({ctx.world} x {cfg.accumulate}), with at least 2 crops per micro-batch (BatchNorm)")
    steps_per_epoch = len(epoch_batches(len(files), micro, ctx.world, ctx.rank, cfg.seed, 0)) // cfg.accumulate
    if steps_per_epoch == 0:
        raise UsageError(f"{len(files)} files are fewer than one global batch of {cfg.batch_size}: lower --batch-size")
    total_steps = cfg.max_steps if cfg.max_steps is not None else cfg.epochs * steps_per_epoch
    return TrainingData(files, manifest, CropDataset(files, cfg.crop, cfg.seed), micro, steps_per_epoch, total_steps)


def placed(objective: Objective, cfg: PretrainConfig, ctx: Distributed) -> Objective:
    """The objective on this process's device, its BatchNorm synchronised when asked."""
    if cfg.sync_bn and ctx.world > 1:
        objective = nn.SyncBatchNorm.convert_sync_batchnorm(objective)
    return objective.to(ctx.device)


def initial_prenorm(cfg: PretrainConfig, data: TrainingData, ctx: Distributed) -> FixedNorm | RunningNorm:
    """The pre-normalisation before any statistics (a resumed run then restores its state)."""
    if cfg.norm == "running":
        return RunningNorm(max_updates=20 * len(data.files) // ctx.world)
    return FixedNorm(0.0, 1.0)


def measured_prenorm(cfg: PretrainConfig, ctx: Distributed, data: TrainingData, frontend: LogMelFrontend,
                     objective: Objective, failed: dict[int, str]) -> tuple[FixedNorm | RunningNorm, dict[str, Any]]:
    """A new run's pre-normalisation and the statistics it records; fits the objective's targets."""
    (mean, std), target_sums = dataset_statistics(data.dataset, frontend, ctx, cfg.norm_sample, cfg.seed,
                                                  data.micro_batch_size, cfg.workers, failed)
    if target_sums is not None:
        objective.fit_targets(target_sums)
    prenorm = FixedNorm(mean, std) if cfg.norm == "dataset" else initial_prenorm(cfg, data, ctx)
    return prenorm, {"dataset_stats": {"mean": mean, "std": std, "crops": min(cfg.norm_sample, len(data.files))}}
