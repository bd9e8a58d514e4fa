"""What ``embed`` tells while it runs: the shard line, two tqdm bars (files, seconds of audio) on
a terminal or one log line per file otherwise, and the summary.

Everything goes to the ``hear_byols.extract`` logger (``LOG``), so the engine never prints: the
CLI shows that logger on stderr, a Python caller sees it as it configures logging. Log files and
CI output get one plain line per file instead of bar redraws; ``quiet`` keeps only the shard
line and the summary.
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path

from tqdm import tqdm

from hear_byols.audio.files import audio_duration_s
from hear_byols.audio.inputs import InputFile
from hear_byols.distributed import Shard
from hear_byols.exits import printable
from hear_byols.extract.row_schema import FAILED
from hear_byols.extract.summary import Summary

#: The engine's logger; the CLI adds a stderr handler to it for each command.
LOG = logging.getLogger("hear_byols.extract")


class Progress:
    """Reports each finished file; ``close()`` when done."""

    def __init__(self, items: list[InputFile], *, quiet: bool) -> None:
        self._total = len(items)
        self._done = 0
        self._quiet = quiet
        self._bars: list[tqdm] = []
        self._seconds: dict[Path, float] = {}
        if not quiet and sys.stderr.isatty():
            self._seconds = {item.path: audio_duration_s(item.path) for item in items}  # headers only: cheap
            self._bars = [
                tqdm(total=self._total, desc="files", unit="file", file=sys.stderr, position=0),
                tqdm(total=round(sum(self._seconds.values()), 1), desc="audio", unit="s", file=sys.stderr, position=1),
            ]

    def file_done(self, item: InputFile, status: str, detail: str) -> None:
        """``detail``: the outputs written, or the reason of a skip or failure."""
        self._done += 1
        message = printable(f"[{self._done}/{self._total}] {status} {item.path}: {detail}")
        if self._bars:
            files, audio = self._bars
            files.update(1)
            audio.update(round(self._seconds[item.path], 1))
            if status == FAILED:
                tqdm.write(message, file=sys.stderr)
        elif not self._quiet:
            LOG.log(logging.WARNING if status == FAILED else logging.INFO, message)

    def close(self) -> None:
        for bar in self._bars:
            bar.close()


def report_shard(shard: Shard, source: str, owned: int, listed: int) -> None:
    """Which files this process embeds and why, before any work (also when quiet)."""
    if shard.count == 1:
        LOG.info(f"hear-byols embed: every file ({source}): {listed} files")
    else:
        LOG.info(f"hear-byols embed: shard {shard.label} ({owned} of {listed} files) from {source}")


def report_summary(summary: Summary) -> None:
    """The counts and the index, then each failure with its reason (also when interrupted)."""
    interrupted = "" if summary.done == summary.files else f", interrupted after {summary.done} of {summary.files} files"
    LOG.info(printable(
        f"hear-byols embed: {summary.written} written, {summary.skipped} skipped, {summary.failed} failed "
        f"({summary.audio_seconds:.1f} s of audio embedded{interrupted}); index: {summary.index}"
    ))
    if summary.failures:
        LOG.info(f"failed ({len(summary.failures)}):")
        for record in summary.failures:
            LOG.info(printable(f"  {record.input}: {record.reason}"))
