"""Input integrity of ``embed`` and its index (issue 17: H4, H5, L1, L8): a changed or truncated
input never leaves a stale or partial embedding called valid; the index refuses malformed parts
before touching anything; ``verify-embeddings`` names what a plain rerun repairs."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from helpers.audio import tone, write_audio
from hear_byols.cli import main
from hear_byols.extract.journal import JOURNAL_NAME
from hear_byols.pretraining.data import CropDataset
from helpers.cli import embed_with

MODEL = "default512"  # a small variant: these tests are about files, not numbers


embed = embed_with(MODEL)


def index_rows(out: Path) -> dict[str, dict]:
    return {Path(row["input"]).name: row for row in json.loads((out / "index.json").read_text())["files"]}


def cut_wav(path: Path, seconds_kept: float) -> Path:
    """Keep the 44-byte header (which still declares the whole length) and ``seconds_kept`` of 16 kHz 16-bit mono."""
    path.write_bytes(path.read_bytes()[: 44 + round(seconds_kept * 16000) * 2])
    return path


# H5: a truncated file is a failed file, never embedded as its readable part


def test_a_truncated_wav_fails_with_its_reason_and_is_never_skipped_as_done(
    weights: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inputs, out = tmp_path / "in", tmp_path / "out"
    write_audio(inputs / "whole.wav", tone(16000, 1.0), 16000, "PCM_16")
    cut_wav(write_audio(inputs / "cut.wav", tone(16000, 2.0), 16000, "PCM_16"), 1.0)
    for _ in range(2):  # the rerun tries it again: a failed file is never "done"
        assert embed(weights, inputs, "--out", out) == 1
        err = capsys.readouterr().err
        assert "1 written" in err or "1 skipped" in err
        assert "cut.wav: truncated: its header declares 64000 bytes of audio data, only 32000 are present" in err
        assert not (out / "cut.wav.npy").exists()
        row = index_rows(out)["cut.wav"]
        assert row["status"] == "failed" and "truncated" in row["reason"]


def test_pretraining_treats_a_truncated_file_as_unreadable(tmp_path: Path) -> None:
    path = cut_wav(write_audio(tmp_path / "cut.wav", tone(16000, 2.0), 16000, "PCM_16"), 1.0)
    item = CropDataset([path], "random", seed=0)[0]
    assert item.crop is None and "truncated" in item.error


# H4: an input replaced since its embedding was written is recomputed, and verify-embeddings says so


def replace_keeping_size_and_mtime(path: Path, freq: float) -> None:
    """Rewrite ``path`` with other samples of the same length, then restore its mtime (as ``cp -p`` would)."""
    stat = path.stat()
    write_audio(path, tone(16000, 1.0, freq=freq), 16000, "PCM_16")
    assert path.stat().st_size == stat.st_size
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def test_an_input_replaced_with_the_same_size_and_mtime_is_recomputed(
    weights: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_audio(tmp_path / "in" / "a.wav", tone(16000, 1.0), 16000, "PCM_16")
    out = tmp_path / "out"
    assert embed(weights, path, "--out", out) == 0
    first = np.load(out / "a.wav.npy")
    replace_keeping_size_and_mtime(path, freq=300.0)
    capsys.readouterr()

    assert main(["verify-embeddings", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"a.wav.npy: changed input {path} (same size, other content" in err

    assert embed(weights, path, "--out", out) == 0
    assert "1 written, 0 skipped" in capsys.readouterr().err
    second = np.load(out / "a.wav.npy")
    assert not np.array_equal(first, second)
    fresh = tmp_path / "fresh"
    assert embed(weights, path, "--out", fresh) == 0
    assert np.array_equal(second, np.load(fresh / "a.wav.npy"))  # the new content's embedding, not the old one's
    assert main(["verify-embeddings", str(out)]) == 0


def test_the_input_is_recorded_in_the_journal_and_the_index(weights: Path, tmp_path: Path) -> None:
    path = write_audio(tmp_path / "a.wav", tone(16000, 1.0), 16000, "PCM_16")
    out = tmp_path / "out"
    assert embed(weights, path, "--out", out) == 0
    stat = path.stat()
    expected = {"input_size": stat.st_size, "input_mtime_ns": stat.st_mtime_ns,
                "input_sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    journaled = [json.loads(line)["file"] for line in (out / JOURNAL_NAME).read_text().splitlines() if '"file"' in line]
    for row in (index_rows(out)["a.wav"], journaled[0]):
        assert {key: row[key] for key in expected} == expected


def drop_input_fields(out: Path) -> None:
    """Rewrite the journal and index.json of ``out`` as the previous version wrote them."""
    def old(row: dict) -> dict:
        return {key: value for key, value in row.items() if not key.startswith("input_")}

    journal = out / JOURNAL_NAME
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    journal.write_text("".join(json.dumps({**r, "file": old(r["file"])} if "file" in r else r) + "\n" for r in records))
    index = json.loads((out / "index.json").read_text())
    (out / "index.json").write_text(json.dumps({**index, "files": [old(row) for row in index["files"]]}))


def test_outputs_recorded_without_their_input_by_an_older_version_are_recomputed_once(
    weights: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_audio(tmp_path / "a.wav", tone(16000, 1.0), 16000, "PCM_16")
    out = tmp_path / "out"
    assert embed(weights, path, "--out", out) == 0
    drop_input_fields(out)
    capsys.readouterr()
    assert main(["verify-embeddings", str(out)]) == 0
    assert ("1 of 1 outputs match, 0 input(s) unchanged; 1 output(s) whose input was not recorded (older hear-byols): "
            "input not checked") in capsys.readouterr().err
    assert embed(weights, path, "--out", out) == 0  # nothing vouches for the input: recomputed, then recorded
    assert "1 written, 0 skipped" in capsys.readouterr().err
    assert embed(weights, path, "--out", out) == 0
    assert "0 written, 1 skipped" in capsys.readouterr().err


# L8: what verify-embeddings reports, a plain rerun repairs (no --overwrite)


def flip_last_byte_keeping_mtime(path: Path) -> None:
    stat = path.stat()
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def test_every_state_verify_reports_is_repaired_by_a_plain_rerun(
    weights: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inputs, out = tmp_path / "in", tmp_path / "out"
    for i, name in enumerate(["missing", "changed", "same_stat", "new_input", "intact"]):
        write_audio(inputs / f"{name}.wav", tone(16000, 1.0, freq=200.0 + 50 * i), 16000, "PCM_16")
    assert embed(weights, inputs, "--out", out) == 0
    intact = (out / "intact.wav.npy").stat().st_mtime_ns
    (out / "missing.wav.npy").unlink()
    np.save(out / "changed.wav.npy", np.zeros((1, 512), np.float32))  # another size and mtime
    flip_last_byte_keeping_mtime(out / "same_stat.wav.npy")  # only its bytes tell
    replace_keeping_size_and_mtime(inputs / "new_input.wav", freq=900.0)
    capsys.readouterr()

    assert main(["verify-embeddings", str(out)]) == 1
    err = capsys.readouterr().err
    assert "missing.wav.npy: missing" in err and "changed.wav.npy: changed since it was written" in err
    assert "same_stat.wav.npy: changed since it was written" in err and "changed input" in err
    assert "rerun the same embed command (no --overwrite needed)" in err and "embed --overwrite" not in err

    assert embed(weights, inputs, "--out", out) == 0
    assert "4 written, 1 skipped, 0 failed" in capsys.readouterr().err
    assert (out / "intact.wav.npy").stat().st_mtime_ns == intact
    assert main(["verify-embeddings", str(out)]) == 0
    assert "5 of 5 outputs match, 5 input(s) unchanged" in capsys.readouterr().err


# L1: index merge validates every part fully before writing or deleting anything

@pytest.fixture(scope="module")
def embedded(weights: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An --out directory holding one embedded file and its index (copied by each test)."""
    root = tmp_path_factory.mktemp("embedded")
    assert embed(weights, write_audio(root / "a.wav", tone(16000, 0.5), 16000), "--out", root / "out") == 0
    return root / "out"


GOOD_ROW = {"input": "in/b.wav", "outputs": ["b.wav.npy"], "status": "written", "reason": None, "duration_s": 1.0,
            "sample_rate": 16000, "channels": 1, "resampled": False, "downmixed": False,
            "sha256": {"b.wav.npy": "0" * 64}}


@pytest.mark.parametrize("damage", [
    {"outputs": "b.wav.npy"}, {"outputs": []}, {"outputs": [3]}, {"status": "done"}, {"input": 5},
    {"duration_s": "1.0"}, {"sample_rate": 16000.5}, {"resampled": "no"}, {"reason": ["x"]}, {"sha256": ["0" * 64]},
    {"sha256": {"other.npy": "0" * 64}}, {"input_size": "12"}, {"input_sha256": 12},
])
def test_index_merge_refuses_a_part_with_a_malformed_row_and_touches_nothing(
    embedded: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: dict
) -> None:
    out = shutil.copytree(embedded, tmp_path / "out")
    index_before = (out / "index.json").read_bytes()
    settings = json.loads(index_before)["runs"][0]["settings"]
    part = out / "index.run-7.part.json"
    part.write_text(json.dumps({"format": 1, "run": {"id": 7, "settings": settings}, "files": [GOOD_ROW | damage]}))
    capsys.readouterr()
    assert main(["index", "merge", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{part} cannot be read" in err and "row 1" in err
    assert (out / "index.json").read_bytes() == index_before and part.is_file()


def test_index_merge_accepts_a_well_formed_part(embedded: Path, tmp_path: Path) -> None:
    """The counterpart of the test above: its GOOD_ROW itself merges."""
    out = shutil.copytree(embedded, tmp_path / "out")
    settings = json.loads((out / "index.json").read_text())["runs"][0]["settings"]
    part = out / "index.run-7.part.json"
    part.write_text(json.dumps({"format": 1, "run": {"id": 7, "settings": settings}, "files": [GOOD_ROW]}))
    assert main(["index", "merge", str(out)]) == 0
    assert not part.exists() and index_rows(out)["b.wav"]["run"] == 7


def test_an_input_still_being_written_while_it_is_read_fails(
    weights: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Its identity is taken before decoding: bytes appended meanwhile must not be recorded as embedded."""
    from hear_byols.extract import decode

    path = write_audio(tmp_path / "a.wav", tone(16000, 1.0), 16000, "PCM_16")
    read = decode.read_audio_16k

    def read_then_grow(where: Path):
        audio = read(where)
        with open(where, "ab") as fh:
            fh.write(b"\0" * 64)  # a writer still appending
        return audio

    monkeypatch.setattr(decode, "read_audio_16k", read_then_grow)
    assert embed(weights, path, "--out", tmp_path / "out") == 1
    assert "a.wav: changed while it was read" in capsys.readouterr().err
    assert not (tmp_path / "out" / "a.wav.npy").exists()
