"""Claim the ``--out`` directory of ``embed`` for one run at a time.

Two runs writing into one directory would each record the other's files as their own; the
second run therefore fails at once. The lock (``OUT/.hear-byols.lock``, released by the
kernel when its holder dies, even by SIGKILL) also makes it safe to delete the temporary files
that killed runs left behind.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from filelock import Timeout

from hear_byols.errors import UsageError
from hear_byols.locking import acquire
from hear_byols.stale import remove_stale_temporaries

LOCK_NAME = ".hear-byols.lock"


@contextlib.contextmanager
def claimed_out_dir(out_dir: Path) -> Iterator[None]:
    """Create ``out_dir`` and hold its lock; UsageError when it is a file or another run holds it."""
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"--out {out_dir} is a file, not a directory; name a directory (it is created if missing)")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create --out {out_dir} ({exc.strerror or exc}); name a writable directory") from None
    lock_path = out_dir / LOCK_NAME
    try:
        lock = acquire(lock_path, 0, "use another --out directory")
    except Timeout:
        raise UsageError(
            f"another hear-byols embed is writing into {out_dir} (it holds {lock_path}); wait for it to finish, "
            "or use another --out directory"
        ) from None
    try:
        remove_stale_temporaries(out_dir, ".tmp", recursive=True)  # left by killed runs
        yield
    finally:
        lock.release()
