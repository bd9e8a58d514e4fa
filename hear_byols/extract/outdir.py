"""Claim the ``--out`` directory of ``embed``: one process per shard, one partition at a time.

Two processes writing the same files would each record the other's files as their own, so
each run holds the lock of its shard (``OUT/.hear-byols.lock`` unsharded,
``OUT/.hear-byols.shard-I-of-N.lock`` for shard I/N) and a second process of the same shard
fails at once. Shards of one partition (the same N) own disjoint files and run side by side;
a run of another N (an unsharded run is N=1) would overlap them and is refused while any of
them is alive. The locks are released by the kernel when their holder dies, even by SIGKILL,
so "alive" is "holds its lock". Run ids, the index and the liveness checks are serialised by
``OUT/.hear-byols-index.lock``, held for milliseconds at a time.

A live run announces its header (its settings) in ``OUT/.hear-byols[.shard-I-of-N].run.json``
as it starts, so a shard started beside it with other settings is refused before either has
written a file; an announcement counts only while its shard's lock is held. A run gives its
lock back under the index lock, merging ``index.json`` first when it is the last alive with
parts to merge, whether it finished or was refused: two runs ending together cannot each leave
the merge to the other.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from hear_byols.storage.atomic import create_out_dir
from hear_byols.distributed import Shard
from hear_byols.exits import printable
from hear_byols.extract.index import merge_parts, parts_pending, write_json
from hear_byols.extract.journal import read_journal
from hear_byols.extract.progress import LOG as log
from hear_byols.errors import HearByolsError, UsageError
from hear_byols.storage.locking import acquire
from hear_byols.storage.leftovers import remove_stale_temporaries

LOCK_NAME = ".hear-byols.lock"
INDEX_LOCK_NAME = ".hear-byols-index.lock"
#: How long a run waits for another run's short index-lock section before giving up.
INDEX_LOCK_TIMEOUT_S = 120.0
_SHARD_LOCK = re.compile(r"\.hear-byols(?:\.shard-(\d+)-of-(\d+))?\.lock")


def lock_name(shard: Shard) -> str:
    return f".hear-byols{shard.file_tag}.lock"


def announcement_name(shard: Shard) -> str:
    return f".hear-byols{shard.file_tag}.run.json"


class Claim:
    """A held shard lock of ``out_dir``, until ``release``."""

    def __init__(self, out_dir: Path, shard: Shard, lock: FileLock) -> None:
        self.out_dir, self.shard, self._lock = out_dir, shard, lock

    def index_section(self) -> contextlib.AbstractContextManager[None]:
        return index_section(self.out_dir)

    def others_alive(self) -> list[Shard]:
        """Shards (any N) other than this one whose process is alive; call inside ``index_section``."""
        return live_shards(self.out_dir, exclude=self.shard)

    def announce(self, run: dict[str, Any]) -> None:
        """Publish this run's header while it lives; call inside ``index_section``."""
        write_json(self.out_dir / announcement_name(self.shard), run)

    def live_runs(self) -> list[tuple[Shard, dict[str, Any]]]:
        """The headers announced by the other live shards; call inside ``index_section``."""
        runs = []
        for shard in self.others_alive():
            path = self.out_dir / announcement_name(shard)
            if not path.is_file():
                continue  # alive but still loading its model: it checks this run's announcement itself
            try:
                runs.append((shard, json.loads(path.read_text(encoding="utf-8"))))
            except ValueError as exc:
                raise UsageError(f"{path} cannot be read ({exc}); wait for shard {shard.label} to finish, or "
                                 "use another --out directory") from None
        return runs

    def release(self) -> Path | None:
        """Give the shard lock back, after merging ``index.json`` when no other shard is alive and
        index parts wait; returns the index merged (None when released already or not merged)."""
        if self._lock is None:
            return None
        with self.index_section():
            try:
                if parts_pending(self.out_dir) and not self.others_alive():
                    return merge_parts(self.out_dir, read_journal(self.out_dir))
                return None
            finally:
                self.unlock()

    def unlock(self) -> None:
        """Withdraw the announcement and give the shard lock back; call inside ``index_section``, so
        that no other run sees this one half-ended."""
        (self.out_dir / announcement_name(self.shard)).unlink(missing_ok=True)
        self._lock.release()
        self._lock = None


@contextlib.contextmanager
def index_section(out_dir: Path) -> Iterator[None]:
    """Hold the index lock of ``out_dir`` (serialises run ids, index writes and liveness checks)."""
    lock = acquire(out_dir / INDEX_LOCK_NAME, INDEX_LOCK_TIMEOUT_S, "use another --out directory")
    try:
        yield
    finally:
        lock.release()


def merge_index_now(out_dir: str | os.PathLike[str]) -> Path:
    """Merge ``out_dir``'s parts and journals into its index.json (``hear-byols index merge``):
    what the last shard to finish does on its own, by hand after a shard died for good, or to see
    the index while no shard runs; UsageError while shards run."""
    out_dir = Path(out_dir)
    require_out_dir(out_dir)
    with index_section(out_dir):
        running = live_shards(out_dir)
        if running:
            raise UsageError(
                f"shard {running[0].label} is still writing into {out_dir}; the last shard to finish merges the "
                "index itself, or merge once none is running"
            )
        return merge_parts(out_dir, read_journal(out_dir))


def require_out_dir(out_dir: Path) -> None:
    """UsageError unless ``out_dir`` is a directory (commands on an existing embed output)."""
    if not out_dir.is_dir():
        raise UsageError(f"{out_dir} is not a directory; name the --out directory of hear-byols embed")


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
    process runs the same shard, or when a run of another partition is alive. On the way out
    the lock is released (``Claim.release``), also when the run was refused or failed."""
    create_out_dir(out_dir)
    with index_section(out_dir):  # taken under the index lock: a finishing shard sees this one alive, or gone
        claim = Claim(out_dir, shard, _shard_lock(out_dir, shard))
        try:
            _check_partition(claim)
        except BaseException:
            claim.unlock()
            raise
    try:
        yield claim
    except BaseException:
        _release_after_error(claim)
        raise
    claim.release()


def _shard_lock(out_dir: Path, shard: Shard) -> FileLock:
    lock_path = out_dir / lock_name(shard)
    try:
        return acquire(lock_path, 0, "use another --out directory")
    except Timeout:
        which = "" if shard.count == 1 else f" shard {shard.label}"
        raise UsageError(
            f"another hear-byols embed{which} is writing into {out_dir} (it holds {lock_path}); wait for it to "
            "finish, or use another --out directory"
        ) from None


def _check_partition(claim: Claim) -> None:
    """Refuse a live shard of another partition; tidy what dead runs left when none is alive."""
    others = claim.others_alive()
    overlapping = [other for other in others if other.count != claim.shard.count]
    if overlapping:
        shard = claim.shard
        raise UsageError(
            f"shard {overlapping[0].label} of another partition is writing into {claim.out_dir}; its files overlap "
            f"this run's ({'unsharded' if shard.count == 1 else f'shard {shard.label}'}): wait for it, or "
            f"run with the same shard count"
        )
    (claim.out_dir / announcement_name(claim.shard)).unlink(missing_ok=True)  # a killed run's, of this shard
    if not others:
        remove_stale_temporaries(claim.out_dir, ".tmp", recursive=True)  # left by killed runs


def _release_after_error(claim: Claim) -> None:
    """Release while an error is on its way out: a merge that fails too is told, not raised over it."""
    try:
        merged = claim.release()
    except HearByolsError as exc:
        log.error(printable(f"the index of {claim.out_dir} was not merged ({exc}); run hear-byols index merge "
                            f"{claim.out_dir}"))
        return
    if merged is not None:
        log.info(printable(f"merged the index of the finished shards: {merged}"))
