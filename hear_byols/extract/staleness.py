"""Whether an embedding recorded as written still stands: its outputs as written, its input as read.

One answer for two questions: ``embed`` skips a file only when its record stands, and
``verify-embeddings`` reports where one does not. So everything verify reports is recomputed
by a plain rerun of the same command; ``--overwrite`` is never needed for a repair.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from hear_byols.extract.index import recorded_input
from hear_byols.weights import sha256_of


def output_problems(out_dir: Path, row: dict[str, Any]) -> list[str]:
    """``"NAME: what is wrong"`` for each output of ``row`` missing or unlike its recorded sha256."""
    hashes = row.get("sha256") or {}
    return [f"{name}: {problem}" for name, expected in hashes.items()
            if (problem := _output_problem(out_dir / name, expected)) is not None]


def _output_problem(path: Path, expected: str) -> str | None:
    if not path.is_file():
        return "missing"
    try:
        found = sha256_of(path)
    except OSError as exc:
        return f"unreadable ({exc.strerror or exc})"
    return None if found == expected else "changed since it was written (sha256 differs)"


def input_change(row: dict[str, Any], path: Path) -> str | None:
    """How the input at ``path`` differs from the one ``row`` was computed from (None: the same
    bytes); call only for rows that record their input (``recorded_input``)."""
    recorded = recorded_input(row)
    assert recorded is not None, "a row without a recorded input cannot be compared"
    try:
        return recorded.changes_to(path)
    except OSError as exc:
        return f"unreadable: {exc.strerror or exc}"


def still_stands(out_dir: Path, row: dict[str, Any], path: Path) -> bool:
    """Whether ``row``'s outputs can be kept for the input at ``path``: both are provably the bytes
    recorded. A row of a version that did not record hashes or its input proves nothing."""
    return (
        bool(row.get("sha256"))
        and recorded_input(row) is not None
        and not output_problems(out_dir, row)
        and input_change(row, path) is None
    )
