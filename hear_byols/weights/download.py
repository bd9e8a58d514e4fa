"""Download an official weight file so that no reader ever sees a partial or wrong file.

The bytes go to a temporary ``.part`` file next to the destination, are checked against the
Content-Length and the registry's size and hash, and only then renamed into place (an atomic
rename on one file system). A file lock makes parallel processes download once: the others
wait, then find the verified file. A transfer is aborted as soon as it passes the registry's
size (1 GiB when the size is unknown): a server that never stops sending must not fill the disk.
"""

from __future__ import annotations

import contextlib
import errno
import http.client
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from filelock import Timeout
from tqdm import tqdm

from hear_byols.storage.atomic import atomic_write
from hear_byols.storage.locking import acquire
from hear_byols.storage.leftovers import remove_stale_locks, remove_stale_temporaries
from hear_byols.errors import ChecksumError, DownloadError, InvalidOptionError, StorageError, WeightsUnavailableError
from hear_byols.weights.env import (
    CACHE_DIR_ENV,
    MIRROR_ENV,
    OFFLINE_ENV,
    WEIGHTS_DIR_ENV,
    env_value,
    offline_mode,
)
from hear_byols.weights.hashing import find_mismatch
from hear_byols.variants import WeightFile

#: Generous: another process may be fetching 85 MB over a slow link.
LOCK_TIMEOUT_S = 30 * 60
#: Seconds without any byte from the server before giving up on a URL.
_NETWORK_TIMEOUT_S = 60
_CHUNK = 1 << 16
#: Most bytes accepted from a URL when the registry gives no size (the largest file is 85 MB).
UNKNOWN_SIZE_CAP = 1 << 30
_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)
_MIRROR_SCHEMES = ("http", "https", "file")


def download_weight_file(
    wf: WeightFile,
    dest_dir: str | os.PathLike[str],
    *,
    progress: bool | None = None,
    lock_timeout: float = LOCK_TIMEOUT_S,
) -> Path:
    """Fetch ``wf`` into ``dest_dir`` (verified) and return its path.

    ``progress``: show a progress bar on stderr; None shows it when stderr is a terminal.
    A file already in ``dest_dir`` that verifies is returned without downloading; one that
    does not verify is replaced.
    """
    final = Path(dest_dir) / wf.filename
    urls = download_urls(wf)
    if offline_mode():
        raise WeightsUnavailableError(_offline_message(wf, final, urls))
    _make_dir(final.parent)
    with _locked(final, lock_timeout):
        remove_stale_temporaries(final.parent, ".part", prefix=final.name)  # parts of killed downloads
        remove_stale_locks(final.parent)
        if final.is_file() and find_mismatch(final, wf) is None:
            return final  # fetched by another process while we waited, or earlier
        return _download_from_first_working(wf, final, urls, progress)


def download_urls(wf: WeightFile) -> list[str]:
    """URLs to try in order: ``$HEAR_BYOLS_MIRROR/<filename>`` when set, then the registry's."""
    mirror = env_value(MIRROR_ENV)
    if mirror is not None:
        _check_mirror(mirror)
    return ([f"{mirror.rstrip('/')}/{wf.filename}"] if mirror else []) + list(wf.urls)


def _check_mirror(mirror: str) -> None:
    """A malformed mirror is a configuration error, not a failed download of every file."""
    parts = urllib.parse.urlsplit(mirror)
    usable = parts.scheme in _MIRROR_SCHEMES and (parts.netloc if parts.scheme != "file" else parts.path)
    if not usable or any(c.isspace() for c in mirror):
        raise InvalidOptionError(
            f"{MIRROR_ENV}={mirror!r} is not a base URL; set it to http(s)://host/folder or file:///folder "
            "(the folder holding the weight files), or unset it"
        )


def _download_from_first_working(wf: WeightFile, final: Path, urls: list[str], progress: bool | None) -> Path:
    failures: list[DownloadError | ChecksumError] = []
    for url in urls:
        try:
            _fetch(url, final, wf, progress)
            return final
        except (DownloadError, ChecksumError) as exc:
            failures.append(exc)
    attempts = "\n".join(f"  - {exc}" for exc in failures)
    message = (
        f"could not download {wf.filename} (weights of hear_byols.{wf.variant}); tried {len(urls)} URL(s):\n"
        f"{attempts}\nFix: set {MIRROR_ENV} to a server or file:// folder holding {wf.filename}, or download "
        f"it by hand and put it at {final} (or in the directory named by {WEIGHTS_DIR_ENV})"
    )
    error_type = ChecksumError if any(isinstance(exc, ChecksumError) for exc in failures) else DownloadError
    raise error_type(message) from failures[-1]


def _fetch(url: str, final: Path, wf: WeightFile, progress: bool | None) -> None:
    """Download ``url`` to a ``.part`` file, verify it, rename it to ``final``; never leave the part."""

    def check(part: Path) -> None:
        mismatch = find_mismatch(part, wf)
        if mismatch is not None:
            raise ChecksumError(f"{url}: served a file that is not the official {wf.filename} ({mismatch}); discarded")

    try:
        atomic_write(final, lambda out: _stream(url, out, wf.filename, wf.size, progress), check=check, suffix=".part")
    except OSError as exc:
        if exc.errno not in _DISK_FULL:
            raise
        raise _disk_full(final, wf.size) from None


def _stream(url: str, out: IO[bytes], filename: str, size: int | None, progress: bool | None) -> None:
    """Copy the body of ``url`` into ``out``; DownloadError (naming ``url``) on any failure,
    StorageError when the disk is full."""
    request = urllib.request.Request(url, headers={"User-Agent": "hear_byols"})
    cap = size if size is not None else UNKNOWN_SIZE_CAP
    try:
        with urllib.request.urlopen(request, timeout=_NETWORK_TIMEOUT_S) as response:
            announced = _content_length(response)
            if announced is not None and announced > cap:
                raise _too_large(url, f"announces {announced} bytes", cap, size)
            with _progress_bar(filename, announced or size, progress) as bar:
                received = 0
                while chunk := response.read(_CHUNK):
                    received += len(chunk)
                    if received > cap:
                        raise _too_large(url, "keeps sending", cap, size)
                    out.write(chunk)
                    bar.update(len(chunk))
    except (DownloadError, StorageError):
        raise
    except urllib.error.HTTPError as exc:
        exc.close()
        raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise DownloadError(f"{url}: cannot fetch ({exc.reason})") from None
    except (OSError, http.client.HTTPException) as exc:
        if isinstance(exc, OSError) and exc.errno in _DISK_FULL:
            raise _disk_full(Path(out.name), size) from None
        raise DownloadError(f"{url}: transfer failed ({type(exc).__name__}: {exc})") from None
    if announced is not None and received != announced:
        raise DownloadError(
            f"{url}: transfer cut short: received {received} of the {announced} bytes "
            "announced by Content-Length"
        )


def _too_large(url: str, what: str, cap: int, size: int | None) -> DownloadError:
    limit = f"the registry's size, {size} bytes" if size is not None else f"the {cap} bytes allowed for a file of unknown size"
    return DownloadError(f"{url}: {what}, more than {limit}; aborted (not the official file, or a broken server)")


def _disk_full(path: Path, size: int | None) -> StorageError:
    needed = f" ({size} bytes needed)" if size is not None else ""
    return StorageError(
        f"no space left on the device holding {path.parent} while downloading {path.name}{needed}: free space "
        f"there, or set {CACHE_DIR_ENV} to a directory on a disk with room"
    )


def _content_length(response: http.client.HTTPResponse) -> int | None:
    value = (response.headers.get("Content-Length") or "").strip()
    return int(value) if value.isdigit() else None


def _progress_bar(filename: str, total: int | None, progress: bool | None) -> tqdm:
    show = progress if progress is not None else bool(sys.stderr) and sys.stderr.isatty()
    return tqdm(
        total=total,
        desc=filename,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        file=sys.stderr,
        disable=not show,
    )


@contextlib.contextmanager
def _locked(final: Path, timeout: float) -> Iterator[None]:
    """Hold ``<final>.lock`` so one process downloads while the others wait for its result."""
    lock_path = final.with_name(final.name + ".lock")
    try:
        lock = acquire(lock_path, timeout, f"set {CACHE_DIR_ENV} to a writable directory")
    except Timeout:
        raise DownloadError(
            f"waited {timeout:.0f} s for {lock_path}, held by another process downloading {final.name}. "
            f"If no other hear_byols process is running, delete {lock_path} and retry"
        ) from None
    try:
        yield
    finally:
        lock.release()


def _make_dir(directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(
            f"cannot create the download directory {directory} ({exc}); "
            f"set {CACHE_DIR_ENV} to a writable directory"
        ) from None


def _offline_message(wf: WeightFile, final: Path, urls: list[str]) -> str:
    sources = " or ".join(urls)
    return (
        f"{wf.filename} (weights of hear_byols.{wf.variant}) is not available locally and downloads are off "
        f"({OFFLINE_ENV}={env_value(OFFLINE_ENV)}). Download it from {sources} on a machine with network "
        f"access and put it at {final} (or in the directory named by {WEIGHTS_DIR_ENV}), "
        f"or unset {OFFLINE_ENV}"
    )
