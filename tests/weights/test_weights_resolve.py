"""Which file ``load_model()`` gets: explicit path > $HEAR_BYOLS_WEIGHTS_DIR > package
checkpoints/ > user cache > download, and the errors when there is none."""

from __future__ import annotations

from pathlib import Path
from collections.abc import Iterator

import pytest

from hear_byols.errors import CheckpointError, ChecksumError, InvalidOptionError, WeightsUnavailableError
from hear_byols.weights import cache_dir, candidate_paths, default_weight_file, hashing, locations, resolve_weights
from helpers.weights_server import Route, WeightsServer, payload, use_registry, weight_file_for

BODY = payload(200_000, seed=1)
FILE_PATH = "/checkpoints/test-weights.pth"


@pytest.fixture(autouse=True)
def cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, weights_cache: Path) -> Path:
    """The test's cache dir; the package checkpoints/ folder is swapped for an empty tmp one."""
    package_dir = tmp_path / "package_checkpoints"
    package_dir.mkdir()
    monkeypatch.setattr(locations, "package_checkpoints_dir", lambda: package_dir)
    return weights_cache


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[WeightsServer]:
    """A server holding BODY, registered as the only file of variant ``default``."""
    with WeightsServer().running() as running:
        running.routes[FILE_PATH] = Route(BODY)
        use_registry(monkeypatch, [weight_file_for(BODY, [running.url(FILE_PATH)])], note_variants=("clstm",))
        yield running


def test_cache_dir_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "cache"
    monkeypatch.delenv("HEAR_BYOLS_CACHE_DIR")
    assert cache_dir() == tmp_path / "xdg" / "hear_byols"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "hear_byols"


def test_download_once_then_cached(server: WeightsServer, cache: Path) -> None:
    path = resolve_weights("default", progress=False)
    assert path == cache / "test-weights.pth" and path.read_bytes() == BODY
    assert resolve_weights("default", progress=False) == path
    assert server.requests(FILE_PATH) == 1


def test_resolution_order(
    server: WeightsServer, cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    override = tmp_path / "override"
    monkeypatch.setenv("HEAR_BYOLS_WEIGHTS_DIR", str(override))
    locals_in_order = [override, locations.package_checkpoints_dir(), cache]
    assert [path for _, path in candidate_paths("default")] == [
        d / "test-weights.pth" for d in locals_in_order
    ]
    for directory in locals_in_order:
        directory.mkdir(exist_ok=True)
        (directory / "test-weights.pth").write_bytes(BODY)
    explicit = tmp_path / "finetuned.pth"
    explicit.write_bytes(b"not the official file: loaded as given")
    assert resolve_weights("default", explicit) == explicit
    for directory in locals_in_order:
        assert resolve_weights("default") == directory / "test-weights.pth"
        (directory / "test-weights.pth").unlink()
    assert resolve_weights("default", progress=False) == cache / "test-weights.pth"
    assert server.requests(FILE_PATH) == 1


def test_missing_explicit_path(server: WeightsServer, tmp_path: Path) -> None:
    with pytest.raises(WeightsUnavailableError, match=r"checkpoint file not found: .*nowhere\.pth"):
        resolve_weights("default", tmp_path / "nowhere.pth")
    with pytest.raises(CheckpointError, match="is a directory"):
        resolve_weights("default", tmp_path)
    assert server.requests(FILE_PATH) == 0


def test_official_file_name_as_path_goes_through_the_chain(
    server: WeightsServer, cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no such file here
    assert resolve_weights("default", "test-weights.pth", progress=False) == cache / "test-weights.pth"


def test_truncated_cached_file_is_reported_not_deleted(server: WeightsServer, cache: Path) -> None:
    cache.mkdir()
    cached = cache / "test-weights.pth"
    cached.write_bytes(BODY[:1000])
    with pytest.raises(ChecksumError) as info:
        resolve_weights("default")
    message = str(info.value)
    for expected in (
        str(cached),
        f"expected {len(BODY)} bytes, found 1000 bytes",
        "hear-byols download default",
    ):
        assert expected in message
    assert cached.stat().st_size == 1000
    assert server.requests(FILE_PATH) == 0


def test_offline_uses_local_files_and_explains_when_there_are_none(
    server: WeightsServer, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEAR_BYOLS_OFFLINE", "1")
    with pytest.raises(WeightsUnavailableError, match=r"test-weights\.pth.*downloads are off"):
        resolve_weights("default")
    cache.mkdir()
    (cache / "test-weights.pth").write_bytes(BODY)
    assert resolve_weights("default") == cache / "test-weights.pth"
    assert server.requests(FILE_PATH) == 0


def test_no_download_lists_searched_places(server: WeightsServer, cache: Path) -> None:
    with pytest.raises(WeightsUnavailableError, match=rf"not found in .*{cache / 'test-weights.pth'}"):
        resolve_weights("default", download=False)


def test_clstm_has_no_official_weights() -> None:
    with pytest.raises(
        WeightsUnavailableError, match=r"no official weights.*clstm.*load_model\(model_file_path="
    ):
        resolve_weights("clstm")


def test_unknown_variant_and_foreign_file_name() -> None:
    with pytest.raises(InvalidOptionError, match="unknown variant 'bogus'"):
        resolve_weights("bogus")
    with pytest.raises(
        InvalidOptionError, match=r"'x\.pth' is not an official weight file of byola.*64x96d512\.pth"
    ):
        resolve_weights("byola", filename="x.pth")


def test_real_registry_file_of_the_right_size_but_wrong_bytes_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A local copy with the published size but other bytes is refused (sparse file: no 21 MB write)."""
    monkeypatch.setenv("HEAR_BYOLS_OFFLINE", "1")
    monkeypatch.setenv("HEAR_BYOLS_WEIGHTS_DIR", str(tmp_path))
    wf = default_weight_file("default")
    assert wf is not None and wf.size is not None and wf.sha256 is not None
    with open(tmp_path / wf.filename, "wb") as fh:
        fh.truncate(wf.size)
    assert candidate_paths("default")[0] == ("$HEAR_BYOLS_WEIGHTS_DIR", tmp_path / wf.filename)
    with pytest.raises(ChecksumError) as info:
        resolve_weights("default")
    for expected in (str(tmp_path / wf.filename), f"sha256: expected {wf.sha256}, found ", "hear-byols download default"):
        assert expected in str(info.value)


def test_local_file_is_hashed_once_per_process_until_it_changes(
    server: WeightsServer, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache.mkdir()
    cached = cache / "test-weights.pth"
    cached.write_bytes(BODY)
    hashed: list[Path] = []
    real_sha256 = hashing.sha256_of
    monkeypatch.setattr(hashing, "sha256_of", lambda path: hashed.append(Path(path)) or real_sha256(path))
    for _ in range(3):
        assert resolve_weights("default") == cached
    assert hashed == [cached]
    corrupt = bytearray(BODY)
    corrupt[-1] ^= 0xFF  # same size: only the hash can tell
    cached.write_bytes(bytes(corrupt))
    with pytest.raises(ChecksumError, match="sha256: expected"):
        resolve_weights("default")
    assert server.requests(FILE_PATH) == 0


def test_shipped_default512_checkpoint_verifies(real_default512: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(locations, "package_checkpoints_dir", lambda: real_default512.parent)
    assert resolve_weights("default512") == real_default512
