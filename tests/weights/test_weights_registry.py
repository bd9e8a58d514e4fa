"""The packaged registry of official weights holds the published values, and is validated."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from hear_byols.errors import CheckpointError, ChecksumError, InvalidOptionError
from hear_byols.weights import (
    default_weight_file,
    find_weight_file,
    git_blob_sha1_of,
    package_checkpoints_dir,
    registry_entries,
    registry_variants,
    sha256_of,
    variant_note,
    verify_file,
)
from hear_byols.variants import configs_dir, parse_variant, parse_weights, variant_names, variant_spec
from hear_byols.weights.registry import VariantWeights, check_unique_filenames
from helpers.weights_server import weight_file_for

SERAB_BYOLS = "https://github.com/GasserElbanna/serab-byols/raw/main/checkpoints/"
SERAB = "https://github.com/Neclow/SERAB/raw/main/SERAB/checkpoints/"
SERAB_LICENCE = "https://github.com/Neclow/SERAB/blob/main/LICENSE"
BYOLA = "https://github.com/nttcslab/byol-a/raw/master/pretrained_weights/"


def test_registry_lists_every_variant_from_its_config() -> None:
    assert not (package_checkpoints_dir() / "registry.yaml").exists()  # one definition: the configs
    assert registry_variants() == variant_names()
    assert {"default", "default512", "default1024", "cvt", "cvt_byols", "cvt_byols_bs512", "cvt_byols_small"} <= set(
        registry_variants()
    )


def test_default_is_the_file_hear_2021_scored() -> None:
    wf = default_weight_file("default")
    assert wf is not None
    assert wf.filename == "default2048_BYOLAs64x96-2105311814-e100-bs256-lr0003-rs42.pth"
    assert wf.sha256 == "902dfff8ed4ed1546275b14eb2114901cbfc2c9efe737ce97c7aeb582b6057a4"
    assert wf.size == 21_297_232
    assert wf.git_blob_sha1 == "04fb26805f52db1af541b2186d1fc1a9ce86e4c7"
    assert wf.urls == (
        SERAB_BYOLS + wf.filename,
        "https://zenodo.org/record/6332525/files/hear2021-serab_byols.pth",
    )
    assert (wf.licence, wf.redistributable) == ("MIT", True)
    assert wf.licence_source == "https://github.com/GasserElbanna/serab-byols/blob/main/LICENSE"


def test_serab_files_are_registered_with_their_git_blobs() -> None:
    """The values of SERAB's checkpoint table (shared weights README); MIT, SERAB's LICENSE."""
    expected = {
        "default512": ["f4283f224c40a869e7bed9fd64316342ee2809c7"],
        "default1024": ["f5bcd923cf11ff279f155ba80c73547c10359fa5"],
        "cvt_byols": ["416d2594c36826bff3964ff4f13bebddc506b85f"],
        # SERAB's mean-pooled CvT files, each its own variant (not an alternative of cvt_byols)
        "cvt_byols_bs512": ["5df63f41a145784978d69b7998e0269ea86f2308"],
        "cvt_byols_small": ["c3c1eef7ac3d52357264a0975c197e0eee5d5c20"],
    }
    for variant, blobs in expected.items():
        files = registry_entries(variant)
        assert [wf.git_blob_sha1 for wf in files] == blobs
        for wf in files:
            assert wf.urls == (SERAB + wf.filename,)
            assert (wf.licence, wf.licence_source, wf.redistributable) == ("MIT", SERAB_LICENCE, True)
    assert "bs256" in registry_entries("cvt_byols")[0].filename
    assert registry_entries("cvt_byols_bs512")[0].filename == (
        "cvt_s1-d1-e64_s2-d1-e256_s3-d1-e512_BYOLAs64x96-2107021643-e100-bs512-lr0003-rs42.pth"
    )
    assert registry_entries("cvt_byols_small")[0].filename == (
        "cvt_s1-d1_s2-d1_s3-d1_BYOLAs64x96-2106251634-e100-bs512-lr0003-rs42.pth"
    )
    d512 = default_weight_file("default512")
    assert d512 is not None
    assert (d512.size, d512.sha256) == (2_409_434, "449f5d0dc6b6fa8433d5e43769097520d3bc0fdae88977a7ac29e2e72ca51b52")


def test_shipped_default512_file_verifies(real_default512: Path) -> None:
    wf = default_weight_file("default512")
    assert wf is not None and real_default512.name == wf.filename
    verify_file(real_default512, wf)  # size and sha256
    assert git_blob_sha1_of(real_default512) == wf.git_blob_sha1
    assert (real_default512.parent / "LICENSE-SERAB").read_text().startswith("MIT License")


def test_resnetish34_and_cvt_values() -> None:
    resnet = default_weight_file("resnetish34")
    assert resnet is not None
    assert resnet.filename == "resnetish34_BYOLAs64x96-2105271915-e100-bs256-lr0003-rs42.pth"
    assert resnet.sha256 == "7bd85cd7cb85b632b8794c8072f2a3f43dc7e7f0ae42c548db1d299c7d96e6c5"
    assert resnet.size == 85_254_535
    assert resnet.git_blob_sha1 == "5f5fc2d07aff90728c3d0e5b90051fe24aa55464"
    cvt = default_weight_file("cvt")
    assert cvt is not None
    assert cvt.filename.startswith("cvt_s1-d1-e64_s2-d1-e256_s3-d1-e512_")
    assert (cvt.sha256, cvt.size) == (None, None)
    assert cvt.git_blob_sha1 == "74a0ba6607277e6afc57c444752735e974de0f80"
    for wf in (resnet, cvt):
        assert wf.urls == (SERAB_BYOLS + wf.filename,)


def test_byola_files_are_ordered_and_not_redistributable() -> None:
    files = registry_entries("byola")
    assert [wf.filename for wf in files] == [f"AudioNTT2020-BYOLA-64x96d{d}.pth" for d in (2048, 1024, 512)]
    assert all(wf.urls == (BYOLA + wf.filename,) and not wf.redistributable for wf in files)
    assert all("no redistribution" in wf.licence for wf in files)
    d512 = files[2]
    assert d512.sha256 == "6cc64226318494f06ef41d7e5810be7d37abfd6490da45abdab48f188c5332e2"
    assert (d512.size, d512.git_blob_sha1) == (2_410_576, "314a35a543ddca60f175addfa6fbeecb56e1944a")
    assert files[1].git_blob_sha1 == "1c04492d54707e53f04fb664ec6bf3ec655d47f0"
    assert files[0].git_blob_sha1 == "dd93cab283451ad67baff974933aa122d4a8fa24"


def test_clstm_has_no_weights_and_says_so() -> None:
    assert registry_entries("clstm") == []
    assert default_weight_file("clstm") is None
    assert "no official weights" in (variant_note("clstm") or "")


def test_find_weight_file_by_name() -> None:
    wf = find_weight_file("AudioNTT2020-BYOLA-64x96d512.pth")
    assert wf is not None and wf.variant == "byola"
    assert find_weight_file("nope.pth") is None


def test_unknown_variant_lists_known_ones() -> None:
    with pytest.raises(
        InvalidOptionError,
        match=r"unknown variant 'bogus'.*byola, clstm, cvt, cvt_byols, cvt_byols_bs512, cvt_byols_small, default, default1024, "
        r"default512, resnetish34",
    ):
        registry_entries("bogus")


_GOOD_FILE = {
    "filename": "a.pth",
    "urls": ["https://example.invalid/a.pth"],
    "size": 10,
    "sha256": "0" * 64,
    "git_blob_sha1": None,
    "licence": "MIT",
    "licence_source": "https://example.invalid/LICENSE",
    "redistributable": True,
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"sha256": "abc"}, r"\.sha256: expected 64 lowercase hex"),
        ({"sha256": "A" * 64}, r"\.sha256: expected 64 lowercase hex"),
        ({"git_blob_sha1": "0" * 64}, r"\.git_blob_sha1: expected 40 lowercase hex"),
        ({"size": -5}, r"\.size: expected a positive byte count"),
        ({"size": "10"}, r"\.size: expected a positive byte count"),
        ({"sha256": None}, r"needs sha256 or git_blob_sha1"),
        ({"urls": []}, r"\.urls: expected a non-empty list"),
        ({"filename": "dir/a.pth"}, r"\.filename: expected a bare file name"),
        ({"redistributable": "yes"}, r"\.redistributable: expected a bool"),
        ({"checksum": "x"}, r"unknown \['checksum'\]"),
    ],
)
def test_invalid_registry_entries_are_named(change: dict, message: str) -> None:
    entry = {**_GOOD_FILE, **change}
    with pytest.raises(CheckpointError, match=r"invalid variant definition test: weights\.files\[0\].*" + message):
        parse_weights("v", {"files": [entry]}, "test")


def test_registry_rejects_duplicates_and_silent_empty_variants() -> None:
    with pytest.raises(CheckpointError, match="a file is listed twice"):
        parse_weights("v", {"files": [_GOOD_FILE, copy.deepcopy(_GOOD_FILE)]}, "test")
    files, _ = parse_weights("v", {"files": [_GOOD_FILE]}, "test")
    twins = {name: VariantWeights(parse_weights(name, {"files": [_GOOD_FILE]}, "test")[0], None) for name in "vw"}
    with pytest.raises(CheckpointError, match="'a.pth' is listed by both v and w"):
        check_unique_filenames(twins)
    with pytest.raises(CheckpointError, match="without files needs a `note`"):
        parse_weights("v", {"files": []}, "test")


def test_variant_definitions_are_validated(tmp_path: Path) -> None:
    raw = yaml.safe_load((configs_dir() / "default512.yaml").read_text())
    assert parse_variant(raw, str(tmp_path / "default512.yaml")) == variant_spec("default512")
    with pytest.raises(CheckpointError, match=r"name: 'default512' differs from the file name 'other'"):
        parse_variant(raw, str(tmp_path / "other.yaml"))
    with pytest.raises(CheckpointError, match=r"missing keys \['weights'\]"):
        parse_variant({k: v for k, v in raw.items() if k != "weights"}, "test")


def test_hashes_match_git_and_sha256sum(tmp_path: Path) -> None:
    path = tmp_path / "hello.txt"
    path.write_bytes(b"hello\n")
    assert sha256_of(path) == "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
    assert git_blob_sha1_of(path) == "ce013625030ba8dba906f756967f9e9ca394464a"  # `git hash-object`


def test_verify_file_reports_size_then_hash(tmp_path: Path) -> None:
    body = b"x" * 1000
    path = tmp_path / "w.pth"
    path.write_bytes(body[:400])
    wf = weight_file_for(body, ["http://127.0.0.1:9/w.pth"], filename="w.pth")
    with pytest.raises(
        ChecksumError,
        match=r"w\.pth.*expected 1000 bytes, found 400 bytes \(truncated\).*hear-byols download default",
    ):
        verify_file(path, wf)
    path.write_bytes(b"y" * 1000)
    verify_file(path, wf, full_hash=False)  # right size: the cheap check passes
    with pytest.raises(ChecksumError, match=rf"sha256: expected {wf.sha256}, found {sha256_of(path)}"):
        verify_file(path, wf)


def test_without_a_published_size_the_cheap_check_still_hashes(tmp_path: Path) -> None:
    body = b"x" * 1000
    path = tmp_path / "w.pth"
    path.write_bytes(body[:400])
    wf = weight_file_for(
        body, ["http://127.0.0.1:9/w.pth"], filename="w.pth", with_size=False, with_sha256=False
    )
    with pytest.raises(ChecksumError, match=rf"git blob sha1: expected {wf.git_blob_sha1}"):
        verify_file(path, wf, full_hash=False)
    path.write_bytes(body)
    verify_file(path, wf, full_hash=False)
