"""The training loop: set up (or resume) a run, then one optimiser step after another until its
step budget is done, this session's ``--max-time`` is spent or a stop signal arrives; each of
these ends with a checkpoint, and so does every ``--save-every``-th step."""
from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Callable, ContextManager, Iterator

import torch
from torch import nn
from tqdm import tqdm

from hear_byols.pretraining.build import loader
from hear_byols.pretraining.data import Batch, epoch_batches
from hear_byols.pretraining.finite import NonFiniteGuard
from hear_byols.pretraining.launch import Distributed
from hear_byols.pretraining.objectives import logged_losses
from hear_byols.pretraining.options import PretrainConfig
from hear_byols.pretraining.prepare import prepare
from hear_byols.pretraining.run_files import Metrics
from hear_byols.pretraining.save import save
from hear_byols.pretraining.state import Run
from hear_byols.pretraining.step import optimiser_step, require_two_crops, trainable
from hear_byols.pretraining.stopping import COMPLETED, MAX_TIME, StopSignals, agreed_signal


def train(cfg: PretrainConfig, ctx: Distributed) -> Run:
    """Set up (or resume) and train; returns the run, whose ``stopped_by`` says why it ended."""
    run = prepare(cfg, ctx)
    with StopSignals() as signals:
        train_steps(run, signals)
    return run


def train_steps(run: Run, signals: StopSignals) -> None:
    """The training loop of a prepared run; sets ``run.stopped_by``."""
    cfg, ctx, data, progress = run.cfg, run.ctx, run.data, run.progress
    position = progress.position
    metrics = metrics_file(run)
    model = ddp_wrapped(run)
    autocast = autocast_of(cfg.precision, ctx)
    bar = tqdm(total=data.total_steps, initial=position.step, unit="step", disable=not ctx.main or cfg.quiet)
    guard = NonFiniteGuard(ctx, trainable(run.objective), run.views.frontend, data.files, Path(cfg.out),
                           saved=position.step if run.resumed_from is not None else None)
    clock = Clock()
    with contextlib.closing(step_batches(run)) as steps:
        for group in steps:
            guard.watch(position.step + 1, group)
            pairs = [run.views(require_two_crops(batch, data.files, data.micro_batch_size), run.objective.normalised)
                     for batch in group]
            losses = optimiser_step(model, run.objective.learner, run.optimiser, pairs, autocast=autocast,
                                    before_update=guard.check)
            position.step += 1
            position.batch_in_epoch += cfg.accumulate
            mine = {**losses, "samples": float(sum(len(batch.crops) for batch in group)),
                    "over_time": float(cfg.max_time is not None and clock.session_s() >= cfg.max_time),
                    **signals.flags()}
            total = summed(ctx, mine)  # every process decides on the same numbers
            row = {"step": position.step, "epoch": position.epoch, "samples_per_s": clock.step_rate(total["samples"]),
                   "elapsed_s": progress.elapsed_before + clock.session_s(),
                   **{name: total[name] / ctx.world for name in run.objective.loss_names}}
            if metrics is not None:
                metrics.add(row)
            bar.update(1)
            bar.set_postfix(loss=f"{row['loss']:.4f}", samples_s=f"{row['samples_per_s']:.1f}")
            for batch in group:
                progress.failed.update(batch.failed)
            run.stopped_by = why_stop(run, total)
            if run.stopped_by is not None or position.step % cfg.save_every == 0:
                progress.facts["samples_per_s"] = clock.mean_rate()
                save(run, row["elapsed_s"], metrics)
                guard.saved(position.step)
                clock.paused()  # the next step's rate leaves the checkpoint out
            if run.stopped_by is not None:
                break
    run.stopped_by = run.stopped_by or COMPLETED  # no step was left to do
    bar.close()
    if metrics is not None:
        metrics.plot(Path(cfg.out) / "loss.png")


def step_batches(run: Run) -> Iterator[list[Batch]]:
    """The micro-batches of each remaining optimiser step (``--accumulate`` of them), from the
    run's position on, epoch after epoch; advances the position's epoch at each epoch's end."""
    cfg, ctx, data, position = run.cfg, run.ctx, run.data, run.progress.position
    while position.step < data.total_steps:
        data.dataset.epoch = position.epoch
        batches = epoch_batches(len(data.files), data.micro_batch_size, ctx.world, ctx.rank, cfg.seed, position.epoch)
        group: list[Batch] = []
        for batch in loader(data.dataset, batches[position.batch_in_epoch : data.steps_per_epoch * cfg.accumulate],
                            cfg.workers):
            group.append(batch)
            if len(group) == cfg.accumulate:
                yield group
                group = []
        position.epoch += 1
        position.batch_in_epoch = 0


def why_stop(run: Run, total: dict[str, float]) -> str | None:
    """Why the run stops after this step (budget done, a stop signal, ``--max-time``), or None."""
    signalled = agreed_signal(total)
    if run.progress.position.step >= run.data.total_steps:
        return COMPLETED
    if signalled is not None:
        return signalled.name
    return MAX_TIME if total["over_time"] > 0 else None


def summed(ctx: Distributed, values: dict[str, float]) -> dict[str, float]:
    """``values`` summed over the processes, name by name (one collective)."""
    total = ctx.sum(torch.tensor(list(values.values()), dtype=torch.float64)).tolist()
    return dict(zip(values, total))


def metrics_file(run: Run) -> Metrics | None:
    """metrics.csv on the main process, continuing the resumed run's history."""
    if not run.ctx.main:
        return None
    history = None if run.resumed_from is None else run.resumed_from.parent / "metrics.csv"
    return Metrics(Path(run.cfg.out) / "metrics.csv", logged_losses(), history, run.progress.position.step)


def ddp_wrapped(run: Run) -> nn.Module:
    """The objective, wrapped for DDP when there are several processes."""
    if run.ctx.world == 1:
        return run.objective
    device = run.ctx.device
    return nn.parallel.DistributedDataParallel(run.objective, device_ids=[device] if device.type == "cuda" else None)


def autocast_of(precision: str, ctx: Distributed) -> Callable[[], ContextManager[object]]:
    if precision == "bf16":
        return lambda: torch.autocast(ctx.device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext


class Clock:
    """This session's training time, and samples/s of each step (waiting for data included)
    and of the session so far."""

    def __init__(self) -> None:
        self.started = self.tick = time.monotonic()
        self.samples = 0

    def session_s(self) -> float:
        return time.monotonic() - self.started

    def step_rate(self, samples: float) -> float:
        now = time.monotonic()
        rate, self.tick = samples / (now - self.tick), now
        self.samples += int(samples)
        return rate

    def mean_rate(self) -> float:
        return self.samples / max(self.session_s(), 1e-9)

    def paused(self) -> None:
        self.tick = time.monotonic()
