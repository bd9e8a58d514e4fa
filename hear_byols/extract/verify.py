"""``verify_embeddings`` (``hear-byols verify-embeddings OUT``): are the outputs still as recorded?

It re-hashes every output the index records as written (rows from index.json, unmerged parts
and killed runs' journals alike), so a file changed, truncated or deleted since it was written is named, and
re-hashes each recorded input, so an embedding of an input replaced since is named too. What it
names is exactly what a plain rerun of embed recomputes (``staleness.py``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hear_byols.extract.index import INDEX_NAME, WRITTEN, combined_index, recorded_input
from hear_byols.extract.journal import read_journal
from hear_byols.extract.outdir import require_out_dir
from hear_byols.extract.staleness import input_change, output_problems
from hear_byols.errors import UsageError


#: What ``verify-embeddings`` counts about inputs without failing: they cannot be compared.
_NOT_RECORDED = "output(s) whose input was not recorded (older hear-byols): input not checked"
_NOT_FOUND = "input(s) no longer at their recorded path (relative paths are as embed was run): not checked"


@dataclass(frozen=True)
class Verification:
    """What ``verify_embeddings`` found; ``problems`` is empty when everything matches."""

    #: outputs recorded with a sha256 (the ones that can be checked)
    outputs: int
    #: ``"  NAME: missing (from INPUT)"``, one line per output missing or changed
    bad_outputs: list[str]
    #: one line per output whose input changed since it was embedded
    changed_inputs: list[str]
    unchanged_inputs: int
    #: what could not be compared, and how many (zero counts included)
    unchecked: dict[str, int]

    @property
    def problems(self) -> list[str]:
        """Exactly what a plain rerun of the same embed recomputes."""
        return self.bad_outputs + self.changed_inputs


def verify_embeddings(out_dir: str | os.PathLike[str]) -> Verification:
    """Re-hash every recorded output of ``out_dir`` and each input it was computed from;
    UsageError when ``out_dir`` is not an embed output directory."""
    out_dir = Path(out_dir)
    require_out_dir(out_dir)
    index, _ = combined_index(out_dir, read_journal(out_dir))
    if not index["files"]:
        raise UsageError(f"{out_dir} records no outputs ({INDEX_NAME}, index parts, journal): not an embed --out directory")
    written = [row for row in index["files"] if row["status"] == WRITTEN]
    hashed = [row for row in written if row.get("sha256")]
    bad_outputs = [f"  {problem} (from {row['input']})" for row in hashed for problem in output_problems(out_dir, row)]
    changed_inputs, unchecked = _check_inputs(hashed)
    unchanged_inputs = len(hashed) - len(changed_inputs) - sum(unchecked.values())
    unchecked["file(s) written before hashes were recorded, not checked"] = len(written) - len(hashed)
    outputs = sum(len(row["sha256"]) for row in hashed)
    return Verification(outputs, bad_outputs, changed_inputs, unchanged_inputs, unchecked)


def _check_inputs(rows: list[dict[str, Any]]) -> tuple[list[str], dict[str, int]]:
    """A line per row whose input changed, and how many inputs could not be compared, and why."""
    changed, unchecked = [], {_NOT_RECORDED: 0, _NOT_FOUND: 0}
    for row in rows:
        path = Path(row["input"])
        if recorded_input(row) is None:
            unchecked[_NOT_RECORDED] += 1
        elif not path.exists():
            unchecked[_NOT_FOUND] += 1
        elif (change := input_change(row, path)) is not None:
            changed.append(f"  {', '.join(row['outputs'])}: changed input {path} ({change}) since it was embedded")
    return changed, unchecked
