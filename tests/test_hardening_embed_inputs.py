"""Input integrity of ``embed`` and its index (issue 17: H4, H5, L1, L8): a changed or truncated
input never leaves a stale or partial embedding called valid; the index refuses malformed parts
before touching anything; ``verify-embeddings`` names what a plain rerun repairs."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from audio_fixture import tone, write_audio
from hear_byols.cli import main
from hear_byols.pretraining.data import CropDataset
from http_fixture import isolate_weights_env

MODEL = "default512"  # a small variant: these tests are about files, not numbers


@pytest.fixture(scope="module")
def weights(checkpoint_path) -> Path:
    """A deterministic-weights checkpoint of MODEL (conftest)."""
    return checkpoint_path(MODEL)


@pytest.fixture(autouse=True)
def _no_user_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_weights_env(monkeypatch, tmp_path)


def embed(weights: Path, *args: str | Path) -> int:
    return main(["embed", "--model", MODEL, "--weights", str(weights), "--quiet", *map(str, args)])


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
