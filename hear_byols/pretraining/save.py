"""Save a run: every process's random state gathered, then rank 0 writes checkpoint.pt,
encoder.pth, metrics.csv, unreadable.txt and run.json together."""
from __future__ import annotations

import hashlib
import platform
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any, Callable

import numpy
import torch
from torch import nn

from hear_byols.storage.atomic import atomic_write_all
from hear_byols.errors import StorageError
from hear_byols.pretraining.objectives import record_keys
from hear_byols.pretraining.resume import CHECKPOINT_FORMAT
from hear_byols.pretraining.run_files import Metrics, json_bytes, torch_bytes
from hear_byols.pretraining.state import Run


def save(run: Run, elapsed: float, metrics: Metrics | None) -> None:
    """Gather every rank's random state; rank 0 writes the run's files together, and every rank
    learns whether that worked (so a full disk stops all of them with the same error)."""
    ctx = run.ctx
    mine = {
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state(ctx.device) if ctx.device.type == "cuda" else None,
        "views": run.views.augment.state_dict(),
        "prenorm": run.views.prenorm.state_dict(),
        "failed": run.progress.failed,
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
    progress, out = run.progress, Path(run.cfg.out)
    for rank in ranks:
        progress.failed.update(rank.pop("failed"))
    progress.facts["replica_parameters_sha256"] = [rank.pop("parameters_sha256") for rank in ranks]
    progress.sessions[-1].update(to_step=progress.position.step, elapsed_s=elapsed - progress.elapsed_before,
                                 stopped_by=run.stopped_by)
    encoder = torch_bytes({k: v.detach().cpu().clone()
                           for k, v in run.objective.learner.online_encoder.net.state_dict().items()})
    encoder_sha256 = hashlib.sha256(encoder).hexdigest()
    # serialised in memory, then written: torch.save straight into a file turns a full disk into a
    # RuntimeError of its zip writer ("unexpected pos"), where a plain write raises ENOSPC
    checkpoint = torch_bytes(checkpoint_content(run, ranks, elapsed, encoder_sha256))
    files: list[tuple[Path, Callable[[IO[bytes]], object]]] = []
    if metrics is not None:
        files.append((out / "metrics.csv", lambda fh: fh.write(metrics.csv_bytes())))
    files += [(out / "checkpoint.pt", lambda fh: fh.write(checkpoint)),
              (out / "encoder.pth", lambda fh: fh.write(encoder))]
    unreadable = sorted({str(run.data.files[i]) + "\t" + why for i, why in progress.failed.items()})
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
        raise StorageError(f"cannot save step {progress.position.step} into {out} ({exc.strerror or exc}); {kept}. "
                           f"Free space there (or make it writable), then continue with --resume {out}") from None


def checkpoint_content(run: Run, ranks: list[dict[str, Any]], elapsed: float, encoder_sha256: str) -> dict[str, Any]:
    """checkpoint.pt (format ``CHECKPOINT_FORMAT``): what ``resume`` checks and restores."""
    progress, data, zscore = run.progress, run.data, run.objective.zscore
    return {
        "format": CHECKPOINT_FORMAT, "config": asdict(run.cfg), "world": run.ctx.world,
        "device_type": run.ctx.device.type, "data": {"files": len(data.files), "manifest_sha256": data.manifest},
        "position": asdict(progress.position), "objective": run.objective.state_dict(),
        "optimiser": run.optimiser.state_dict(), "zscore": None if zscore is None else zscore.state_dict(),
        "ranks": ranks, "failed": progress.failed, "info": progress.facts, "elapsed_s": elapsed,
        "sessions": progress.sessions, "encoder_sha256": encoder_sha256,
    }


def parameters_digest(model: nn.Module) -> str:
    """sha256 of every parameter's bytes: equal on all ranks when DDP kept the replicas in step."""
    digest = hashlib.sha256()
    for parameter in model.parameters():
        digest.update(parameter.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def run_record(run: Run, elapsed: float, encoder_sha256: str) -> dict[str, Any]:
    """run.json: the configuration, the data, the versions and the timings of a run, with every
    session (the first and each resume) and the step and hash of the encoder.pth saved with it."""
    from hear_byols import __version__

    progress, data, objective = run.progress, run.data, run.objective
    versions = {"hear_byols": __version__, "torch": torch.__version__, "numpy": numpy.__version__,
                "python": platform.python_version(), **objective.versions()}
    objectives = {key: None for key in record_keys()}
    if objective.record_key:
        objectives[objective.record_key] = objective.record()
    return {
        "config": asdict(run.cfg),
        "finished": progress.position.step >= data.total_steps,
        "stopped_by": run.stopped_by,
        "sessions": progress.sessions,
        "encoder": {"step": progress.position.step, "sha256": encoder_sha256},
        "data": {"files": len(data.files), "manifest_sha256": data.manifest, "unreadable": len(progress.failed)},
        "processes": run.ctx.world, "device": str(run.ctx.device), "micro_batch_per_process": data.micro_batch_size,
        "steps_per_epoch": data.steps_per_epoch, "total_steps": data.total_steps, "position": asdict(progress.position),
        **objectives,
        "versions": versions,
        "timings": {"elapsed_s": elapsed, "samples_per_s": progress.facts.get("samples_per_s")},
        **{key: value for key, value in progress.facts.items() if key != "samples_per_s"},
    }
