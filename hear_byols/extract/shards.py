"""Which files one process of a sharded ``embed`` owns, and which device it uses.

A shard is ``I/N`` (0-based ``I``), from ``--shard I/N`` or, with ``--shard auto``, from the
launcher's environment: torchrun (``RANK``/``WORLD_SIZE``, device ``cuda:LOCAL_RANK``) and SLURM
job arrays (hear_byols.launchers reads both). Under both (torchrun inside each array task) the
shards are the product: array task ``a`` of ``A``, rank ``r`` of ``W`` is shard ``a * W + r`` of
``A * W``. Without ``--shard`` only a process torchrun started takes its rank (``choose_shard``):
a shard taken silently from inherited variables would keep 1/N of the files with exit status 0.

A file belongs to shard ``crc32(relative name) % N``: membership depends on the file's own
name only, so shards listing the corpus at different times (files added in between) never
claim one file twice, and a relaunch gives every file the same shard again.
"""
from __future__ import annotations

import os
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

import torch

from hear_byols.audio.inputs import InputFile
from hear_byols.errors import UsageError
from hear_byols.launchers import TORCHRUN_VARIABLES, slurm_array_task, started_by_torchrun, torchrun_rank

#: ``--shard`` values besides ``I/N``: the launchers' variables, whoever set them; every file.
AUTO, ALL = "auto", "all"


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count`` (``0/1``: the whole input)."""

    index: int = 0
    count: int = 1

    @property
    def label(self) -> str:
        return f"{self.index}/{self.count}"

    @property
    def file_tag(self) -> str:
        """Part of the names of this shard's lock and journal (empty when unsharded: the historic names)."""
        return "" if self.count == 1 else f".shard-{self.index}-of-{self.count}"

    def owns(self, item: InputFile) -> bool:
        # the name's bytes as on disk: a non-UTF-8 name is a str with surrogate escapes (os.fsencode undoes them)
        return zlib.crc32(os.fsencode(item.relative.as_posix())) % self.count == self.index

    def select(self, items: list[InputFile]) -> list[InputFile]:
        """This shard's files, in sorted order of their output names."""
        return sorted((item for item in items if self.owns(item)), key=lambda item: item.relative.as_posix())


WHOLE = Shard()


def parse_shard(text: str) -> Shard:
    """``"I/N"`` with ``0 <= I < N``; UsageError otherwise."""
    index, _, count = text.partition("/")
    try:
        shard = Shard(int(index), int(count))
    except ValueError:
        raise UsageError(f"--shard {text!r}: expected I/N (e.g. --shard 0/4 for the first of 4 shards), auto or all") from None
    if not 0 <= shard.index < shard.count:
        raise UsageError(f"--shard {text!r}: I must be in 0..N-1 (shards are numbered from 0)")
    return shard


def shard_from_environment(env: Mapping[str, str] = os.environ) -> Shard:
    """The shard the launcher's variables describe (``WHOLE`` when none is set)."""
    rank, world = torchrun_rank(env) or (0, 1)
    task, tasks = slurm_array_task(env) or (0, 1)
    return Shard(task * world + rank, tasks * world)


def choose_shard(option: Shard | str | None, env: Mapping[str, str] = os.environ) -> tuple[Shard, str]:
    """The shard to embed and where it came from (printed at the start, kept in the run's provenance).

    ``--shard I/N`` and ``--shard all`` say it, ``--shard auto`` takes the launchers' variables
    whoever set them. Without ``--shard``, only a process torchrun started takes its rank; a SLURM
    array task, or ``RANK``/``WORLD_SIZE`` that torchrun did not set, is a usage error naming both
    choices: either guess is wrong for someone (an array over datasets, one ``--out`` each, would
    keep 1/N of each; an array over one corpus would embed it N times)."""
    if isinstance(option, Shard):
        return option, f"--shard {option.label}"
    if option == ALL:
        return WHOLE, "--shard all"
    if option == AUTO:
        return shard_from_environment(env), f"{_launchers(env) or 'no launcher variables'}, by --shard auto"
    if slurm_array_task(env) is not None:
        raise UsageError(
            f"this process is a task of {_launchers(env)}: pass --shard auto to embed its shard "
            f"{shard_from_environment(env).label} of the files (every task writing into one --out), or --shard all "
            "to embed every file (e.g. one dataset and one --out per task)"
        )
    if torchrun_rank(env) is None:
        return WHOLE, "no --shard, no launcher variables"
    if not started_by_torchrun(env):
        missing = ", ".join(name for name in TORCHRUN_VARIABLES if name not in env)
        raise UsageError(
            f"RANK={env['RANK']}, WORLD_SIZE={env['WORLD_SIZE']} are set, but this process was not started by "
            f"torchrun (no {missing}): they were probably inherited from a parent job or shell. Pass --shard auto "
            f"to embed shard {shard_from_environment(env).label} of the files anyway, --shard all to embed every "
            "file, or unset RANK and WORLD_SIZE"
        )
    return shard_from_environment(env), _launchers(env)


def _launchers(env: Mapping[str, str]) -> str:
    """The launcher variables that are set, as a user would recognise them ("" when none)."""
    found = []
    if "SLURM_ARRAY_TASK_ID" in env:
        found.append(f"a SLURM array (SLURM_ARRAY_TASK_ID={env['SLURM_ARRAY_TASK_ID']}, "
                     f"SLURM_ARRAY_TASK_COUNT={env.get('SLURM_ARRAY_TASK_COUNT')})")
    if "RANK" in env:
        ranks = f"RANK={env['RANK']}, WORLD_SIZE={env.get('WORLD_SIZE')}"
        found.append(f"torchrun ({ranks})" if started_by_torchrun(env) else f"{ranks} (not set by torchrun)")
    return " and ".join(found)


def parse_shard_option(text: str) -> Shard | str:
    """``--shard``: ``I/N``, ``auto`` or ``all``; UsageError otherwise."""
    keyword = text.strip().lower()
    return keyword if keyword in (AUTO, ALL) else parse_shard(text)


def resolve_device(asked: torch.device | None, env: Mapping[str, str] = os.environ) -> torch.device:
    """``asked``, except that under torchrun ``cuda`` (or nothing, with CUDA available) means
    ``cuda:LOCAL_RANK``: one GPU per process. Without CUDA it stays the CPU."""
    local_rank = env.get("LOCAL_RANK")
    wants_cuda = asked is None or (asked.type == "cuda" and asked.index is None)
    if local_rank is None or not wants_cuda or not torch.cuda.is_available():
        return asked or torch.device("cpu")
    device = torch.device("cuda", int(local_rank))
    if device.index >= torch.cuda.device_count():
        raise UsageError(
            f"LOCAL_RANK={local_rank} but only {torch.cuda.device_count()} CUDA device(s) are visible: start torchrun "
            "with --nproc_per_node at most the GPU count, or pass --device cuda:N"
        )
    return device
