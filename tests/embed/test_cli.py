"""The hear-byols command line: outputs equal the Python API, layout, index, skip/overwrite,
failures, exit status, and the weights commands against a local HTTP server."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from helpers.audio import tone, write_audio, write_bad_files
from hear_byols.api import get_scene_embeddings, get_timestamp_embeddings, list_variants, load_model
from hear_byols.cli import main
from helpers.cli import embed_with
from helpers.weights_server import Route, WeightsServer, use_registry, weight_file_for

MODEL = "default"  # the cheapest variant to run


embed = embed_with(MODEL, quiet=False)


def index_rows(out: Path) -> dict[str, dict]:
    return {row["input"]: row for row in json.loads((out / "index.json").read_text())["files"]}


@pytest.mark.parametrize("normalization", [[], ["--normalization", "per_clip"]])
def test_scene_output_is_exactly_the_python_api_output(weights: Path, tmp_path: Path, normalization: list[str]) -> None:
    path = write_audio(tmp_path / "a.wav", tone(16000, 1.5), 16000, "PCM_16")
    assert embed(weights, path, "--out", tmp_path / "out", *normalization) == 0
    samples = torch.from_numpy(sf.read(path, dtype="float32")[0]).unsqueeze(0)
    model = load_model(str(weights), variant=MODEL, normalization=(normalization or [None, None])[1])
    written = np.load(tmp_path / "out" / "a.wav.npy")
    assert written.dtype == np.float32 and written.shape == (2048,)
    assert np.array_equal(written, get_scene_embeddings(samples, model)[0].numpy())


def test_timestamp_outputs_are_exactly_the_python_api_output(weights: Path, tmp_path: Path) -> None:
    path = write_audio(tmp_path / "a.flac", tone(16000, 1.2), 16000, "PCM_16")
    assert embed(weights, path, "--out", tmp_path / "out", "--timestamps", "--hop", "200") == 0
    samples = torch.from_numpy(sf.read(path, dtype="float32")[0]).unsqueeze(0)
    embeddings, timestamps = get_timestamp_embeddings(samples, load_model(str(weights), variant=MODEL), hop_size=200)
    assert np.array_equal(np.load(tmp_path / "out" / "a.flac.npy"), embeddings[0].numpy())
    assert np.array_equal(np.load(tmp_path / "out" / "a.flac.timestamps.npy"), timestamps[0].numpy())
    header = json.loads((tmp_path / "out" / "index.json").read_text())["runs"][0]["settings"]
    assert (header["timestamps"], header["hop_ms"], header["timestamp_mode"]) == (True, 200.0, "exact")


def test_bad_files_are_reported_and_the_others_written(
    weights: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = write_audio(tmp_path / "in" / "good.wav", tone(44100, 1.0, channels=2), 44100, "PCM_24")
    silent = write_audio(tmp_path / "in" / "silent.ogg", np.zeros(22050), 22050)
    bad = write_bad_files(tmp_path / "in")
    assert embed(weights, tmp_path / "in", "--out", tmp_path / "out") == 1
    assert np.load(tmp_path / "out" / "good.wav.npy").shape == (2048,)
    assert np.isfinite(np.load(tmp_path / "out" / "silent.ogg.npy")).all()
    reasons = {
        "empty": "empty file (0 bytes)",
        "text": "not a readable audio file",
        "corrupt": "not a readable audio file",
        "short": "has 320 samples (20.0 ms); hear_byols.default needs at least",
    }
    err = capsys.readouterr().err
    assert "2 written, 0 skipped, 4 failed" in err
    summary = err.split("failed (4):\n")[1]
    rows = index_rows(tmp_path / "out")
    for kind, reason in reasons.items():
        assert f"  {bad[kind]}: " in summary and reason in summary
        assert rows[str(bad[kind])]["status"] == "failed" and reason in rows[str(bad[kind])]["reason"]
        assert not (tmp_path / "out" / f"{bad[kind].name}.npy").exists()
    assert rows[str(good)] | {"run": 1} == {
        "input": str(good), "outputs": ["good.wav.npy"], "status": "written", "reason": None,
        "duration_s": 1.0, "sample_rate": 44100, "channels": 2, "resampled": True, "downmixed": True,
        "sha256": {"good.wav.npy": hashlib.sha256((tmp_path / "out" / "good.wav.npy").read_bytes()).hexdigest()},
        "input_size": good.stat().st_size, "input_mtime_ns": good.stat().st_mtime_ns,
        "input_sha256": hashlib.sha256(good.read_bytes()).hexdigest(), "run": 1,
    }
    assert rows[str(silent)]["status"] == "written"


def test_directory_tree_is_mirrored_and_extensions_keep_outputs_apart(weights: Path, tmp_path: Path) -> None:
    root = tmp_path / "in"
    write_audio(root / "a.wav", tone(8000, 1.0), 8000, "PCM_16")
    write_audio(root / "a.flac", tone(48000, 1.0, channels=2), 48000, "PCM_24")
    write_audio(root / "x" / "y" / "b.wav", tone(22050, 1.0), 22050, "FLOAT")
    (root / "x" / "readme.txt").write_text("not audio, not picked up")
    assert embed(weights, root, "--out", tmp_path / "out") == 0
    written = sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*.npy"))
    assert written == ["a.flac.npy", "a.wav.npy", "x/y/b.wav.npy"]
    assert not np.array_equal(np.load(tmp_path / "out" / "a.wav.npy"), np.load(tmp_path / "out" / "a.flac.npy"))
    assert {row["sample_rate"] for row in index_rows(tmp_path / "out").values()} == {8000, 22050, 48000}


def test_glob_mirrors_below_its_fixed_part(weights: Path, tmp_path: Path) -> None:
    write_audio(tmp_path / "talks" / "day1" / "a.flac", tone(16000, 1.0), 16000)
    write_audio(tmp_path / "talks" / "day1" / "b.wav", tone(16000, 1.0), 16000)
    write_audio(tmp_path / "talks" / "c.flac", tone(16000, 1.0), 16000)
    assert embed(weights, tmp_path / "talks" / "**" / "*.flac", "--out", tmp_path / "out") == 0
    written = sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*.npy"))
    assert written == ["c.flac.npy", "day1/a.flac.npy"]


def test_existing_outputs_are_skipped_unless_overwrite(
    weights: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_audio(tmp_path / "a.wav", tone(16000, 1.0), 16000)
    out = tmp_path / "out"
    assert embed(weights, path, "--out", out, "--timestamps", "--hop", "250") == 0
    first = {p.name: p.stat().st_mtime_ns for p in out.glob("*.npy")}
    assert sorted(first) == ["a.wav.npy", "a.wav.timestamps.npy"]
    capsys.readouterr()
    assert embed(weights, path, "--out", out, "--timestamps", "--hop", "250") == 0
    assert "0 written, 1 skipped, 0 failed" in capsys.readouterr().err
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.npy")} == first
    assert index_rows(out)[str(path)]["status"] == "written"  # the row of the run that wrote it stays

    (out / "a.wav.timestamps.npy").unlink()  # an incomplete pair is recomputed
    assert embed(weights, path, "--out", out, "--timestamps", "--hop", "250") == 0
    assert "1 written, 0 skipped" in capsys.readouterr().err
    assert embed(weights, path, "--out", out, "--timestamps", "--hop", "250", "--overwrite") == 0
    assert "1 written, 0 skipped" in capsys.readouterr().err
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def test_other_settings_in_the_same_directory_need_overwrite(
    weights: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_audio(tmp_path / "a.wav", tone(16000, 1.0), 16000)
    out = tmp_path / "out"
    assert embed(weights, path, "--out", out) == 0
    assert embed(weights, path, "--out", out, "--normalization", "per_clip") == 2
    assert "holds embeddings made with other settings" in capsys.readouterr().err
    assert embed(weights, path, "--out", out, "--normalization", "per_clip", "--overwrite") == 0
    index = json.loads((out / "index.json").read_text())
    assert [run["settings"]["normalization"] for run in index["runs"]] == ["per_clip"]
    assert index["files"][0]["run"] == index["runs"][0]["id"]


def test_out_of_memory_on_one_file_says_what_to_do(
    weights: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def exhausted(*args: object) -> None:
        raise RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 57611520512 bytes")

    monkeypatch.setattr("hear_byols.extract.embed.get_scene_embeddings", exhausted)
    path = write_audio(tmp_path / "long.wav", tone(16000, 1.0), 16000)
    assert embed(weights, path, "--out", tmp_path / "out") == 1
    assert "RuntimeError: DefaultCPUAllocator" in capsys.readouterr().err
    assert "split long files, or use --timestamps" in index_rows(tmp_path / "out")[str(path)]["reason"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["embed", "--model", MODEL, "missing.wav"], "missing.wav: no such file or directory"),
        (["embed", "--model", MODEL, "nothing/*.wav"], "the pattern matches no audio files"),
        (["embed", "--model", "nope", "x.wav"], "invalid choice: 'nope'"),
        (["embed", "--model", MODEL, "--normalization", "1,0", "x.wav"], "std > 0"),
        (["embed", "--model", MODEL, "--hop", "-5", "x.wav"], "positive number of milliseconds"),
        (["download"], "name the variants to download, or pass --all"),
        (["download", "nope"], "unknown variant 'nope'"),
    ],
)
def test_usage_errors_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    assert message in capsys.readouterr().err


def test_device_cuda(weights: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Runs on every host: without a GPU ``--device cuda`` is a usage error that says so; with
    one, ``--device cuda:0`` writes the CPU output within the golden tolerance (1e-5)."""
    if not torch.cuda.is_available():
        assert main(["embed", "--model", MODEL, "--device", "cuda", "x.wav"]) == 2
        assert "CUDA is not available" in capsys.readouterr().err
        return
    path = write_audio(tmp_path / "a.wav", tone(16000, 1.5), 16000, "PCM_16")
    for device in ("cpu", "cuda:0"):
        assert embed(weights, path, "--out", tmp_path / device, "--timestamps", "--device", device) == 0
    cpu, cuda = (np.load(tmp_path / device / "a.wav.npy") for device in ("cpu", "cuda:0"))
    assert np.abs(cuda - cpu).max() <= 1e-5 * np.abs(cpu).max()


def test_progress_bars_on_a_terminal(
    weights: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_audio(tmp_path / "a.wav", tone(16000, 2.0), 16000)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert embed(weights, path, "--out", tmp_path / "out") == 0
    err = capsys.readouterr().err
    assert "files: 100%" in err and "audio: 100%" in err and "2.0/2.0" in err
    assert "[1/1] written" not in err  # bars replace the log lines


def test_info_lists_every_variant_and_where_weights_load_from(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    for variant in list_variants():
        assert f"\n{variant.name:<12} {variant.embedding_size:>5}" in out
    assert f"weights cache: {tmp_path / 'cache'}" in out
    assert "not present" in out and "hear-byols download default" in out
    assert "none published" in out  # clstm
    assert f"torch {torch.__version__}" in out


@pytest.fixture
def served_weights(monkeypatch: pytest.MonkeyPatch, weights: Path) -> Iterator[WeightsServer]:
    """The registry's ``default`` file served by a local HTTP server (clstm: none published)."""
    body = weights.read_bytes()
    with WeightsServer().running() as server:
        server.routes["/default.pth"] = Route(body)
        use_registry(monkeypatch, [weight_file_for(body, [server.url("/default.pth")])], note_variants=("clstm",))
        yield server


def test_download_then_verify_then_a_corrupted_cache(
    served_weights: WeightsServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cached = tmp_path / "cache" / "test-weights.pth"
    assert main(["download", "--all"]) == 0
    out, err = capsys.readouterr()
    assert f"default: verified {cached}" in out and "clstm: no official weights" in err
    assert served_weights.requests("/default.pth") == 1
    assert main(["download", "default"]) == 0  # already there: hashed, not fetched again
    assert served_weights.requests("/default.pth") == 1
    assert main(["verify"]) == 0
    assert f"ok        {cached}" in capsys.readouterr().out

    data = bytearray(cached.read_bytes())
    data[-1] ^= 0xFF  # same size: only the hash can tell
    cached.write_bytes(bytes(data))
    assert main(["verify"]) == 1
    out = capsys.readouterr().out
    assert f"MISMATCH  {cached}" in out and "sha256: expected" in out and "1 checked, 1 mismatched" in out
    assert main(["download", "default"]) == 1
    assert "FAILED" in capsys.readouterr().err


def test_embed_uses_downloaded_official_weights(served_weights: WeightsServer, weights: Path, tmp_path: Path) -> None:
    path = write_audio(tmp_path / "a.wav", tone(16000, 1.0), 16000)
    assert main(["embed", "--model", MODEL, str(path), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    settings = json.loads((tmp_path / "out" / "index.json").read_text())["runs"][0]["settings"]
    assert settings["weights"] == str(tmp_path / "cache" / "test-weights.pth")
    assert settings["weights_sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()


def test_console_script_and_module_run(weights: Path, tmp_path: Path) -> None:
    path = write_audio(tmp_path / "a.wav", tone(16000, 1.0), 16000)
    script = Path(sys.executable).with_name("hear-byols")
    command = [str(script), "embed", str(path), "--model", MODEL, "--weights", str(weights), "--out", str(tmp_path / "o")]
    result = subprocess.run(command, capture_output=True, text=True, env=os.environ, timeout=120)
    assert result.returncode == 0, result.stderr
    assert f"[1/1] written {path}: a.wav.npy" in result.stderr  # not a terminal: plain log lines
    assert np.load(tmp_path / "o" / "a.wav.npy").shape == (2048,)
    module = subprocess.run([sys.executable, "-m", "hear_byols.cli", "embed", "--model", MODEL, str(tmp_path / "nope")],
                            capture_output=True, text=True, timeout=120)
    assert module.returncode == 2 and "no such file or directory" in module.stderr


#: Peak RSS bounds of `embed` on a 10-minute 48 kHz stereo file with `default` (docs/CLI.md):
#: both paths encode in bounded windows/chunks, so only the 16 kHz signal, its log-mel and the
#: outputs grow with the length (measured 0.58 GB scene, 0.63 GB timestamps at hop 50).
SCENE_RSS_BOUND_MB = 1500
TIMESTAMPS_RSS_BOUND_MB = 1200


def peak_rss_mb(command: list[str]) -> float:
    """Run ``command`` from a fresh process whose only child it is; its peak RSS in MB."""
    probe = (
        "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    result = subprocess.run([sys.executable, "-c", probe, *command], capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stderr
    return int(result.stdout.split()[-1]) / 1024  # Linux reports KiB


@pytest.mark.slow
def test_ten_minute_file_stays_under_the_memory_bound(weights: Path, tmp_path: Path) -> None:
    path = tmp_path / "long.wav"
    with sf.SoundFile(path, "w", 48000, 2, "PCM_16") as long_file:
        for minute in range(10):
            long_file.write(tone(48000, 60.0, channels=2) * (0.2 + 0.05 * minute))
    base = [str(Path(sys.executable).with_name("hear-byols")), "embed", str(path), "--model", MODEL,
            "--weights", str(weights), "--quiet"]
    scene_mb = peak_rss_mb([*base, "--out", str(tmp_path / "scene")])
    timestamps_mb = peak_rss_mb([*base, "--out", str(tmp_path / "ts"), "--timestamps", "--hop", "50"])
    assert np.load(tmp_path / "scene" / "long.wav.npy").shape == (2048,)
    assert np.load(tmp_path / "ts" / "long.wav.npy").shape == (12001, 2048)
    assert scene_mb < SCENE_RSS_BOUND_MB, f"scene: peak RSS {scene_mb:.0f} MB"
    assert timestamps_mb < TIMESTAMPS_RSS_BOUND_MB, f"timestamps: peak RSS {timestamps_mb:.0f} MB"
