"""``embed`` under kills, concurrent runs, device errors and damaged directories: outputs are
never mixed or called valid without their provenance, usage errors come before any work."""
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
from hear_byols.extract.failures import failure_reason
from hear_byols.extract.journal import JOURNAL_NAME, read_journal
from hear_byols.storage.leftovers import STALE_AFTER_S
from helpers.cli import embed_with

MODEL = "default"


embed = embed_with(MODEL)


def many_files(directory: Path, count: int, seconds: float = 2.0) -> Path:
    for i in range(count):
        write_audio(directory / f"f{i:03d}.wav", tone(16000, seconds, freq=200.0 + 10 * i), 16000)
    return directory


def start_embed(weights: Path, inputs: Path, out: Path, *extra: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "hear_byols.cli", "embed", str(inputs), "--model", MODEL,
               "--weights", str(weights), "--out", str(out), "--quiet", *extra]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ)


def wait_for_written_files(out: Path, process: subprocess.Popen[str], at_least: int, timeout_s: float = 240) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        journal = out / JOURNAL_NAME
        if journal.is_file() and journal.read_text().count('"file"') >= at_least:
            return
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)
    raise AssertionError(f"no {at_least} written files in {timeout_s} s")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_a_killed_run_never_lends_its_outputs_to_a_run_with_other_settings(
    weights: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], sig: signal.Signals
) -> None:
    inputs, out = many_files(tmp_path / "in", 40), tmp_path / "out"
    process = start_embed(weights, inputs, out)
    wait_for_written_files(out, process, at_least=2)
    process.send_signal(sig)
    process.communicate(timeout=60)
    assert not (out / "index.json").exists()  # killed before the end: only the journal knows
    # done = recorded: embed has no SIGTERM handler, so either signal can land between an output's
    # rename and its journal line; that output is rightly recomputed by the rerun
    done = sorted(entry["file"]["outputs"][0] for entry in read_journal(out).valid_entries())
    assert 2 <= len(done) < 40

    assert embed(weights, inputs, "--out", out, "--normalization", "per_clip") == 2
    err = capsys.readouterr().err
    assert "holds embeddings made with other settings (normalization: 'reference' recorded, 'per_clip' now)" in err
    assert "--overwrite" in err and "another --out" in err

    assert embed(weights, inputs, "--out", out) == 0
    assert f"{40 - len(done)} written, {len(done)} skipped, 0 failed" in capsys.readouterr().err
    index = json.loads((out / "index.json").read_text())
    assert [run["settings"]["normalization"] for run in index["runs"]] == ["reference", "reference"]
    assert len(index["files"]) == 40 and {row["status"] for row in index["files"]} == {"written"}
    killed_run = index["runs"][0]["id"]
    assert sorted(row["outputs"][0] for row in index["files"] if row["run"] == killed_run) == done


def test_an_output_rewritten_but_not_recorded_is_recomputed(weights: Path, tmp_path: Path, capsys) -> None:
    path = write_audio(tmp_path / "a.wav", tone(16000, 1.0), 16000)
    out = tmp_path / "out"
    assert embed(weights, path, "--out", out) == 0
    np.save(out / "a.wav.npy", np.zeros(2048, dtype=np.float32))  # as a run killed before recording it
    capsys.readouterr()
    assert embed(weights, path, "--out", out) == 0
    assert "1 written, 0 skipped" in capsys.readouterr().err
    assert np.load(out / "a.wav.npy").any()


def test_a_second_concurrent_run_fails_at_once(weights: Path, tmp_path: Path) -> None:
    inputs, out = many_files(tmp_path / "in", 40), tmp_path / "out"
    # slow (exact timestamps every 20 ms): alive throughout; in scene mode it could finish before the second starts
    first = start_embed(weights, inputs, out, "--timestamps", "--hop", "20")
    try:
        wait_for_written_files(out, first, at_least=1)
        started = time.monotonic()
        second = subprocess.run([sys.executable, "-m", "hear_byols.cli", "embed", str(inputs), "--model", MODEL,
                                 "--weights", str(weights), "--out", str(out), "--hop", "100", "--timestamps"],
                                capture_output=True, text=True, timeout=120)
        assert second.returncode == 2, second.stderr
        assert f"another hear-byols embed is writing into {out}" in second.stderr
        assert time.monotonic() - started < 60 and first.poll() is None
    finally:
        first.kill()
        first.communicate()


def test_sticky_cuda_error_stops_the_run(weights: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    calls = []

    def broken(*args: object) -> None:
        calls.append(1)
        raise RuntimeError("CUDA error: an illegal memory access was encountered")

    monkeypatch.setattr("hear_byols.extract.embed.get_scene_embeddings", broken)
    inputs = many_files(tmp_path / "in", 3, seconds=0.5)
    assert embed(weights, inputs, "--out", tmp_path / "out") == 1
    err = capsys.readouterr().err
    assert len(calls) == 1 and "the run stopped" in err and "--device cpu" in err
    assert "interrupted after 0 of 3 files" in err and (tmp_path / "out" / "index.json").is_file()


@pytest.mark.parametrize("timestamps", [False, True])
def test_out_of_memory_frees_the_cache_and_gives_the_hint_of_the_mode(
    weights: Path, tmp_path: Path, monkeypatch, capsys, timestamps: bool
) -> None:
    emptied = []

    def exhausted(*args: object, **kwargs: object) -> None:
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    monkeypatch.setattr(f"hear_byols.extract.embed.get_{'timestamp' if timestamps else 'scene'}_embeddings", exhausted)
    monkeypatch.setattr("hear_byols.extract.failures.torch.cuda.empty_cache", lambda: emptied.append(1))
    inputs = many_files(tmp_path / "in", 2, seconds=0.5)
    assert embed(weights, inputs, "--out", tmp_path / "out", *(["--timestamps"] if timestamps else [])) == 1
    err = capsys.readouterr().err
    assert "2 failed" in err and emptied == []  # CPU: no CUDA cache to free
    assert ("larger --hop" in err) == timestamps and ("use --timestamps" in err) == (not timestamps)
    reason = failure_reason(torch.OutOfMemoryError("CUDA out of memory"), "x.wav", timestamps=timestamps,
                            device=torch.device("cuda"))
    assert emptied == [1] and reason.startswith("OutOfMemoryError: CUDA out of memory; ")


def test_non_finite_embedding_is_a_failed_file(weights: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setattr("hear_byols.extract.embed.get_scene_embeddings", lambda audio, model: torch.full((1, 2048), float("nan")))
    path = write_audio(tmp_path / "a.wav", tone(16000, 1.0), 16000)
    assert embed(weights, path, "--out", tmp_path / "out") == 1
    assert "NaN or Inf" in capsys.readouterr().err and not (tmp_path / "out" / "a.wav.npy").exists()


def test_provenance_records_device_type_and_precision(weights: Path, tmp_path: Path) -> None:
    path = write_audio(tmp_path / "a.wav", tone(16000, 1.0), 16000)
    assert embed(weights, path, "--out", tmp_path / "out") == 0
    settings = json.loads((tmp_path / "out" / "index.json").read_text())["runs"][0]["settings"]
    assert (settings["device_type"], settings["precision"]) == ("cpu", "float32")


@pytest.mark.parametrize(
    "index, problem",
    [
        ({"format": 1, "runs": {}, "files": []}, '"runs" must be a list'),
        ({"format": 1, "runs": [{"id": "1", "settings": {}}], "files": []}, '"runs" must be a list'),
        ({"format": 1, "runs": [{"id": 1, "settings": {}}],
          "files": [{"input": "a.wav", "outputs": "a.npy", "status": "written", "run": 1}]},
         'file row 1: "outputs" must be a non-empty list'),
        ({"format": 1, "runs": [], "files": {}}, '"files" must be a list'),
        ([1, 2], "not a format-1"),
    ],
)
def test_malformed_index_is_a_usage_error_before_any_work(
    weights: Path, tmp_path: Path, monkeypatch, capsys, index: object, problem: str
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "index.json").write_text(json.dumps(index))
    monkeypatch.setattr("hear_byols.extract.embed.load_model", lambda *a, **k: pytest.fail("worked before checking"))
    assert embed(weights, write_audio(tmp_path / "a.wav", tone(16000, 1.0), 16000), "--out", out) == 2
    assert problem in capsys.readouterr().err


def test_out_naming_a_file_is_a_usage_error_before_any_work(weights: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    (tmp_path / "taken").write_text("a file")
    monkeypatch.setattr("hear_byols.extract.embed.load_model", lambda *a, **k: pytest.fail("worked before checking"))
    assert embed(weights, write_audio(tmp_path / "a.wav", tone(16000, 1.0), 16000), "--out", tmp_path / "taken") == 2
    assert "is a file, not a directory" in capsys.readouterr().err


def test_a_full_disk_when_writing_the_index_says_free_space(weights: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    def full(path: Path, write, **kwargs) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("hear_byols.extract.index.atomic_write_json", full)
    assert embed(weights, write_audio(tmp_path / "a.wav", tone(16000, 1.0), 16000), "--out", tmp_path / "out") == 1
    err = capsys.readouterr().err
    assert "cannot write" in err and "free space" in err and "Traceback" not in err


def test_stale_temporaries_of_killed_runs_are_removed(weights: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "sub").mkdir(parents=True)
    old, fresh = out / "sub" / ".a.wav.npy.x1y2.tmp", out / ".index.json.zz.tmp"
    old.write_bytes(b"partial")
    fresh.write_bytes(b"partial")
    an_hour_ago = time.time() - STALE_AFTER_S - 3600
    os.utime(old, (an_hour_ago, an_hour_ago))
    assert embed(weights, write_audio(tmp_path / "a.wav", tone(16000, 1.0), 16000), "--out", out) == 0
    assert not old.exists() and fresh.exists()


def test_a_recursive_glob_through_symlink_loops_ends(weights: Path, tmp_path: Path) -> None:
    root = tmp_path / "in"
    write_audio(root / "a.wav", tone(16000, 1.0), 16000)
    write_audio(root / "sub" / "b.wav", tone(16000, 1.0), 16000)
    (root / "sub" / "loop1").symlink_to(root)  # two loops: glob.glob's ** explored 2**40 paths
    (root / "sub" / "loop2").symlink_to(root)
    result = subprocess.run([sys.executable, "-m", "hear_byols.cli", "embed", str(root / "**" / "*.wav"), "--model", MODEL,
                             "--weights", str(weights), "--out", str(tmp_path / "out"), "--quiet"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*.npy")) == ["a.wav.npy", "sub/b.wav.npy"]
    assert embed(weights, root, "--out", tmp_path / "out2") == 0  # a directory argument: same rule
    assert len(list((tmp_path / "out2").rglob("*.npy"))) == 2


def test_a_glob_climbing_with_dotdot_cannot_write_outside_out(weights: Path, tmp_path: Path, capsys) -> None:
    write_audio(tmp_path / "x" / "a.wav", tone(16000, 1.0), 16000)
    (tmp_path / "in" / "sub").mkdir(parents=True)
    out = tmp_path / "work" / "out"
    assert embed(weights, tmp_path / "in" / "*" / ".." / ".." / "x" / "*.wav", "--out", out) == 2
    assert "would be written outside --out" in capsys.readouterr().err
    assert not list(tmp_path.rglob("*.npy"))
    assert embed(weights, tmp_path / "in" / "*" / ".." / "*", "--out", out) == 2  # matches nothing audio: usage
    write_audio(tmp_path / "in" / "c.wav", tone(16000, 1.0), 16000)
    assert embed(weights, tmp_path / "in" / "*" / ".." / "*.wav", "--out", out) == 0  # stays inside: normalised
    assert [p.name for p in out.rglob("*.npy")] == ["c.wav.npy"]
