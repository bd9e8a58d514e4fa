"""The training loop end to end on a tiny synthetic corpus: exact resume, export, DDP, hybrid."""
from __future__ import annotations

import csv
import importlib.util
import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from hear_byols.pretraining.data import CROP_SAMPLES, epoch_batches, list_audio, take_crop
from hear_byols.pretraining.options import PretrainConfig
from hear_byols.pretraining.run import run_pretraining

HAS_OPENSMILE = importlib.util.find_spec("opensmile") is not None


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 harmonic 'voiced' clips of 0.5-2.5 s (some shorter than a crop) and one broken file."""
    folder = tmp_path_factory.mktemp("corpus")
    rng = np.random.default_rng(0)
    for i in range(12):
        n = int(rng.integers(8000, 40000))
        t = np.arange(n) / 16000
        f0 = 100 + 200 * rng.random()
        x = sum(np.sin(2 * np.pi * f0 * k * t + 6 * rng.random()) / k for k in range(1, 8))
        x = 0.3 * x * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)) / np.abs(x).max() + 0.01 * rng.standard_normal(n)
        sf.write(folder / f"clip{i:02d}.wav", x.astype(np.float32), 16000)
    (folder / "broken.wav").write_bytes(b"not audio")
    return folder


def _config(corpus: Path, out: Path, **overrides: object) -> PretrainConfig:
    base = PretrainConfig(data=(str(corpus),), variant="default512", out=str(out), batch_size=4, workers=0,
                          max_steps=4, save_every=100, quiet=True, norm_sample=13)
    return replace(base, **overrides)


def _losses(run_dir: Path) -> list[str]:
    with open(run_dir / "metrics.csv", newline="") as fh:
        return [row["loss"] for row in csv.DictReader(fh)]


@pytest.fixture(scope="module")
def straight(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("straight")
    assert run_pretraining(_config(corpus, out)) == 0
    return out


def test_resumed_run_equals_a_straight_run_bit_for_bit(corpus: Path, straight: Path, tmp_path: Path) -> None:
    assert run_pretraining(_config(corpus, tmp_path, max_steps=2)) == 0
    assert run_pretraining(_config(corpus, tmp_path, resume=str(tmp_path))) == 0
    ours, theirs = (torch.load(d / "checkpoint.pt", weights_only=True) for d in (tmp_path, straight))
    for key, value in theirs["objective"].items():
        assert torch.equal(ours["objective"][key], value), key
    assert _losses(tmp_path) == _losses(straight) and len(_losses(straight)) == 4
    assert ours["position"] == theirs["position"] == {"step": 4, "epoch": 1, "batch_in_epoch": 1}


def test_run_directory_holds_every_output(straight: Path) -> None:
    record = json.loads((straight / "run.json").read_text())
    assert record["data"] == {"files": 13, "manifest_sha256": record["data"]["manifest_sha256"], "unreadable": 1}
    assert "broken.wav" in (straight / "unreadable.txt").read_text()
    assert record["finished"] and record["versions"]["torch"] == torch.__version__
    assert (straight / "loss.png").stat().st_size > 1000 or importlib.util.find_spec("matplotlib") is None
    assert all(np.isfinite(float(v)) for v in _losses(straight))


def test_exported_encoder_loads_into_its_hear_module(straight: Path) -> None:
    import hear_byols.default512 as module

    model = module.load_model(str(straight / "encoder.pth"))
    trained = torch.load(straight / "encoder.pth", weights_only=True)
    assert all(torch.equal(model.encoder.state_dict()[k], v) for k, v in trained.items())
    assert module.get_scene_embeddings(torch.zeros(1, 16000), model).shape == (1, 512)


def test_torchrun_two_gloo_processes_train_one_encoder(corpus: Path, tmp_path: Path) -> None:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               "-m", "hear_byols.pretraining", str(corpus), "--variant", "default512", "--out", str(tmp_path),
               "--batch-size", "8", "--max-steps", "2", "--workers", "0", "--norm-sample", "8", "--quiet"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    record = json.loads((tmp_path / "run.json").read_text())
    assert record["processes"] == 2 and record["micro_batch_per_process"] == 4
    digests = record["replica_parameters_sha256"]
    assert len(digests) == 2 and digests[0] == digests[1]
    assert sorted(p.name for p in tmp_path.glob("encoder*")) == ["encoder.pth"]


@pytest.mark.skipif(not HAS_OPENSMILE, reason="opensmile is not installed (pip install 'hear_byols[train]'; `make test` installs it)")
def test_hybrid_egemaps_run_caches_fixed_crop_targets(corpus: Path, tmp_path: Path) -> None:
    assert run_pretraining(_config(corpus, tmp_path, hybrid="egemaps", crop="first", max_steps=2)) == 0
    table = np.load(tmp_path / "hybrid_targets.npy")
    assert table.shape == (13, 88) and np.isfinite(table).all() and np.abs(table).sum() > 0
    with open(tmp_path / "metrics.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert all(float(row["hybrid_loss"]) > 0 for row in rows)
    assert json.loads((tmp_path / "run.json").read_text())["hybrid"]["functionals"] == 88


def test_bad_batch_size_is_a_usage_error(corpus: Path, tmp_path: Path) -> None:
    assert run_pretraining(_config(corpus, tmp_path, batch_size=5, accumulate=2)) == 2


def test_crops_pad_short_clips_and_cut_long_ones() -> None:
    short = np.ones(1000, np.float32)
    padded = take_crop(short, "random", 0, 0, 0)
    assert len(padded) == CROP_SAMPLES and padded[7100:8100].all() and padded[:7100].sum() == 0
    long = np.arange(40000, dtype=np.float32)
    assert take_crop(long, "first", 0, 0, 0)[0] == 0
    offsets = {int(take_crop(long, "random", 42, epoch, 3)[0]) for epoch in range(5)}
    assert len(offsets) == 5 and max(offsets) <= 40000 - CROP_SAMPLES
    assert take_crop(long, "random", 42, 1, 3)[0] == take_crop(long, "random", 42, 1, 3)[0]


def test_ranks_get_disjoint_equal_batches() -> None:
    parts = [epoch_batches(103, 4, 3, rank, 42, 0) for rank in range(3)]
    flat = [i for part in parts for batch in part for i in batch]
    assert len(flat) == len(set(flat)) == 96 and all(len(part) == 8 for part in parts)


def test_inference_never_imports_pretraining() -> None:
    code = "import sys, hear_byols, hear_byols.default512; print([m for m in sys.modules if 'pretraining' in m])"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"


def test_data_from_a_file_list_and_a_glob(corpus: Path, tmp_path: Path) -> None:
    listing = tmp_path / "files.txt"
    listing.write_text(f"# two clips\n{corpus / 'clip00.wav'}\n\n{corpus / 'clip01.wav'}\n")
    files = list_audio([str(listing), str(corpus / "clip1*.wav"), str(corpus / "clip00.wav")])
    assert [p.name for p in files] == ["clip00.wav", "clip01.wav", "clip10.wav", "clip11.wav"]
