"""Write files so that a reader (or the next run's skip check) never sees a partial one.

Bytes go to a temporary file in the destination's directory, then ``os.replace`` renames it
into place: on one file system the rename is atomic, so a process killed mid-write leaves either
the old file or none, never a truncated ``.npy`` that a later run would skip as done, nor a
half-downloaded checkpoint. Used by the CLI's outputs, the weights download, pretraining's run
folder and the evaluation ledger (``atomic_write_json``: every JSON file written whole).
"""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np

from hear_byols.errors import UsageError


def atomic_write(
    path: Path,
    write: Callable[[IO[bytes]], None],
    *,
    check: Callable[[Path], None] | None = None,
    suffix: str = ".tmp",
) -> None:
    """Create ``path`` (and its parents) with what ``write`` puts into the open file.

    ``check(temporary_path)`` runs on the complete file before the rename and may raise to
    discard it (a download that fails its hash); the temporary file never outlives the call.
    """
    with _staged(path, write, suffix) as temporary:
        if check is not None:
            check(temporary)
        os.replace(temporary, path)


def atomic_write_all(files: Sequence[tuple[Path, Callable[[IO[bytes]], None]]], *, suffix: str = ".tmp") -> None:
    """Create several files that belong together: every one is written to its temporary first,
    then all are renamed, in the given order. A failure while writing (a full disk) replaces
    none of them, so they never hold two different versions."""
    with contextlib.ExitStack() as stack:
        staged = [(stack.enter_context(_staged(path, write, suffix)), path) for path, write in files]
        for temporary, path in staged:
            os.replace(temporary, path)


@contextlib.contextmanager
def _staged(path: Path, write: Callable[[IO[bytes]], None], suffix: str) -> Iterator[Path]:
    """A complete temporary beside ``path`` holding what ``write`` wrote; removed on exit unless renamed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    out = tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=suffix, delete=False)
    temporary = Path(out.name)
    try:
        with out:
            write(out)
        temporary.chmod(0o644)  # temporary files are created private; outputs are ordinary files
        yield temporary
    finally:
        temporary.unlink(missing_ok=True)


def save_npy(path: Path, array: np.ndarray) -> None:
    """``np.save`` made atomic."""
    atomic_write(path, lambda fh: np.save(fh, array))


def json_bytes(
    obj: Any, *, indent: int | None = 2, sort_keys: bool = False, default: Callable[[Any], Any] | None = None,
    end: str = "\n",
) -> bytes:
    """``obj`` as JSON text (ASCII: non-ASCII characters escaped) followed by ``end``."""
    return (json.dumps(obj, indent=indent, sort_keys=sort_keys, default=default) + end).encode("ascii")


def atomic_write_json(
    path: Path, obj: Any, *, indent: int | None = 2, sort_keys: bool = False,
    default: Callable[[Any], Any] | None = None, end: str = "\n",
) -> None:
    """Write ``obj`` to ``path`` as JSON (``json_bytes``), atomically: readers (another shard, a
    resumed run) see the old file or the new one, never half of one."""
    data = json_bytes(obj, indent=indent, sort_keys=sort_keys, default=default, end=end)
    atomic_write(path, lambda fh: fh.write(data))


def create_out_dir(out: Path) -> None:
    """Create a command's ``--out`` folder, or say why it cannot be one (UsageError): a file
    there, or no permission to create it."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file, not a directory; name a directory (it is created if missing)")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create --out {out} ({exc.strerror or exc}); name a writable directory") from None
