"""Process group and device of this process: one process alone, or one of torchrun's.

torchrun (also under SLURM's ``srun torchrun``) sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``
and the rendezvous variables; we join with NCCL on GPUs and gloo on CPU.
"""
from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch.distributed.constants import default_pg_timeout

from hear_byols.distributed import cuda_device, local_rank, torchrun_rank
from hear_byols.errors import UsageError

#: How long the processes of a job wait for each other before giving up. torchrun starts its
#: workers only once its own rendezvous is complete, so they meet at once; a process started
#: with RANK/WORLD_SIZE inherited from an outer job would otherwise wait torch's 30 minutes.
RENDEZVOUS_TIMEOUT_S = 300.0
_ADVICE = ("these variables may be inherited from an outer job: unset RANK and WORLD_SIZE to train in this one "
           "process, or start every process with torchrun")


@dataclass(frozen=True)
class Distributed:
    """Who this process is; collectives are no-ops for a single process."""

    rank: int
    world: int
    local_rank: int
    device: torch.device

    @property
    def main(self) -> bool:
        """Only the main process writes files and prints."""
        return self.rank == 0

    def sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """Sum over processes (returned as float64 on the CPU)."""
        if self.world > 1:
            tensor = tensor.to(self.device)
            dist.all_reduce(tensor)
        return tensor.cpu()

    def gather(self, obj: Any) -> list[Any]:
        """Every process's ``obj``, in rank order (on every process)."""
        if self.world == 1:
            return [obj]
        gathered: list[Any] = [None] * self.world
        dist.all_gather_object(gathered, obj)
        return gathered

    def broadcast(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every process."""
        if self.world == 1:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()


def start(device: str = "auto", sync_bn: bool = False) -> Distributed:
    """Join torchrun's process group if there is one, and choose this process's device."""
    rank, world = _launcher_rank(os.environ)
    local = local_rank(os.environ) or 0
    chosen = choose_device(device, local)
    if world > 1 and chosen.type == "cuda" and ":" in device:
        raise UsageError(f"--device {device} would put all {world} processes on one GPU: pass --device cuda "
                         "(each process takes cuda:LOCAL_RANK)")
    if sync_bn and chosen.type != "cuda":
        raise UsageError(f"--sync-bn synchronises BatchNorm across GPUs; on {chosen} there is nothing to "
                         "synchronise with (torch's SyncBatchNorm needs CUDA): drop --sync-bn")
    if chosen.type == "cuda":
        torch.cuda.set_device(chosen)
    if world > 1 and not dist.is_initialized():
        _join(rank, world, "nccl" if chosen.type == "cuda" else "gloo", os.environ)
    return Distributed(rank, world, local, chosen)


def choose_device(asked: str, local_rank: int) -> torch.device:
    """``auto`` (``cuda:LOCAL_RANK`` when CUDA is available, else the CPU), ``cpu``, ``cuda``
    (``cuda:LOCAL_RANK``) or ``cuda:N``; anything else, or CUDA where there is none, is refused
    rather than run on the CPU."""
    wanted = ("cuda" if torch.cuda.is_available() else "cpu") if asked == "auto" else asked
    try:
        device = torch.device(wanted)
    except RuntimeError:
        device = None
    if device is None or device.type not in ("cpu", "cuda"):
        raise UsageError(f"--device {asked}: expected auto, cpu, cuda or cuda:N (pretraining runs on CUDA or the CPU)")
    if device.type == "cpu":
        return device
    if not torch.cuda.is_available():
        raise UsageError(f"--device {asked}: CUDA is not available here (torch {torch.__version__}); use --device cpu")
    try:
        return cuda_device(local_rank if device.index is None else device.index, from_local_rank=device.index is None)
    except UsageError as exc:
        raise UsageError(f"--device {asked}: {exc}") from None


def _launcher_rank(env: Mapping[str, str]) -> tuple[int, int]:
    """``(RANK, WORLD_SIZE)`` from torchrun's variables, ``(0, 1)`` without them."""
    try:
        return torchrun_rank(env) or (0, 1)
    except UsageError as exc:
        raise UsageError(f"{exc}. For pretrain: start several processes with torchrun, or unset RANK and "
                         "WORLD_SIZE to train in this one process") from None


def _join(rank: int, world: int, backend: str, env: Mapping[str, str]) -> None:
    """Meet the other ``world - 1`` processes at ``MASTER_ADDR:MASTER_PORT``, waiting at most
    ``RENDEZVOUS_TIMEOUT_S``: variables inherited from an outer job name processes that never come."""
    where = f"RANK={rank} and WORLD_SIZE={world}"
    missing = [name for name in ("MASTER_ADDR", "MASTER_PORT") if not env.get(name)]
    if missing:
        raise UsageError(f"{where} are set but {' and '.join(missing)} not, so there is no rendezvous; {_ADVICE}")
    address = f"{env['MASTER_ADDR']}:{env['MASTER_PORT']}"
    if not env["MASTER_PORT"].isdigit():
        raise UsageError(f"MASTER_PORT={env['MASTER_PORT']!r} is not a port number; {_ADVICE}")
    if rank > 0 and not _master_listens(env["MASTER_ADDR"], int(env["MASTER_PORT"]), RENDEZVOUS_TIMEOUT_S):
        raise UsageError(f"{where} at {address}: the other processes did not join within {RENDEZVOUS_TIMEOUT_S:g} s "
                         f"(nothing listens at {address}); {_ADVICE}")
    try:
        store, _, _ = next(dist.rendezvous("env://", rank, world, timeout=timedelta(seconds=RENDEZVOUS_TIMEOUT_S)))
    except (RuntimeError, ValueError) as exc:  # torch's store errors (DistNetworkError...) are RuntimeErrors
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(f"{where} at {address}: the other processes did not join within {RENDEZVOUS_TIMEOUT_S:g} s "
                         f"({reason}); {_ADVICE}") from None
    store.set_timeout(default_pg_timeout)  # the bound is for meeting; collectives keep torch's
    dist.init_process_group(backend, store=store, rank=rank, world_size=world)


def _master_listens(host: str, port: int, timeout_s: float) -> bool:
    """Whether rank 0's store accepts a connection within ``timeout_s``. Checked with a plain
    socket before torch's store client: a client that timed out connecting could keep the
    interpreter from exiting after the error was reported (seen once in CI)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with socket.create_connection((host, port), timeout=1.0):
                return True
        except OSError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.2)


def stop() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()
