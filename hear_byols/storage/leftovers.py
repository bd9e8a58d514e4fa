"""Remove what a killed process (kill -9, OOM killer) left behind: temporary files and locks.

``atomic_write`` names its temporaries ``.<name>.<random><suffix>`` (``.tmp``, ``.part``); a
process killed before its rename leaves one for good. They are removed only while the caller
holds the lock that every writer of that directory takes (so none can be live) and only once
they are older than ``STALE_AFTER_S``, which also spares writers of older versions without the
lock. A lock file is removed only when old and free: taken here without waiting.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

from filelock import FileLock, Timeout

#: A temporary file or lock untouched for this long is stale (a live download writes every second).
STALE_AFTER_S = 15 * 60


def remove_stale_temporaries(directory: Path, suffix: str, *, prefix: str = "", recursive: bool = False) -> list[Path]:
    """Delete ``.<prefix>*<suffix>`` files in ``directory`` older than ``STALE_AFTER_S``; the
    caller must hold the lock that guards every writer of ``directory``."""
    pattern = f".{prefix}*{suffix}"
    found = directory.rglob(pattern) if recursive else directory.glob(pattern)
    return [path for path in found if _is_old(path) and _unlink(path)]


def remove_stale_locks(directory: Path) -> list[Path]:
    """Delete ``*.lock`` files in ``directory`` that are old and that no process holds."""
    removed = []
    for path in directory.glob("*.lock"):
        if not _is_old(path):
            continue
        lock = FileLock(str(path), timeout=0)
        try:
            lock.acquire()
        except (Timeout, OSError):
            continue  # held by a live process (or not ours to open): keep it
        try:
            if _unlink(path):
                removed.append(path)
        finally:
            lock.release()
    return removed


def _is_old(path: Path) -> bool:
    try:
        stat = path.lstat()
    except OSError:
        return False
    return path.is_file() and not path.is_symlink() and time.time() - stat.st_mtime > STALE_AFTER_S


def _unlink(path: Path) -> bool:
    try:
        os.unlink(path)
    except OSError:
        return False
    return True
