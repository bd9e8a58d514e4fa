"""Hostile input to ``pretrain``'s numbers, data and options (issue 17: H2, H8, M4, M5, M7, M8,
L3, L7, L12): each is refused clearly, or works, and never trains NaN into a saved encoder."""
from __future__ import annotations

import importlib.util
import json
import os
import re
import socket
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from hear_byols.cli import main
from hear_byols.errors import UsageError
from hear_byols.pretraining import launch
from hear_byols.pretraining.launch import Distributed
from hear_byols.pretraining.learner import ByolLearner
from hear_byols.pretraining.objectives.byol import ByolObjective
from hear_byols.pretraining.options import PretrainConfig
from hear_byols.pretraining.run import run_pretraining
from hear_byols.pretraining.step import optimiser_step, trainable
from hear_byols.variants import variant_spec

HAS_OPENSMILE = importlib.util.find_spec("opensmile") is not None
CPU = Distributed(0, 1, 0, torch.device("cpu"))


def _noise(seed: int, n: int = 16000) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal(n)).astype(np.float32)


def _corpus(folder: Path, count: int = 4) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        sf.write(folder / f"clip{i}.wav", _noise(i), 16000, subtype="FLOAT")
    return folder


def _config(data: Path, out: Path, **overrides: object) -> PretrainConfig:
    base = PretrainConfig(data=(str(data),), variant="default512", out=str(out), batch_size=4, workers=0,
                          max_steps=2, save_every=100, quiet=True, norm_sample=16)
    return replace(base, **overrides)


def _encoder_is_finite(run_dir: Path) -> bool:
    state = torch.load(run_dir / "encoder.pth", weights_only=True)
    return all(torch.isfinite(value.float()).all() for value in state.values())


# H2: NaN never trained and saved as success.

def test_a_float_wav_peaking_at_1e20_is_named_and_nothing_is_saved(tmp_path: Path, capsys) -> None:
    data = _corpus(tmp_path / "data")
    huge = _noise(9)
    huge[8000] = 1e20  # inside every crop: its power overflows float32
    sf.write(data / "huge.wav", huge, 16000, subtype="FLOAT")
    assert run_pretraining(_config(data, tmp_path / "run")) == 1
    error = capsys.readouterr().err
    assert "huge.wav" in error and "clip0.wav" not in error and "not finite" in error
    assert not (tmp_path / "run" / "encoder.pth").exists()


def test_an_all_silent_corpus_is_refused_naming_it(tmp_path: Path, capsys) -> None:
    data = tmp_path / "silent"
    data.mkdir()
    for i in range(4):
        sf.write(data / f"quiet{i}.wav", np.zeros(16000, np.float32), 16000)
    assert run_pretraining(_config(data, tmp_path / "run")) == 1
    error = capsys.readouterr().err
    assert "quiet0.wav" in error and "constant" in error and "Traceback" not in error
    assert not (tmp_path / "run" / "encoder.pth").exists()


def test_a_diverging_run_stops_at_the_step_keeping_the_last_finite_checkpoint(tmp_path: Path, capsys) -> None:
    data = _corpus(tmp_path / "data", count=8)
    out = tmp_path / "run"
    assert run_pretraining(_config(data, out, lr=1e8, max_steps=10, save_every=1)) == 1
    error = capsys.readouterr().err
    record = json.loads((out / "run.json").read_text())
    saved = record["position"]["step"]
    assert re.search(rf"\bstep {saved + 1}: .*not finite.*--lr.*hold step {saved}, the last finite", error), error
    assert _encoder_is_finite(out) and not record["finished"]


def test_a_non_finite_gradient_is_never_applied() -> None:
    spec = variant_spec("default512")
    torch.manual_seed(0)
    learner = ByolLearner(spec.build_encoder().train(), spec.embedding_size)
    objective = ByolObjective(learner)
    optimiser = torch.optim.AdamW(trainable(objective), lr=3e-4)
    before = {name: value.clone() for name, value in objective.state_dict().items()}
    views = torch.randn(8, 1, 64, 96)
    views[0, 0, 0, 0] = float("nan")
    from hear_byols.errors import TrainingDivergedError
    from hear_byols.logmel.frontend import LogMelFrontend
    from hear_byols.pretraining.finite import NonFiniteGuard

    guard = NonFiniteGuard(CPU, trainable(objective), LogMelFrontend(spec.frontend), [], Path("run"))
    guard.watch(7, [])
    with pytest.raises(TrainingDivergedError, match=r"^step 7: .* not finite.*no checkpoint"):
        optimiser_step(objective, learner, optimiser, [(views[:4], views[4:], None)], before_update=guard.check)
    after = objective.state_dict()
    changed = [name for name, value in before.items()
               if value.is_floating_point() and "running" not in name and not torch.equal(value, after[name])]
    assert changed == []


# M4, M7, L3: numbers and devices refused before any work (exit 2, no traceback, no RUN_DIR).

@pytest.mark.parametrize("option", [
    ["--save-every", "0"], ["--accumulate", "0"], ["--norm-sample", "0"], ["--workers", "-1"], ["--lr", "nan"],
    ["--lr", "inf"], ["--lr", "0"], ["--tau", "1.5"], ["--hybrid-weight", "nan"], ["--max-time", "-1"],
    ["--max-steps", "0"], ["--max-steps", "-3"], ["--epochs", "0"], ["--epochs", "-1"], ["--seed", "-1"],
    ["--device", "mps"], ["--device", "tpu"], ["--sync-bn", "--device", "cpu"],
])
def test_bad_numbers_and_devices_are_usage_errors(option: list[str], tmp_path: Path, capsys) -> None:
    data = _corpus(tmp_path / "data")
    out = tmp_path / "run"
    status = main(["pretrain", str(data), "--variant", "default512", "--out", str(out), "--batch-size", "4",
                   "--workers", "0", "--quiet", "--max-steps", "1", *option])
    error = capsys.readouterr().err
    assert status == 2, error
    assert option[0] in error and "Traceback" not in error
    assert not out.exists()


def test_cuda_devices_are_checked_against_what_is_visible(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert launch.choose_device("cuda:0", 0) == torch.device("cuda", 0)
    assert launch.choose_device("auto", 0) == torch.device("cuda", 0)
    with pytest.raises(UsageError, match=r"cuda:3 \(from LOCAL_RANK=3\) does not exist"):
        launch.choose_device("auto", 3)
    with pytest.raises(UsageError, match="cuda:1 does not exist"):
        launch.choose_device("cuda:1", 0)


def test_an_all_unreadable_corpus_names_its_files(tmp_path: Path, capsys) -> None:
    data = tmp_path / "junk"
    data.mkdir()
    for i in range(4):
        (data / f"junk{i}.wav").write_bytes(b"not audio")
    assert run_pretraining(_config(data, tmp_path / "run")) == 1
    error = capsys.readouterr().err
    assert "junk0.wav" in error and "readable" in error and "Traceback" not in error


# L12: the "too few readable crops" error names the files, not a file never written.

def test_a_micro_batch_of_unreadable_files_names_them(tmp_path: Path, capsys) -> None:
    data = _corpus(tmp_path / "data", count=2)
    for i in range(6):
        (data / f"broken{i}.wav").write_bytes(b"not audio")
    assert run_pretraining(_config(data, tmp_path / "run", max_steps=4)) == 1
    error = capsys.readouterr().err
    assert "broken" in error and "unreadable.txt" not in error


# M5: inherited launcher variables.

def test_inherited_rank_without_a_rendezvous_is_a_clear_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    for name in ("MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(UsageError, match="MASTER_ADDR"):
        launch.start("cpu")


def test_inherited_rank_with_a_master_address_times_out_instead_of_hanging(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    data = _corpus(tmp_path / "data")
    code = ("import sys; from hear_byols.pretraining import launch; launch.RENDEZVOUS_TIMEOUT_S = 3; "
            "from hear_byols.pretraining.options import build_parser, config_from_args; "
            "from hear_byols.pretraining.run import run_pretraining; "
            f"sys.exit(run_pretraining(config_from_args(build_parser().parse_args([{str(data)!r}, '--variant', "
            f"'default512', '--out', {str(tmp_path / 'run')!r}, '--device', 'cpu']))))")
    env = {**os.environ, "RANK": "1", "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port),
           "OMP_NUM_THREADS": "1"}
    env.pop("LOCAL_RANK", None)
    try:
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=90, env=env)
    except subprocess.TimeoutExpired:
        pytest.fail("pretrain with inherited RANK/WORLD_SIZE/MASTER_ADDR hung past 90 s")
    assert result.returncode == 2, result.stderr[-2000:]
    assert "RANK=1" in result.stderr and "did not join" in result.stderr and "Traceback" not in result.stderr


# M8: non-UTF-8 file names.

@pytest.mark.skipif(sys.platform != "linux", reason="file names are bytes only on Linux")
def test_non_utf8_file_names_train(tmp_path: Path) -> None:
    data = _corpus(tmp_path / "data")
    sf.write(data / "latin1.wav", _noise(7), 16000)
    os.rename(data / "latin1.wav", os.fsdecode(bytes(data) + b"/\xff.wav"))
    Path(os.fsdecode(bytes(data) + b"/\xfe.wav")).write_bytes(b"not audio")
    listing = tmp_path / "files.txt"  # a file list naming one of them in its bytes
    listing.write_bytes(bytes(data) + b"/\xff.wav\n")
    out = tmp_path / "run"
    assert run_pretraining(replace(_config(data, out), data=(str(data), str(listing)))) == 0
    assert b"\xfe.wav" in (out / "unreadable.txt").read_bytes()
    assert json.loads((out / "run.json").read_text())["data"]["files"] == 6


# H8: the data manifest, and with it the hybrid target cache, follows content.

def _rewrite_same_size_and_mtime(path: Path, samples: np.ndarray) -> None:
    before = path.stat()
    sf.write(path, samples, 16000, subtype="FLOAT")
    assert path.stat().st_size == before.st_size
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


def test_manifest_changes_when_a_file_is_rewritten_to_the_same_size_and_mtime(tmp_path: Path) -> None:
    from hear_byols.pretraining.build import data_manifest

    data = _corpus(tmp_path / "data")
    files = sorted(data.glob("*.wav"))
    before = data_manifest(files, CPU)
    assert data_manifest(files, CPU) == before
    _rewrite_same_size_and_mtime(files[1], _noise(99))
    assert data_manifest(files, CPU) != before


@pytest.mark.skipif(not HAS_OPENSMILE, reason="opensmile is not installed (pip install 'hear_byols[train]')")
def test_hybrid_target_cache_follows_a_same_size_rewrite(tmp_path: Path) -> None:
    from hear_byols.pretraining.build import data_manifest, read_batches
    from hear_byols.pretraining.data import CropDataset
    from hear_byols.pretraining.objectives.base import TargetSetup
    from hear_byols.pretraining.objectives.hybrid import Functionals, target_table

    data = _corpus(tmp_path / "data", count=2)
    files = sorted(data.glob("*.wav"))
    cache = tmp_path / "hybrid_targets.npy"

    def table() -> np.ndarray:
        dataset = CropDataset(files, "first", 0)
        setup = TargetSetup(dataset, CPU, tmp_path, data_manifest(files, CPU),
                            lambda indices: read_batches(dataset, indices, 2, 0), {})
        return target_table(setup, Functionals("egemaps"), cache)

    first = table()
    _rewrite_same_size_and_mtime(files[0], 10 * _noise(5))
    second = table()
    assert np.abs(second[0] - first[0]).max() > 1 and np.array_equal(second[1], first[1])


# L7: --init advice names the pretraining options.

def test_init_with_a_training_checkpoint_points_to_its_encoder(tmp_path: Path, capsys) -> None:
    data = _corpus(tmp_path / "data")
    assert run_pretraining(_config(data, tmp_path / "first", max_steps=1)) == 0
    capsys.readouterr()
    assert run_pretraining(_config(data, tmp_path / "second", init=str(tmp_path / "first" / "checkpoint.pt"))) == 2
    error = capsys.readouterr().err
    assert "encoder.pth" in error and "--resume" in error


def test_init_of_another_architecture_says_which_variant(tmp_path: Path, capsys) -> None:
    from hear_byols.testing import write_deterministic_checkpoint

    weights = write_deterministic_checkpoint("default", tmp_path / "d2048.pth")
    data = _corpus(tmp_path / "data")
    assert run_pretraining(_config(data, tmp_path / "run", init=str(weights))) == 2
    error = capsys.readouterr().err
    assert "--variant default" in error and "load_model" not in error


def test_init_of_a_missing_file_names_the_option(tmp_path: Path, capsys) -> None:
    data = _corpus(tmp_path / "data")
    assert run_pretraining(_config(data, tmp_path / "run", init=str(tmp_path / "nope.pth"))) == 2
    error = capsys.readouterr().err
    assert "--init" in error and "load_model" not in error
