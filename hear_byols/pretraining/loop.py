"""One optimiser step of the recipe, and the training loop around it."""
from __future__ import annotations

import contextlib
import hashlib
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any, Callable, ContextManager, Sequence

import torch
from torch import Tensor, nn
from tqdm import tqdm

from hear_byols.atomic import atomic_write_all
from hear_byols.errors import StorageError, TrainingDataError, UsageError
from hear_byols.frontend import LogMelFrontend
from hear_byols.pretraining.augment import TwoViews
from hear_byols.pretraining.build import data_manifest, dataset_statistics, hybrid_source, initial_weights, loader
from hear_byols.pretraining.data import Batch, CropDataset, epoch_batches, list_audio, name_files
from hear_byols.pretraining.finite import NonFiniteGuard
from hear_byols.pretraining.hybrid import FEATURE_SETS, HEAD_HIDDEN, Functionals, ZScore, require_opensmile
from hear_byols.pretraining.launch import Distributed
from hear_byols.pretraining.learner import MLP, ByolLearner
from hear_byols.pretraining.norm import FixedNorm, RunningNorm
from hear_byols.pretraining.options import PretrainConfig
from hear_byols.pretraining.outputs import Metrics, json_bytes, torch_bytes
from hear_byols.pretraining.resume import (CHECKPOINT_FORMAT, check_same_data, check_same_settings, checkpoint_file,
                                           read_resume_checkpoint, restore)
from hear_byols.pretraining.stopping import COMPLETED, MAX_TIME, StopSignals, agreed_signal
from hear_byols.variants import variant_spec

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
    before_update: Callable[[dict[str, float]], None] | None = None,
) -> dict[str, float]:
    """Accumulate gradients over ``micro_batches`` (DDP synchronises on the last only), then
    update the EMA target from the pre-step online weights, then step AdamW: the original's
    order (Lightning 1.3 with SERAB's ``on_before_zero_grad`` hook). ``before_update(losses)``
    sees the synchronised gradients first and may stop the step. Returns the mean losses."""
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
        before_update(sums)
    learner.update_target()
    optimiser.step()
    optimiser.zero_grad(set_to_none=True)
    return sums


def trainable(model: nn.Module) -> list[nn.Parameter]:
    """What the optimiser updates: everything but the EMA target (which has no gradients)."""
    return [p for p in model.parameters() if p.requires_grad]


@dataclass
class Position:
    """Where a run stands: optimiser steps done, epoch, micro-batches of that epoch consumed."""

    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0


@dataclass
class Run:
    """A run set up by ``prepare``: model, data, statistics, augmentation and progress."""

    cfg: PretrainConfig
    ctx: Distributed
    files: list[Path]
    manifest: str
    dataset: CropDataset
    frontend: LogMelFrontend
    objective: Objective
    optimiser: torch.optim.Optimizer
    prenorm: FixedNorm | RunningNorm
    zscore: ZScore | None
    views: TwoViews
    micro_batch: int
    steps_per_epoch: int
    total_steps: int
    position: Position = field(default_factory=Position)
    failed: dict[int, str] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    elapsed_before: float = 0.0
    #: One entry per session (the first run and each resume): its options, steps and why it ended.
    sessions: list[dict[str, Any]] = field(default_factory=list)
    resumed_from: Path | None = None
    #: Why this session ended (``stopping.COMPLETED``, ``MAX_TIME`` or a signal's name); None while it runs.
    stopped_by: str | None = None


def prepare(cfg: PretrainConfig, ctx: Distributed) -> Run:
    """Build everything; a resumed run restores its exact state from ``checkpoint.pt``, whose file
    and options are checked before the data are listed, and its data before any is read."""
    started = time.monotonic()
    checkpoint, resumed_from = None, None
    if cfg.resume:
        checkpoint, resumed_from = read_resume_checkpoint(cfg.resume), checkpoint_file(cfg.resume)
        check_same_settings(checkpoint, cfg, ctx, resumed_from)
    files = list_audio(list(cfg.data))
    manifest = data_manifest(files, ctx)
    if checkpoint is not None:
        check_same_data(checkpoint, manifest, len(files), resumed_from)
    spec = variant_spec(cfg.variant)
    micro = cfg.batch_size // (ctx.world * cfg.accumulate)
    if micro * ctx.world * cfg.accumulate != cfg.batch_size or micro < 2:
        raise UsageError(f"--batch-size {cfg.batch_size} must be a multiple of processes x --accumulate "
                         f"({ctx.world} x {cfg.accumulate}), with at least 2 crops per micro-batch (BatchNorm)")
    steps_per_epoch = len(epoch_batches(len(files), micro, ctx.world, ctx.rank, cfg.seed, 0)) // cfg.accumulate
    if steps_per_epoch == 0:
        raise UsageError(f"{len(files)} files are fewer than one global batch of {cfg.batch_size}: lower --batch-size")
    torch.manual_seed(cfg.seed)  # the same initial weights on every rank
    net = spec.build_encoder().train()
    starts_from = cfg.init if checkpoint is None else None  # a resumed run's weights are its checkpoint's
    info: dict[str, Any] = {"init": initial_weights(net, starts_from, cfg.variant) if starts_from else None}
    functionals = Functionals(cfg.hybrid) if cfg.hybrid else None
    head = MLP(spec.embedding_size, functionals.size, HEAD_HIDDEN) if functionals else None
    objective = Objective(ByolLearner(net, spec.embedding_size, tau=cfg.tau), head, cfg.byol_weight, cfg.hybrid_weight)
    if cfg.sync_bn and ctx.world > 1:
        objective = nn.SyncBatchNorm.convert_sync_batchnorm(objective)
    objective.to(ctx.device)
    torch.manual_seed(cfg.seed + ctx.rank)  # dropout differs per rank, like the data
    frontend = LogMelFrontend(spec.frontend).to(ctx.device)
    dataset = CropDataset(files, cfg.crop, cfg.seed)
    run = Run(
        cfg, ctx, files, manifest, dataset, frontend, objective,
        torch.optim.AdamW(trainable(objective), lr=cfg.lr), FixedNorm(0.0, 1.0), None,
        TwoViews(torch.Generator().manual_seed(cfg.seed * 7919 + ctx.rank)), micro, steps_per_epoch,
        cfg.max_steps if cfg.max_steps is not None else cfg.epochs * steps_per_epoch, info=info,
        resumed_from=resumed_from,
    )
    if cfg.norm == "running":
        run.prenorm = RunningNorm(max_updates=20 * len(files) // ctx.world)
    if functionals is not None:
        dataset.targets = hybrid_source(cfg.crop, dataset, functionals, ctx, Path(cfg.out), manifest, micro,
                                        cfg.workers, run.failed)
    if checkpoint is not None:
        restore(run, checkpoint, resumed_from)
    else:
        (mean, std), run.zscore = dataset_statistics(dataset, frontend, ctx, cfg.norm_sample, cfg.seed, micro,
                                                     cfg.workers, run.failed)
        if cfg.norm == "dataset":
            run.prenorm = FixedNorm(mean, std)
        run.info["dataset_stats"] = {"mean": mean, "std": std, "crops": min(cfg.norm_sample, len(files))}
    run.info["setup_s"] = time.monotonic() - started
    run.sessions.append({"config": asdict(cfg), "processes": ctx.world, "device": str(ctx.device),
                         "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                         "setup_s": run.info["setup_s"], "from_step": run.position.step,
                         "to_step": run.position.step, "elapsed_s": 0.0, "stopped_by": None})
    return run


def save(run: Run, elapsed: float, metrics: Metrics | None) -> None:
    """Gather every rank's random state; rank 0 writes the run's files together, and every rank
    learns whether that worked (so a full disk stops all of them with the same error)."""
    ctx = run.ctx
    mine = {
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state(ctx.device) if ctx.device.type == "cuda" else None,
        "views": run.views.state_dict(),
        "prenorm": run.prenorm.state_dict(),
        "failed": run.failed,
        "parameters_sha256": parameters_digest(run.objective),
    }
    ranks = ctx.gather(mine)
    failure: StorageError | None = None
    if ctx.main:
        try:
            write_run_files(run, ranks, elapsed, metrics)
        except StorageError as exc:
            failure = exc
    failure = ctx.broadcast(failure)
    if failure is not None:
        raise failure


def write_run_files(run: Run, ranks: list[dict[str, Any]], elapsed: float, metrics: Metrics | None) -> None:
    """metrics.csv, checkpoint.pt, encoder.pth, unreadable.txt and run.json, all or none (a full
    disk keeps the previous set, whose checkpoint and encoder belong together); the checkpoint and
    run.json record the sha256 of the encoder.pth written with them."""
    for rank in ranks:
        run.failed.update(rank.pop("failed"))
    run.info["replica_parameters_sha256"] = [rank.pop("parameters_sha256") for rank in ranks]
    run.sessions[-1].update(to_step=run.position.step, elapsed_s=elapsed - run.elapsed_before,
                            stopped_by=run.stopped_by)
    out = Path(run.cfg.out)
    encoder = torch_bytes({k: v.detach().cpu().clone()
                           for k, v in run.objective.learner.online_encoder.net.state_dict().items()})
    encoder_sha256 = hashlib.sha256(encoder).hexdigest()
    checkpoint = {
        "format": CHECKPOINT_FORMAT, "config": asdict(run.cfg), "world": run.ctx.world,
        "device_type": run.ctx.device.type, "data": {"files": len(run.files), "manifest_sha256": run.manifest},
        "position": asdict(run.position), "objective": run.objective.state_dict(),
        "optimiser": run.optimiser.state_dict(), "zscore": None if run.zscore is None else run.zscore.state_dict(),
        "ranks": ranks, "failed": run.failed, "info": run.info, "elapsed_s": elapsed, "sessions": run.sessions,
        "encoder_sha256": encoder_sha256,
    }
    files: list[tuple[Path, Callable[[IO[bytes]], object]]] = []
    if metrics is not None:
        files.append((out / "metrics.csv", lambda fh: fh.write(metrics.csv_bytes())))
    # serialised in memory, then written: torch.save straight into a file turns a full disk into a
    # RuntimeError of its zip writer ("unexpected pos"), where a plain write raises ENOSPC
    checkpoint_bytes = torch_bytes(checkpoint)
    files += [(out / "checkpoint.pt", lambda fh: fh.write(checkpoint_bytes)),
              (out / "encoder.pth", lambda fh: fh.write(encoder))]
    unreadable = sorted({str(run.files[i]) + "\t" + why for i, why in run.failed.items()})
    if unreadable:
        text = ("\n".join(unreadable) + "\n").encode("utf-8", "surrogateescape")  # names need not be UTF-8
        files.append((out / "unreadable.txt", lambda fh: fh.write(text)))
    record = run_record(run, elapsed, encoder_sha256)
    files.append((out / "run.json", lambda fh: fh.write(json_bytes(record))))
    kept = "its previous checkpoint.pt and encoder.pth, which belong together, are kept" if (
        out / "checkpoint.pt").is_file() else "nothing was saved"
    try:
        atomic_write_all(files)  # checkpoint.pt before encoder.pth before run.json: see resume.restore
    except OSError as exc:
        raise StorageError(f"cannot save step {run.position.step} into {out} ({exc.strerror or exc}); {kept}. "
                           f"Free space there (or make it writable), then continue with --resume {out}") from None


def parameters_digest(model: nn.Module) -> str:
    """sha256 of every parameter's bytes: equal on all ranks when DDP kept the replicas in step."""
    digest = hashlib.sha256()
    for parameter in model.parameters():
        digest.update(parameter.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def run_record(run: Run, elapsed: float, encoder_sha256: str) -> dict[str, Any]:
    """run.json: the configuration, the data, the versions and the timings of a run, with every
    session (the first and each resume) and the step and hash of the encoder.pth saved with it."""
    import platform

    import numpy

    from hear_byols import __version__

    versions = {"hear_byols": __version__, "torch": torch.__version__, "numpy": numpy.__version__,
                "python": platform.python_version()}
    if run.cfg.hybrid:
        versions["opensmile"] = require_opensmile().__version__
    return {
        "config": asdict(run.cfg),
        "finished": run.position.step >= run.total_steps,
        "stopped_by": run.stopped_by,
        "sessions": run.sessions,
        "encoder": {"step": run.position.step, "sha256": encoder_sha256},
        "data": {"files": len(run.files), "manifest_sha256": run.manifest, "unreadable": len(run.failed)},
        "processes": run.ctx.world, "device": str(run.ctx.device), "micro_batch_per_process": run.micro_batch,
        "steps_per_epoch": run.steps_per_epoch, "total_steps": run.total_steps, "position": asdict(run.position),
        "hybrid": None if run.cfg.hybrid is None else {
            "feature_set": FEATURE_SETS[run.cfg.hybrid][0], "functionals": FEATURE_SETS[run.cfg.hybrid][1],
            "note": "our reconstruction: the original Hybrid BYOL-S training code was never published"},
        "versions": versions,
        "timings": {"elapsed_s": elapsed, "samples_per_s": run.info.get("samples_per_s")},
        **{key: value for key, value in run.info.items() if key != "samples_per_s"},
    }


def train(cfg: PretrainConfig, ctx: Distributed) -> Run:
    """Set up (or resume) and train until the step budget is done, this session's ``--max-time``
    is spent or a stop signal arrives; each of these saves a checkpoint."""
    run = prepare(cfg, ctx)
    with StopSignals() as signals:
        train_steps(run, signals)
    return run


def train_steps(run: Run, signals: StopSignals) -> None:
    """The training loop of a prepared run; sets ``run.stopped_by``."""
    cfg, ctx = run.cfg, run.ctx
    out = Path(cfg.out)
    metrics = None
    if ctx.main:
        history = None if run.resumed_from is None else run.resumed_from.parent / "metrics.csv"
        metrics = Metrics(out / "metrics.csv", history, run.position.step)
    model: nn.Module = run.objective
    if ctx.world > 1:
        model = nn.parallel.DistributedDataParallel(run.objective, device_ids=[ctx.device] if ctx.device.type == "cuda" else None)
    autocast = (lambda: torch.autocast(ctx.device.type, dtype=torch.bfloat16)) if cfg.precision == "bf16" else contextlib.nullcontext
    started = time.monotonic()
    bar = tqdm(total=run.total_steps, initial=run.position.step, unit="step", disable=not ctx.main or cfg.quiet)
    samples_done, tick = 0, started
    guard = NonFiniteGuard(ctx, trainable(run.objective), run.frontend, run.files, out,
                           saved=run.position.step if run.resumed_from is not None else None)
    while run.position.step < run.total_steps and run.stopped_by is None:
        run.dataset.epoch = run.position.epoch
        batches = epoch_batches(len(run.files), run.micro_batch, ctx.world, ctx.rank, cfg.seed, run.position.epoch)
        batches = batches[run.position.batch_in_epoch : run.steps_per_epoch * cfg.accumulate]
        group: list[Batch] = []
        for batch in loader(run.dataset, batches, cfg.workers):
            group.append(batch)
            if len(group) < cfg.accumulate:
                continue
            guard.watch(run.position.step + 1, group)
            losses = optimiser_step(model, run.objective.learner, run.optimiser, [micro_batch(run, b) for b in group],
                                    autocast=autocast, before_update=guard.check)
            run.position.step += 1
            run.position.batch_in_epoch += cfg.accumulate
            session_s = time.monotonic() - started
            elapsed = run.elapsed_before + session_s
            over_time = cfg.max_time is not None and session_s >= cfg.max_time
            values = [losses["loss"], losses["byol_loss"], losses.get("hybrid_loss", 0.0),
                      sum(len(b.crops) for b in group), float(over_time), *signals.flags()]
            total = ctx.sum(torch.tensor(values, dtype=torch.float64)).tolist()
            step_samples, signalled = total[3], agreed_signal(total[5:])
            samples_done += int(step_samples)
            now = time.monotonic()  # samples/s over the whole step, waiting for data included
            row = {"step": run.position.step, "epoch": run.position.epoch, "loss": total[0] / ctx.world,
                   "byol_loss": total[1] / ctx.world, "samples_per_s": step_samples / (now - tick),
                   "elapsed_s": elapsed}
            tick = now
            if cfg.hybrid:
                row["hybrid_loss"] = total[2] / ctx.world
            if metrics is not None:
                metrics.add(row)
            bar.update(1)
            bar.set_postfix(loss=f"{row['loss']:.4f}", samples_s=f"{row['samples_per_s']:.1f}")
            for item in group:
                run.failed.update(item.failed)
            group = []
            if run.position.step >= run.total_steps:
                run.stopped_by = COMPLETED
            elif signalled is not None:
                run.stopped_by = signalled.name
            elif total[4] > 0:
                run.stopped_by = MAX_TIME
            if run.stopped_by is not None or run.position.step % cfg.save_every == 0:
                run.info["samples_per_s"] = samples_done / max(time.monotonic() - started, 1e-9)
                save(run, elapsed, metrics)
                guard.saved(run.position.step)
                tick = time.monotonic()  # the next step's rate leaves the checkpoint out
            if run.stopped_by is not None:
                break
        else:
            run.position.epoch += 1
            run.position.batch_in_epoch = 0
    run.stopped_by = run.stopped_by or COMPLETED  # no step was left to do
    bar.close()
    if metrics is not None:
        metrics.plot(out / "loss.png")


def micro_batch(run: Run, batch: Batch) -> MicroBatch:
    """Crops -> log-mel -> pre-normalised -> two augmented, jointly normalised views (+ targets)."""
    if len(batch.crops) < 2:
        unreadable = dict(batch.failed)
        raise TrainingDataError(
            f"a micro-batch kept {len(batch.crops)} readable crop(s) of {run.micro_batch} (BatchNorm needs 2): "
            f"{len(unreadable)} of its files are unreadable: {name_files(run.files, list(unreadable), unreadable)}; "
            "remove them from DATA or raise --batch-size")
    with torch.no_grad():
        lms = run.prenorm(run.frontend(batch.crops.to(run.ctx.device)).unsqueeze(1))
        view1, view2 = run.views(lms)
    targets = None
    if batch.targets is not None and run.zscore is not None:
        targets = run.zscore(batch.targets.to(run.ctx.device))
    return view1, view2, targets
