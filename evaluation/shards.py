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
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence, TypeVar

from hear_byols.errors import UsageError
from hear_byols.launchers import slurm_array_task

T = TypeVar("T")


class ShardError(ValueError):
    """A ``--shard`` value or SLURM array that does not describe one shard of a partition."""


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` (0-based) of ``count``."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ShardError(
                f"shard {self.index}/{self.count}: expected I/N with N >= 1 and 0 <= I < N "
                f"(0-based, e.g. --shard 0/4 ... --shard 3/4)"
            )

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    @property
    def tag(self) -> str:
        """The ledger folder name: ``2-of-8``."""
        return f"{self.index}-of-{self.count}"


def parse_shard(text: str) -> Shard:
    """``"2/8"`` -> ``Shard(2, 8)``."""
    index, sep, count = text.partition("/")
    if not sep or not index.strip().isdigit() or not count.strip().isdigit():
        raise ShardError(f"--shard {text!r}: expected I/N, e.g. --shard 0/4 (0-based index I of N shards)")
    return Shard(int(index), int(count))


def slurm_array_shard(environ: Mapping[str, str]) -> Shard | None:
    """The shard a SLURM array task stands for (hear_byols.launchers: ``--array=0-7``,
    ``--array=1-8`` and ``--array=0-14:2`` all give shards 0..7 of 8), or None outside an array job."""
    try:
        task = slurm_array_task(environ)
    except UsageError as error:
        raise ShardError(str(error)) from None
    return None if task is None else Shard(*task)


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
        raise ShardError(
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
