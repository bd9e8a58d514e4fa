"""A labelled corpus -> speaker-independent scores: SERAB's classifier protocol and an honest default
(docs/PROBE.md). ``run`` is imported on first use: scikit-learn and the engine load only then."""
from __future__ import annotations

from typing import Any

__all__ = ["run"]


def __getattr__(name: str) -> Any:
    if name == "run":
        from hear_byols.probe.run import run

        return run
    raise AttributeError(f"module 'hear_byols.probe' has no attribute {name!r}")
