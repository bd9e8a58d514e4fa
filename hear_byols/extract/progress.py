"""Progress of ``embed``: two tqdm bars (files, seconds of audio) on a terminal, log lines otherwise.

Log files and CI output get one plain line per file instead of bar redraws; ``--quiet``
keeps only the final summary.
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path

from tqdm import tqdm

from hear_byols.audio.files import audio_duration_s
from hear_byols.cli import printable
from hear_byols.extract.row_schema import FAILED
from hear_byols.audio.inputs import InputFile

log = logging.getLogger("hear_byols.cli")


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
            log.log(logging.WARNING if status == FAILED else logging.INFO, message)

    def close(self) -> None:
        for bar in self._bars:
            bar.close()
