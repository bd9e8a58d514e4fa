"""Claim RUN_DIR for one pretraining run before any work: a writable directory, locked, and not
holding another run unless this one continues it (``--resume``) or replaces it (``--overwrite``).

Two runs writing one RUN_DIR would overwrite each other's checkpoint and encoder with exit 0
for both, so the main process holds ``RUN_DIR/.hear-byols-pretrain.lock`` for the whole run (the
kernel releases it when its holder dies, even by SIGKILL) and a second run fails at once. The
other processes of a DDP run learn the main one's verdict, so all of them stop on a refusal.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from hear_byols.storage.atomic import create_out_dir
from hear_byols.errors import HearByolsError, StorageError, UsageError
from hear_byols.storage.locking import acquire
from hear_byols.pretraining.launch import Distributed
from hear_byols.pretraining.options import PretrainConfig
from hear_byols.pretraining.resume import checkpoint_file
from hear_byols.storage.leftovers import remove_stale_temporaries

LOCK_NAME = ".hear-byols-pretrain.lock"
#: Files that make RUN_DIR hold a run (a folder with only an objective's target cache holds none).
RUN_MARKERS = ("checkpoint.pt", "encoder.pth", "run.json", "metrics.csv")
#: Everything a run writes; ``--overwrite`` deletes these (an objective's target cache is keyed, and kept).
RUN_FILES = (*RUN_MARKERS, "loss.png", "unreadable.txt")


@contextlib.contextmanager
def claimed_run_dir(cfg: PretrainConfig, ctx: Distributed) -> Iterator[Path]:
    """Hold RUN_DIR for the duration of the run (on the main process); every process raises
    the main process's refusal, so none starts training alone."""
    out = Path(cfg.out)
    lock: FileLock | None = None
    refusal: HearByolsError | None = None
    if ctx.main:
        try:
            lock = _claim(out, cfg)
        except HearByolsError as exc:
            refusal = exc
    refusal = ctx.broadcast(refusal)
    if refusal is not None:
        raise refusal
    try:
        yield out
    finally:
        if lock is not None:
            lock.release()


def _claim(out: Path, cfg: PretrainConfig) -> FileLock:
    create_out_dir(out)
    lock_path = out / LOCK_NAME
    try:
        lock = acquire(lock_path, 0, "use another --out")
    except Timeout:
        raise UsageError(f"another pretraining run is writing into {out} (it holds {lock_path}); wait for it to "
                         "finish, or use another --out") from None
    try:
        _check_writable(out)
        _refuse_another_run(out, cfg)
        remove_stale_temporaries(out, ".tmp")  # left by killed runs; none is live while we hold the lock
        if cfg.overwrite:
            for name in RUN_FILES:
                (out / name).unlink(missing_ok=True)
    except BaseException:
        lock.release()
        raise
    return lock


def _check_writable(out: Path) -> None:
    """Write, sync and delete a small file, so a read-only or full RUN_DIR fails before training
    rather than at the first checkpoint."""
    try:
        with tempfile.TemporaryFile(dir=out, prefix=".write-check.") as probe:
            probe.write(b"\0" * 4096)
            probe.flush()
            os.fsync(probe.fileno())
    except OSError as exc:
        raise StorageError(f"cannot write into --out {out} ({exc.strerror or exc}): make it writable, free space on "
                           "its disk, or use another --out") from None


def _refuse_another_run(out: Path, cfg: PretrainConfig) -> None:
    resumes_here = cfg.resume is not None and checkpoint_file(cfg.resume).parent.resolve() == out.resolve()
    if cfg.overwrite and resumes_here:
        raise UsageError(f"--overwrite would delete the checkpoint that --resume {cfg.resume} continues from; "
                         "drop one of them")
    present = [name for name in RUN_MARKERS if (out / name).exists()]
    if present and not resumes_here and not cfg.overwrite:
        raise UsageError(f"--out {out} already holds a pretraining run ({', '.join(present)}): continue it with "
                         f"--resume {out}, start it over with --overwrite, or use another --out")
