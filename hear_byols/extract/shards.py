"""Which files one process of a sharded ``embed`` owns, and which device it uses.

A shard (``hear_byols.distributed.Shard``) is ``I/N`` (0-based ``I``), from ``--shard I/N`` or,
with ``--shard auto``, from the launchers' environment (``distributed.launcher_shard``: torchrun's
``RANK``/``WORLD_SIZE``, SLURM job arrays, or their product). Without ``--shard`` only a process
torchrun started takes its rank (``choose_shard``): a shard taken silently from inherited
variables would keep 1/N of the files with exit status 0.

A file belongs to shard ``crc32(relative name) % N``: membership depends on the file's own
name only, so shards listing the corpus at different times (files added in between) never
claim one file twice, and a relaunch gives every file the same shard again.
"""
from __future__ import annotations

import os
import zlib
from collections.abc import Mapping

import torch

from hear_byols.audio.inputs import InputFile
from hear_byols.distributed import (
    TORCHRUN_VARIABLES, Shard, cuda_device, describe_launchers, launcher_shard, local_rank, parse_shard,
    slurm_array_task, started_by_torchrun, torchrun_rank,
)
from hear_byols.errors import UsageError

#: ``--shard`` values besides ``I/N``: the launchers' variables, whoever set them; every file.
AUTO, ALL = "auto", "all"
WHOLE = Shard()


def owns(item: InputFile, shard: Shard) -> bool:
    """Whether ``item`` is one of ``shard``'s files: by a hash of its relative name."""
    # the name's bytes as on disk: a non-UTF-8 name is a str with surrogate escapes (os.fsencode undoes them)
    return zlib.crc32(os.fsencode(item.relative.as_posix())) % shard.count == shard.index


def select(items: list[InputFile], shard: Shard) -> list[InputFile]:
    """This shard's files, in sorted order of their output names."""
    return sorted((item for item in items if owns(item, shard)), key=lambda item: item.relative.as_posix())


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
        return launcher_shard(env), f"{describe_launchers(env) or 'no launcher variables'}, by --shard auto"
    if slurm_array_task(env) is not None:
        raise UsageError(
            f"this process is a task of {describe_launchers(env)}: pass --shard auto to embed its shard "
            f"{launcher_shard(env).label} of the files (every task writing into one --out), or --shard all "
            "to embed every file (e.g. one dataset and one --out per task)"
        )
    if torchrun_rank(env) is None:
        return WHOLE, "no --shard, no launcher variables"
    if not started_by_torchrun(env):
        missing = ", ".join(name for name in TORCHRUN_VARIABLES if name not in env)
        raise UsageError(
            f"RANK={env['RANK']}, WORLD_SIZE={env['WORLD_SIZE']} are set, but this process was not started by "
            f"torchrun (no {missing}): they were probably inherited from a parent job or shell. Pass --shard auto "
            f"to embed shard {launcher_shard(env).label} of the files anyway, --shard all to embed every "
            "file, or unset RANK and WORLD_SIZE"
        )
    return launcher_shard(env), describe_launchers(env)


def parse_shard_option(text: str) -> Shard | str:
    """``--shard``: ``I/N``, ``auto`` or ``all``; UsageError otherwise."""
    keyword = text.strip().lower()
    return keyword if keyword in (AUTO, ALL) else parse_shard(text)


def resolve_device(asked: torch.device | None, env: Mapping[str, str] = os.environ) -> torch.device:
    """``asked``, except that under torchrun ``cuda`` (or nothing, with CUDA available) means
    ``cuda:LOCAL_RANK``: one GPU per process. Without CUDA it stays the CPU."""
    rank = local_rank(env)
    wants_cuda = asked is None or (asked.type == "cuda" and asked.index is None)
    if rank is None or not wants_cuda or not torch.cuda.is_available():
        return asked or torch.device("cpu")
    return cuda_device(rank, from_local_rank=True)
