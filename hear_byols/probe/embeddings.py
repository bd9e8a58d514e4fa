"""Scene embeddings of a corpus through the extraction engine (``hear_byols.extract.embed_files``):
one forward pass per utterance, its journal, provenance, skip rules and shards.

Each (variant, layer, weights, normalization, precision, device type) gets its own folder under
the cache, named by a hash of those settings: the engine refuses to mix settings in one folder,
and a fold's own ``train`` statistics are one more setting.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from hear_byols.api import load_model
from hear_byols.distributed import Shard
from hear_byols.extract import embed_files
from hear_byols.extract.index import read_index
from hear_byols.extract.row_schema import FAILED
from hear_byols.inference.model import ByolsModel
from hear_byols.probe.modelspec import ModelSpec
from hear_byols.weights import sha256_of


@dataclass(frozen=True)
class EmbedSettings:
    """How embeddings are computed, beside the model and its normalisation."""

    weights: dict[str, Path]
    precision: str
    device: torch.device
    shard: Shard
    workers: int
    batch_size: int


@dataclass(frozen=True)
class EmbeddingFolder:
    """Where one model's embeddings with one normalisation live, and what identifies them."""

    path: Path
    settings: dict[str, Any]


def open_model(spec: ModelSpec, normalization: str | list[float], settings: EmbedSettings) -> ByolsModel:
    """The model of ``spec`` with ``normalization``, as ``load_model`` builds it."""
    assert spec.variant is not None, "baselines have no model"
    weights = settings.weights.get(spec.variant)
    return load_model(None if weights is None else str(weights), variant=spec.variant, normalization=normalization,
                      layer=spec.layer, precision=settings.precision)


def embedding_folder(cache: Path, spec: ModelSpec, model: ByolsModel, settings: EmbedSettings) -> EmbeddingFolder:
    """``CACHE/emb-<variant>[-<layer>]-<hash of the settings>``."""
    described = {
        "variant": model.variant, "layer": model.layer, "weights_sha256": sha256_of(model.weights),
        "normalization": model.normalization.as_option(), "precision": getattr(model, "precision", "float32"),
        "device_type": settings.device.type,
    }
    key = hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()[:16]
    name = "-".join(["emb", spec.variant or "", *([spec.layer] if spec.layer else []), key])
    return EmbeddingFolder(cache / name, {**described, "weights": str(model.weights)})


def embed_links(links: list[Path], model: ByolsModel, folder: EmbeddingFolder, settings: EmbedSettings) -> dict[str, int]:
    """Embed this shard's share of ``links`` into ``folder`` (cached outputs are skipped by the
    engine); returns the counts the engine reports."""
    summary = embed_files(links, model, folder.path, device=settings.device, shard=settings.shard,
                          workers=settings.workers, batch_size=settings.batch_size, quiet=True)
    return {"written": summary.written, "skipped": summary.skipped, "failed": summary.failed}


def failed_outputs(folder: Path) -> dict[str, str]:
    """Output name -> reason for every file the engine last recorded as failed in ``folder``."""
    if not (folder / "index.json").is_file():
        return {}
    rows = read_index(folder)["files"]
    return {row["outputs"][0]: row.get("reason") or "failed" for row in rows if row["status"] == FAILED}
