"""Why a training session ends, and stopping it cleanly on SIGTERM (a SLURM time limit,
scancel) or SIGINT (Ctrl-C).

The handler only notes the signal: the loop finishes its step, all processes agree (each adds
its flags to the step's all-reduce, so a signal that reached one rank stops every rank at the
same step), save a checkpoint and exit with 128 + the signal's number. The same signal again
stops at once, unsaved. Data-loading workers ignore both: their process group gets Ctrl-C too, and a
worker dying under the main process would turn a clean stop into a crash.
"""
from __future__ import annotations

import os
import signal
import threading
from collections.abc import Mapping
from types import FrameType
from typing import Any

#: The signals that ask a run to stop with a checkpoint.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
#: How a session ended (besides a signal's name): its step budget done, or ``--max-time`` spent.
COMPLETED, MAX_TIME = "completed", "max_time"


class StopSignals:
    """Within ``with``: SIGTERM/SIGINT set ``received`` instead of killing the process (only in
    the main thread, the one Python delivers signals to; elsewhere nothing changes)."""

    def __init__(self) -> None:
        self.received: signal.Signals | None = None
        self._previous: dict[signal.Signals, Any] = {}

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            self._previous = {number: signal.signal(number, self._note) for number in STOP_SIGNALS}
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._restore()

    def flags(self) -> dict[str, float]:
        """One 0/1 flag per stop signal, by its name, to be summed over the processes."""
        return {number.name: float(self.received == number) for number in STOP_SIGNALS}

    def _note(self, number: int, frame: FrameType | None) -> None:
        if self.received == number:  # asked twice: the previous behaviour, at once (torchrun adds
            self._restore()         # SIGTERM to a Ctrl-C's SIGINT: that is not asking twice)
            signal.raise_signal(number)
            return
        if self.received is not None:
            return
        self.received = signal.Signals(number)
        # os.write: a signal handler must not enter the buffered stderr the interrupted code may hold
        os.write(2, f"\npretrain: {self.received.name} received: saving a checkpoint after this step "
                    f"(send it again to stop at once, unsaved)\n".encode())

    def _restore(self) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, signal.SIG_DFL if handler is None else handler)  # None: set outside Python
        self._previous = {}


def agreed_signal(totals: Mapping[str, float]) -> signal.Signals | None:
    """The stop signal that reached any process (SIGTERM first), from the summed ``flags()``."""
    return next((number for number in STOP_SIGNALS if totals[number.name] > 0), None)


def ignore_stop_signals(worker_id: int) -> None:
    """``worker_init_fn`` of the data loaders: the main process decides when to stop."""
    for number in STOP_SIGNALS:
        signal.signal(number, signal.SIG_IGN)


def exit_status(stopped_by: str) -> int:
    """0 for a session that ended as asked; 128 + the signal's number (130, 143) for a signal."""
    if stopped_by in (COMPLETED, MAX_TIME):
        return 0
    return 128 + signal.Signals[stopped_by].value
