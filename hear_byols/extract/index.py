"""``OUT/index.json``: what ``embed`` wrote, from which file, with which model and options.

The index describes the output directory, not one run: rows of earlier runs are kept and a
file embedded again replaces its row. Every row points at the run (model, weights hash,
options, versions) that wrote it, so outputs made by several runs stay traceable. A file
skipped because its output exists keeps the row of the run that wrote it. Mixing settings in
one directory is refused unless ``--overwrite`` (see ``conflicting_settings``), because a
skipped file would then silently hold an embedding of another model or option. Runs killed
before writing the index are recovered from the provenance journal (``journal.py``).

Every run first writes its own part, ``OUT/index.run-<id>.part.json`` (its header and rows);
the run that finishes while no other shard of the directory is alive merges the index, the
parts and what the journals recorded of killed runs into ``index.json`` and deletes the parts
(``hear-byols index merge OUT`` does the same by hand). Rows are merged in run-id order.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, NamedTuple

from hear_byols.storage.atomic import atomic_write_json
from hear_byols.extract.journal import Journal
from hear_byols.extract.row_schema import SKIPPED, WRITTEN, row_problem
from hear_byols.errors import StorageError, UsageError
from hear_byols.extract.identity import FileIdentity

INDEX_NAME = "index.json"
_PART_PATTERN = "index.run-*.part.json"
FORMAT_VERSION = 1
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
    resampled: bool | None = None
    downmixed: bool | None = None
    #: sha256 of each output as written, by output name (``verify-embeddings`` re-hashes them)
    sha256: dict[str, str] | None = None
    #: the input as it was read (``hear_byols.extract.identity``): an output is valid only while the input
    #: holds the same bytes; rows of versions that did not record them have None
    input_size: int | None = None
    input_mtime_ns: int | None = None
    input_sha256: str | None = None


def input_fields(identity: FileIdentity) -> dict[str, Any]:
    """The ``FileRecord`` fields that record ``identity``."""
    return {"input_size": identity.size, "input_mtime_ns": identity.mtime_ns, "input_sha256": identity.sha256}


def recorded_input(row: dict[str, Any]) -> FileIdentity | None:
    """The input identity a row records; None for rows written before inputs were recorded."""
    if row.get("input_sha256") is None:
        return None
    return FileIdentity(row["input_size"], row["input_mtime_ns"], row["input_sha256"])


def read_index(out_dir: Path) -> dict[str, Any]:
    """The existing index, or an empty one; a damaged index is a usage error, not a guess."""
    path = out_dir / INDEX_NAME
    if not path.is_file():
        return {"format": FORMAT_VERSION, "runs": [], "files": []}
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
        _check_shape(index)
        return index
    except (ValueError, AttributeError, TypeError) as exc:
        raise UsageError(f"{path} cannot be read ({exc}); move it away or use another --out directory") from None


def _check_shape(index: Any) -> None:
    """Every type the merge relies on, checked before any work (not found after an hour)."""
    if not isinstance(index, dict) or index.get("format") != FORMAT_VERSION:
        raise ValueError(f"not a format-{FORMAT_VERSION} hear-byols index")
    runs, files = index.get("runs"), index.get("files")
    if not isinstance(runs, list) or not all(_is_run_header(run) for run in runs):
        raise ValueError('"runs" must be a list of {"id": int, "settings": {...}}')
    ids = {run["id"] for run in runs}
    if not isinstance(files, list):
        raise ValueError('"files" must be a list of rows')
    for number, row in enumerate(files, 1):
        problem = row_problem(row) or (None if row.get("run") in ids else '"run" must name one of "runs"')
        if problem:
            raise ValueError(f"file row {number}: {problem}")


def _is_run_header(run: Any) -> bool:
    return isinstance(run, dict) and type(run.get("id")) is int and isinstance(run.get("settings"), dict)


_RECORD_FIELDS = {field.name for field in fields(FileRecord)}


def _part_record(row: Any) -> FileRecord:
    """A part's row as a ``FileRecord``; ValueError saying what is wrong with it."""
    problem = row_problem(row)
    unknown = sorted(set(row) - _RECORD_FIELDS) if problem is None else []
    if problem or unknown:
        raise ValueError(problem or f"unknown field(s) {', '.join(unknown)}")
    return FileRecord(**row)


def next_run_id(index: dict[str, Any], journal: Journal) -> int:
    """A run id not used by the index nor the journal."""
    return 1 + max([run["id"] for run in index["runs"]] + list(journal.runs), default=0)


def part_path(out_dir: Path, run_id: int) -> Path:
    return out_dir / f"index.run-{run_id}.part.json"


def write_part(out_dir: Path, run: dict[str, Any], records: list[FileRecord]) -> Path:
    """Atomically write this run's part of the index."""
    return write_json(part_path(out_dir, run["id"]), {"format": FORMAT_VERSION, "run": run,
                                                       "files": [asdict(record) for record in records]})


def combined_index(out_dir: Path, journal: Journal) -> tuple[dict[str, Any], list[Path]]:
    """``index.json`` plus every run it lacks, in run-id order: from the run's part, else (a
    killed run) from the journal; and the parts used."""
    index, parts = read_index(out_dir), _read_parts(out_dir)
    known = {run["id"] for run in index["runs"]}
    for run_id in sorted((set(journal.runs) | set(parts)) - known):
        if run_id in parts:
            run, records = parts[run_id].run, parts[run_id].records
        else:
            run = journal.runs[run_id]
            records = [FileRecord(**entry["file"]) for entry in journal.valid_entries() if entry["run"] == run_id]
        if records or run_id in parts:
            index = merge_index(index, run, records)
    return index, [part.path for part in parts.values()]


def parts_pending(out_dir: Path) -> bool:
    """Whether runs' index parts wait to be merged into ``index.json``."""
    return any(out_dir.glob(_PART_PATTERN))


def merge_parts(out_dir: Path, journal: Journal) -> Path:
    """Write the combined index as ``index.json``, then delete the parts it holds; the caller
    holds the index lock (``outdir.Claim.index_section``)."""
    index, parts = combined_index(out_dir, journal)
    path = write_index(out_dir, index)
    for part in parts:
        part.unlink(missing_ok=True)
    return path


class _Part(NamedTuple):
    path: Path
    run: dict[str, Any]
    records: list[FileRecord]


def _read_parts(out_dir: Path) -> dict[int, _Part]:
    """The index parts in ``out_dir`` by run id; a damaged one is a usage error."""
    parts = {}
    for path in out_dir.glob(_PART_PATTERN):
        try:
            part = json.loads(path.read_text(encoding="utf-8"))
            run, rows = part["run"], part["files"]
            if part.get("format") != FORMAT_VERSION or not _is_run_header(run) or not isinstance(rows, list):
                raise ValueError(f'not a format-{FORMAT_VERSION} index part ({{"run": {{"id": int, "settings": {{...}}}}, '
                                 '"files": [...]})')
            records = []
            for number, row in enumerate(rows, 1):
                try:
                    records.append(_part_record(row))
                except ValueError as exc:
                    raise ValueError(f"file row {number}: {exc}") from None
            parts[run["id"]] = _Part(path, run, records)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise UsageError(f"{path} cannot be read ({exc}); move it away and rerun (its run's written files "
                             "are recovered from the journal)") from None
    return parts


def conflicting_settings(index: dict[str, Any], journal: Journal, settings: dict[str, Any]) -> list[str]:
    """How earlier runs with outputs in the directory differ from ``settings`` (``"model: 'cvt'
    recorded, 'default' now"``), one line per differing run."""
    recorded = [run["settings"] for run in index["runs"]]
    recorded += [journal.runs[entry["run"]]["settings"] for entry in journal.valid_entries()]
    conflicts = []
    for old in recorded:
        differences = settings_differences(old, settings)
        if differences and differences not in conflicts:
            conflicts.append(differences)
    return conflicts


def settings_differences(old: dict[str, Any], new: dict[str, Any]) -> str:
    """``"model: 'cvt' recorded, 'default' now; ..."`` for the settings that change the numbers; "" when none."""
    old, new = _compared(old), _compared(new)
    keys = sorted(set(old) | set(new))
    return "; ".join(f"{key}: {old.get(key)!r} recorded, {new.get(key)!r} now" for key in keys if old.get(key) != new.get(key))


def merge_index(index: dict[str, Any], run: dict[str, Any], records: list[FileRecord]) -> dict[str, Any]:
    """``index`` with ``run`` (its header, with its ``id``) and its rows added (see the module
    docstring for the rules)."""
    run_id = run["id"]
    rows = {row["outputs"][0]: row for row in index["files"]}
    for record in records:
        previous = rows.get(record.outputs[0])
        if record.status == SKIPPED and previous is not None and previous["status"] == WRITTEN:
            continue
        rows[record.outputs[0]] = {**asdict(record), "run": run_id}
    runs = [*[r for r in index["runs"] if r["id"] != run_id], run]
    used = {row["run"] for row in rows.values()}
    return {
        "format": FORMAT_VERSION,
        "runs": [r for r in runs if r["id"] in used or r["id"] == run_id],
        "files": sorted(rows.values(), key=lambda row: row["outputs"][0]),
    }


def write_index(out_dir: Path, index: dict[str, Any]) -> Path:
    """Atomically replace ``OUT/index.json``."""
    return write_json(out_dir / INDEX_NAME, index)


def write_json(path: Path, content: dict[str, Any]) -> Path:
    """Atomically write ``content`` as JSON; StorageError (with the fix) when the disk refuses."""
    try:
        atomic_write_json(path, content)
    except OSError as exc:
        raise StorageError(
            f"cannot write {path} ({exc.strerror or exc}); free space on that disk and rerun the same command: "
            "the outputs written are recorded in its journal and will be skipped"
        ) from None
    return path


def same_settings(a: dict[str, Any] | None, b: dict[str, Any]) -> bool:
    """Whether two runs' settings give the same numbers (``a`` None: nothing recorded)."""
    return a is not None and _compared(a) == _compared(b)


def _compared(settings: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in settings.items() if key not in _NOT_COMPARED}
