"""An onnxruntime session on an exported graph, refused with a clear error when it cannot be one."""
from __future__ import annotations

import numbers
from pathlib import Path
from typing import Any

from hear_byols.errors import CheckpointError, InvalidOptionError
from hear_byols.onnx_runtime.sidecar import GraphInfo


def open_session(path: Path, info: GraphInfo, threads: int) -> Any:
    """A CPU ``onnxruntime.InferenceSession`` with ``threads`` intra-op threads, whose input and
    output are the ones the sidecar names."""
    if isinstance(threads, bool) or not isinstance(threads, numbers.Integral) or threads < 0:
        raise InvalidOptionError(f"threads={threads!r}: expected a whole number >= 0 (0: onnxruntime chooses)")
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = int(threads)
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only: its warnings are not the user's to act on
    try:
        session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own unexported exception types
        raise CheckpointError(f"{path}: onnxruntime cannot load it ({exc}); export the graph again") from None
    inputs = [node.name for node in session.get_inputs()]
    outputs = [node.name for node in session.get_outputs()]
    if inputs != [info.input_name] or info.output_name not in outputs:
        raise CheckpointError(
            f"{path}: the graph's inputs {inputs} and outputs {outputs} are not the {info.input_name!r} -> "
            f"{info.output_name!r} its sidecar names; export the graph again"
        )
    return session
