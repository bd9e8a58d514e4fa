"""Check an exported graph in onnxruntime against the package's PyTorch path, shape by shape.

An exporter can pass at its example shape and freeze an axis (issue 20: a CLSTM export froze
the time axis at 101 columns and then refused a 10 s clip), so a graph is run at several lengths
and batch sizes. The error of one checked shape is ``max |onnx - torch| / max |torch|`` over its
whole ``(batch, dim)`` output: relative to the embedding's scale, not element by element (an
element near 0 would make any rounding look large). A shape onnxruntime refuses or fails on is a
failure too, named with the reason.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from hear_byols.errors import ExportVerificationError

#: Largest relative error (as defined above) a graph may have at any checked shape.
TOLERANCE = 1e-5


@dataclass(frozen=True)
class CheckCase:
    """One input to check: what it is, the array, and the PyTorch outputs it must reproduce."""

    label: str
    inputs: np.ndarray
    #: the package's own path (``get_scene_embeddings`` or ``ByolsModel``): the gate
    expected: np.ndarray
    #: the exported module run in PyTorch (reference-shaped modules, DFT frontend): reported
    modules: np.ndarray


@dataclass(frozen=True)
class CheckedShape:
    """The outcome of one ``CheckCase``."""

    label: str
    shape: tuple[int, ...]
    #: vs the package's path; None when onnxruntime failed
    max_relative_error: float | None
    #: vs the exported module in PyTorch
    max_relative_error_vs_modules: float | None
    failure: str | None = None

    @property
    def passed(self) -> bool:
        return self.failure is None

    def as_json(self) -> dict[str, object]:
        return {
            "label": self.label,
            "shape": list(self.shape),
            "max_relative_error": self.max_relative_error,
            "max_relative_error_vs_reference_modules": self.max_relative_error_vs_modules,
        }

    def describe(self) -> str:
        shape = "x".join(map(str, self.shape))
        if self.max_relative_error is None:
            return f"{self.label:<30} {shape:>14}  FAILED: {self.failure}"
        vs_modules = f"{self.max_relative_error_vs_modules:.2e}"
        verdict = "ok" if self.passed else f"FAILED: {self.failure}"
        return f"{self.label:<30} {shape:>14}  {self.max_relative_error:.2e}  (modules {vs_modules})  {verdict}"


def relative_error(actual: np.ndarray, expected: np.ndarray) -> float:
    """``max |actual - expected| / max |expected|`` (inf for a shape mismatch or a non-finite value)."""
    if actual.shape != expected.shape or not np.isfinite(actual).all():
        return math.inf
    scale = float(np.abs(expected).max())
    difference = float(np.abs(actual.astype(np.float64) - expected).max())
    return difference / scale if scale > 0 else (0.0 if difference == 0 else math.inf)


def check_case(run: Callable[[np.ndarray], np.ndarray], case: CheckCase, tolerance: float) -> CheckedShape:
    """Run one case through ``run`` (the onnxruntime session) and compare."""
    shape = tuple(case.inputs.shape)
    try:
        actual = run(case.inputs)
    except Exception as exc:  # onnxruntime raises its own types: any of them fails the shape
        reason = " ".join(str(exc).split())[:300]
        return CheckedShape(case.label, shape, None, None, f"onnxruntime failed ({reason}): a frozen or broken axis")
    if actual.shape != case.expected.shape:
        return CheckedShape(case.label, shape, math.inf, math.inf, f"output shape {actual.shape}, expected {case.expected.shape}")
    error = relative_error(actual, case.expected)
    failure = None if error <= tolerance else f"relative error {error:.3g} > {tolerance:g}"
    return CheckedShape(case.label, shape, error, relative_error(actual, case.modules), failure)


def verify(run: Callable[[np.ndarray], np.ndarray], cases: Sequence[CheckCase], tolerance: float = TOLERANCE) -> list[CheckedShape]:
    """Every case's outcome; raises ExportVerificationError naming each shape that failed."""
    checked = [check_case(run, case, tolerance) for case in cases]
    failed = [each for each in checked if not each.passed]
    if failed:
        named = "; ".join(f"{each.label} {list(each.shape)}: {each.failure}" for each in failed)
        raise ExportVerificationError(
            f"the exported graph failed verification at {len(failed)} of {len(checked)} shapes, so nothing "
            f"was written: {named}"
        )
    return checked
