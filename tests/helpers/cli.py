"""The ``hear-byols embed`` command run in the test's own process (fast, and monkeypatchable)."""
from __future__ import annotations

import functools
from pathlib import Path
from typing import Callable

from hear_byols.cli import main


def embed(model: str, weights: Path, *args: str | Path, quiet: bool = True) -> int:
    """``hear-byols embed --model MODEL --weights WEIGHTS [--quiet] ARGS``: its exit status."""
    return main(["embed", "--model", model, "--weights", str(weights), *(["--quiet"] if quiet else []), *map(str, args)])


def embed_with(model: str, *, quiet: bool = True) -> Callable[..., int]:
    """``embed`` bound to a test module's model: ``embed_with(MODEL)(weights, *args)``."""
    return functools.partial(embed, model, quiet=quiet)
