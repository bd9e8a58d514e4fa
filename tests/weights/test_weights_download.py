"""Downloads against a real local HTTP server: verification, atomic rename, mirror, offline,
failures, and two processes downloading at once."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from dataclasses import asdict, replace
from pathlib import Path
from collections.abc import Iterator

import pytest

from hear_byols.errors import (
    ChecksumError,
    DownloadError,
    InvalidOptionError,
    StorageError,
    WeightsUnavailableError,
)
from hear_byols.weights import download as download_module
from hear_byols.weights import download_weight_file, sha256_of
from helpers.weights_server import Route, WeightsServer, leftovers, payload, weight_file_for

BODY = payload()
FILE_PATH = "/checkpoints/test-weights.pth"
REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def server() -> Iterator[WeightsServer]:
    with WeightsServer().running() as running:
        running.routes[FILE_PATH] = Route(BODY)
        yield running


def test_download_verifies_and_renames_into_place(server: WeightsServer, tmp_path: Path) -> None:
    wf = weight_file_for(BODY, [server.url(FILE_PATH)])
    path = download_weight_file(wf, tmp_path / "dest", progress=False)
    assert path == tmp_path / "dest" / wf.filename
    assert path.read_bytes() == BODY and sha256_of(path) == wf.sha256
    assert path.stat().st_mode & 0o777 == 0o644
    assert leftovers(path.parent) == []
    assert download_weight_file(wf, tmp_path / "dest", progress=False) == path
    assert server.requests(FILE_PATH) == 1  # the verified file is not fetched again


def test_a_corrupt_file_at_the_destination_is_replaced(server: WeightsServer, tmp_path: Path) -> None:
    wf = weight_file_for(BODY, [server.url(FILE_PATH)])
    (tmp_path / wf.filename).write_bytes(b"junk")
    assert download_weight_file(wf, tmp_path, progress=False).read_bytes() == BODY


def test_mirror_is_tried_first(
    server: WeightsServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.routes["/mirror/test-weights.pth"] = Route(BODY)
    monkeypatch.setenv("HEAR_BYOLS_MIRROR", server.url("/mirror/"))
    wf = weight_file_for(BODY, [server.url(FILE_PATH)])
    download_weight_file(wf, tmp_path, progress=False)
    assert server.requests("/mirror/test-weights.pth") == 1
    assert server.requests(FILE_PATH) == 0


def test_mirror_may_be_a_local_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "share").mkdir()
    (tmp_path / "share" / "test-weights.pth").write_bytes(BODY)
    monkeypatch.setenv("HEAR_BYOLS_MIRROR", (tmp_path / "share").as_uri())
    wf = weight_file_for(BODY, ["http://127.0.0.1:9/unused.pth"])
    assert download_weight_file(wf, tmp_path / "dest", progress=False).read_bytes() == BODY


def test_falls_back_to_the_next_url(server: WeightsServer, tmp_path: Path) -> None:
    server.routes["/broken"] = Route(b"oops", status=500)
    wf = weight_file_for(BODY, [server.url("/broken"), server.url(FILE_PATH)])
    assert download_weight_file(wf, tmp_path, progress=False).read_bytes() == BODY
    assert (server.requests("/broken"), server.requests(FILE_PATH)) == (1, 1)


@pytest.mark.parametrize("value", ["1", "true", "YES"])
def test_offline_mode_says_what_to_fetch_and_where_to_put_it(
    server: WeightsServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("HEAR_BYOLS_OFFLINE", value)
    wf = weight_file_for(BODY, [server.url(FILE_PATH)])
    with pytest.raises(WeightsUnavailableError) as info:
        download_weight_file(wf, tmp_path / "cache", progress=False)
    message = str(info.value)
    for expected in (
        wf.filename,
        server.url(FILE_PATH),
        str(tmp_path / "cache" / wf.filename),
        "HEAR_BYOLS_WEIGHTS_DIR",
    ):
        assert expected in message
    assert server.requests(FILE_PATH) == 0


def test_unclear_offline_value_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HEAR_BYOLS_OFFLINE", "maybe")
    with pytest.raises(InvalidOptionError, match="HEAR_BYOLS_OFFLINE='maybe'"):
        download_weight_file(weight_file_for(BODY, ["http://127.0.0.1:9/x"]), tmp_path)


def test_sha256_mismatch_keeps_nothing(server: WeightsServer, tmp_path: Path) -> None:
    wf = replace(weight_file_for(BODY, [server.url(FILE_PATH)]), sha256="0" * 64)
    with pytest.raises(
        ChecksumError, match=rf"sha256: expected {'0' * 64}, found {hashlib.sha256(BODY).hexdigest()}"
    ):
        download_weight_file(wf, tmp_path, progress=False)
    assert not (tmp_path / wf.filename).exists()
    assert leftovers(tmp_path) == []


def test_git_blob_is_enough_when_no_sha256_is_published(server: WeightsServer, tmp_path: Path) -> None:
    wf = weight_file_for(BODY, [server.url(FILE_PATH)], with_size=False, with_sha256=False)
    assert download_weight_file(wf, tmp_path / "ok", progress=False).read_bytes() == BODY
    wrong = replace(wf, git_blob_sha1="0" * 40)
    with pytest.raises(ChecksumError, match=f"git blob sha1: expected {'0' * 40}, found {wf.git_blob_sha1}"):
        download_weight_file(wrong, tmp_path / "bad", progress=False)
    assert list((tmp_path / "bad").glob("*.pth*")) == [tmp_path / "bad" / f"{wf.filename}.lock"]


def test_cut_transfer_is_a_download_error(server: WeightsServer, tmp_path: Path) -> None:
    server.routes["/cut"] = Route(BODY, send_bytes=100_000)
    wf = weight_file_for(BODY, [server.url("/cut")])
    with pytest.raises(
        DownloadError, match=rf"/cut: transfer cut short: received 100000 of the {len(BODY)} bytes"
    ):
        download_weight_file(wf, tmp_path, progress=False)
    assert not (tmp_path / wf.filename).exists()
    assert leftovers(tmp_path) == []


def test_http_404_names_url_status_and_fix(server: WeightsServer, tmp_path: Path) -> None:
    url = server.url("/missing.pth")
    with pytest.raises(DownloadError) as info:
        download_weight_file(weight_file_for(BODY, [url]), tmp_path, progress=False)
    message = str(info.value)
    assert f"{url}: HTTP 404" in message
    assert "HEAR_BYOLS_MIRROR" in message and str(tmp_path / "test-weights.pth") in message


def test_every_failed_attempt_is_listed(server: WeightsServer, tmp_path: Path) -> None:
    closed_port = _closed_port()
    urls = [server.url("/missing.pth"), f"http://127.0.0.1:{closed_port}/w.pth"]
    with pytest.raises(DownloadError, match=r"tried 2 URL\(s\)") as info:
        download_weight_file(weight_file_for(BODY, urls), tmp_path, progress=False)
    assert f"  - {urls[0]}: HTTP 404" in str(info.value)
    assert f"  - {urls[1]}: cannot fetch" in str(info.value)


def test_progress_bar_goes_to_stderr(
    server: WeightsServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    download_weight_file(weight_file_for(BODY, [server.url(FILE_PATH)]), tmp_path, progress=True)
    assert "test-weights.pth" in capsys.readouterr().err


_WORKER = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from hear_byols.weights import WeightFile, download_weight_file, sha256_of

    fields, dest, barrier, index, n_workers = sys.argv[1:]
    fields = json.loads(fields)
    wf = WeightFile(**{**fields, "urls": tuple(fields["urls"])})
    Path(barrier, str(index)).touch()
    while len(list(Path(barrier).iterdir())) < int(n_workers):  # start the downloads together
        time.sleep(0.01)
    path = download_weight_file(wf, dest, progress=False)
    print(path, sha256_of(path))
    """
)


def test_two_processes_download_once(server: WeightsServer, tmp_path: Path) -> None:
    server.routes["/slow"] = Route(BODY, chunk_delay_s=0.05)  # about 1 s per transfer
    wf = weight_file_for(BODY, [server.url("/slow")])
    dest, barrier = tmp_path / "dest", tmp_path / "barrier"
    barrier.mkdir()
    python_path = [str(REPO_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(python_path)}
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, json.dumps(asdict(wf)), str(dest), str(barrier), str(i), "2"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for i in range(2)
    ]
    results = [worker.communicate(timeout=60) for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0], [err for _, err in results]
    expected = f"{dest / wf.filename} {wf.sha256}"
    assert [out.strip() for out, _ in results] == [expected, expected]
    assert server.requests("/slow") == 1
    assert leftovers(dest) == []


def _closed_port() -> int:
    """A local port nothing listens on (connection refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("with_size", [True, False])
def test_a_server_that_never_stops_sending_is_cut_off(
    server: WeightsServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, with_size: bool
) -> None:
    """Aborted once past the registry size, or past the cap when the size is unknown."""
    server.routes["/endless"] = Route(BODY, endless=True)
    monkeypatch.setattr(download_module, "UNKNOWN_SIZE_CAP", 4 * len(BODY))
    wf = weight_file_for(BODY, [server.url("/endless")], with_size=with_size)
    limit = f"the registry's size, {len(BODY)} bytes" if with_size else f"the {4 * len(BODY)} bytes allowed"
    with pytest.raises(DownloadError, match=rf"/endless: keeps sending, more than {limit}"):
        download_weight_file(wf, tmp_path, progress=False)
    assert not (tmp_path / wf.filename).exists() and leftovers(tmp_path) == []


def test_a_full_disk_says_free_space_not_set_a_mirror(
    server: WeightsServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def write_to_full_device(path: Path, write, **kwargs) -> None:  # /dev/full: every write is ENOSPC
        with open("/dev/full", "wb", buffering=0) as full:
            write(full)

    monkeypatch.setattr(download_module, "atomic_write", write_to_full_device)
    wf = weight_file_for(BODY, [server.url(FILE_PATH), server.url("/never-tried")])
    with pytest.raises(StorageError) as info:
        download_weight_file(wf, tmp_path, progress=False)
    assert "no space left" in str(info.value) and "free space" in str(info.value)
    assert "MIRROR" not in str(info.value) and server.requests("/never-tried") == 0


@pytest.mark.parametrize("mirror", ["mirror.example.org/weights", "ftp://host/x", "http://", "file://", "http://a b"])
def test_a_malformed_mirror_is_an_option_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, mirror: str) -> None:
    monkeypatch.setenv("HEAR_BYOLS_MIRROR", mirror)
    wf = weight_file_for(BODY, ["http://127.0.0.1:9/unused"])
    with pytest.raises(InvalidOptionError, match=r"HEAR_BYOLS_MIRROR=.* is not a base URL.*file:///folder"):
        download_weight_file(wf, tmp_path, progress=False)


def test_an_unusable_lock_file_is_a_storage_error(server: WeightsServer, tmp_path: Path) -> None:
    wf = weight_file_for(BODY, [server.url(FILE_PATH)])
    lock = tmp_path / f"{wf.filename}.lock"
    lock.symlink_to(lock)  # a symlink loop in the lock's place
    with pytest.raises(StorageError, match=rf"lock file {lock} .*delete .* if it is a symlink"):
        download_weight_file(wf, tmp_path, progress=False)
    with pytest.raises(StorageError, match="make /proc writable .*HEAR_BYOLS_CACHE_DIR"):
        download_weight_file(wf, "/proc", progress=False)  # read-only even for root


def test_stale_parts_and_locks_of_killed_downloads_are_removed(server: WeightsServer, tmp_path: Path) -> None:
    from hear_byols.storage.leftovers import STALE_AFTER_S

    wf = weight_file_for(BODY, [server.url(FILE_PATH)])
    tmp_path.joinpath("cache").mkdir(exist_ok=True)
    old_part, young_part = tmp_path / f".{wf.filename}.k1ll3d.part", tmp_path / f".{wf.filename}.y0ung.part"
    free_lock, held_lock = tmp_path / "other.pth.lock", tmp_path / "held.pth.lock"
    for path in (old_part, young_part, free_lock, held_lock):
        path.write_bytes(b"")
    holder = subprocess.Popen(
        [sys.executable, "-c", f"from filelock import FileLock; import time; lock = FileLock({str(held_lock)!r}); lock.acquire(); "
         "print('held', flush=True); time.sleep(120)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        long_ago = time.time() - STALE_AFTER_S - 60
        for path in (old_part, free_lock, held_lock):
            os.utime(path, (long_ago, long_ago))
        assert download_weight_file(wf, tmp_path, progress=False).read_bytes() == BODY
        assert not old_part.exists() and not free_lock.exists()
        assert young_part.exists() and held_lock.exists()  # young, or locked by a live process
    finally:
        holder.kill()
        holder.wait()
