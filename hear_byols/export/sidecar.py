"""The sidecar JSON written beside a graph (``model.onnx.json``): everything a runtime needs to
use the graph without torch, and everything needed to tell what it is and how it was checked.

A runtime refuses a graph whose sha256 differs from ``graph.sha256`` (truncated, replaced, from
another export), and reads the framing of the timestamp path and the frontend's parameters here.
"""
from __future__ import annotations

import datetime
import hashlib
import importlib.metadata
from pathlib import Path
from typing import Any, Sequence

import torch

import hear_byols
from hear_byols.export.onnx_graph import GraphIO
from hear_byols.export.verify import TOLERANCE, CheckedShape
from hear_byols.inference.model import ByolsModel
from hear_byols.logmel.frontend import LOG_EPS
from hear_byols.logmel.normalization import CONSTANT_STD_RATIO, FIXED, STD_FLOOR, Normalization
from hear_byols.timestamps import DEFAULT_FRAME_DURATION_MS, DEFAULT_HOP_SIZE_MS
from hear_byols.timestamps.framing import frame_grid

FORMAT = "hear_byols.onnx"
FORMAT_VERSION = 1
EXPORTER = "torch.onnx.export(dynamo=True)"
RELATIVE_ERROR = "max |onnxruntime - pytorch| / max |pytorch| over the whole (batch, dim) output of one checked shape"


def normalization_entry(normalization: Normalization, stats_file: Path | None) -> dict[str, Any]:
    """The normalisation in the graph: its mode, numbers and (if any) the stats file's hash."""
    entry: dict[str, Any] = {"mode": normalization.mode, "std_floor": STD_FLOOR, "constant_std_ratio": CONSTANT_STD_RATIO}
    if normalization.mode == FIXED:
        entry.update(mean=normalization.mean, std=normalization.std)
    if stats_file is not None:
        entry["stats_file"] = {"name": stats_file.name, "sha256": hashlib.sha256(stats_file.read_bytes()).hexdigest()}
    return entry


def frontend_entry(model: ByolsModel, included: bool) -> dict[str, Any]:
    """The log-mel's parameters (inside the graph, or to be computed by the caller)."""
    spec = model.spec.frontend
    return {
        "included": included, "sample_rate": spec.sample_rate, "n_fft": spec.n_fft, "win_length": spec.win_length,
        "window": "hann (periodic), zero-padded centrally to n_fft", "hop_length": spec.hop_length,
        "center": True, "pad_mode": "reflect", "power": 2.0, "n_mels": spec.n_mels, "f_min": spec.f_min,
        "f_max": spec.f_max, "mel_scale": "htk", "mel_norm": None, "eps": LOG_EPS, "log": "log(mel + eps)",
    }


def timestamp_entry(model: ByolsModel) -> dict[str, Any]:
    """The exact timestamp path's framing (``hear_byols.timestamps.framing``) at its defaults."""
    grid = frame_grid(model.sample_rate, model.sample_rate, DEFAULT_FRAME_DURATION_MS, DEFAULT_HOP_SIZE_MS)
    return {
        "frame_duration_ms": DEFAULT_FRAME_DURATION_MS, "hop_size_ms": DEFAULT_HOP_SIZE_MS,
        "frame_samples": grid.frame_size, "hop_samples": grid.integral_step or grid.step, "pad_left": grid.pad_left,
        "pad_right": grid.pad_right, "n_frames": "1 + floor(n_samples / hop_samples)",
        "timestamp_ms": "k * hop_size_ms",
    }


def versions() -> dict[str, str]:
    """The versions that made and checked the graph."""
    found = {"hear_byols": hear_byols.__version__, "torch": torch.__version__}
    for name in ("onnx", "onnxruntime", "onnxscript"):
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def build_sidecar(
    *, model: ByolsModel, graph: bytes, graph_name: str, opset: int, io_names: GraphIO, weights: Path,
    normalization: Normalization, stats_file: Path | None, include_frontend: bool, checks: Sequence[CheckedShape],
) -> dict[str, Any]:
    """The sidecar's content (JSON-serialisable)."""
    layer = model.selected_layer
    input_shape: list[Any] = ["batch", "samples"] if include_frontend else ["batch", model.spec.frontend.n_mels, "frames"]
    return {
        "format": FORMAT, "format_version": FORMAT_VERSION, "variant": model.variant,
        "weights": {"name": weights.name, "sha256": hashlib.sha256(weights.read_bytes()).hexdigest()},
        "graph": {"name": graph_name, "sha256": hashlib.sha256(graph).hexdigest(), "bytes": len(graph)},
        "normalization": normalization_entry(normalization, stats_file) | {"in_graph": include_frontend},
        "layer": {"name": layer.name, "size": layer.size, "pooling": layer.pooling, "published": model.final_layer_selected},
        "frontend": frontend_entry(model, include_frontend), "timestamps": timestamp_entry(model),
        "min_samples": model.min_samples, "min_frames": model.encoder.min_frames, "embedding_dim": layer.size,
        "opset": opset, "exporter": EXPORTER, "versions": versions(),
        "inputs": [{"name": io_names.input_name, "dtype": "float32", "shape": input_shape}],
        "outputs": [{"name": io_names.output_name, "dtype": "float32", "shape": ["batch", layer.size]}],
        "verification": {"tolerance": TOLERANCE, "relative_error": RELATIVE_ERROR,
                         "reference": "get_scene_embeddings" if include_frontend else "ByolsModel.forward",
                         "checks": [each.as_json() for each in checks]},
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
