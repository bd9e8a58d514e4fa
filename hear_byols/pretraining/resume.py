"""Continue a run exactly: read ``checkpoint.pt`` before any setup, refuse every change that
would make the continued run differ from an uninterrupted one (naming it), then restore the state.

The checkpoint is checked in two stages so that a bad ``--resume`` fails in seconds: its file
and options before the data are scanned, its data manifest as soon as the files are listed
(before statistics or an objective's targets), and its state last, into the freshly built run.
"""
from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from hear_byols.errors import UsageError
from hear_byols.pretraining.launch import Distributed
from hear_byols.pretraining.norm import ZScore
from hear_byols.pretraining.objectives import resume_keys
from hear_byols.pretraining.options import PretrainConfig, RunOptions
from hear_byols.pretraining.state import Position, Progress
from hear_byols.pretraining.step import Views
from hear_byols.weights.hashing import sha256_of

if TYPE_CHECKING:
    from hear_byols.pretraining.objectives.base import Objective

log = logging.getLogger("hear_byols.pretraining")

#: Version of checkpoint.pt's layout: 2 added the data manifest, device type, sessions and encoder hash.
CHECKPOINT_FORMAT = 2
CHECKPOINT_KEYS = frozenset({
    "format", "config", "world", "device_type", "data", "position", "objective", "optimiser", "zscore", "ranks",
    "failed", "info", "elapsed_s", "sessions", "encoder_sha256",
})
#: Options a resume may change: how long, how fast and where the run goes on, never what it computes.
#: ``data`` may name the same files differently (the manifest is compared); ``init`` only seeds a new
#: run; ``device`` may be spelt differently (the device type is compared). Every other option, and
#: any option added later, must be the checkpoint's: the objectives' too (``resume_keys``).
MAY_CHANGE = frozenset({"data", "out", "resume", "overwrite", "init", "device", "epochs", "max_steps", "max_time",
                        "workers", "save_every", "quiet"})
#: The options a resume must keep, in flag order.
MUST_MATCH = (*(f.name for f in dataclasses.fields(RunOptions) if f.name not in MAY_CHANGE), *sorted(resume_keys()))


def checkpoint_file(resume: str) -> Path:
    """The ``checkpoint.pt`` that a ``--resume`` value names (the file, or a RUN_DIR holding it)."""
    path = Path(resume)
    return path / "checkpoint.pt" if path.is_dir() else path


def read_resume_checkpoint(resume: str) -> dict[str, Any]:
    """The checkpoint's content; UsageError naming the file when it is missing, unreadable
    (corrupt, truncated) or not a checkpoint.pt of this program and version."""
    file = checkpoint_file(resume)
    if not file.is_file():
        raise UsageError(f"--resume {resume}: no checkpoint.pt there; name a RUN_DIR of pretrain or its checkpoint.pt")
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:  # every parse failure of torch's loaders means an unusable file
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise UsageError(f"--resume {file}: not a readable checkpoint (corrupt or truncated?): {reason}. Resume from "
                         "an intact checkpoint.pt, or start over (another --out, or --overwrite)") from None
    if not isinstance(state, dict) or "format" not in state or not isinstance(state.get("config"), dict):
        raise UsageError(f"--resume {file}: not a checkpoint.pt written by pretrain (an encoder.pth or another "
                         "program's file?); to start a new run from weights, use --init")
    if state["format"] != CHECKPOINT_FORMAT or not CHECKPOINT_KEYS <= state.keys():
        raise UsageError(f"--resume {file}: checkpoint format {state['format']}, this hear_byols resumes format "
                         f"{CHECKPOINT_FORMAT} only; resume it with the version that wrote it")
    return state


def check_same_settings(state: dict[str, Any], cfg: PretrainConfig, ctx: Distributed, file: Path) -> None:
    """UsageError naming every option, process count or device type that differs from the checkpoint's."""
    saved = state["config"]
    changed = [f"--{key.replace('_', '-')} {saved.get(key)!r} -> {getattr(cfg, key)!r}"
               for key in MUST_MATCH if saved.get(key) != getattr(cfg, key)]
    if state["world"] != ctx.world:
        changed.append(f"processes {state['world']} -> {ctx.world}")
    if state["device_type"] != ctx.device.type:
        changed.append(f"device type {state['device_type']} -> {ctx.device.type}")
    if changed:
        raise UsageError(f"--resume {file}: an exact resume needs the checkpoint's settings, but this run changes "
                         f"{'; '.join(changed)}. Use the checkpoint's, or start a new run (another --out, or --overwrite)")


def check_same_data(state: dict[str, Any], manifest: str, n_files: int, file: Path) -> None:
    """UsageError when the listed files are not the checkpoint's (its unreadable-file indices and
    epoch order refer to that list)."""
    data = state["data"]
    if data["manifest_sha256"] != manifest:
        raise UsageError(f"--resume {file}: the data differ from the checkpoint's ({n_files} files, manifest sha256 "
                         f"{manifest[:12]}; it trained on {data['files']} files, {data['manifest_sha256'][:12]}). "
                         "Resume with the same files, or start a new run (another --out, or --overwrite)")


def restored_progress(state: dict[str, Any]) -> Progress:
    """The run's progress as the checkpoint left it."""
    return Progress(Position(**state["position"]), dict(state["failed"]), dict(state["info"]), state["elapsed_s"],
                    list(state["sessions"]))


def restore(state: dict[str, Any], file: Path, objective: Objective, optimiser: torch.optim.Optimizer, views: Views,
            ctx: Distributed) -> None:
    """Put the checkpoint's state into the freshly built objective, optimiser and views, and
    this process's random state into torch."""
    try:
        objective.load_state_dict(state["objective"])
        optimiser.load_state_dict(state["optimiser"])
    except (RuntimeError, ValueError, KeyError) as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise UsageError(f"--resume {file}: its model does not fit this run's ({reason}); "
                         "was the file edited?") from None
    objective.zscore = None if state["zscore"] is None else ZScore(**state["zscore"])
    mine = state["ranks"][ctx.rank]
    views.prenorm.load_state_dict(mine["prenorm"])
    views.augment.load_state_dict(mine["views"])
    torch.set_rng_state(mine["torch_rng"])
    if mine["cuda_rng"] is not None and ctx.device.type == "cuda":
        torch.cuda.set_rng_state(mine["cuda_rng"], ctx.device)
    encoder = file.parent / "encoder.pth"
    if ctx.main and encoder.is_file() and sha256_of(encoder) != state["encoder_sha256"]:
        log.warning(f"pretrain: {encoder} is not the encoder of {file} (step {state['position']['step']}; killed "
                    "between the two renames, or replaced): this run writes the checkpoint's encoder at its next save")
