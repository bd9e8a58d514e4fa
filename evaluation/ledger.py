"""A run's own bookkeeping folder, and reading every ledger of an output folder back.

An unsharded run's ledger is ``OUT`` itself (as it always was); shard I of N writes to
``OUT/shards/I-of-N/``. A ledger holds ``steps.jsonl`` (one record per step), ``logs/``,
``validated/``, ``scratch/`` (the steps' working directory), ``weights.json`` and ``plan.json``
(every (module, task) of the whole run, and which are this ledger's). Only one process writes a
ledger at a time (``run.lock``); the report reads all of them. Beside the ledgers,
``OUT/locks/`` holds one lock file per (module, task): whoever runs a step of that chain
holds it, so that two processes (shards with different N, a shard and an unsharded run) never
work in one embeddings folder at once. While a step runs, its lock file names the harness and
the step's process (``Holder``), so that a process finding it busy can tell a live run from a
step left behind by a killed one.
"""
from __future__ import annotations

import fcntl
import json
import os
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator

from hear_byols.storage.atomic import atomic_write_json
from hear_byols.errors import HearByolsError

STEPS = "steps.jsonl"
PLAN = "plan.json"
LOCK = "run.lock"


class LedgerBusy(HearByolsError, RuntimeError):
    """Another process is writing this ledger (the same run, or the same shard, started twice)."""


def ledgers(out: Path) -> list[Path]:
    """``OUT`` and every ``OUT/shards/*`` folder, in a stable order."""
    out = Path(out)
    shards = sorted(path for path in (out / "shards").glob("*") if path.is_dir()) if (out / "shards").is_dir() else []
    return [out, *shards]


@contextmanager
def locked(ledger: Path) -> Iterator[None]:
    """Hold ``ledger/run.lock`` for the run; a second run into the same ledger is refused at once."""
    ledger.mkdir(parents=True, exist_ok=True)
    with open(ledger / LOCK, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            raise LedgerBusy(
                f"another run is writing {ledger} ({handle.read().strip() or 'unknown process'}): wait for it or "
                "stop it; shards of one run must have distinct --shard values"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} since {time.strftime('%Y-%m-%dT%H:%M:%S')}\n")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass(frozen=True)
class Holder:
    """Who holds a chain's lock: the harness process, and the step process it started."""

    harness: int
    step: int
    label: str  # "MODULE TASK STEP"
    since: str


@contextmanager
def held(path: Path) -> Iterator[int | None]:
    """Try to hold the lock file ``path``; yields its descriptor when held, else None. A child
    given the descriptor (``pass_fds``) keeps the lock held after this process dies, until it
    exits itself: a step that outlives its harness still guards its folder. The file is emptied
    on release, so that only a held lock (or one a killed process held) names a ``Holder``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield None
            return
        try:
            yield handle.fileno()  # closing the file (here and in every child) releases the lock
        finally:
            os.ftruncate(handle.fileno(), 0)


def claim(lock: int, holder: Holder) -> None:
    """Write ``holder`` into the lock file this process holds (descriptor ``lock``)."""
    os.ftruncate(lock, 0)
    os.write(lock, json.dumps(asdict(holder)).encode())  # the file is in append mode: at offset 0


def holder(path: Path) -> Holder | None:
    """The ``Holder`` a lock file names; None when it names none."""
    try:
        return Holder(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists (another user's included)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        pass
    return True


def append_record(ledger: Path, record: dict) -> None:
    with open(ledger / STEPS, "a") as steps:
        steps.write(json.dumps({**record, "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S")}) + "\n")


def step_records(out: Path) -> list[dict]:
    """Every ``steps.jsonl`` record of every ledger under ``out``."""
    records = []
    for ledger in ledgers(out):
        path = ledger / STEPS
        if path.is_file():
            *complete, _ = path.read_text().split("\n")  # the last part: a line a running shard is writing
            records += [json.loads(line) for line in complete if line.strip()]
    return records


def write_plan(ledger: Path, shard: str | None, chains: list[tuple[str, str]], mine: list[tuple[str, str]]) -> None:
    """Record the whole run's (embedding folder, task) chains and this ledger's share of them."""
    plan = {"shard": shard, "chains": [list(chain) for chain in chains], "mine": [list(chain) for chain in mine]}
    atomic_write_json(ledger / PLAN, plan, indent=1, end="")


def planned_chains(out: Path) -> set[tuple[str, str]]:
    """Every (embedding folder, task) that some run or shard into ``out`` planned."""
    chains: set[tuple[str, str]] = set()
    for ledger in ledgers(out):
        path = ledger / PLAN
        if path.is_file():
            chains |= {tuple(chain) for chain in json.loads(path.read_text())["chains"]}
    return chains
