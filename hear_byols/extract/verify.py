"""``hear-byols index merge OUT`` and ``hear-byols verify-embeddings OUT``.

``merge`` is what the last shard to finish does on its own; run it by hand after a shard died
for good, or to see the index while no shard is running. ``verify-embeddings`` re-hashes every
output the index records as written (rows from index.json, unmerged parts and killed runs'
journals alike), so a file changed, truncated or deleted since it was written is named, and
re-hashes each recorded input, so an embedding of an input replaced since is named too. What it
names is exactly what a plain rerun of embed recomputes (``staleness.py``).
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from hear_byols.cli import printable
from hear_byols.extract.index import INDEX_NAME, WRITTEN, combined_index, merge_parts, recorded_input
from hear_byols.extract.journal import read_journal
from hear_byols.extract.outdir import index_section, live_shards
from hear_byols.extract.staleness import input_change, output_problems
from hear_byols.errors import UsageError


def merge_index_of(out_dir: Path) -> int:
    """Merge ``out_dir``'s parts and journals into its index.json; UsageError while shards run."""
    _require_out_dir(out_dir)
    with index_section(out_dir):
        running = live_shards(out_dir)
        if running:
            raise UsageError(
                f"shard {running[0].label} is still writing into {out_dir}; the last shard to finish merges the "
                "index itself, or merge once none is running"
            )
        path = merge_parts(out_dir, read_journal(out_dir))
    print(printable(f"hear-byols index: merged {path}"), file=sys.stderr)
    return 0


#: What ``verify-embeddings`` counts about inputs without failing: they cannot be compared.
_NOT_RECORDED = "output(s) whose input was not recorded (older hear-byols): input not checked"
_NOT_FOUND = "input(s) no longer at their recorded path (relative paths are as embed was run): not checked"


def verify_embeddings(out_dir: Path) -> int:
    """0 when every recorded output matches its sha256 and its input still holds the bytes it was
    computed from; 1 naming each missing or changed output and each changed input."""
    _require_out_dir(out_dir)
    index, _ = combined_index(out_dir, read_journal(out_dir))
    if not index["files"]:
        raise UsageError(f"{out_dir} records no outputs ({INDEX_NAME}, index parts, journal): not an embed --out directory")
    written = [row for row in index["files"] if row["status"] == WRITTEN]
    hashed = [row for row in written if row.get("sha256")]
    bad_outputs = [f"  {problem} (from {row['input']})" for row in hashed for problem in output_problems(out_dir, row)]
    changed_inputs, unchecked = _check_inputs(hashed)
    unchanged_inputs = len(hashed) - len(changed_inputs) - sum(unchecked.values())
    unchecked["file(s) written before hashes were recorded, not checked"] = len(written) - len(hashed)
    notes = "".join(f"; {count} {what}" for what, count in unchecked.items() if count)
    outputs = sum(len(row["sha256"]) for row in hashed)
    print(f"hear-byols verify-embeddings: {outputs - len(bad_outputs)} of {outputs} outputs match, "
          f"{unchanged_inputs} input(s) unchanged{notes}", file=sys.stderr)
    problems = bad_outputs + changed_inputs
    if problems:
        print(f"mismatching, missing or from a changed input ({len(problems)}); rerun the same embed command "
              "(no --overwrite needed): it recomputes exactly these", file=sys.stderr)
        print(printable("\n".join(problems)), file=sys.stderr)
        return 1
    return 0


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


def _require_out_dir(out_dir: Path) -> None:
    if not out_dir.is_dir():
        raise UsageError(f"{out_dir} is not a directory; name the --out directory of hear-byols embed")
