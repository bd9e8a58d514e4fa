"""``OUT/index.json``: what ``embed`` wrote, from which file, with which model and options.

The index describes the output directory, not one run: rows of earlier runs are kept and a
file embedded again replaces its row. Every row points at the run (model, weights hash,
options, versions) that wrote it, so outputs made by several runs stay traceable. A file
skipped because its output exists keeps the row of the run that wrote it. Mixing settings in
one directory is refused unless ``--overwrite`` (see ``conflicting_settings``), because a
skipped file would then silently hold an embedding of another model or option.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from hear_byols.atomic import atomic_write
from hear_byols.errors import UsageError

INDEX_NAME = "index.json"
FORMAT_VERSION = 1
WRITTEN, SKIPPED, FAILED = "written", "skipped", "failed"
#: Run settings that do not change the numbers, left out when comparing runs.
_NOT_COMPARED = ("weights",)


@dataclass(frozen=True)
class FileRecord:
    """One input file's outcome (paths in ``outputs`` are relative to the output directory)."""

    input: str
    outputs: list[str]
    status: str
    reason: str | None = None
    duration_s: float | None = None
    sample_rate: int | None = None
    channels: int | None = None


def read_index(out_dir: Path) -> dict[str, Any]:
    """The existing index, or an empty one; a damaged index is a usage error, not a guess."""
    path = out_dir / INDEX_NAME
    if not path.is_file():
        return {"format": FORMAT_VERSION, "runs": [], "files": []}
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
        if index.get("format") != FORMAT_VERSION or not isinstance(index.get("runs"), list):
            raise ValueError(f"not a format-{FORMAT_VERSION} hear-byols index")
        return index
    except (ValueError, AttributeError) as exc:
        raise UsageError(f"{path} cannot be read ({exc}); move it away or use another --out directory") from None


def conflicting_settings(index: dict[str, Any], settings: dict[str, Any]) -> list[dict[str, Any]]:
    """Settings of earlier runs in ``index`` that would give other numbers than ``settings``."""
    wanted = _compared(settings)
    return [run["settings"] for run in index["runs"] if _compared(run["settings"]) != wanted]


def merge_index(index: dict[str, Any], run: dict[str, Any], records: list[FileRecord]) -> dict[str, Any]:
    """``index`` with this run's header and rows added (see the module docstring for the rules)."""
    run_id = 1 + max((old["id"] for old in index["runs"]), default=0)
    rows = {row["outputs"][0]: row for row in index["files"]}
    for record in records:
        previous = rows.get(record.outputs[0])
        if record.status == SKIPPED and previous is not None and previous["status"] == WRITTEN:
            continue
        rows[record.outputs[0]] = {**asdict(record), "run": run_id}
    runs = [*index["runs"], {"id": run_id, **run}]
    used = {row["run"] for row in rows.values()}
    return {
        "format": FORMAT_VERSION,
        "runs": [r for r in runs if r["id"] in used or r["id"] == run_id],
        "files": sorted(rows.values(), key=lambda row: row["outputs"][0]),
    }


def write_index(out_dir: Path, index: dict[str, Any]) -> Path:
    """Atomically replace ``OUT/index.json``."""
    path = out_dir / INDEX_NAME
    text = json.dumps(index, indent=2, sort_keys=False) + "\n"
    atomic_write(path, lambda fh: fh.write(text.encode("utf-8")))
    return path


def _compared(settings: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in settings.items() if key not in _NOT_COMPARED}
