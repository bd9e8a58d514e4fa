"""The registry of official weight files (``checkpoints/registry.yaml``), parsed and checked.

The YAML is the single place where file names, URLs, sizes and hashes are written; it is
validated once on first use so a typo in a hash fails loudly instead of rejecting every
download as corrupt.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from hear_byols.errors import CheckpointError, InvalidOptionError
from hear_byols.resources import package_data_dir

_HEX = {"sha256": re.compile(r"[0-9a-f]{64}"), "git_blob_sha1": re.compile(r"[0-9a-f]{40}")}
_FILE_KEYS = {"filename", "urls", "size", "sha256", "git_blob_sha1", "licence", "redistributable"}


@dataclass(frozen=True)
class WeightFile:
    """One official weight file: where to get it and how to recognise it."""

    variant: str
    filename: str
    urls: tuple[str, ...]
    size: int | None
    sha256: str | None
    git_blob_sha1: str | None
    licence: str
    redistributable: bool


@dataclass(frozen=True)
class _VariantEntry:
    files: tuple[WeightFile, ...]
    note: str | None


def registry_path() -> Path:
    """Where ``registry.yaml`` lives (installed package data, or the source tree's folder)."""
    return package_data_dir("checkpoints") / "registry.yaml"


def registry_variants() -> list[str]:
    """Variant names the registry knows, in registry order."""
    return list(_registry())


def registry_entries(variant: str) -> list[WeightFile]:
    """The official files of ``variant``, default first (empty when none were published)."""
    return list(_entry(variant).files)


def default_weight_file(variant: str) -> WeightFile | None:
    """The file ``load_model()`` uses for ``variant`` without a path, or None if none exists."""
    files = _entry(variant).files
    return files[0] if files else None


def find_weight_file(filename: str) -> WeightFile | None:
    """The registry file called ``filename`` (any variant), or None."""
    for entry in _registry().values():
        for wf in entry.files:
            if wf.filename == filename:
                return wf
    return None


def variant_note(variant: str) -> str | None:
    """The registry's remark about ``variant`` (e.g. why it has no weights), if any."""
    return _entry(variant).note


def _entry(variant: str) -> _VariantEntry:
    registry = _registry()
    if variant not in registry:
        raise InvalidOptionError(f"unknown variant {variant!r}; known variants: {', '.join(registry)}")
    return registry[variant]


@functools.cache
def _registry() -> dict[str, _VariantEntry]:
    path = registry_path()
    with open(path, encoding="utf-8") as fh:
        return parse_registry(yaml.safe_load(fh), str(path))


def parse_registry(raw: Any, source: str) -> dict[str, _VariantEntry]:
    """Validate the loaded YAML of a registry; ``source`` names it in error messages."""
    variants = _require(raw, dict, source, "top level").get("variants")
    variants = _require(variants, dict, source, "variants")
    registry = {str(name): _parse_variant(str(name), entry, source) for name, entry in variants.items()}
    seen: set[str] = set()
    for entry in registry.values():
        for wf in entry.files:
            if wf.filename in seen:
                raise _invalid(source, f"variants.{wf.variant}", f"file {wf.filename!r} is listed twice")
            seen.add(wf.filename)
    return registry


def _parse_variant(name: str, raw: Any, source: str) -> _VariantEntry:
    where = f"variants.{name}"
    raw = _require(raw, dict, source, where)
    files = _require(raw.get("files"), list, source, f"{where}.files")
    note = raw.get("note")
    if note is not None:
        note = _require(note, str, source, f"{where}.note")
    if not files and not note:
        raise _invalid(source, where, "a variant without files needs a `note` saying why")
    parsed = tuple(_parse_file(name, item, source, f"{where}.files[{i}]") for i, item in enumerate(files))
    return _VariantEntry(files=parsed, note=note)


def _parse_file(variant: str, raw: Any, source: str, where: str) -> WeightFile:
    raw = _require(raw, dict, source, where)
    unknown = set(raw) - _FILE_KEYS
    missing = _FILE_KEYS - set(raw)
    if unknown or missing:
        raise _invalid(
            source,
            where,
            f"keys must be {sorted(_FILE_KEYS)}; missing {sorted(missing)}, unknown {sorted(unknown)}",
        )
    filename = _require(raw["filename"], str, source, f"{where}.filename")
    if not filename or "/" in filename or "\\" in filename:
        raise _invalid(source, f"{where}.filename", f"expected a bare file name, found {filename!r}")
    urls = _require(raw["urls"], list, source, f"{where}.urls")
    if not urls or not all(isinstance(u, str) and re.match(r"(https?|file)://", u) for u in urls):
        raise _invalid(source, f"{where}.urls", f"expected a non-empty list of URLs, found {urls!r}")
    size = raw["size"]
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size <= 0):
        raise _invalid(source, f"{where}.size", f"expected a positive byte count or null, found {size!r}")
    hashes = {key: _parse_hex(raw[key], key, source, f"{where}.{key}") for key in _HEX}
    if not any(hashes.values()):
        raise _invalid(source, where, "needs sha256 or git_blob_sha1, or the file could never be verified")
    return WeightFile(
        variant=variant,
        filename=filename,
        urls=tuple(urls),
        size=size,
        sha256=hashes["sha256"],
        git_blob_sha1=hashes["git_blob_sha1"],
        licence=_require(raw["licence"], str, source, f"{where}.licence"),
        redistributable=_require(raw["redistributable"], bool, source, f"{where}.redistributable"),
    )


def _parse_hex(value: Any, kind: str, source: str, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _HEX[kind].fullmatch(value):
        length = 64 if kind == "sha256" else 40
        raise _invalid(source, where, f"expected {length} lowercase hex characters or null, found {value!r}")
    return value


def _require(value: Any, kind: type, source: str, where: str) -> Any:
    if not isinstance(value, kind):
        raise _invalid(source, where, f"expected a {kind.__name__}, found {type(value).__name__} {value!r}")
    return value


def _invalid(source: str, where: str, problem: str) -> CheckpointError:
    return CheckpointError(f"invalid weights registry {source}: {where}: {problem} (fix the YAML file)")
