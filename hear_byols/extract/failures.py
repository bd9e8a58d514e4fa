"""Which errors of one file ``embed`` records and goes on from, and the reason it records.

A failed file must not stop a batch of thousands; but an error that will fail every file
after it (a sticky CUDA error leaves the context unusable) stops the run instead of being
recorded once per remaining file.
"""
from __future__ import annotations

import torch

from hear_byols.errors import DeviceError, HearByolsError

#: Errors that concern one file: recorded, and the run goes on. Anything else is a bug and stops it.
FILE_ERRORS = (HearByolsError, OSError, MemoryError, RuntimeError)
_STICKY_CUDA = ("CUDA error", "device-side assert", "illegal memory access")
_HINTS = {
    "scene": "a scene embedding encodes the whole file at once (its memory grows with the length): "
    "split long files, or use --timestamps, whose memory does not grow with the length",
    "timestamps": "timestamp frames are encoded in bounded chunks, but the (T, D) output grows with the "
    "length: split very long files or use a larger --hop",
}


def failure_reason(exc: BaseException, path: str, *, timestamps: bool, device: torch.device) -> str:
    """The reason recorded for the file; raises DeviceError for errors no later file can escape."""
    message = str(exc).removeprefix(f"{path}: ")
    if isinstance(exc, HearByolsError):
        return message
    if isinstance(exc, RuntimeError) and any(marker in message for marker in _STICKY_CUDA):
        raise DeviceError(
            f"{path}: {type(exc).__name__}: {message}\nThe GPU is left unusable by this error, so the run stopped "
            "(the files done so far are recorded and will be skipped). Rerun the same command in a new process; "
            "if it recurs on this file, rerun with --device cpu"
        ) from exc
    if _is_out_of_memory(exc, message):
        if device.type == "cuda":
            torch.cuda.empty_cache()  # give the next file the memory this one could not use
        message += f"; {_HINTS['timestamps' if timestamps else 'scene']}"
    return f"{type(exc).__name__}: {message}"


def _is_out_of_memory(exc: BaseException, message: str) -> bool:
    return isinstance(exc, (MemoryError, torch.OutOfMemoryError)) or "allocate" in message or "out of memory" in message
