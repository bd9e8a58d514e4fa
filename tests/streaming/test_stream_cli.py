"""``hear-byols stream``: a shell pipeline and a file give the offline exact timestamp embeddings,
line by line as frames exist; bad input refused with the exit statuses of hear_byols.exits."""
from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from hear_byols.api import get_timestamp_embeddings
from hear_byols.cli import main
from helpers.audio import write_audio
from helpers.hostile import assert_refused, child_env, run_command, cli_command

STATS = "-6.0,3.5"
ROOT = Path(__file__).resolve().parents[2]


def signal(seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * 16000)) / 16000
    return (0.3 * np.sin(2 * np.pi * 330 * t) + 0.05 * rng.standard_normal(t.size)).astype(np.float32)


def lines(stdout: str) -> tuple[np.ndarray, np.ndarray]:
    rows = [json.loads(line) for line in stdout.splitlines()]
    return np.array([r["embedding"] for r in rows], np.float32), np.array([r["timestamp_ms"] for r in rows], np.float32)


def assert_offline(model, audio: np.ndarray, embeddings: np.ndarray, timestamps: np.ndarray) -> None:
    expected, expected_ts = get_timestamp_embeddings(torch.from_numpy(audio)[None], model)
    assert np.array_equal(timestamps, expected_ts[0].numpy())
    assert embeddings.shape == expected[0].shape
    assert np.abs(embeddings - expected[0].numpy()).max() <= 1e-5 * float(expected.abs().max())


@pytest.fixture(scope="module")
def default_weights(checkpoint_path) -> Path:
    return checkpoint_path("default")


@pytest.mark.parametrize("sample_format", ["f32le", "s16le"])
def test_shell_pipeline_equals_offline(fixed_model, default_weights: Path, tmp_path: Path, sample_format: str) -> None:
    audio = signal(1.3)
    if sample_format == "s16le":
        pcm = np.round(audio * 32767).astype("<i2")
        audio = pcm.astype(np.float32) / 32768
    else:
        pcm = audio.astype("<f4")
    pcm.tofile(tmp_path / "audio.pcm")
    command = " ".join(shlex.quote(str(w)) for w in [
        "cat", tmp_path / "audio.pcm"]) + " | " + " ".join(shlex.quote(str(w)) for w in cli_command([
            "stream", "-", "--model", "default", "--weights", default_weights, f"--normalization={STATS}",
            "--chunk-ms", "70", "--format", sample_format]))
    done = subprocess.run(command, shell=True, capture_output=True, text=True, env=child_env(), cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert_offline(fixed_model("default"), audio, *lines(done.stdout))


def test_file_to_out_dir(fixed_model, default_weights: Path, tmp_path: Path) -> None:
    audio = signal(1.1, seed=1)
    write_audio(tmp_path / "in.wav", audio, 16000, "FLOAT")
    out = tmp_path / "out"
    result = run_command(cli_command(["stream", tmp_path / "in.wav", "--model", "default", "--weights", default_weights,
                                      f"--normalization={STATS}", "--out-dir", out, "--chunk-ms", "250"]))
    assert result.rc == 0, result
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    embeddings = np.stack([np.load(row["path"]) for row in rows])
    assert_offline(fixed_model("default"), audio, embeddings, np.array([r["timestamp_ms"] for r in rows], np.float32))
    marker = json.loads((out / "stream.json").read_text())
    assert marker["complete"] and marker["frames"] == len(rows)
    again = run_command(cli_command(["stream", tmp_path / "in.wav", "--model", "default", "--weights", default_weights,
                                     f"--normalization={STATS}", "--out-dir", out]))
    assert_refused(again, codes=(2,), names=["--overwrite"])


def test_lines_come_before_the_input_ends(default_weights: Path) -> None:
    """Half a second plus one hop of PCM, stdin still open: the first two lines arrive."""
    process = subprocess.Popen(
        cli_command(["stream", "-", "--model", "default", "--weights", default_weights, f"--normalization={STATS}",
                     "--chunk-ms", "50"]),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=child_env(), cwd=ROOT)
    try:
        process.stdin.write(signal(0.55).astype("<f4").tobytes())
        process.stdin.flush()
        first, second = (json.loads(process.stdout.readline()) for _ in range(2))
        assert (first["timestamp_ms"], second["timestamp_ms"]) == (0.0, 50.0)
        assert process.poll() is None  # still waiting for more audio
    finally:
        rest, errors = process.communicate(timeout=120)  # closes stdin: the end's frames follow
    assert process.returncode == 0, errors
    assert len(rest.splitlines()) == 1 + 8800 // 800 - 2


@pytest.mark.slow
def test_onnx_graph_model(graph_default: Path, fixed_model, tmp_path: Path) -> None:
    audio = signal(1.2, seed=2)
    audio.astype("<f4").tofile(tmp_path / "audio.pcm")
    with open(tmp_path / "audio.pcm", "rb") as stdin:
        done = subprocess.run(cli_command(["stream", "-", "--model", graph_default]), stdin=stdin, capture_output=True,
                              text=True, env=child_env(), cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert_offline(fixed_model("default"), audio, *lines(done.stdout))


def test_other_rate_needs_resample(default_weights: Path, tmp_path: Path) -> None:
    write_audio(tmp_path / "in.wav", signal(1.0).astype(np.float64), 22050, "PCM_16")
    base = ["stream", tmp_path / "in.wav", "--model", "default", "--weights", default_weights, f"--normalization={STATS}"]
    assert_refused(run_command(cli_command(base)), codes=(1,), names=["22050", "--resample"])
    resampled = run_command(cli_command([*base, "--resample"]))
    assert resampled.rc == 0 and len(resampled.stdout.splitlines()) == 1 + round(16000 * 16000 / 22050) // 800, resampled


@pytest.mark.parametrize("data, words", [
    (np.full(4000, 1.5, "<f4").tobytes(), r"outside [-1, 1]"),
    (np.zeros(4000, "<f4").tobytes() + b"\x00\x01", "2 stray bytes after 4000 f32le samples"),
    (np.full(4000, np.nan, "<f4").tobytes(), "NaN"),
])
def test_bad_stdin_refused(default_weights: Path, data: bytes, words: str) -> None:
    done = subprocess.run(cli_command(["stream", "-", "--model", "default", "--weights", default_weights,
                                       f"--normalization={STATS}"]), input=data, capture_output=True,
                          env=child_env(), cwd=ROOT)
    assert done.returncode == 1 and words in done.stderr.decode(), done.stderr.decode()
    assert b"Traceback" not in done.stderr


@pytest.mark.parametrize("extra, words", [
    ([], "--normalization"), (["--normalization", "per_clip"], "hear-byols stats"),
    (["--normalization=-6,0"], "--normalization"), ([f"--normalization={STATS}", "--chunk-ms", "0"], "--chunk-ms"),
    ([f"--normalization={STATS}", "--chunk-ms", "0.01"], "one sample"), ([f"--normalization={STATS}", "--hop", "0.01"], "hop"),
])
def test_usage_errors(default_weights: Path, capsys, extra: list[str], words: str) -> None:
    assert main(["stream", "-", "--model", "default", "--weights", str(default_weights), *extra]) == 2
    assert words in capsys.readouterr().err


def test_unknown_model(tmp_path: Path, capsys) -> None:
    assert main(["stream", "-", "--model", "nope", f"--normalization={STATS}"]) == 2
    assert "nope" in capsys.readouterr().err
    missing = tmp_path / "missing.onnx"
    assert main(["stream", "-", "--model", str(missing)]) == 1
    assert str(missing) in capsys.readouterr().err


def test_stats_file_normalization(default_weights: Path, tmp_path: Path) -> None:
    """``--normalization stats.json`` (made by hear_byols.stats) streams with the file's statistics."""
    from hear_byols.stats import measure

    write_audio(tmp_path / "corpus" / "a.wav", signal(1.5, seed=5), 16000, "FLOAT")
    stats = measure(tmp_path / "corpus")
    stats.write(tmp_path / "stats.json")
    mean, std = stats.normalization()
    audio = signal(0.9, seed=6)
    audio.astype("<f4").tofile(tmp_path / "audio.pcm")
    outputs = []
    for normalization in (tmp_path / "stats.json", f"{mean!r},{std!r}"):
        with open(tmp_path / "audio.pcm", "rb") as stdin:
            done = subprocess.run(cli_command(["stream", "-", "--model", "default", "--weights", default_weights,
                                               f"--normalization={normalization}"]),
                                  stdin=stdin, capture_output=True, text=True, env=child_env(), cwd=ROOT)
        assert done.returncode == 0, done.stderr
        outputs.append(lines(done.stdout))
    assert np.array_equal(outputs[0][0], outputs[1][0]) and np.array_equal(outputs[0][1], outputs[1][1])
