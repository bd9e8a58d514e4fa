"""Check a weight file against the registry: size first (cheap), then the published hash.

Some files only have a published git blob id (the SHA-1 git computes over
``b"blob <size>\\0" + content``), so that is the fallback when no sha256 is known.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

from hear_byols.errors import ChecksumError
from hear_byols.variants import WeightFile

_CHUNK = 1 << 20
#: Files that verified in this process, keyed by what changes when the file is replaced or edited.
_VERIFIED: set[tuple[str, int, int, int]] = set()


def sha256_of(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file, read in chunks (weight files can be hundreds of MB)."""
    digest = hashlib.sha256()
    for chunk in _chunks(Path(path)):
        digest.update(chunk)
    return digest.hexdigest()


def git_blob_sha1_of(path: str | os.PathLike[str]) -> str:
    """Hex git blob id of a file: what ``git hash-object`` prints for it."""
    path = Path(path)
    digest = hashlib.sha1(b"blob %d\0" % path.stat().st_size)
    for chunk in _chunks(path):
        digest.update(chunk)
    return digest.hexdigest()


def find_mismatch(path: str | os.PathLike[str], wf: WeightFile, *, full_hash: bool = True) -> str | None:
    """How ``path`` differs from ``wf`` (``"size: expected ..., found ..."``), or None if it matches.

    ``full_hash=False`` only compares the size, unless the registry has no size for the file:
    then the hash is the only check there is, so it is computed anyway.
    """
    path = Path(path)
    found_size = path.stat().st_size
    if wf.size is not None:
        if found_size != wf.size:
            kind = "truncated" if found_size < wf.size else "too large"
            return f"size: expected {wf.size} bytes, found {found_size} bytes ({kind})"
        if not full_hash:
            return None
    if wf.sha256 is not None:
        found = sha256_of(path)
        return None if found == wf.sha256 else f"sha256: expected {wf.sha256}, found {found}"
    found = git_blob_sha1_of(path)
    return None if found == wf.git_blob_sha1 else f"git blob sha1: expected {wf.git_blob_sha1}, found {found}"


def verify_file(path: str | os.PathLike[str], wf: WeightFile, *, full_hash: bool = True) -> None:
    """Raise ChecksumError, with the fix, if ``path`` is not the registry's ``wf``."""
    mismatch = find_mismatch(path, wf, full_hash=full_hash)
    if mismatch is not None:
        raise ChecksumError(
            f"{path} is not the official {wf.filename} ({mismatch}). Delete it and download it "
            f"again with `hear-byols download {wf.variant}`"
        )


def verify_once(path: str | os.PathLike[str], wf: WeightFile) -> None:
    """``verify_file`` with the full hash, computed once per process while the file stays the same.

    A cached copy of the right size can still be corrupt, so a size check is not enough; the
    key (path, size, mtime_ns, inode) changes when the file is rewritten or replaced, so repeated
    ``load_model()`` calls stay cheap without trusting a file that changed since it was hashed.
    """
    stat = os.stat(path)
    key = (os.path.realpath(path), stat.st_size, stat.st_mtime_ns, stat.st_ino)
    if key not in _VERIFIED:
        verify_file(path, wf)
        _VERIFIED.add(key)


def _chunks(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            yield chunk
