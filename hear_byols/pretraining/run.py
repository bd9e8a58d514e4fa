"""Run one training process end to end: join the group, train, report, leave."""
from __future__ import annotations

import logging
import sys
from pathlib import Path

from hear_byols.errors import HearByolsError, UsageError
from hear_byols.pretraining import launch
from hear_byols.pretraining.loop import train
from hear_byols.pretraining.options import PretrainConfig

log = logging.getLogger("hear_byols.pretraining")


def run_pretraining(cfg: PretrainConfig) -> int:
    """Exit status: 0 trained, 1 failed, 2 usage error (as the rest of the command line)."""
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
    try:
        ctx = launch.start(cfg.device, sync_bn=cfg.sync_bn)
    except UsageError as exc:
        print(f"pretrain: error: {exc}", file=sys.stderr)
        return 2
    try:
        Path(cfg.out).mkdir(parents=True, exist_ok=True)
        result = train(cfg, ctx)
    except UsageError as exc:
        print(f"pretrain: error: {exc}", file=sys.stderr)
        return 2
    except HearByolsError as exc:
        print(f"pretrain: error: {exc}", file=sys.stderr)
        return 1
    finally:
        launch.stop()
    if ctx.main:
        pos = result.position
        log.info(f"pretrain: {pos.step} steps ({pos.epoch} full epochs) on {ctx.world} process(es); "
                 f"{len(result.failed)} unreadable file(s); encoder -> {Path(cfg.out) / 'encoder.pth'}")
    return 0
