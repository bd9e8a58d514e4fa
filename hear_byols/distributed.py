"""Which part of a job this process is, and its device, as job launchers tell it: torchrun and
SLURM job arrays.

The one reading of the launchers' variables for everything that splits work (``hear-byols embed``,
``python -m evaluation run``, pretraining), so a batch script behaves the same under each, and
the one ``Shard`` value they pass around. What a shard contains (files by name hash, evaluation
chains round-robin) is each caller's own policy.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch

from hear_byols.errors import UsageError

#: Set by torchrun's agent in every process it starts, beside ``RANK`` and ``WORLD_SIZE``.
TORCHRUN_VARIABLES = ("LOCAL_RANK", "TORCHELASTIC_RUN_ID")


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` (0-based) of ``count``; ``Shard()`` is ``0/1``, the whole work."""

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise UsageError(f"shard {self.index}/{self.count}: expected I/N with N >= 1 and 0 <= I < N "
                             "(0-based, e.g. --shard 0/4 ... --shard 3/4)")

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        """``2/8``: as ``--shard`` takes it, and as runs print and record it."""
        return f"{self.index}/{self.count}"

    @property
    def tag(self) -> str:
        """``2-of-8``: the part of file and folder names that says the shard."""
        return f"{self.index}-of-{self.count}"

    @property
    def file_tag(self) -> str:
        """``.shard-2-of-8`` inside a file name, empty when unsharded (the names from before shards)."""
        return "" if self.count == 1 else f".shard-{self.tag}"


def parse_shard(text: str) -> Shard:
    """``"I/N"`` with ``0 <= I < N``; UsageError otherwise."""
    index, _, count = text.partition("/")
    try:
        return Shard(int(index), int(count))
    except ValueError:  # not integers, or (a UsageError) not a shard
        raise UsageError(f"--shard {text!r}: expected I/N with 0 <= I < N, e.g. --shard 0/4 for the first of "
                         "4 shards (numbered from 0)") from None


def launcher_shard(env: Mapping[str, str]) -> Shard:
    """The shard the launchers' variables describe (``Shard()`` when none is set). Under both
    (torchrun inside each array task) the shards are the product: array task ``a`` of ``A``,
    rank ``r`` of ``W`` is shard ``a * W + r`` of ``A * W``."""
    rank, world = torchrun_rank(env) or (0, 1)
    task, tasks = slurm_array_task(env) or (0, 1)
    return Shard(task * world + rank, tasks * world)


def slurm_array_shard(env: Mapping[str, str]) -> Shard | None:
    """The shard a SLURM array task stands for, None outside an array job (``slurm_array_task``)."""
    task = slurm_array_task(env)
    return None if task is None else Shard(*task)


def describe_launchers(env: Mapping[str, str]) -> str:
    """The launcher variables that are set, as a user would recognise them ("" when none)."""
    found = []
    if "SLURM_ARRAY_TASK_ID" in env:
        found.append(f"a SLURM array (SLURM_ARRAY_TASK_ID={env['SLURM_ARRAY_TASK_ID']}, "
                     f"SLURM_ARRAY_TASK_COUNT={env.get('SLURM_ARRAY_TASK_COUNT')})")
    if "RANK" in env:
        ranks = f"RANK={env['RANK']}, WORLD_SIZE={env.get('WORLD_SIZE')}"
        found.append(f"torchrun ({ranks})" if started_by_torchrun(env) else f"{ranks} (not set by torchrun)")
    return " and ".join(found)


def started_by_torchrun(env: Mapping[str, str]) -> bool:
    """Whether torchrun started this process: ``RANK``/``WORLD_SIZE`` without its other variables
    were inherited (a parent job's, a shell's ``export``) and say nothing about this process."""
    return all(name in env for name in TORCHRUN_VARIABLES)


def torchrun_rank(env: Mapping[str, str]) -> tuple[int, int] | None:
    """``(RANK, WORLD_SIZE)`` under torchrun, None outside it."""
    if "RANK" not in env and "WORLD_SIZE" not in env:
        return None
    if "RANK" not in env or "WORLD_SIZE" not in env:
        raise UsageError("torchrun: RANK and WORLD_SIZE must be set together (or pass --shard I/N)")
    rank, world = _integer(env, "RANK", "torchrun"), _integer(env, "WORLD_SIZE", "torchrun")
    if not 0 <= rank < world:
        raise UsageError(f"torchrun: RANK={rank} is outside 0..WORLD_SIZE-1={world - 1} (or pass --shard I/N)")
    return rank, world


def local_rank(env: Mapping[str, str]) -> int | None:
    """``LOCAL_RANK`` (this process's index on its node, as torchrun sets it), None without it."""
    if "LOCAL_RANK" not in env:
        return None
    try:
        return int(env["LOCAL_RANK"])
    except ValueError:
        raise UsageError(f"LOCAL_RANK={env['LOCAL_RANK']!r} is not an integer: start the processes with torchrun, "
                         "or unset LOCAL_RANK") from None


def cuda_device(index: int, *, from_local_rank: bool = False) -> torch.device:
    """``cuda:index``, refused (UsageError) when no such device is visible: torch would only fail
    at the first tensor moved there, after the setup."""
    visible = torch.cuda.device_count()
    if index < visible:
        return torch.device("cuda", index)
    if from_local_rank:
        raise UsageError(f"cuda:{index} (from LOCAL_RANK={index}) does not exist, only {visible} CUDA device(s) are "
                         "visible: start torchrun with --nproc_per_node at most the GPU count, or pass --device cuda:N")
    raise UsageError(f"cuda:{index} does not exist, only {visible} CUDA device(s) are visible")


def slurm_array_task(env: Mapping[str, str]) -> tuple[int, int] | None:
    """``(index, count)`` of this SLURM array task, None outside an array job.

    The index is ``(SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN) / SLURM_ARRAY_TASK_STEP``:
    ``--array=0-7``, ``--array=1-8`` and ``--array=0-14:2`` all give tasks 0..7 of 8. A list
    such as ``--array=1,4,9`` has no such numbering and is refused."""
    if "SLURM_ARRAY_TASK_ID" not in env:
        return None
    if "SLURM_ARRAY_TASK_COUNT" not in env:
        raise UsageError("a SLURM array: SLURM_ARRAY_TASK_COUNT is not set beside SLURM_ARRAY_TASK_ID; pass --shard I/N")
    task_id = _integer(env, "SLURM_ARRAY_TASK_ID", "a SLURM array")
    count = _integer(env, "SLURM_ARRAY_TASK_COUNT", "a SLURM array")
    first = _integer(env, "SLURM_ARRAY_TASK_MIN", "a SLURM array", default=0)
    step = _integer(env, "SLURM_ARRAY_TASK_STEP", "a SLURM array", default=1) or 1
    index, remainder = divmod(task_id - first, step)
    if remainder or not 0 <= index < count:
        raise UsageError(
            f"a SLURM array: task {task_id} (min {first}, step {step}, count {count}) is not one of a contiguous "
            "range (an array with gaps or a step list, e.g. --array=1,4,9): use --array=0-(N-1), or pass --shard I/N"
        )
    return index, count


def _integer(env: Mapping[str, str], name: str, launcher: str, default: int | None = None) -> int:
    if name not in env and default is not None:
        return default
    try:
        return int(env[name])
    except ValueError:
        raise UsageError(f"{launcher}: {name}={env[name]!r} is not an integer (or pass --shard I/N)") from None
