"""``torch.onnx.export`` with dynamic batch and time axes, to bytes in memory.

The exporter is torch's ``dynamo=True`` one (``torch.export`` + onnxscript), the default since
torch 2.9; the TorchScript one (``dynamo=False``) verifies too but is deprecated
(docs/EXPORT.md). ``dynamic_shapes`` declares the batch and time axes; verification
(``verify.py``), not this declaration, is what shows that they stayed dynamic.
"""
from __future__ import annotations

import contextlib
import io
import logging
import warnings
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from hear_byols.errors import ExportVerificationError, InvalidOptionError

#: The ONNX opsets the dynamo exporter of torch 2.13 emits (it converts down to at least 18).
MIN_OPSET, MAX_OPSET = 18, 23


@dataclass(frozen=True)
class GraphIO:
    """The graph's one input and one output: names, and which input axes are dynamic."""

    input_name: str
    output_name: str
    #: input axis -> (name, smallest size the model accepts)
    dynamic_axes: dict[int, tuple[str, int]]


def check_opset(opset: object) -> int | None:
    """``opset`` as an int in the supported range, or None for the exporter's default."""
    if opset is None:
        return None
    if isinstance(opset, bool) or not isinstance(opset, int):
        raise InvalidOptionError(f"opset={opset!r} ({type(opset).__name__}): expected an integer from {MIN_OPSET} to {MAX_OPSET}")
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise InvalidOptionError(f"opset={opset}: the exporter supports opsets {MIN_OPSET} to {MAX_OPSET}; choose one of those")
    return opset


def export_to_bytes(module: nn.Module, example: Tensor, io_names: GraphIO, opset: int | None, *, dynamic: bool = True) -> bytes:
    """The serialised ONNX model of ``module`` traced at ``example``; ``dynamic=False`` leaves
    every axis at the example's size (only for tests showing that verification catches it)."""
    shapes = None
    if dynamic:
        dims = {axis: torch.export.Dim(name, min=minimum) for axis, (name, minimum) in io_names.dynamic_axes.items()}
        shapes = {io_names.input_name: dims}
    try:
        with _quiet(), torch.no_grad():
            program = torch.onnx.export(
                module, (example,), None, dynamo=True, input_names=[io_names.input_name],
                output_names=[io_names.output_name], dynamic_shapes=shapes, opset_version=opset,
                external_data=False, verbose=False,
            )
    except Exception as exc:  # the exporter's failures are many types; each means "no graph"
        raise ExportVerificationError(
            f"torch.onnx.export failed for {type(module).__name__}: {type(exc).__name__}: {str(exc)[:500]}"
        ) from exc
    assert program is not None  # f=None with dynamo=True returns the program
    return program.model_proto.SerializeToString()


@contextlib.contextmanager
def _quiet():
    """The exporter prints progress lines and warns about torchvision and deprecated internals:
    none of it concerns the user, whose outcome is the verification table."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)
