"""Exit statuses and the one error line of every entry point: ``hear-byols``, ``python -m
hear_byols.pretraining`` and ``python -m evaluation``.

The package's own errors (``hear_byols.errors``, and evaluation's, which derive from them) end a
command with one line, ``prog: error: message``, and a status a batch script can test. Anything
else is a bug and keeps its traceback: turning it into a one-line message would hide where it is.
"""
from __future__ import annotations

import sys

from hear_byols.errors import HearByolsError, InvalidOptionError, UsageError

#: A file, a step or a download failed, or the model could not be loaded.
FAILURE = 1
#: A bad option or argument, reported before any work (argparse's status for the same).
USAGE_ERROR = 2
#: 128 + SIGINT's number, as the shell reports Ctrl-C (a pretraining run stopped by a signal saves first,
#: then exits with 128 + that signal's number: hear_byols.pretraining.stopping).
INTERRUPTED = 130
#: What an entry point catches and hands to ``report``; everything else propagates.
HANDLED = (HearByolsError, KeyboardInterrupt)


def exit_status(error: HearByolsError | KeyboardInterrupt) -> int:
    """The status that ends a command on ``error``."""
    if isinstance(error, KeyboardInterrupt):
        return INTERRUPTED
    return USAGE_ERROR if isinstance(error, (UsageError, InvalidOptionError)) else FAILURE


def report(prog: str, error: HearByolsError | KeyboardInterrupt, *, interrupted: str = "") -> int:
    """Print ``prog: error: message`` (Ctrl-C: ``prog: interrupted[: what became of the work]``)
    on stderr; returns the exit status."""
    if isinstance(error, KeyboardInterrupt):
        print(f"{prog}: interrupted{': ' + interrupted if interrupted else ''}", file=sys.stderr)
    else:
        print_error(prog, str(error))
    return exit_status(error)


def print_error(prog: str, message: str) -> None:
    """The error line of a command, printable whatever file names it holds."""
    print(printable(f"{prog}: error: {message}"), file=sys.stderr)


def printable(text: str) -> str:
    """``text`` with the bytes of non-UTF-8 file names (surrogate escapes, as Python decodes them)
    shown as ``\\xe9``: a stderr that is not lenient would raise on them, mid-run."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
