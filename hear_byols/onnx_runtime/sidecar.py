"""The JSON sidecar of an exported graph, and the checks made before the graph is trusted.

``hear_byols.export.export_onnx`` writes ``model.onnx`` and ``model.onnx.json``. The sidecar says
what the graph computes (variant, weights, normalisation, layer, frontend, framing, embedding
size, input/output names) and the graph's sha256, so a truncated or swapped graph file, or a
graph of another variant than the application expects, is refused before any audio is embedded.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hear_byols.errors import ChecksumError, CheckpointError, WrongVariantError

SIDECAR_SUFFIX = ".json"
#: The sidecar format this runtime reads (``hear_byols.export.sidecar``).
FORMAT = "hear_byols.onnx"
FORMAT_VERSION = 1
FIXED = "fixed"
PER_CLIP = "per_clip"
HASH_BLOCK = 1 << 20


@dataclass(frozen=True)
class GraphInfo:
    """What the sidecar promises about a graph (the fields the runtime relies on)."""

    path: Path
    variant: str
    normalization_mode: str  # "fixed" or "per_clip"
    mean: float | None
    std: float | None
    layer: str
    dim: int
    input_name: str
    output_name: str
    sample_rate: int
    frame_samples: int
    graph_sha256: str
    graph_bytes: int
    weights_sha256: str
    min_samples: int
    raw: dict[str, Any]

    @property
    def normalization(self) -> str | list[float]:
        """As ``load_model(normalization=...)`` takes it."""
        return [self.mean, self.std] if self.normalization_mode == FIXED else self.normalization_mode  # type: ignore[list-item]


def sidecar_path(graph: Path) -> Path:
    return graph.with_name(graph.name + SIDECAR_SUFFIX)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def read_graph_info(graph: Path, expected_variant: str | None = None) -> GraphInfo:
    """The checked sidecar of ``graph``: present, complete, for ``expected_variant`` (when given),
    and naming the sha256 the graph file has."""
    sidecar = sidecar_path(graph)
    if not graph.is_file():
        raise CheckpointError(f"{graph}: no such ONNX graph file; export one with `hear-byols export VARIANT --out {graph}`")
    if not sidecar.is_file():
        raise CheckpointError(
            f"{graph}: its sidecar {sidecar.name} is missing; the runtime needs the sidecar that "
            "`hear-byols export` writes beside the graph (copy both files together)"
        )
    try:
        raw = json.loads(sidecar.read_text(encoding="utf-8"))
        info = _graph_info(graph, raw)
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{sidecar}: not a complete hear_byols export sidecar ({exc!r}); export the graph again") from None
    if expected_variant is not None and info.variant != expected_variant:
        raise WrongVariantError(
            f"{graph}: its sidecar says it is a graph of {info.variant!r}, not of the expected {expected_variant!r}; "
            f"export {expected_variant!r} or expect {info.variant!r}"
        )
    actual = file_sha256(graph)
    if actual != info.graph_sha256:
        raise ChecksumError(
            f"{graph}: sha256 {actual} differs from {info.graph_sha256}, the hash its sidecar {sidecar.name} records "
            f"({graph.stat().st_size} bytes now, {info.graph_bytes} exported): the file is truncated, damaged or another export's; copy or "
            "export the graph and its sidecar again, together"
        )
    return info


def _graph_info(graph: Path, raw: dict[str, Any]) -> GraphInfo:
    """The fields of ``hear_byols.export``'s sidecar (format ``hear_byols.onnx`` version 1);
    KeyError/TypeError/ValueError when one is absent or wrong."""
    if raw["format"] != FORMAT or raw["format_version"] != FORMAT_VERSION:
        raise ValueError(f"format {raw['format']!r} version {raw['format_version']!r}, expected {FORMAT!r} {FORMAT_VERSION}")
    norm, frontend = raw["normalization"], raw["frontend"]
    if norm["mode"] not in (FIXED, PER_CLIP):
        raise ValueError(f"normalization mode {norm['mode']!r} is neither {FIXED!r} nor {PER_CLIP!r}")
    if not frontend["included"]:
        raise ValueError("the graph takes log-mels (exported with --frontend exclude); the runtime needs audio in")
    fixed = norm["mode"] == FIXED
    return GraphInfo(
        path=graph,
        variant=str(raw["variant"]),
        normalization_mode=norm["mode"],
        mean=float(norm["mean"]) if fixed else None,
        std=float(norm["std"]) if fixed else None,
        layer=str(raw["layer"]["name"]),
        dim=int(raw["embedding_dim"]),
        input_name=str(raw["inputs"][0]["name"]),
        output_name=str(raw["outputs"][0]["name"]),
        sample_rate=int(frontend["sample_rate"]),
        frame_samples=int(raw["timestamps"]["frame_samples"]),
        graph_sha256=str(raw["graph"]["sha256"]),
        graph_bytes=int(raw["graph"]["bytes"]),
        weights_sha256=str(raw["weights"]["sha256"]),
        min_samples=int(raw["min_samples"]),
        raw=raw,
    )
