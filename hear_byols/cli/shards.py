"""Which files one process of a sharded ``embed`` owns, and which device it uses.

A shard is ``I/N`` (0-based ``I``), from ``--shard`` or from the launcher's environment:
torchrun (``RANK``/``WORLD_SIZE``, device ``cuda:LOCAL_RANK``) and SLURM job arrays
(hear_byols.launchers reads both). Under both
(torchrun inside each array task) the shards are the product: array task ``a`` of ``A``, rank
``r`` of ``W`` is shard ``a * W + r`` of ``A * W``. ``--shard`` overrides the environment.

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

from hear_byols.cli.inputs import InputFile
from hear_byols.errors import UsageError
from hear_byols.launchers import slurm_array_task, torchrun_rank


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
        return zlib.crc32(item.relative.as_posix().encode("utf-8")) % self.count == self.index

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
        raise UsageError(f"--shard {text!r}: expected I/N, e.g. --shard 0/4 for the first of 4 shards") from None
    if not 0 <= shard.index < shard.count:
        raise UsageError(f"--shard {text!r}: I must be in 0..N-1 (shards are numbered from 0)")
    return shard


def shard_from_environment(env: Mapping[str, str] = os.environ) -> Shard:
    """The shard the launcher's variables describe (``WHOLE`` when none is set)."""
    rank, world = torchrun_rank(env) or (0, 1)
    task, tasks = slurm_array_task(env) or (0, 1)
    return Shard(task * world + rank, tasks * world)


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
