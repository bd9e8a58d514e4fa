"""``embed --workers N --batch-size B``: every output equals the Python API's for that file alone.

Scene batches differ from the per-file path by float32 summation order only (the kernels block a
batch differently). Measured on CPU (2 threads) over every variant with deterministic weights,
batches of 7 noise clips of 1 s and 5 s: at most 5.7e-7 of the embedding's largest magnitude (bit-identical for some variants and lengths);
the bound below is BATCH_RTOL. Timestamp embeddings, long clips and ``--batch-size 1`` take
the per-file path and are bit-identical.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from helpers.audio import tone, write_audio
from helpers.variants import ALL_VARIANTS
from hear_byols.api import get_scene_embeddings, get_timestamp_embeddings, load_model
from hear_byols.audio.files import read_audio_16k
from hear_byols.extract.batching import SceneBatcher
from hear_byols.audio.inputs import InputFile
from hear_byols.extract.journal import JOURNAL_NAME
from hear_byols.distributed import Shard
from hear_byols.extract.shards import owns
from hear_byols.inference.model import ByolsModel
from helpers.cli import embed

#: Largest difference allowed between a batched scene embedding and the file's own, relative to
#: the largest magnitude of the file's embedding (measured: <= 5.7e-7).
BATCH_RTOL = 2e-6
HOP_MS = 250.0


def mixed_corpus(directory: Path) -> list[Path]:
    """Files of several rates, channel counts and lengths; the first four are all 32,000 samples
    at 16 kHz (2 s), so they share batches; the others are alone in their length."""
    specs = [
        ("a16k.wav", 16000, 2.0, 1), ("b44k_stereo.wav", 44100, 2.0, 2), ("c48k.flac", 48000, 2.0, 1),
        ("d22k_stereo.flac", 22050, 2.0, 2), ("e16k_short.wav", 16000, 1.3, 1), ("f44k.wav", 44100, 0.9, 2),
        ("g16k.wav", 16000, 2.0, 1),
    ]
    return [
        write_audio(directory / name, tone(rate, seconds, channels, freq=150.0 + 40 * i), rate)
        for i, (name, rate, seconds, channels) in enumerate(specs)
    ]


def api_outputs(model: ByolsModel, path: Path, timestamps: bool) -> list[np.ndarray]:
    clip = torch.from_numpy(read_audio_16k(path).samples).unsqueeze(0)
    if timestamps:
        embeddings, stamps = get_timestamp_embeddings(clip, model, hop_size=HOP_MS)
        return [embeddings[0].numpy(), stamps[0].numpy()]
    return [get_scene_embeddings(clip, model)[0].numpy()]


def check_against_api(variant: str, weights: Path, files: list[Path], out: Path, timestamps: bool) -> float:
    """Asserts every output against the API; returns the largest relative difference seen."""
    worst, model = 0.0, load_model(str(weights), variant=variant)
    for path in files:
        expected = api_outputs(model, path, timestamps)
        written = [np.load(out / f"{path.name}.npy")] + ([np.load(out / f"{path.name}.timestamps.npy")] if timestamps else [])
        for got, want in zip(written, expected):
            assert got.dtype == want.dtype and got.shape == want.shape, path
            if timestamps:
                assert np.array_equal(got, want), path  # the per-file path: bit-identical
            else:
                worst = max(worst, float(np.abs(got - want).max() / np.abs(want).max()))
    assert worst <= BATCH_RTOL, worst
    return worst


def _variant_cases(variants: tuple[str, ...]) -> list:
    return [pytest.param(v, marks=[] if v == "default" else [pytest.mark.slow]) for v in variants]


@pytest.mark.parametrize("variant", _variant_cases(ALL_VARIANTS))
def test_batched_scene_outputs_equal_the_api_per_file(checkpoint_path, tmp_path: Path, variant: str, monkeypatch) -> None:
    files = mixed_corpus(tmp_path / "in")
    encoded_batches: list[int] = []
    encode = SceneBatcher.encode
    monkeypatch.setattr(SceneBatcher, "encode", lambda self, group: encoded_batches.append(len(group)) or encode(self, group))
    out = tmp_path / "out"
    weights = checkpoint_path(variant)
    assert embed(variant, weights, tmp_path / "in", "--out", out, "--workers", "2", "--batch-size", "3") == 0
    check_against_api(variant, weights, files, out, timestamps=False)
    assert sorted(encoded_batches, reverse=True)[:2] == [3, 2]  # five 2 s files: a batch of 3, then 2 at the end
    assert sum(encoded_batches) == len(files)


@pytest.mark.parametrize("variant", _variant_cases(ALL_VARIANTS))
def test_timestamp_outputs_with_workers_equal_the_api_per_file(checkpoint_path, tmp_path: Path, variant: str) -> None:
    files = [mixed_corpus(tmp_path / "in")[i] for i in (1, 4, 5)]  # resampled stereo, and two other lengths
    weights, out = checkpoint_path(variant), tmp_path / "out"
    args = ["--out", out, "--timestamps", "--hop", str(HOP_MS), "--workers", "2", "--batch-size", "4"]
    assert embed(variant, weights, *files, *args) == 0
    check_against_api(variant, weights, files, out, timestamps=True)


def test_a_failing_batch_is_retried_file_by_file(checkpoint_path, tmp_path: Path, monkeypatch, capsys) -> None:
    def exhausted(self, group):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    monkeypatch.setattr(SceneBatcher, "encode", exhausted)
    files = mixed_corpus(tmp_path / "in")
    weights, out = checkpoint_path("default"), tmp_path / "out"
    assert embed("default", weights, tmp_path / "in", "--out", out, "--batch-size", "4") == 0
    assert f"{len(files)} written, 0 skipped, 0 failed" in capsys.readouterr().err
    model = load_model(str(weights), variant="default")
    for path in files:  # the per-file path: bit-identical
        assert np.array_equal(np.load(out / f"{path.name}.npy"), api_outputs(model, path, False)[0])


def test_a_non_finite_embedding_in_a_batch_fails_only_its_file(checkpoint_path, tmp_path: Path, monkeypatch, capsys) -> None:
    encode = SceneBatcher.encode

    def poisoned(self, group):
        embeddings = encode(self, group)
        embeddings[0, 3] = np.nan
        return embeddings

    monkeypatch.setattr(SceneBatcher, "encode", poisoned)
    for i in range(3):
        write_audio(tmp_path / "in" / f"x{i}.wav", tone(16000, 1.0, freq=300.0 + 50 * i), 16000)
    out = tmp_path / "out"
    assert embed("default", checkpoint_path("default"), tmp_path / "in", "--out", out, "--batch-size", "3") == 1
    err = capsys.readouterr().err
    assert "2 written, 0 skipped, 1 failed" in err and "NaN or Inf" in err
    assert len(list(out.glob("*.npy"))) == 2


def test_long_and_short_clips_are_embedded_alone(checkpoint_path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr("hear_byols.extract.batching.MAX_BATCHED_SECONDS", 1.5)
    batched: list[int] = []
    encode = SceneBatcher.encode
    monkeypatch.setattr(SceneBatcher, "encode", lambda self, group: batched.append(len(group)) or encode(self, group))
    for i in range(3):
        write_audio(tmp_path / "in" / f"long{i}.wav", tone(16000, 2.0, freq=300.0 + 50 * i), 16000)
        write_audio(tmp_path / "in" / f"ok{i}.wav", tone(16000, 1.0, freq=300.0 + 50 * i), 16000)
    write_audio(tmp_path / "in" / "tiny.wav", tone(16000, 0.01), 16000)  # too short: the API's own error
    out = tmp_path / "out"
    assert embed("default", checkpoint_path("default"), tmp_path / "in", "--out", out, "--batch-size", "8") == 1
    assert batched == [3]  # only the three 1 s clips
    rows = {Path(row["input"]).name: row for row in json.loads((out / "index.json").read_text())["files"]}
    assert rows["tiny.wav"]["status"] == "failed" and "needs at least" in rows["tiny.wav"]["reason"]
    assert all(rows[f"long{i}.wav"]["status"] == "written" for i in range(3))


def test_waiting_clips_stay_bounded_with_all_lengths_different(checkpoint_path) -> None:
    batcher = SceneBatcher(load_model(str(checkpoint_path("default")), variant="default"), batch_size=4)
    due = []
    for i in range(40):
        due += batcher.add(i, torch.zeros(16000 + i))
        assert batcher._waiting <= 2 * 4
    assert len(due) == 40 - batcher._waiting and all(len(group) == 1 for group in due)
    assert sum(map(len, batcher.drain())) == 40 - len(due)


def test_a_bad_file_decoded_in_a_worker_is_recorded(checkpoint_path, tmp_path: Path, capsys) -> None:
    write_audio(tmp_path / "in" / "good.wav", tone(16000, 1.0), 16000)
    (tmp_path / "in" / "notes.wav").write_text("not audio\n")
    out = tmp_path / "out"
    assert embed("default", checkpoint_path("default"), tmp_path / "in", "--out", out, "--workers", "2") == 1
    err = capsys.readouterr().err
    assert "1 written, 0 skipped, 1 failed" in err and "not a readable audio file" in err


def test_ctrl_c_with_workers_writes_the_index_of_the_files_done(checkpoint_path, tmp_path: Path) -> None:
    for i in range(40):
        write_audio(tmp_path / "in" / f"x{i:02d}.wav", tone(16000, 2.0, freq=200.0 + 10 * i), 16000)
    out = tmp_path / "out"
    process = subprocess.Popen(
        [sys.executable, "-m", "hear_byols.cli", "embed", str(tmp_path / "in"), "--model", "default", "--weights",
         str(checkpoint_path("default")), "--out", str(out), "--quiet", "--workers", "2", "--batch-size", "2",
         "--timestamps", "--hop", "20"],  # ~0.1 s a file: still running when SIGINT comes, even on a loaded host
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    journal = out / JOURNAL_NAME
    deadline = time.monotonic() + 240
    while not (journal.is_file() and journal.read_text().count('"file"') >= 2):
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    rows = json.loads((out / "index.json").read_text())["files"]
    written = sorted(row["outputs"][0] for row in rows if row["status"] == "written")
    assert 2 <= len(written) < 40 and written == sorted(p.name for p in out.glob("*.wav.npy"))
    assert "Traceback" not in err


def test_a_shard_that_owns_no_file_succeeds(checkpoint_path, tmp_path: Path, capsys) -> None:
    path = write_audio(tmp_path / "a.wav", tone(16000, 0.5), 16000)
    owner = next(i for i in range(4) if owns(InputFile(path, Path("a.wav")), Shard(i, 4)))
    idle = (owner + 1) % 4
    out = tmp_path / "out"
    assert embed("default", checkpoint_path("default"), path, "--out", out, "--shard", f"{idle}/4") == 0
    assert "0 written, 0 skipped, 0 failed" in capsys.readouterr().err
    assert json.loads((out / "index.json").read_text())["files"] == []
