"""Turn PATH arguments (files, directories, globs) into audio files: what ``embed_files`` embeds
and what pretraining reads (``pretraining/data.py``), found the same way for both.

Each file gets a relative name that its outputs mirror under ``--out``: a directory's files
keep their path below that directory, a glob's matches their path below the glob's fixed
part (``talks/**/*.flac`` -> ``sub/x.flac``), a file named directly its own name. Resolving
everything before any work starts lets a typo fail at once (exit status 2) instead of after
an hour of embedding. ``**`` and directories are searched without following symlinked
directories (a symlink loop would never end), and a relative name that climbs out of
``--out`` (a glob with ``..`` below its fixed part) is refused.
"""
from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path

from hear_byols.audio.files import AUDIO_EXTENSIONS
from hear_byols.errors import UsageError


@dataclass(frozen=True)
class InputFile:
    """One file to embed and the relative name its outputs are written under."""

    path: Path
    relative: Path


def expand_inputs(arguments: list[str]) -> list[InputFile]:
    """Every audio file the arguments name, de-duplicated, in argument then path order."""
    found: list[InputFile] = []
    for argument in arguments:
        matches = _expand(argument)
        if not matches:
            raise UsageError(_nothing_matched(argument))
        found.extend(matches)
    return _check_unique_outputs(_deduplicate(found))


def _expand(argument: str) -> list[InputFile]:
    path = Path(argument).expanduser()
    if path.is_file():
        return [InputFile(path, Path(path.name))]
    if path.is_dir():
        return _audio_below(path, path)
    if glob.has_magic(argument):
        base = _fixed_part(path)
        files: list[InputFile] = []
        # pathlib's ``**`` does not descend into symlinked directories (glob.glob's does, forever in a loop)
        for matched in sorted(base.glob(os.fspath(path.relative_to(base)))):
            if matched.is_dir():
                files.extend(_audio_below(matched, base))
            elif _is_audio_name(matched):
                files.append(InputFile(matched, _inside_out(matched.relative_to(base), argument)))
        return files
    return []


def _inside_out(relative: Path, argument: str) -> Path:
    """``relative`` without ``..`` steps; UsageError when it would climb out of ``--out``."""
    normal = Path(os.path.normpath(relative))
    if normal.is_absolute() or normal.parts[:1] == ("..",):
        raise UsageError(
            f"{argument}: the match {relative} climbs above the pattern's fixed part with '..', so its output "
            "would be written outside --out; put the '..' steps before the first wildcard"
        )
    return normal


def _audio_below(directory: Path, base: Path) -> list[InputFile]:
    found = []
    for root, _, names in os.walk(directory):  # does not follow symlinked directories
        found += [Path(root, name) for name in names if _is_audio_name(Path(name)) and Path(root, name).is_file()]
    return [InputFile(path, _inside_out(path.relative_to(base), str(directory))) for path in sorted(found)]


def _is_audio_name(path: Path) -> bool:
    return path.suffix.lower() in AUDIO_EXTENSIONS


def _fixed_part(pattern: Path) -> Path:
    """The leading components of a glob without wildcards (``.`` when the first has one)."""
    parts = pattern.parts
    first_magic = next((i for i, part in enumerate(parts) if glob.has_magic(part)), len(parts) - 1)
    return Path(*parts[:first_magic]) if first_magic else Path(".")


def _deduplicate(files: list[InputFile]) -> list[InputFile]:
    seen: set[Path] = set()
    unique = []
    for item in files:
        key = item.path.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(item)
    return unique


def _check_unique_outputs(files: list[InputFile]) -> list[InputFile]:
    """Two inputs mirrored to one name would overwrite each other: refuse before any work."""
    owner: dict[Path, Path] = {}
    for item in files:
        other = owner.setdefault(item.relative, item.path)
        if other != item.path:
            raise UsageError(
                f"{other} and {item.path} would both be written as {item.relative}.npy; "
                "embed them in separate runs with different --out directories"
            )
    return files


def _nothing_matched(argument: str) -> str:
    path = Path(argument).expanduser()
    if path.is_dir():
        return f"{argument}: directory holds no audio files ({', '.join(AUDIO_EXTENSIONS)}, searched recursively)"
    if glob.has_magic(argument):
        return f"{argument}: the pattern matches no audio files ({', '.join(AUDIO_EXTENSIONS)})"
    return f"{argument}: no such file or directory"
