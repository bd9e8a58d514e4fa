"""The writer thread of ``embed``: jobs in order, the first error raised in the caller's thread."""
from __future__ import annotations

import threading

import pytest

from hear_byols.extract.writer import BackgroundWriter
from hear_byols.errors import StorageError


def test_jobs_run_in_order_on_one_other_thread() -> None:
    done: list[tuple[int, str]] = []
    writer = BackgroundWriter(lambda i: done.append((i, threading.current_thread().name)))
    for i in range(100):
        writer.submit(i)
    writer.close()
    assert [i for i, _ in done] == list(range(100)) and {name for _, name in done} == {"hear-byols-writer"}


def test_the_first_error_stops_later_jobs_and_reaches_the_caller() -> None:
    done: list[int] = []

    def job(i: int) -> None:
        if i == 3:
            raise StorageError("disk full")
        done.append(i)

    writer = BackgroundWriter(job)
    with pytest.raises(StorageError, match="disk full"):
        for i in range(50):
            writer.submit(i)
        writer.close()
    writer.drain()
    assert done == [0, 1, 2]


def test_drain_waits_without_raising() -> None:
    writer = BackgroundWriter(lambda: 1 / 0)
    writer.submit()
    writer.drain()  # e.g. in a finally block while Ctrl-C propagates
    writer.drain()
