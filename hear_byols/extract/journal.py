"""``OUT/.hear-byols-journal.jsonl``: the provenance of every output, recorded as it is written.

``index.json`` is a report written at the end of a run; a run killed by SIGKILL or the OOM
killer never writes it. The journal is appended (and flushed to disk) right after each file's
outputs are renamed into place, so the next run knows which run, model, weights hash and
options made every output. A line is a run header (``{"run": {...}}``) or a written file
(``{"file": row, "run": id, "stats": {output: [size, mtime_ns]}}``); an output counts as
recorded only while its size and mtime still match, so a file rewritten by a run that died
before recording it is never taken for the recorded one. A torn last line (killed mid-write)
is ignored.

Each shard appends to its own journal (``.hear-byols-journal.shard-I-of-N.jsonl``; unsharded:
the name above), so concurrent shards never interleave lines; a run reads all of them. When
several journals record one output, the record that still matches the file wins (the later
run's when both do).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hear_byols.extract.row_schema import row_problem
from hear_byols.errors import StorageError, UsageError

JOURNAL_NAME = ".hear-byols-journal.jsonl"
_JOURNAL_GLOB = ".hear-byols-journal*.jsonl"


def journal_name(file_tag: str) -> str:
    """The journal a run appends to: ``file_tag`` is its shard's (``Shard.file_tag``)."""
    return f".hear-byols-journal{file_tag}.jsonl"


@dataclass
class Journal:
    """Run headers by id, and the last record of each output set (keyed by its first output)."""

    out_dir: Path
    #: the file this process appends to
    name: str = JOURNAL_NAME
    runs: dict[int, dict[str, Any]] = field(default_factory=dict)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)

    def recorded(self, outputs: list[str]) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """The row that recorded ``outputs`` and its run's settings, if the files are unchanged."""
        entry = self.files.get(outputs[0])
        if entry is None or sorted(entry["stats"]) != sorted(outputs) or not self._unchanged(entry):
            return None
        return entry["file"], self.runs[entry["run"]]["settings"]

    def valid_entries(self) -> list[dict[str, Any]]:
        """Records whose outputs are still on disk as they were written."""
        return [entry for entry in self.files.values() if self._unchanged(entry)]

    def add_run(self, run: dict[str, Any]) -> None:
        self._append({"run": run})
        self.runs[run["id"]] = run

    def add_file(self, run_id: int, row: dict[str, Any]) -> None:
        """Record ``row`` (its ``outputs`` just written) as made by run ``run_id``."""
        entry = {"file": row, "run": run_id, "stats": {name: _stat(self.out_dir / name) for name in row["outputs"]}}
        self._append(entry)
        self.files[row["outputs"][0]] = entry

    def _unchanged(self, entry: dict[str, Any]) -> bool:
        return all(_stat(self.out_dir / name) == stat for name, stat in entry["stats"].items())

    def _append(self, record: dict[str, Any]) -> None:
        path = self.out_dir / self.name
        try:
            with open(path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(record) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            raise StorageError(
                f"cannot record provenance in {path} ({exc.strerror or exc}); free space or make {self.out_dir} "
                "writable, then rerun: outputs already recorded are skipped"
            ) from None


def read_journal(out_dir: Path, name: str = JOURNAL_NAME) -> Journal:
    """Every journal of ``out_dir`` (empty when there is none), appending to ``name``; a damaged
    one is a usage error."""
    journal = Journal(out_dir, name)
    entries: list[dict[str, Any]] = []
    for path in sorted(out_dir.glob(_JOURNAL_GLOB)):
        entries += _read_lines(path, journal.runs)
    for entry in sorted(entries, key=lambda entry: entry["run"]):
        key = entry["file"]["outputs"][0]
        previous = journal.files.get(key)
        if previous is None or journal._unchanged(entry) or not journal._unchanged(previous):
            journal.files[key] = entry
    return journal


def _read_lines(path: Path, runs: dict[int, dict[str, Any]]) -> list[dict[str, Any]]:
    """File records of one journal, in order; its run headers go into ``runs``."""
    records = []
    lines = path.read_text(encoding="utf-8").split("\n")
    for number, line in enumerate(lines[:-1], 1):  # lines[-1]: "" or a line torn by a kill
        try:
            record = json.loads(line)
            if "run" in record and "file" not in record:
                runs[int(record["run"]["id"])] = record["run"]
            else:
                _check_file_record(record, runs)
                records.append(record)
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            raise UsageError(
                f"{path}, line {number}, is damaged ({exc}); move {path.parent} away or use another --out directory"
            ) from None
    return records


def _check_file_record(record: dict[str, Any], runs: dict[int, Any]) -> None:
    if record["run"] not in runs:
        raise ValueError(f"refers to unknown run {record['run']!r}")
    if not isinstance(record["stats"], dict) or not all(isinstance(v, list) for v in record["stats"].values()):
        raise ValueError("stats must map output names to [size, mtime_ns]")
    problem = row_problem(record["file"])
    if problem:
        raise ValueError(problem)
    if sorted(record["stats"]) != sorted(record["file"]["outputs"]):
        raise ValueError("stats and outputs name different files")


def _stat(path: Path) -> list[int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return [stat.st_size, stat.st_mtime_ns]
