"""Which part of a job this process is, as job launchers tell it: torchrun and SLURM job arrays.

One reading of the launchers' variables for everything that splits work (``hear-byols embed``
and ``python -m evaluation run``), so a batch script behaves the same under both. What a part
contains (files by name hash, evaluation chains round-robin) is each caller's own policy.
"""
from __future__ import annotations

from collections.abc import Mapping

from hear_byols.errors import UsageError

#: Set by torchrun's agent in every process it starts, beside ``RANK`` and ``WORLD_SIZE``.
TORCHRUN_VARIABLES = ("LOCAL_RANK", "TORCHELASTIC_RUN_ID")


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
