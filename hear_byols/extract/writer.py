"""Run the output writes of ``embed`` on one background thread, in order.

Each file's outputs are renamed into place and then journaled with an ``fsync`` (journal.py):
about 4 ms per file on this project's CI disks, a third of the encoder's time on a 5 s clip.
The fsync waits for the disk, not the CPU, so a writer thread hides it behind the next file's
compute. Jobs run in submission order, one at a time, exactly as before (write, rename,
journal); at most ``MAX_QUEUED`` wait, so memory stays bounded. The first exception a job raises
stops later jobs and is raised again by ``submit``/``close`` in the caller's thread.
"""
from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

#: Jobs waiting for the writer thread at most (each holds one file's embeddings).
MAX_QUEUED = 16


class BackgroundWriter:
    """Runs ``job(*args)`` calls on one thread, in submission order."""

    def __init__(self, job: Callable[..., None]) -> None:
        self._job = job
        self._queue: queue.Queue[tuple[Any, ...] | None] = queue.Queue(maxsize=MAX_QUEUED)
        self._error: BaseException | None = None
        self._error_raised = False
        self._thread = threading.Thread(target=self._loop, name="hear-byols-writer", daemon=True)
        self._thread.start()

    def submit(self, *args: Any) -> None:
        """Queue a job (blocks while ``MAX_QUEUED`` wait); raises an earlier job's exception."""
        self._raise_error()
        self._queue.put(args)

    def close(self) -> None:
        """Wait for every queued job; raises the first exception one raised."""
        self.drain()
        self._raise_error()

    def drain(self) -> None:
        """Wait for every queued job, without raising (an exception is already on its way)."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def _raise_error(self) -> None:
        if self._error is not None and not self._error_raised:
            self._error_raised = True  # once; later jobs stay skipped
            raise self._error

    def _loop(self) -> None:
        while (args := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._job(*args)
                except BaseException as exc:  # handed to the caller's thread
                    self._error = exc
