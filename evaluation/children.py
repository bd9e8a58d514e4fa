"""The step processes a run has started, so that an interrupt can stop every one of them."""
from __future__ import annotations

import subprocess
import threading
from typing import Sequence

from evaluation.tether import tethered

#: Seconds a terminated child gets to exit before it is killed.
TERMINATE_GRACE_S = 10.0


class Children:
    """The processes running now, so that an interrupt can stop every one of them.

    Children stay in the harness's process group: Ctrl-C in a terminal and ``kill -- -PGID``
    reach them too. Each is started through evaluation/tether.py, so that on Linux a harness
    killed outright (SIGKILL) takes its running steps with it; the thread that starts a child
    must wait for it (the kernel's signal follows that thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: set[subprocess.Popen] = set()
        self.stopping = threading.Event()

    def start(self, command: Sequence[str], **popen_options) -> subprocess.Popen:
        """``Popen(command)``, tethered to this process and remembered until ``finished``;
        refused once the run is stopping."""
        with self._lock:
            if self.stopping.is_set():
                raise KeyboardInterrupt("the run is stopping")
            process = subprocess.Popen(tethered(command), **popen_options)
            self._running.add(process)
            return process

    def finished(self, process: subprocess.Popen) -> None:
        with self._lock:
            self._running.discard(process)

    def stop_all(self) -> None:
        """SIGTERM every running child, SIGKILL what is left after the grace period."""
        self.stopping.set()
        with self._lock:
            running = list(self._running)
        for process in running:
            process.terminate()
        for process in running:
            try:
                process.wait(TERMINATE_GRACE_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
