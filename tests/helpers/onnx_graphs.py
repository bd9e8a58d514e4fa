"""Exported graphs for the runtime, streaming and CLI tests (deterministic test weights)."""
from __future__ import annotations

from pathlib import Path

#: Lengths and batch sizes an export is verified at in tests: fewer than the default, for speed
#: (tests/export checks the defaults).
TEST_CHECK_SECONDS = ("min", 1.0)
TEST_CHECK_BATCHES = (1, 2)


def export_graph(variant: str, out: Path, normalization, weights: Path) -> Path:
    """``out`` (.onnx) and its sidecar for ``variant`` with ``normalization`` ('per_clip' or [mean, std])."""
    from hear_byols.export import export_onnx

    export_onnx(variant, out, weights=str(weights), normalization=normalization,
                check_seconds=TEST_CHECK_SECONDS, check_batches=TEST_CHECK_BATCHES)
    return out


#: ``(variant, normalization) -> graph``: exports made in this test session (each takes seconds).
_MADE: dict[tuple[str, str], Path] = {}


def session_graph(root: Path, weights: Path, variant: str, normalization) -> Path:
    """A graph of ``variant`` exported once per test session (under ``root``), shared by the areas."""
    key = (variant, str(normalization))
    if key not in _MADE or not _MADE[key].is_file():
        name = f"{variant}-{'fixed' if isinstance(normalization, list) else normalization}.onnx"
        root.mkdir(parents=True, exist_ok=True)
        _MADE[key] = export_graph(variant, root / name, normalization, weights)
    return _MADE[key]
