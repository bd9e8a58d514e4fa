"""Where an export goes: the checks made before any work, and the atomic write of both files.

The graph and its sidecar are staged as temporary files in the destination's folder and renamed
together (``atomic_write_all``): a full disk, a kill or any failure leaves neither a half-written
``.onnx`` nor a sidecar describing another graph. The folder must exist and be writable: an
export takes a while, and finding out at the end that it cannot be written wastes it.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from hear_byols.errors import StorageError, UsageError
from hear_byols.storage.atomic import atomic_write_all, json_bytes

SIDECAR_SUFFIX = ".json"


def sidecar_path(graph: Path) -> Path:
    """``model.onnx`` -> ``model.onnx.json``."""
    return graph.with_name(graph.name + SIDECAR_SUFFIX)


def check_out_path(out: Path) -> Path:
    """``out`` if a graph can be written there, else a UsageError saying why."""
    if str(out) in ("", ".") or out.name in ("", ".", ".."):
        raise UsageError(f"--out {str(out)!r} names no file; give the graph's file name, e.g. --out model.onnx")
    if out.is_dir():
        raise UsageError(f"--out {out} is a directory; name the graph file inside it, e.g. {out / 'model.onnx'}")
    folder = out.parent
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"--out {out}: {folder} is a file, not a folder; choose a path in a folder")
    if not folder.is_dir():
        raise UsageError(f"--out {out}: the folder {folder} does not exist; create it first or choose another path")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"--out {out}: the folder {folder} is not writable; choose a writable folder")
    for path in (out, sidecar_path(out)):
        if path.exists() and not path.is_file():
            raise UsageError(f"--out {out}: {path} exists and is not a regular file; remove it or choose another path")
    return out


def stats_file_of(normalization: Any) -> Path | None:
    """The statistics file a ``normalization`` option names (``hear-byols stats`` output), if any."""
    if isinstance(normalization, (str, os.PathLike)) and str(normalization).endswith(".json"):
        path = Path(normalization)
        return path if path.is_file() else None
    return None


def write_graph_and_sidecar(out: Path, graph: bytes, sidecar: dict[str, Any]) -> Path:
    """Write ``out`` and its sidecar together, atomically; returns the sidecar's path."""
    side = sidecar_path(out)
    text = json_bytes(sidecar)
    try:
        atomic_write_all([(out, lambda fh: fh.write(graph)), (side, lambda fh: fh.write(text))], suffix=".partial")
    except OSError as exc:
        raise StorageError(
            f"cannot write {out} and {side.name} ({exc.strerror or exc}); nothing was written: free space or "
            "choose another folder, then export again"
        ) from None
    return side
