"""Turn the PATH arguments of ``embed`` (files, directories, globs) into the files to embed.

Each file gets a relative name that its outputs mirror under ``--out``: a directory's files
keep their path below that directory, a glob's matches their path below the glob's fixed
part (``talks/**/*.flac`` -> ``sub/x.flac``), a file named directly its own name. Resolving
everything before any work starts lets a typo fail at once (exit status 2) instead of after
an hour of embedding.
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
        for match in sorted(glob.glob(os.fspath(path), recursive=True)):
            matched = Path(match)
            if matched.is_dir():
                files.extend(_audio_below(matched, base))
            elif _is_audio_name(matched):
                files.append(InputFile(matched, matched.relative_to(base)))
        return files
    return []


def _audio_below(directory: Path, base: Path) -> list[InputFile]:
    return [
        InputFile(path, path.relative_to(base))
        for path in sorted(directory.rglob("*"))
        if path.is_file() and _is_audio_name(path)
    ]


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
