"""Run one training process end to end: join the group, claim RUN_DIR, train, report, leave."""
from __future__ import annotations

import errno
import logging
import sys
from pathlib import Path

from hear_byols.exits import FAILURE, HANDLED, print_error, report
from hear_byols.pretraining import launch
from hear_byols.pretraining.loop import train
from hear_byols.pretraining.options import PretrainConfig
from hear_byols.pretraining.rundir import claimed_run_dir
from hear_byols.pretraining.state import Run
from hear_byols.pretraining.stopping import COMPLETED, MAX_TIME, exit_status

log = logging.getLogger("hear_byols.pretraining")
#: A disk that is full, over quota or read-only: a storage error, wherever a file is written
#: (the run's saves say more; this covers an objective's target cache and the loss plot).
STORAGE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS)


def run_pretraining(cfg: PretrainConfig) -> int:
    """Exit status: 0 trained (or stopped by ``--max-time``), 1 failed, 2 usage error (as the rest
    of the command line), 128 + the signal's number when SIGTERM/SIGINT stopped it (143, 130)."""
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
    try:
        ctx = launch.start(cfg.device, sync_bn=cfg.sync_bn)
        with claimed_run_dir(cfg, ctx):
            result = train(cfg, ctx)
    except HANDLED as exc:  # Ctrl-C during setup, or twice during training: stopped at once
        return report("pretrain", exc, interrupted=f"stopped at once, unsaved; {cfg.out} keeps its last checkpoint, "
                      "if any")
    except OSError as exc:
        if exc.errno not in STORAGE_ERRNOS:
            raise
        print_error("pretrain", f"cannot write {exc.filename or cfg.out} ({exc.strerror}): free space there, or make "
                    f"it writable; a saved checkpoint is continued with --resume {cfg.out}")
        return FAILURE
    finally:
        launch.stop()
    if ctx.main:
        log.info(summary(result))
    return exit_status(result.stopped_by or COMPLETED)


def summary(run: Run) -> str:
    """The last line a run prints: what it did, and how to go on when it stopped early."""
    pos, out = run.progress.position, Path(run.cfg.out)
    done = (f"{pos.step} of {run.data.total_steps} steps ({pos.epoch} full epochs) on {run.ctx.world} process(es); "
            f"{len(run.progress.failed)} unreadable file(s); encoder -> {out / 'encoder.pth'}")
    if run.stopped_by == COMPLETED:
        return f"pretrain: {done}"
    why = "--max-time" if run.stopped_by == MAX_TIME else run.stopped_by
    return f"pretrain: stopped by {why} after {done}; checkpoint saved: continue with --resume {out}"
