"""A pretraining run directory's lifecycle under attack (issue 17: H1, H9, M1, M2, M3, M6, L4):
two runs in one RUN_DIR, resumes that change what the run computes, damaged checkpoints,
signals, full or read-only disks, ``--max-time`` across sessions, resuming into another RUN_DIR."""
from __future__ import annotations

import csv
import errno
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
import soundfile as sf
import torch
from filelock import FileLock

from hear_byols.pretraining.options import PretrainConfig
from hear_byols.pretraining.run import run_pretraining


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 noisy tones of 1 s: two steps per epoch at batch 4."""
    folder = tmp_path_factory.mktemp("corpus")
    rng = np.random.default_rng(1)
    t = np.arange(16000) / 16000
    for i in range(8):
        x = 0.3 * np.sin(2 * np.pi * (150 + 40 * i) * t) + 0.02 * rng.standard_normal(16000)
        sf.write(folder / f"tone{i}.wav", x.astype(np.float32), 16000)
    return folder


def _config(corpus: Path, out: Path, **overrides: object) -> PretrainConfig:
    base = PretrainConfig(data=(str(corpus),), variant="default512", out=str(out), batch_size=4, workers=0,
                          max_steps=1, save_every=100, quiet=True, norm_sample=8)
    return replace(base, **overrides)


@pytest.fixture(scope="module")
def one_step(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A RUN_DIR holding a finished one-step run (tests that resume it into itself must refuse)."""
    out = tmp_path_factory.mktemp("one_step")
    assert run_pretraining(_config(corpus, out)) == 0
    return out


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _rows(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / "metrics.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def _checkpoint(run_dir: Path) -> dict[str, Any]:
    return torch.load(run_dir / "checkpoint.pt", weights_only=True)


def _encoder_matches_checkpoint(run_dir: Path) -> bool:
    """Whether encoder.pth holds the online encoder of checkpoint.pt (a pair from one step)."""
    encoder = torch.load(run_dir / "encoder.pth", weights_only=True)
    online = _checkpoint(run_dir)["objective"]
    return all(torch.equal(online[f"learner.online_encoder.net.{key}"], value) for key, value in encoder.items())


# H1: one RUN_DIR, one run


def test_a_second_run_into_a_run_dir_is_refused_and_changes_nothing(corpus: Path, one_step: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    before = {name: _digest(one_step / name) for name in ("checkpoint.pt", "encoder.pth", "run.json")}
    assert run_pretraining(_config(corpus, one_step, seed=7)) == 2
    assert "--resume" in capsys.readouterr().err
    assert {name: _digest(one_step / name) for name in before} == before


def test_overwrite_starts_the_run_over(corpus: Path, tmp_path: Path) -> None:
    assert run_pretraining(_config(corpus, tmp_path, max_steps=2)) == 0
    (tmp_path / "unreadable.txt").write_text("a file of the old run\n")
    killed_mid_save = tmp_path / ".checkpoint.pt.x1y2z3.tmp"
    killed_mid_save.write_bytes(b"half a checkpoint")
    os.utime(killed_mid_save, (time.time() - 3600, time.time() - 3600))
    assert run_pretraining(_config(corpus, tmp_path, seed=7, overwrite=True)) == 0
    assert _checkpoint(tmp_path)["position"]["step"] == 1 and len(_rows(tmp_path)) == 1
    assert not (tmp_path / "unreadable.txt").exists() and not killed_mid_save.exists()


def test_overwrite_and_resume_of_the_same_run_dir_is_refused(corpus: Path, one_step: Path) -> None:
    before = _digest(one_step / "checkpoint.pt")
    assert run_pretraining(_config(corpus, one_step, resume=str(one_step), max_steps=2, overwrite=True)) == 2
    assert _digest(one_step / "checkpoint.pt") == before


def test_a_run_dir_locked_by_a_live_run_is_refused(corpus: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from hear_byols.pretraining.rundir import LOCK_NAME

    held = FileLock(str(tmp_path / LOCK_NAME))  # flock: another open file conflicts, even in this process
    held.acquire()
    try:
        assert run_pretraining(_config(corpus, tmp_path)) == 2
    finally:
        held.release()
    assert "another pretraining run" in capsys.readouterr().err
    assert not (tmp_path / "checkpoint.pt").exists()


# H9: a resume must compute what the uninterrupted run would have


@pytest.mark.parametrize("change, named", [
    ({"byol_weight": 0.5}, "--byol-weight"),
    ({"hybrid_weight": 2.0}, "--hybrid-weight"),
    ({"precision": "bf16"}, "--precision"),
    ({"sync_bn": True}, "--sync-bn"),
    ({"norm_sample": 4}, "--norm-sample"),
])
def test_resume_refuses_a_changed_option_and_names_it(corpus: Path, one_step: Path, change: dict[str, object],
                                                      named: str, capsys: pytest.CaptureFixture[str]) -> None:
    before = _digest(one_step / "checkpoint.pt")
    assert run_pretraining(_config(corpus, one_step, resume=str(one_step), max_steps=2, **change)) == 2
    assert named in capsys.readouterr().err
    assert _digest(one_step / "checkpoint.pt") == before


def test_resume_refuses_another_corpus(corpus: Path, one_step: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    other = tmp_path / "other"
    other.mkdir()
    for path in sorted(corpus.glob("*.wav"))[1:]:
        (other / path.name).write_bytes(path.read_bytes())
    sf.write(other / "tone0.wav", np.zeros(16000, np.float32), 16000)  # one file replaced, same name
    assert run_pretraining(_config(other, tmp_path / "run", resume=str(one_step), max_steps=2)) == 2
    assert "data differ" in capsys.readouterr().err
    assert not (tmp_path / "run" / "checkpoint.pt").exists()


def test_run_json_keeps_every_session(corpus: Path, tmp_path: Path) -> None:
    assert run_pretraining(_config(corpus, tmp_path)) == 0
    assert run_pretraining(_config(corpus, tmp_path, resume=str(tmp_path), max_steps=3, save_every=2)) == 0
    record = json.loads((tmp_path / "run.json").read_text())
    sessions = record["sessions"]
    assert [(s["from_step"], s["to_step"], s["stopped_by"]) for s in sessions] == [(0, 1, "completed"),
                                                                                    (1, 3, "completed")]
    assert [s["config"]["max_steps"] for s in sessions] == [1, 3] and sessions[1]["config"]["resume"] == str(tmp_path)
    assert record["encoder"] == {"step": 3, "sha256": _digest(tmp_path / "encoder.pth")}


# M2: a damaged or foreign checkpoint is named before any setup


def _truncated(source: Path) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(source.read_bytes()[: source.stat().st_size // 2])


@pytest.mark.parametrize("damage", ["garbage", "truncated", "encoder", "foreign"])
def test_a_damaged_checkpoint_is_named_before_the_data_are_read(one_step: Path, tmp_path: Path, damage: str,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "checkpoint.pt"
    if damage == "garbage":
        bad.write_bytes(os.urandom(4096))
    elif damage == "truncated":
        _truncated(one_step / "checkpoint.pt")(bad)
    elif damage == "encoder":
        bad.write_bytes((one_step / "encoder.pth").read_bytes())
    else:
        torch.save({"format": 1, "weights": torch.zeros(3)}, bad)
    missing_data = tmp_path / "no_such_folder"  # the checkpoint must fail first, before the data are listed
    cfg = _config(Path(missing_data), tmp_path, resume=str(bad), max_steps=2)
    assert run_pretraining(cfg) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


# M3: unwritable RUN_DIR before training; a full disk keeps a consistent pair


def test_out_that_is_a_file_is_a_usage_error(corpus: Path, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    assert run_pretraining(_config(corpus, tmp_path / "file")) == 2


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Path:
    if os.geteuid() != 0:
        tmp_path.chmod(0o555)
        yield tmp_path
        tmp_path.chmod(0o755)
        return
    candidate = Path("/sys/kernel")  # root writes anywhere but into sysfs
    try:
        (candidate / "hear-byols-probe").touch()
    except OSError:
        yield candidate
    else:
        pytest.skip("no read-only directory available to root here")


def test_read_only_out_fails_before_training(corpus: Path, read_only_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    import hear_byols.pretraining.loop as loop

    monkeypatch.setattr(loop, "prepare", lambda *a: pytest.fail("training started in a read-only RUN_DIR"))
    assert run_pretraining(_config(corpus, read_only_dir)) == 1
    assert "writable" in capsys.readouterr().err


def test_full_disk_at_a_checkpoint_keeps_the_previous_consistent_pair(corpus: Path, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    import hear_byols.storage.atomic as atomic

    real_temporary, writes = atomic.tempfile.NamedTemporaryFile, []

    def disk_full(data: bytes) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def temporary_until_disk_full(*args: Any, **kwargs: Any) -> Any:
        handle = real_temporary(*args, **kwargs)
        if kwargs.get("prefix", "").startswith(".checkpoint.pt."):
            writes.append(1)
            if len(writes) == 2:  # the second checkpoint: metrics.csv is already staged
                handle.write = disk_full
        return handle

    monkeypatch.setattr(atomic.tempfile, "NamedTemporaryFile", temporary_until_disk_full)
    assert run_pretraining(_config(corpus, tmp_path, max_steps=3, save_every=1)) == 1
    err = capsys.readouterr().err
    assert "No space left on device" in err and "Traceback" not in err
    monkeypatch.setattr(atomic.tempfile, "NamedTemporaryFile", real_temporary)
    assert _checkpoint(tmp_path)["position"]["step"] == 1 and _encoder_matches_checkpoint(tmp_path)
    assert json.loads((tmp_path / "run.json").read_text())["encoder"]["sha256"] == _digest(tmp_path / "encoder.pth")
    assert not list(tmp_path.glob(".*.tmp"))
    assert run_pretraining(_config(corpus, tmp_path, max_steps=3, resume=str(tmp_path))) == 0
    assert [int(row["step"]) for row in _rows(tmp_path)] == [1, 2, 3]


def test_full_disk_outside_a_checkpoint_is_a_storage_error(corpus: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    import hear_byols.pretraining.run_files as run_files

    pytest.importorskip("matplotlib")  # the loss plot is the write that fails here

    def disk_full(path: Path, *args: Any, **kwargs: Any) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(run_files, "atomic_write", disk_full)  # the loss plot (and the Hybrid target cache)
    assert run_pretraining(_config(corpus, tmp_path)) == 1
    err = capsys.readouterr().err
    assert "No space left on device" in err and "Traceback" not in err


def test_resume_detects_an_encoder_that_is_not_its_checkpoints(corpus: Path, tmp_path: Path,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    assert run_pretraining(_config(corpus, tmp_path)) == 0
    encoder = torch.load(tmp_path / "encoder.pth", weights_only=True)
    torch.save({key: value + 1 if value.is_floating_point() else value for key, value in encoder.items()},
               tmp_path / "encoder.pth")
    assert run_pretraining(_config(corpus, tmp_path, resume=str(tmp_path), max_steps=2)) == 0
    assert "is not the encoder of" in caplog.text and _encoder_matches_checkpoint(tmp_path)


# M6: --max-time is per session, and finished tells the truth


def test_max_time_cut_is_not_finished(corpus: Path, tmp_path: Path) -> None:
    assert run_pretraining(_config(corpus, tmp_path, max_steps=6, max_time=1e-9)) == 0
    record = json.loads((tmp_path / "run.json").read_text())
    assert record["position"]["step"] == 1 and record["finished"] is False and record["stopped_by"] == "max_time"


def test_max_time_counts_this_session_only(corpus: Path, one_step: Path, tmp_path: Path) -> None:
    state = _checkpoint(one_step)
    state["elapsed_s"] = 10_000.0  # earlier sessions trained for hours
    torch.save(state, tmp_path / "checkpoint.pt")
    out, start = tmp_path / "continued", state["position"]["step"]
    assert run_pretraining(_config(corpus, out, resume=str(tmp_path), max_steps=start + 2, max_time=3600)) == 0
    record = json.loads((out / "run.json").read_text())
    assert record["position"]["step"] == start + 2 and record["finished"] is True


# L4: --resume A --out B keeps A's history


def test_resume_into_another_run_dir_carries_the_metrics(corpus: Path, tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    assert run_pretraining(_config(corpus, first, max_steps=2)) == 0
    assert run_pretraining(_config(corpus, second, resume=str(first), max_steps=3)) == 0
    assert _rows(second)[:2] == _rows(first) and [int(row["step"]) for row in _rows(second)] == [1, 2, 3]


# M1: SIGTERM / SIGINT save a checkpoint at the next step boundary


@pytest.mark.parametrize("number, status", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_stop_signal_checkpoints_at_the_step_boundary(corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        number: signal.Signals, status: int,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    import hear_byols.pretraining.loop as loop

    real_step, calls = loop.optimiser_step, []

    def step_then_signal(*args: Any, **kwargs: Any) -> dict[str, float]:
        calls.append(1)
        if len(calls) == 2:
            signal.raise_signal(number)  # arrives mid-step
        return real_step(*args, **kwargs)

    def unhandled(*_: object) -> None:
        raise RuntimeError("the run left the signal to the default handler")

    monkeypatch.setattr(loop, "optimiser_step", step_then_signal)
    previous = signal.signal(number, unhandled)  # stands in for the default, which would kill pytest
    try:
        assert run_pretraining(_config(corpus, tmp_path, max_steps=50)) == status
        assert signal.getsignal(number) is unhandled  # the run put back the handler it found
    finally:
        signal.signal(number, previous)
    record = json.loads((tmp_path / "run.json").read_text())
    assert record["position"]["step"] == 2 and record["stopped_by"] == number.name and not record["finished"]
    assert len(_rows(tmp_path)) == 2 and _encoder_matches_checkpoint(tmp_path)
    assert f"stopped by {number.name}" in caplog.text


def test_ctrl_c_during_setup_exits_130_with_one_line(corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    import hear_byols.pretraining.prepare as prepare

    def interrupted(*_: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(prepare, "list_audio", interrupted)  # Ctrl-C while the data are scanned
    try:
        status = run_pretraining(_config(corpus, tmp_path))
    except KeyboardInterrupt:  # would stop pytest itself
        pytest.fail("KeyboardInterrupt escaped run_pretraining")
    assert status == 130
    err = capsys.readouterr().err
    assert "interrupted" in err and len(err.strip().splitlines()) == 1


def test_ctrl_c_on_the_command_saves_and_exits_130_without_a_traceback(corpus: Path, tmp_path: Path) -> None:
    command = [sys.executable, "-m", "hear_byols.pretraining", str(corpus), "--variant", "default512", "--out",
               str(tmp_path), "--batch-size", "4", "--max-steps", "10000", "--save-every", "1", "--workers", "1",
               "--norm-sample", "8", "--quiet"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                               start_new_session=True)
    deadline = time.monotonic() + 300
    while not (tmp_path / "checkpoint.pt").exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    os.killpg(process.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the data worker gets it too
    _, err = process.communicate(timeout=300)
    assert process.returncode == 130, err[-3000:]
    assert "Traceback" not in err and "stopped by SIGINT" in err.strip().splitlines()[-1]
    step = _checkpoint(tmp_path)["position"]["step"]
    assert step >= 1 and len(_rows(tmp_path)) == step and _encoder_matches_checkpoint(tmp_path)


@pytest.mark.slow
def test_sigterm_to_one_ddp_process_stops_both_at_one_step(corpus: Path, tmp_path: Path) -> None:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               "-m", "hear_byols.pretraining", str(corpus), "--variant", "default512", "--out", str(tmp_path),
               "--batch-size", "4", "--max-steps", "10000", "--save-every", "1", "--workers", "0",
               "--norm-sample", "8", "--quiet"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 300
    while not (tmp_path / "checkpoint.pt").exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    os.kill(_rank_process(process.pid, rank=1), signal.SIGTERM)
    _, err = process.communicate(timeout=300)
    record = json.loads((tmp_path / "run.json").read_text())
    assert record["stopped_by"] == "SIGTERM", err[-3000:]
    digests = record["replica_parameters_sha256"]
    assert len(digests) == 2 and digests[0] == digests[1] and _encoder_matches_checkpoint(tmp_path)


def _rank_process(launcher: int, rank: int) -> int:
    """The pid of torchrun's worker with ``RANK=rank`` (Linux /proc)."""
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            parent = next(line for line in status.read_text().splitlines() if line.startswith("PPid:"))
            environ = (status.parent / "environ").read_bytes().split(b"\0")
        except (OSError, StopIteration):
            continue  # exited meanwhile
        if int(parent.split()[1]) == launcher and f"RANK={rank}".encode() in environ:
            return int(status.parent.name)
    raise AssertionError(f"no worker of rank {rank} under {launcher}")
