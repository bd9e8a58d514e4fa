"""``export_onnx``: a verified ONNX graph of one variant, and its sidecar JSON (docs/EXPORT.md).

The graph is built from the reference-shaped encoder with the real-valued DFT frontend
(``hear_byols.logmel.dft``), exported with dynamic batch and time axes, run in onnxruntime
against the package's PyTorch path at several lengths and batch sizes, and written only when
every shape is within ``TOLERANCE``: the ``.onnx`` and its ``.onnx.json`` together, atomically.
"""
from __future__ import annotations

import importlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from hear_byols.api import check_option_values, load_model
from hear_byols.errors import InvalidOptionError, UsageError
from hear_byols.export.cases import (
    DEFAULT_CHECK_BATCHES, DEFAULT_CHECK_SECONDS, MIN, build_cases, check_lengths, check_batches as checked_batches,
)
from hear_byols.export.graph import build_graph_module
from hear_byols.export.onnx_graph import GraphIO, check_opset, export_to_bytes
from hear_byols.export.output import check_out_path, stats_file_of, write_graph_and_sidecar
from hear_byols.export.sidecar import build_sidecar
from hear_byols.export.verify import TOLERANCE, CheckedShape, verify
from hear_byols.logmel.normalization import REFERENCE, Normalization, parse_normalization
from hear_byols.weights import resolve_weights

FRONTENDS = ("include", "exclude")
AUDIO, LOG_MEL, EMBEDDING = "audio", "log_mel", "embedding"


@dataclass
class ExportReport:
    """What ``export_onnx`` wrote and how the graph was checked."""

    path: Path
    sidecar_path: Path
    variant: str
    opset: int
    checks: list[CheckedShape]
    export_seconds: float
    verify_seconds: float
    sidecar: dict[str, Any] = field(repr=False)

    @property
    def max_relative_error(self) -> float:
        return max(each.max_relative_error or 0.0 for each in self.checks)

    def table(self) -> str:
        """The checked shapes and their errors, one line each."""
        return "\n".join(each.describe() for each in self.checks)


def export_dependency(name: str) -> Any:
    """Import one of the ``[export]`` extra's packages, or say how to install them."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise UsageError(
            f"exporting to ONNX needs onnx, onnxruntime and onnxscript ({exc}): pip install 'hear_byols[export]'"
        ) from None


def serving_normalization(value: Any) -> Normalization:
    """``value`` parsed like ``load_model``'s option, minus ``reference``: batch statistics make a
    row's embedding depend on the other rows, which a serving graph must not."""
    if value == REFERENCE or (isinstance(value, Normalization) and value.mode == REFERENCE):
        raise InvalidOptionError(
            "normalization='reference' uses the statistics of the whole batch, which do not belong in a serving "
            "graph (one request's embedding would depend on the others); use 'per_clip' (each clip's own "
            "statistics), [mean, std] (fixed statistics), or a stats file made by `hear-byols stats`"
        )
    return parse_normalization(value)


def export_onnx(
    variant: str, out: Path, *, weights: str = "", normalization: Any = "per_clip", frontend: str = "include",
    layer: str | None = None, opset: int | None = None, check_seconds: Sequence[object] = DEFAULT_CHECK_SECONDS,
    check_batches: Sequence[object] = DEFAULT_CHECK_BATCHES, _dynamic: bool = True,
) -> ExportReport:
    """Export ``variant`` to ``out`` (ONNX) and ``out + ".json"`` (sidecar) after verifying the graph
    in onnxruntime at every ``check_seconds`` x ``check_batches`` shape; writes nothing otherwise.

    ``frontend="include"``: input ``audio`` (batch, samples) float32 at 16 kHz, output the scene
    embedding of each row, as ``get_scene_embeddings`` with ``normalization`` gives it;
    ``"exclude"``: input ``log_mel`` (batch, n_mels, frames), already normalised. ``_dynamic=False``
    exports every axis frozen at the example's size (tests of the verification only).
    """
    for dependency in ("onnx", "onnxscript", "onnxruntime"):
        export_dependency(dependency)
    out = check_out_path(Path(out))
    norm = serving_normalization(normalization)
    if frontend not in FRONTENDS:
        raise InvalidOptionError(f"frontend={frontend!r}; choose one of {list(FRONTENDS)}")
    opset = check_opset(opset)
    check_option_values(variant, norm, "exact", "float32", layer)
    batches = checked_batches(check_batches)
    weights_path = resolve_weights(variant, weights)
    model = load_model(str(weights_path), variant=variant, normalization=norm, layer=layer)
    lengths = check_lengths(model, check_seconds)
    include = frontend == "include"
    module = build_graph_module(model, norm, include)
    io_names, example = _graph_io(model, include)
    started = time.perf_counter()
    graph = export_to_bytes(module, example, io_names, opset, dynamic=_dynamic)
    exported = time.perf_counter()
    checks = verify(_onnxruntime_runner(graph, io_names), build_cases(model, module, norm, include, lengths, batches))
    verified = time.perf_counter()
    opset_used = _graph_opset(graph)
    sidecar = build_sidecar(
        model=model, graph=graph, graph_name=out.name, opset=opset_used, io_names=io_names, weights=weights_path,
        normalization=norm, stats_file=stats_file_of(normalization), include_frontend=include, checks=checks,
    )
    sidecar_path = write_graph_and_sidecar(out, graph, sidecar)
    return ExportReport(out, sidecar_path, variant, opset_used, checks, exported - started, verified - exported, sidecar)


def _graph_io(model: Any, include_frontend: bool) -> tuple[GraphIO, torch.Tensor]:
    """Names, dynamic axes (with the smallest size each accepts) and a 1 s example input."""
    batch = ("batch", 1)
    if include_frontend:
        return GraphIO(AUDIO, EMBEDDING, {0: batch, 1: ("samples", model.min_samples)}), torch.zeros(2, model.sample_rate)
    frames = model.spec.frontend.n_columns(model.sample_rate)
    io_names = GraphIO(LOG_MEL, EMBEDDING, {0: batch, 2: ("frames", model.encoder.min_frames)})
    return io_names, torch.zeros(2, model.spec.frontend.n_mels, frames)


def _onnxruntime_runner(graph: bytes, io_names: GraphIO):
    """``inputs -> outputs`` through an onnxruntime CPU session of ``graph`` (torch's thread count)."""
    onnxruntime = export_dependency("onnxruntime")
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    session = onnxruntime.InferenceSession(graph, options, providers=["CPUExecutionProvider"])

    def run(inputs: np.ndarray) -> np.ndarray:
        return session.run([io_names.output_name], {io_names.input_name: inputs})[0]

    return run


def _graph_opset(graph: bytes) -> int:
    """The default-domain opset the serialised graph declares."""
    model = export_dependency("onnx").load_model_from_string(graph)
    return next(entry.version for entry in model.opset_import if entry.domain in ("", "ai.onnx"))


__all__ = ["ExportReport", "FRONTENDS", "MIN", "TOLERANCE", "export_onnx", "serving_normalization"]
