"""Variant definitions, read from ``configs/<variant>.yaml``: the one place a variant is written.

Each YAML file holds everything about one variant: architecture, frontend, normalisation,
its official weight files (URLs, size, hashes, licence) and its published identity. The
module list, the CLI choices, the weights registry, the benchmark list and the README table
are all derived from these files. A malformed file fails loudly on first use, so a typo in a
hash never turns into "every download is corrupt".
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml

from hear_byols.encoders import Encoder, build_encoder
from hear_byols.encoders.base import Layer
from hear_byols import PACKAGE_VARIANT
from hear_byols.errors import CheckpointError, InvalidOptionError
from hear_byols.logmel.frontend import FrontendSpec
from hear_byols.storage.resources import package_data_dir

_HEX = {"sha256": re.compile(r"[0-9a-f]{64}"), "git_blob_sha1": re.compile(r"[0-9a-f]{40}")}
_FILE_KEYS = {"filename", "urls", "size", "sha256", "git_blob_sha1", "licence", "licence_source", "redistributable"}
_VARIANT_KEYS = {"name", "title", "encoder", "embedding_size", "frontend", "normalization", "hear_model_id", "weights"}


@dataclass(frozen=True)
class WeightFile:
    """One official weight file: where to get it, how to recognise it, under which licence."""

    variant: str
    filename: str
    urls: tuple[str, ...]
    size: int | None
    sha256: str | None
    git_blob_sha1: str | None
    licence: str
    licence_source: str
    redistributable: bool


@dataclass(frozen=True)
class VariantSpec:
    """Everything that distinguishes one variant."""

    name: str
    title: str
    encoder_type: str
    encoder_params: dict[str, Any]
    infer_from_checkpoint: bool
    embedding_size: int
    frontend: FrontendSpec
    default_normalization: Any
    hear_model_id: str | None
    weight_files: tuple[WeightFile, ...]
    weights_note: str | None

    @property
    def module(self) -> str:
        """The HEAR module of this variant (the module path is the variant name)."""
        return f"hear_byols.{self.name}"

    def build_encoder(self, params: dict[str, Any] | None = None, *, meta: bool = False) -> Encoder:
        """The variant's encoder (``params`` override the config's); ``meta=True`` builds it on
        the meta device: keys, shapes and parameter counts without allocating any weights."""
        params = dict(self.encoder_params if params is None else params)
        if not meta:
            return build_encoder(self.encoder_type, params)
        with torch.device("meta"):
            return build_encoder(self.encoder_type, params)

    def layers(self, params: dict[str, Any] | None = None) -> tuple[Layer, ...]:
        """The layers ``load_model(layer=...)`` accepts, input side first (the last is the
        published embedding), as the encoder type defines them for this config (``params``
        override it: BYOL-A's width comes from its checkpoint)."""
        return self.build_encoder(params, meta=True).selectable_layers()


def variant_names() -> list[str]:
    """Names of all variants with a config, sorted."""
    return sorted(path.stem for path in configs_dir().glob("*.yaml"))



def module_variant(module: str) -> str | None:
    """The variant a HEAR module binds: ``hear_byols.default`` -> ``default``, ``hear_byols`` ->
    ``PACKAGE_VARIANT``; None for a module outside the package (whether the name is a variant
    with a config is for the caller to check)."""
    package, dot, variant = module.partition(".")
    if package != "hear_byols":
        return None
    return variant if dot else PACKAGE_VARIANT


def configs_dir() -> Path:
    """The folder of the variant YAML files (package data ``hear_byols.configs``)."""
    return package_data_dir("configs")


@functools.cache
def variant_spec(name: str) -> VariantSpec:
    """Parse and return the spec of variant ``name``."""
    path = configs_dir() / f"{name}.yaml"
    if not path.is_file():
        raise InvalidOptionError(f"unknown variant {name!r}; available variants: {', '.join(variant_names())}")
    with open(path, encoding="utf-8") as fh:
        return parse_variant(yaml.safe_load(fh), str(path))


def parse_variant(raw: Any, source: str) -> VariantSpec:
    """Validate one variant's loaded YAML; ``source`` names it in error messages."""
    raw = _require(raw, dict, source, "top level")
    unknown, missing = set(raw) - _VARIANT_KEYS, _VARIANT_KEYS - set(raw)
    if unknown or missing:
        raise _invalid(source, "top level", f"missing keys {sorted(missing)}, unknown keys {sorted(unknown)}")
    name = _require(raw["name"], str, source, "name")
    if Path(source).suffix == ".yaml" and Path(source).stem != name:
        raise _invalid(source, "name", f"{name!r} differs from the file name {Path(source).stem!r}")
    encoder = _require(raw["encoder"], dict, source, "encoder")
    files, note = parse_weights(name, raw["weights"], source)
    return VariantSpec(
        name=name,
        title=_require(raw["title"], str, source, "title"),
        encoder_type=_require(encoder.get("type"), str, source, "encoder.type"),
        encoder_params=dict(encoder.get("params") or {}),
        infer_from_checkpoint=bool(encoder.get("infer_from_checkpoint", False)),
        embedding_size=_require(raw["embedding_size"], int, source, "embedding_size"),
        frontend=FrontendSpec(**_require(raw["frontend"], dict, source, "frontend")),
        default_normalization=raw["normalization"],
        hear_model_id=raw["hear_model_id"],
        weight_files=files,
        weights_note=note,
    )


def parse_weights(variant: str, raw: Any, source: str) -> tuple[tuple[WeightFile, ...], str | None]:
    """The ``weights:`` section: ``files`` (default first) and an optional ``note``."""
    raw = _require(raw, dict, source, "weights")
    files = _require(raw.get("files"), list, source, "weights.files")
    note = raw.get("note")
    if note is not None:
        note = _require(note, str, source, "weights.note")
    if not files and not note:
        raise _invalid(source, "weights", "a variant without files needs a `note` saying why")
    parsed = tuple(_parse_file(variant, item, source, f"weights.files[{i}]") for i, item in enumerate(files))
    names = [wf.filename for wf in parsed]
    if len(set(names)) != len(names):
        raise _invalid(source, "weights.files", "a file is listed twice")
    return parsed, note


def _parse_file(variant: str, raw: Any, source: str, where: str) -> WeightFile:
    raw = _require(raw, dict, source, where)
    unknown, missing = set(raw) - _FILE_KEYS, _FILE_KEYS - set(raw)
    if unknown or missing:
        raise _invalid(source, where, f"keys must be {sorted(_FILE_KEYS)}; missing {sorted(missing)}, unknown {sorted(unknown)}")
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
        licence_source=_require(raw["licence_source"], str, source, f"{where}.licence_source"),
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
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise _invalid(source, where, f"expected a {kind.__name__}, found {type(value).__name__} {value!r}")
    return value


def _invalid(source: str, where: str, problem: str) -> CheckpointError:
    return CheckpointError(f"invalid variant definition {source}: {where}: {problem} (fix the YAML file)")
