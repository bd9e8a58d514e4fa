"""Make a step die with the harness: ``python tether.py HARNESS_PID COMMAND...`` runs COMMAND.

A harness killed by SIGKILL (``kill -9``, the OOM killer) cannot stop its steps, and a heareval
step left behind runs on unseen, holding its chain's lock and a GPU. On Linux this launcher asks
the kernel to SIGKILL it when its parent dies (``prctl(PR_SET_PDEATHSIG)``), then replaces itself
with COMMAND (``exec``: same pid, environment and descriptors; the setting survives it). The
kernel sends the signal when the *thread* that started the child ends: the harness waits for
each step in the thread that started it. Elsewhere the steps run untethered, and the owner
record of the chain's lock (evaluation/ledger.py) lets a rerun name a leftover step.

Run by file path with ``-I -S``: the child's working directory is a scratch folder, and the
launcher imports only the standard library, in a few milliseconds.
"""
from __future__ import annotations

import ctypes
import os
import signal
import sys
from pathlib import Path
from typing import Sequence

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def tethered(command: Sequence[str]) -> list[str]:
    """``command`` started through this launcher on Linux, so that it dies with this process."""
    if not sys.platform.startswith("linux"):
        return list(command)
    return [sys.executable, "-I", "-S", str(Path(__file__).resolve()), str(os.getpid()), *command]


def die_with(parent: int) -> None:
    """Have the kernel SIGKILL this process when ``parent`` dies (at once if it already has)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"prctl(PR_SET_PDEATHSIG): {os.strerror(error)}")
    if os.getppid() != parent:  # it died before the request: nobody would stop this step
        os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    die_with(int(sys.argv[1]))
    os.execvp(sys.argv[2], sys.argv[2:])
