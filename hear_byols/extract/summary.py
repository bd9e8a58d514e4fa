"""What one ``embed_files`` run did, as counts a caller can act on (the CLI's exit status is one)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hear_byols.extract.index import FileRecord
from hear_byols.extract.row_schema import FAILED, SKIPPED, WRITTEN


@dataclass(frozen=True)
class Summary:
    """The outcome of this process's share of the files; every file's row is in ``index``."""

    written: int
    skipped: int
    failed: int
    #: seconds of audio embedded (written files only)
    audio_seconds: float
    #: the files this process had to embed (its shard's); ``done`` is less after an interruption
    files: int
    #: ``OUT/index.json``, or this run's index part while other shards of the directory still run
    index: Path
    failures: tuple[FileRecord, ...] = ()

    @property
    def done(self) -> int:
        return self.written + self.skipped + self.failed

    @property
    def ok(self) -> bool:
        """No file failed (``hear-byols embed`` exits with 0 exactly then)."""
        return self.failed == 0


def summarize(records: list[FileRecord], files: int, index: Path) -> Summary:
    """The ``Summary`` of a run that recorded ``records`` out of ``files`` files."""
    counts = {status: sum(record.status == status for record in records) for status in (WRITTEN, SKIPPED, FAILED)}
    return Summary(
        written=counts[WRITTEN], skipped=counts[SKIPPED], failed=counts[FAILED],
        audio_seconds=sum(record.duration_s or 0.0 for record in records if record.status == WRITTEN),
        files=files, index=index, failures=tuple(record for record in records if record.status == FAILED),
    )
