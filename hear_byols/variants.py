"""Variant specifications, read from ``configs/<variant>.yaml`` (the single source of truth)."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import yaml

from hear_byols.errors import InvalidOptionError
from hear_byols.frontend import FrontendSpec
from hear_byols.resources import package_data_dir


@dataclass(frozen=True)
class VariantSpec:
    """Everything that distinguishes one variant: encoder, frontend, default normalisation."""

    name: str
    title: str
    encoder_type: str
    encoder_params: dict[str, Any]
    infer_from_checkpoint: bool
    embedding_size: int
    frontend: FrontendSpec
    default_normalization: Any
    hear_model_id: str | None


def variant_names() -> list[str]:
    """Names of all variants with a config, sorted."""
    return sorted(path.stem for path in package_data_dir("configs").glob("*.yaml"))


@functools.cache
def variant_spec(name: str) -> VariantSpec:
    """Parse and return the spec of variant ``name``."""
    path = package_data_dir("configs") / f"{name}.yaml"
    if not path.is_file():
        raise InvalidOptionError(f"unknown variant {name!r}; available variants: {', '.join(variant_names())}")
    with open(path, encoding="utf-8") as fh:
        raw = yaml.safe_load(fh)
    encoder = raw["encoder"]
    return VariantSpec(
        name=raw["name"],
        title=raw["title"],
        encoder_type=encoder["type"],
        encoder_params=dict(encoder.get("params") or {}),
        infer_from_checkpoint=bool(encoder.get("infer_from_checkpoint", False)),
        embedding_size=int(raw["embedding_size"]),
        frontend=FrontendSpec(**raw["frontend"]),
        default_normalization=raw["normalization"],
        hear_model_id=raw.get("hear_model_id"),
    )
