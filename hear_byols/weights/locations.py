"""Find the weight file ``load_model()`` should read.

Order: an explicit path; the ``$HEAR_BYOLS_WEIGHTS_DIR`` override; the package's
``checkpoints/`` folder; the user cache; else a verified download into the cache (unless
offline). A file found locally is fully hashed before its first use in a process (a corrupt
copy of the right size is refused, never loaded); downloads are hashed before they are
renamed into place.
"""

from __future__ import annotations

import os
from pathlib import Path

from hear_byols.errors import (
    CheckpointError,
    InvalidOptionError,
    WeightsUnavailableError,
)
from hear_byols.storage.resources import package_data_dir
from hear_byols.weights.download import download_weight_file
from hear_byols.weights.env import CACHE_DIR_ENV, WEIGHTS_DIR_ENV, env_path
from hear_byols.weights.hashing import verify_once
from hear_byols.weights.registry import WeightFile, registry_entries


def cache_dir() -> Path:
    """Download directory: ``$HEAR_BYOLS_CACHE_DIR``, else ``$XDG_CACHE_HOME/hear_byols``,
    else ``~/.cache/hear_byols``."""
    explicit = env_path(CACHE_DIR_ENV)
    if explicit is not None:
        return explicit
    return (env_path("XDG_CACHE_HOME") or Path.home() / ".cache") / "hear_byols"


def package_checkpoints_dir() -> Path:
    """The package's ``checkpoints/`` folder (holds registry.yaml; weight files may be put there)."""
    return package_data_dir("checkpoints")


def candidate_paths(variant: str, filename: str | None = None) -> list[tuple[str, Path]]:
    """``(label, path)`` where ``filename`` (default: the variant's default file) is looked
    for, in resolution order."""
    return _candidates(_registry_file(variant, filename).filename)


def resolve_weights(
    variant: str,
    model_file_path: str | os.PathLike[str] = "",
    *,
    filename: str | None = None,
    download: bool = True,
    progress: bool | None = None,
) -> Path:
    """The checkpoint file to load for ``variant``.

    An existing ``model_file_path`` is returned as is, unverified (it may be fine-tuned); a
    missing one that is the bare name of an official file of the variant is resolved like
    the default. Without a path, ``filename`` (default: the variant's default file) is
    looked up locally, else downloaded when ``download`` is true and not offline.
    """
    if model_file_path:
        return _resolve_explicit(variant, model_file_path, download, progress)
    return resolve_weight_file(_registry_file(variant, filename), download=download, progress=progress)


def resolve_weight_file(wf: WeightFile, *, download: bool = True, progress: bool | None = None) -> Path:
    """Path of the official file ``wf``: the first local copy (hash-checked), else a download."""
    for _, path in _candidates(wf.filename):
        if path.is_file():
            verify_once(path, wf)  # a bad copy is reported, never silently replaced
            return path
    if not download:
        searched = ", ".join(str(path) for _, path in _candidates(wf.filename))
        raise WeightsUnavailableError(
            f"{wf.filename} (weights of hear_byols.{wf.variant}) was not found in {searched}; "
            f"fetch it with `hear-byols download {wf.variant}`"
        )
    return download_weight_file(wf, cache_dir(), progress=progress)


def _resolve_explicit(
    variant: str, model_file_path: str | os.PathLike[str], download: bool, progress: bool | None
) -> Path:
    path = Path(model_file_path).expanduser()
    if path.is_file():
        return path
    official = [wf for wf in registry_entries(variant) if wf.filename == os.fspath(model_file_path)]
    if official:
        return resolve_weight_file(official[0], download=download, progress=progress)
    if path.is_dir():
        raise CheckpointError(
            f"{path} is a directory; pass the checkpoint file itself to load_model(model_file_path=...)"
        )
    relative = "" if path.is_absolute() else f" (relative to {Path.cwd()})"
    raise WeightsUnavailableError(
        f"checkpoint file not found: {path}{relative}; check the path passed to "
        f"load_model(model_file_path=...), or pass '' to use the official {variant} weights"
    )


def _registry_file(variant: str, filename: str | None) -> WeightFile:
    files = registry_entries(variant)
    if filename is None:
        if not files:
            raise WeightsUnavailableError(
                f"no official weights were published for hear_byols.{variant}; pass your own checkpoint: "
                f"hear_byols.{variant}.load_model(model_file_path='path/to/checkpoint.pth')"
            )
        return files[0]
    for wf in files:
        if wf.filename == filename:
            return wf
    official = ", ".join(wf.filename for wf in files) or "none"
    raise InvalidOptionError(
        f"{filename!r} is not an official weight file of {variant}; official files: {official}"
    )


def _candidates(filename: str) -> list[tuple[str, Path]]:
    override = env_path(WEIGHTS_DIR_ENV)
    found = [(f"${WEIGHTS_DIR_ENV}", override / filename)] if override is not None else []
    return found + [
        ("package checkpoints/", package_checkpoints_dir() / filename),
        ("user cache", cache_dir() / filename),
    ]
