"""The cache is keyed by file content: each clip is reached through a link named by the sha256 of its
bytes (``CACHE/audio/<sha256><ext>``).

The extraction engine names its outputs after its inputs' relative names, so giving it these
links makes every cached feature ``<feature dir>/<sha256><ext>.npy``: a clip moved or listed by
another table hits the cache, an edited clip misses it, and two corpora share one cache folder
without their file names colliding.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from hear_byols.weights import sha256_of

AUDIO_LINKS = "audio"


@dataclass
class Staged:
    """Every clip's link (by its path as listed), and the clips that could not be read at all."""

    links: dict[Path, Path] = field(default_factory=dict)
    unreadable: dict[Path, str] = field(default_factory=dict)


def stage(paths: list[Path], cache: Path) -> Staged:
    """Hash every clip and point ``CACHE/audio/<sha256><ext>`` at it (re-pointed atomically when the
    same content now lives elsewhere)."""
    folder = cache / AUDIO_LINKS
    folder.mkdir(parents=True, exist_ok=True)
    staged = Staged()
    for path in paths:
        try:
            digest = sha256_of(path)
        except OSError as exc:
            staged.unreadable[path] = f"cannot be read ({exc.strerror or exc})"
            continue
        link = folder / f"{digest}{path.suffix.lower()}"
        _point(link, path.resolve())
        staged.links[path] = link
    return staged


def _point(link: Path, target: Path) -> None:
    """``link`` -> ``target``, replaced atomically so a concurrent shard never sees no link."""
    try:
        if os.readlink(link) == os.fspath(target):
            return
    except OSError:
        pass
    temporary = link.with_name(f".{link.name}.{os.getpid()}.tmp")
    temporary.unlink(missing_ok=True)
    os.symlink(target, temporary)
    os.replace(temporary, link)
