"""Claim the ``--out`` directory of ``embed``: one process per shard, one partition at a time.

Two processes writing the same files would each record the other's files as their own, so
each run holds the lock of its shard (``OUT/.hear-byols.lock`` unsharded,
``OUT/.hear-byols.shard-I-of-N.lock`` for shard I/N) and a second process of the same shard
fails at once. Shards of one partition (the same N) own disjoint files and run side by side;
a run of another N (an unsharded run is N=1) would overlap them and is refused while any of
them is alive. The locks are released by the kernel when their holder dies, even by SIGKILL,
so "alive" is "holds its lock". Run ids, the index and the liveness checks are serialised by
``OUT/.hear-byols-index.lock``, held for milliseconds at a time.
"""
from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock, Timeout

from hear_byols.cli.shards import Shard
from hear_byols.errors import UsageError
from hear_byols.locking import acquire
from hear_byols.stale import remove_stale_temporaries

LOCK_NAME = ".hear-byols.lock"
INDEX_LOCK_NAME = ".hear-byols-index.lock"
#: How long a run waits for another run's short index-lock section before giving up.
INDEX_LOCK_TIMEOUT_S = 120.0
_SHARD_LOCK = re.compile(r"\.hear-byols(?:\.shard-(\d+)-of-(\d+))?\.lock")


def lock_name(shard: Shard) -> str:
    return f".hear-byols{shard.file_tag}.lock"


@dataclass(frozen=True)
class Claim:
    """A held shard lock of ``out_dir``."""

    out_dir: Path
    shard: Shard

    def index_section(self) -> contextlib.AbstractContextManager[None]:
        return index_section(self.out_dir)

    def others_alive(self) -> list[Shard]:
        """Shards (any N) other than this one whose process is alive; call inside ``index_section``."""
        return live_shards(self.out_dir, exclude=self.shard)


@contextlib.contextmanager
def index_section(out_dir: Path) -> Iterator[None]:
    """Hold the index lock of ``out_dir`` (serialises run ids, index writes and liveness checks)."""
    lock = acquire(out_dir / INDEX_LOCK_NAME, INDEX_LOCK_TIMEOUT_S, "use another --out directory")
    try:
        yield
    finally:
        lock.release()


def live_shards(out_dir: Path, exclude: Shard | None = None) -> list[Shard]:
    """Shards whose lock in ``out_dir`` is held by a live process."""
    alive = []
    for path in sorted(out_dir.glob(".hear-byols*.lock")):
        match = _SHARD_LOCK.fullmatch(path.name)
        if match is None:
            continue
        shard = Shard(int(match[1]), int(match[2])) if match[1] else Shard()
        if shard == exclude:
            continue
        probe = FileLock(str(path), timeout=0)
        try:
            probe.acquire()
        except Timeout:
            alive.append(shard)
        else:
            probe.release()
    return alive


@contextlib.contextmanager
def claimed_out_dir(out_dir: Path, shard: Shard) -> Iterator[Claim]:
    """Create ``out_dir`` and hold ``shard``'s lock; UsageError when it is a file, when another
    process runs the same shard, or when a run of another partition is alive."""
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"--out {out_dir} is a file, not a directory; name a directory (it is created if missing)")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create --out {out_dir} ({exc.strerror or exc}); name a writable directory") from None
    lock_path = out_dir / lock_name(shard)
    try:
        lock = acquire(lock_path, 0, "use another --out directory")
    except Timeout:
        which = "" if shard.count == 1 else f" shard {shard.label}"
        raise UsageError(
            f"another hear-byols embed{which} is writing into {out_dir} (it holds {lock_path}); wait for it to "
            "finish, or use another --out directory"
        ) from None
    try:
        claim = Claim(out_dir, shard)
        with claim.index_section():
            others = claim.others_alive()
            overlapping = [other for other in others if other.count != shard.count]
            if overlapping:
                raise UsageError(
                    f"shard {overlapping[0].label} of another partition is writing into {out_dir}; its files overlap "
                    f"this run's ({'unsharded' if shard.count == 1 else f'shard {shard.label}'}): wait for it, or "
                    f"run with the same shard count"
                )
            if not others:
                remove_stale_temporaries(out_dir, ".tmp", recursive=True)  # left by killed runs
        yield claim
    finally:
        lock.release()
