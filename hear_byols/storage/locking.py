"""Take a file lock, turning an unusable lock file into an actionable error at once.

filelock retries a lock file it cannot open (read-only directory) until its timeout, and
raises a bare OSError for a symlink in the lock's place; opening the file once first makes
both fail immediately with the path and the fix.
"""
from __future__ import annotations

import os
from pathlib import Path

from filelock import FileLock

from hear_byols.errors import StorageError


def acquire(lock_path: Path, timeout: float, fix: str) -> FileLock:
    """The held lock; ``filelock.Timeout`` when another process holds it past ``timeout`` s.

    ``fix``: what to do when the lock file cannot be created (e.g. which variable to set).
    """
    lock = FileLock(str(lock_path), timeout=timeout)
    try:
        os.close(os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644))
        lock.acquire()
    except TimeoutError:  # filelock.Timeout: the caller knows who may hold it
        raise
    except OSError as exc:
        raise StorageError(
            f"cannot create or open the lock file {lock_path} ({exc.strerror or exc}): make {lock_path.parent} "
            f"writable (and delete {lock_path} if it is a symlink or not a regular file), or {fix}"
        ) from None
    return lock
