"""Decode and resample the files of ``embed`` ahead of the model, in worker processes.

``read_audio_16k`` (decoding, downmix, soxr resampling) is CPU work that does not need the
model; a torch DataLoader runs it in ``workers`` processes while the main process encodes, and
hands the 16 kHz samples back through shared memory. ``workers=0`` decodes in the calling
process, in turn. Files come back in input order, at most ``2 x workers`` ahead of the model
(DataLoader's prefetch), so memory stays bounded whatever the corpus size. A file that cannot be
read comes back with its exception, to be recorded as that file's failure. Each file's identity
(size, mtime, sha256: ``hear_byols.extract.identity``) is taken before it is decoded and checked after,
so the embedding is known to come from the bytes recorded.

A worker that dies (SIGKILL, as the out-of-memory killer sends) stops the run with a
``WorkerError`` raised by the iteration, so the caller still records the files done and writes
the index. Which file the worker held is not known, so none is blamed. torch's own SIGCHLD
handler would raise the death wherever the main process is at that moment (halfway through
writing an output, the journal or the index), so it is set aside while the files are iterated.
"""
from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset

from hear_byols.audio.files import read_audio_16k
from hear_byols.extract.failures import FILE_ERRORS
from hear_byols.errors import WorkerError
from hear_byols.extract.identity import FileIdentity, identify, require_unchanged


@dataclass(frozen=True)
class Decoded:
    """File ``position`` of the list: its 16 kHz mono samples, what the file was and its identity, or ``error``."""

    position: int
    samples: torch.Tensor | None = None
    source_rate: int | None = None
    channels: int | None = None
    input: FileIdentity | None = None
    error: BaseException | None = None


class _Decoding(Dataset):
    def __init__(self, paths: list[Path]) -> None:
        self.paths = paths

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, position: int) -> Decoded:
        path = self.paths[position]
        try:
            identity = identify(path)
            audio = read_audio_16k(path)
            require_unchanged(path, identity)
        except FILE_ERRORS as exc:
            return Decoded(position, error=exc)
        return Decoded(position, torch.from_numpy(audio.samples), audio.source_rate, audio.channels, identity)


def _as_is(decoded: Decoded) -> Decoded:
    return decoded


def decoded_files(paths: list[Path], workers: int) -> Iterator[Decoded]:
    """Each of ``paths`` decoded, in order (``workers`` processes; 0: in this process, without a
    DataLoader: its per-item bookkeeping cost ~1 ms a file, 8% of a 5 s clip's encoding, measured)."""
    decoding = _Decoding(paths)
    if workers == 0 or not paths:
        return (decoding[position] for position in range(len(paths)))
    return _from_workers(decoding, workers)


def _from_workers(decoding: _Decoding, workers: int) -> Iterator[Decoded]:
    files = iter(DataLoader(decoding, batch_size=None, num_workers=workers, collate_fn=_as_is))  # installs torch's handler
    with _worker_deaths_raised_by_the_iteration_only():
        try:
            yield from files
        except RuntimeError as exc:
            if "DataLoader worker" not in str(exc):
                raise
            raise WorkerError(
                f"a decode worker process died ({exc.args[0].strip()}): killed by a signal, as the out-of-memory "
                "killer does. The files done are recorded; rerun the same command to embed the rest (they are "
                "skipped), with fewer --workers if memory is short (--workers 0 names a file that fails on its own)"
            ) from None


@contextlib.contextmanager
def _worker_deaths_raised_by_the_iteration_only() -> Iterator[None]:
    """Set torch's SIGCHLD handler aside: the DataLoader also polls its workers while it waits (every 5 s)."""
    if not hasattr(signal, "SIGCHLD") or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    try:
        yield
    finally:
        signal.signal(signal.SIGCHLD, previous)
