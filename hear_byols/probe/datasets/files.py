"""Listing a dataset's audio files in its native folder layout, without reading any audio.

A layout is a tuple of folder-name patterns below the root (``("Actor_??",)``: files in the root's
``Actor_NN`` folders; ``()``: files in the root itself) or ``None`` (any depth). Files whose suffix
is not the dataset's are ignored (READMEs, transcripts, videos). Hidden files and macOS metadata
(``._name.wav``, ``__MACOSX/``) are not audio: they are left out and counted, never parsed.
"""
from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase
from pathlib import Path

from hear_byols.errors import CorpusError

METADATA_REASON = "hidden or macOS metadata file (._*, __MACOSX)"
MACOS_FOLDER = "__MACOSX"


def check_root(root: Path, title: str) -> Path:
    """``root`` resolved, or an error saying it is missing or not a folder."""
    root = Path(root)
    if not root.exists():
        raise CorpusError(f"{title}: no such folder {root}")
    if not root.is_dir():
        raise CorpusError(f"{title}: {root} is a file; give the dataset's folder")
    return root.resolve()


def list_files(root: Path, folders: tuple[str, ...] | None,
               suffixes: Iterable[str]) -> tuple[list[Path], int]:
    """(audio files of the layout, sorted; how many hidden/metadata files were left out). The paths
    are as listed, not resolved: a symlinked file is parsed by the name the layout gives it."""
    suffixes = {suffix.lower() for suffix in suffixes}
    if folders is None:
        candidates = [path for path in root.rglob("*") if path.is_file()]
    else:
        level = [root]
        for pattern in folders:
            level = [child for parent in level for child in _children(parent)
                     if child.is_dir() and fnmatchcase(child.name, pattern)]
        candidates = [child for folder in level for child in _children(folder) if child.is_file()]
    audio = [path for path in candidates if path.suffix.lower() in suffixes]
    hidden = [path for path in audio if _is_metadata(path.relative_to(root))]
    kept = sorted(path for path in audio if not _is_metadata(path.relative_to(root)))
    return kept, len(hidden)


def _children(folder: Path) -> list[Path]:
    try:
        return sorted(folder.iterdir())
    except PermissionError:
        raise CorpusError(f"cannot list {folder}: permission denied") from None


def _is_metadata(relative: Path) -> bool:
    return any(part.startswith(".") or part == MACOS_FOLDER for part in relative.parts)
