"""Which part of a run's (module, task) chains this process does: ``--shard I/N`` or a SLURM array.

Why chains: a (module, task) pair's embeddings and predictions share one folder and must run in
order, so the pair is the unit a shard owns; chain ``k`` of the sorted list belongs to shard
``k % N`` (round-robin, so every shard gets a mix of modules and tasks). The partition depends
only on the sorted chain list and ``N``: relaunching the same array gives every shard the same
work, and shards never share an embeddings folder. What each shard writes besides (its steps
log, step logs, validator marks, plan) lives in its own ledger folder ``OUT/shards/I-of-N/``.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Sequence, TypeVar

from hear_byols.distributed import Shard, parse_shard, slurm_array_shard
from hear_byols.errors import UsageError

T = TypeVar("T")


def resolve_shard(argument: str | None, environ: Mapping[str, str] = os.environ) -> tuple[Shard | None, str | None]:
    """The shard to run and where it came from: ``--shard`` wins over a SLURM array;
    ``--shard 0/1`` (or ``all``) runs everything even inside an array job."""
    if argument is not None:
        if argument.strip().lower() == "all":
            return None, None
        shard = parse_shard(argument)
        return (None, None) if shard.count == 1 else (shard, f"shard {shard} (--shard)")
    shard = slurm_array_shard(environ)
    if shard is None:
        return None, None
    if shard.count == 1:  # e.g. one index of an array resubmitted alone: running everything would collide
        raise UsageError(
            f"SLURM array of one task (SLURM_ARRAY_TASK_ID={environ['SLURM_ARRAY_TASK_ID']}): no partition to take "
            "a shard from. Pass --shard I/N (a resubmitted shard: its index of the original count) or --shard all"
        )
    return shard, (
        f"shard {shard} from SLURM_ARRAY_TASK_ID={environ['SLURM_ARRAY_TASK_ID']} "
        f"(SLURM_ARRAY_TASK_COUNT={shard.count}; --shard all to run everything)"
    )


def select(chains: Sequence[T], shard: Shard | None) -> list[T]:
    """This shard's chains: every ``count``-th of the sorted list, starting at ``index``."""
    ordered = sorted(chains)
    return ordered if shard is None else ordered[shard.index :: shard.count]


def ledger_dir(out: Path, shard: Shard | None) -> Path:
    """Where a run writes its own bookkeeping: ``OUT`` unsharded (as before), else ``OUT/shards/I-of-N``."""
    return Path(out) if shard is None else Path(out) / "shards" / shard.tag
