"""``embed --shard I/N`` and the launchers' environments: every file embedded exactly once by
concurrent shards, a killed shard completed by its rerun, one merged index equal to a
single-process run's, and ``verify-embeddings`` against the recorded hashes."""
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

from filelock import FileLock

from helpers.audio import tone, write_audio
from hear_byols.cli import main
from hear_byols.audio.inputs import expand_inputs
from hear_byols.extract.journal import journal_name
from hear_byols.extract.outdir import lock_name
from hear_byols.distributed import Shard, launcher_shard, parse_shard
from hear_byols.extract.shards import resolve_device, select
from hear_byols.errors import UsageError
from helpers.cli import embed_with

MODEL = "default"
#: Keys of an index row that depend on which run wrote it, not on the file.
RUN_KEYS = ("run",)


def corpus(directory: Path, count: int, seconds: float = 0.5) -> Path:
    for i in range(count):
        rate, channels = (44100, 2) if i % 3 == 0 else (16000, 1)
        write_audio(directory / f"sub{i % 2}" / f"f{i:03d}.wav", tone(rate, seconds, channels, freq=200.0 + 10 * i), rate)
    return directory


embed = embed_with(MODEL)


def start_shard(weights: Path, inputs: Path, out: Path, shard: str | None, extra: list[str] = ()) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "hear_byols.cli", "embed", str(inputs), "--model", MODEL, "--weights",
               str(weights), "--out", str(out), "--quiet", *(["--shard", shard] if shard else []), *extra]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})


def finish(process: subprocess.Popen[str], timeout: float = 300) -> str:
    _, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, err
    return err


def comparable(index: dict) -> tuple[list[dict], list[dict]]:
    """Rows without their run id, and the runs' settings: what does not depend on how the work was split."""
    rows = [{k: v for k, v in row.items() if k not in RUN_KEYS} for row in index["files"]]
    return rows, [run["settings"] for run in index["runs"]]


# --- partition and environment -------------------------------------------------------------


def test_shards_partition_the_inputs_stably(tmp_path: Path) -> None:
    items = expand_inputs([str(corpus(tmp_path / "in", 30, seconds=0.1))])
    shards = [select(items, Shard(i, 4)) for i in range(4)]
    owned = sorted(item.path for shard in shards for item in shard)
    assert owned == sorted(item.path for item in items)  # every file once
    assert all(shards) and select(list(reversed(items)), Shard(2, 4)) == shards[2]  # independent of listing order
    assert select(items[:10], Shard(2, 4)) == [item for item in shards[2] if item in items[:10]]  # of the other files


@pytest.mark.parametrize("text", ["1/0", "4/4", "-1/4", "a/b", "3", ""])
def test_bad_shard_options_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError, match="--shard"):
        parse_shard(text)


@pytest.mark.parametrize(
    "env, shard",
    [
        ({}, Shard(0, 1)),
        ({"RANK": "2", "WORLD_SIZE": "4", "LOCAL_RANK": "0"}, Shard(2, 4)),
        ({"SLURM_ARRAY_TASK_ID": "7", "SLURM_ARRAY_TASK_COUNT": "4", "SLURM_ARRAY_TASK_MIN": "5"}, Shard(2, 4)),
        ({"SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_COUNT": "3"}, Shard(1, 3)),
        ({"SLURM_ARRAY_TASK_ID": "6", "SLURM_ARRAY_TASK_COUNT": "4", "SLURM_ARRAY_TASK_STEP": "2"}, Shard(3, 4)),
        ({"SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_COUNT": "3", "RANK": "1", "WORLD_SIZE": "2"}, Shard(3, 6)),
    ],
)
def test_launcher_environments(env: dict[str, str], shard: Shard) -> None:
    assert launcher_shard(env) == shard


@pytest.mark.parametrize(
    "env, problem",
    [
        ({"RANK": "1"}, "must be set together"),
        ({"RANK": "4", "WORLD_SIZE": "4"}, "outside"),
        ({"RANK": "x", "WORLD_SIZE": "4"}, "not an integer"),
        ({"SLURM_ARRAY_TASK_ID": "9", "SLURM_ARRAY_TASK_COUNT": "5", "SLURM_ARRAY_TASK_MIN": "0"}, "gaps or a step"),
    ],
)
def test_inconsistent_launcher_environments_are_usage_errors(env: dict[str, str], problem: str) -> None:
    with pytest.raises(UsageError, match=problem):
        launcher_shard(env)


def test_explicit_shard_wins_over_the_environment(weights: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "0")
    monkeypatch.setenv("SLURM_ARRAY_TASK_COUNT", "2")
    inputs, out = corpus(tmp_path / "in", 6, seconds=0.2), tmp_path / "out"
    assert embed(weights, inputs, "--out", out, "--shard", "1/2") == 0
    index = json.loads((out / "index.json").read_text())
    assert [run["shard"] for run in index["runs"]] == ["1/2"]
    assert sorted(row["input"] for row in index["files"]) == sorted(
        str(item.path) for item in select(expand_inputs([str(inputs)]), Shard(1, 2)))


def test_torchrun_device_stays_cpu_without_cuda(monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    env = {"LOCAL_RANK": "1"}
    assert resolve_device(None, env) == torch.device("cpu")
    assert resolve_device(torch.device("cpu"), env) == torch.device("cpu")


def test_torchrun_device_is_the_local_rank_gpu(monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    env = {"LOCAL_RANK": "1"}
    assert resolve_device(None, env) == torch.device("cuda", 1)
    assert resolve_device(torch.device("cuda"), env) == torch.device("cuda", 1)
    assert resolve_device(torch.device("cuda", 0), env) == torch.device("cuda", 0)  # explicit index wins
    with pytest.raises(UsageError, match="nproc_per_node"):
        resolve_device(None, {"LOCAL_RANK": "2"})


# --- concurrent shards ----------------------------------------------------------------------


def test_concurrent_shards_embed_every_file_once_and_merge_like_one_process(weights: Path, tmp_path: Path) -> None:
    inputs, n_files = corpus(tmp_path / "in", 18), 18
    single, sharded = tmp_path / "single", tmp_path / "sharded"
    finish(start_shard(weights, inputs, single, None))  # same threads as the shards: the same bits
    processes = [start_shard(weights, inputs, sharded, f"{i}/3") for i in range(3)]
    errors = [finish(process) for process in processes]
    written = [int(err.split("hear-byols embed: ")[-1].split(" written")[0]) for err in errors]
    assert sum(written) == n_files and all(written)  # each file by exactly one shard
    runs = {run["id"]: run["shard"] for run in json.loads((sharded / "index.json").read_text())["runs"]}
    assert sorted(runs.values()) == ["0/3", "1/3", "2/3"] and len(runs) == 3  # unique run ids
    assert not list(sharded.glob("index.run-*.part.json"))  # merged by the last shard, parts removed
    merged, alone = json.loads((sharded / "index.json").read_text()), json.loads((single / "index.json").read_text())
    merged_rows, merged_settings = comparable(merged)
    single_rows, single_settings = comparable(alone)
    assert merged_rows == single_rows
    assert merged_settings == single_settings * 3
    for row in merged["files"]:
        assert np.array_equal(np.load(sharded / row["outputs"][0]), np.load(single / row["outputs"][0]))
    assert main(["verify-embeddings", str(sharded)]) == 0


def test_a_killed_shard_is_completed_by_its_rerun(weights: Path, tmp_path: Path) -> None:
    inputs, out = corpus(tmp_path / "in", 40, seconds=1.0), tmp_path / "out"
    victim = start_shard(weights, inputs, out, "1/2")
    journal = out / journal_name(Shard(1, 2).file_tag)
    deadline = time.monotonic() + 240
    while not (journal.is_file() and journal.read_text().count('"file"') >= 2):
        assert victim.poll() is None and time.monotonic() < deadline, victim.communicate()
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.communicate()
    finish(start_shard(weights, inputs, out, "0/2"))  # finishes while 1/2 is dead: merges what exists
    # done = recorded: an output the victim wrote but was killed before journaling is recomputed
    done_before = sum(row["status"] == "written" for row in json.loads((out / "index.json").read_text())["files"])
    assert done_before < 40
    err = finish(start_shard(weights, inputs, out, "1/2"))
    assert f"{40 - done_before} written" in err and "0 failed" in err
    index = json.loads((out / "index.json").read_text())
    assert len(index["files"]) == 40 and {row["status"] for row in index["files"]} == {"written"}
    assert len(list(out.rglob("*.npy"))) == 40
    assert main(["verify-embeddings", str(out)]) == 0


def test_the_same_shard_twice_fails_at_once_and_another_partition_is_refused(weights: Path, tmp_path: Path) -> None:
    inputs, out = corpus(tmp_path / "in", 40, seconds=3.0), tmp_path / "out"
    first = start_shard(weights, inputs, out, "0/2", extra=["--timestamps", "--hop", "20"])  # slow: alive throughout
    journal = out / journal_name(Shard(0, 2).file_tag)
    try:
        while not (journal.is_file() and '"file"' in journal.read_text()):
            assert first.poll() is None, first.communicate()
            time.sleep(0.05)
        twin = subprocess.run([sys.executable, "-m", "hear_byols.cli", "embed", str(inputs), "--model", MODEL,
                               "--weights", str(weights), "--out", str(out), "--shard", "0/2"],
                              capture_output=True, text=True, timeout=120)
        assert twin.returncode == 2 and "another hear-byols embed shard 0/2 is writing" in twin.stderr
        other = subprocess.run([sys.executable, "-m", "hear_byols.cli", "embed", str(inputs), "--model", MODEL,
                                "--weights", str(weights), "--out", str(out)], capture_output=True, text=True, timeout=120)
        assert other.returncode == 2 and "shard 0/2 of another partition is writing" in other.stderr
        assert first.poll() is None  # both were refused while it ran
    finally:
        first.kill()
        first.communicate()


# --- merge and verify -----------------------------------------------------------------------


def test_a_shard_leaves_its_part_while_another_runs_and_index_merge_waits_for_it(
    weights: Path, tmp_path: Path, capsys
) -> None:
    inputs, out = corpus(tmp_path / "in", 8, seconds=0.2), tmp_path / "out"
    out.mkdir()
    running = FileLock(str(out / lock_name(Shard(1, 2))))  # shard 1/2, alive in this process
    with running:
        assert embed(weights, inputs, "--out", out, "--shard", "0/2") == 0
        assert not (out / "index.json").exists() and len(list(out.glob("index.run-*.part.json"))) == 1
        assert main(["index", "merge", str(out)]) == 2
        assert "shard 1/2 is still writing" in capsys.readouterr().err
    assert main(["index", "merge", str(out)]) == 0  # shard 1/2 died without a part
    index = json.loads((out / "index.json").read_text())
    mine = select(expand_inputs([str(inputs)]), Shard(0, 2))
    assert sorted(row["input"] for row in index["files"]) == sorted(str(item.path) for item in mine)
    assert not list(out.glob("index.run-*.part.json"))
    assert main(["index", "merge", str(tmp_path / "nowhere")]) == 2


def test_verify_embeddings_names_changed_and_missing_outputs(weights: Path, tmp_path: Path, capsys) -> None:
    inputs, out = corpus(tmp_path / "in", 4, seconds=0.2), tmp_path / "out"
    assert embed(weights, inputs, "--out", out, "--timestamps", "--hop", "200") == 0
    assert main(["verify-embeddings", str(out)]) == 0
    assert "8 of 8 outputs match" in capsys.readouterr().err
    corrupted, removed = out / "sub0" / "f000.wav.npy", out / "sub1" / "f001.wav.timestamps.npy"
    data = bytearray(corrupted.read_bytes())
    data[-1] ^= 0xFF  # one flipped bit pattern in the last float: same size, other numbers
    corrupted.write_bytes(bytes(data))
    removed.unlink()
    assert main(["verify-embeddings", str(out)]) == 1
    err = capsys.readouterr().err
    assert "6 of 8 outputs match" in err
    assert "sub0/f000.wav.npy: changed" in err and "sub1/f001.wav.timestamps.npy: missing" in err
    assert main(["verify-embeddings", str(tmp_path / "in")]) == 2  # not an output directory


def test_provenance_of_runs_and_files(weights: Path, tmp_path: Path) -> None:
    inputs, out = corpus(tmp_path / "in", 3, seconds=0.5), tmp_path / "out"
    assert embed(weights, inputs, "--out", out, "--timestamps", "--hop", "100", "--workers", "1") == 0
    index = json.loads((out / "index.json").read_text())
    run = index["runs"][0]
    assert run["torch"] == torch.__version__ and run["hear_byols"] and run["numpy"] == np.__version__
    assert (run["device"], run["dtype"], run["frame_ms"], run["shard"]) == ("cpu", "float32", 1000.0, "0/1")
    settings = run["settings"]
    assert settings["layer"] == "fc2" and settings["hop_ms"] == 100.0 and settings["normalization"] == "reference"
    assert len(settings["weights_sha256"]) == 64 and settings["precision"] == "float32"
    rows = {Path(row["input"]).name: row for row in index["files"]}
    assert (rows["f000.wav"]["sample_rate"], rows["f000.wav"]["channels"]) == (44100, 2)
    assert rows["f000.wav"]["resampled"] and rows["f000.wav"]["downmixed"]
    assert not rows["f001.wav"]["resampled"] and not rows["f001.wav"]["downmixed"]
    assert rows["f001.wav"]["duration_s"] == 0.5 and sorted(rows["f001.wav"]["sha256"]) == sorted(rows["f001.wav"]["outputs"])


def test_a_layer_is_embedded_as_the_api_gives_it_and_recorded(weights: Path, tmp_path: Path) -> None:
    from hear_byols.api import get_scene_embeddings, load_model
    from hear_byols.audio.files import read_audio_16k

    path = write_audio(tmp_path / "a.wav", tone(16000, 1.5), 16000)
    assert embed(weights, path, "--out", tmp_path / "out", "--layer", "conv2") == 0
    clip = torch.from_numpy(read_audio_16k(path).samples)[None]
    expected = get_scene_embeddings(clip, load_model(str(weights), variant=MODEL, layer="conv2"))
    np.testing.assert_array_equal(np.load(tmp_path / "out" / "a.wav.npy"), expected[0].numpy())
    index = json.loads((tmp_path / "out" / "index.json").read_text())
    assert [run["settings"]["layer"] for run in index["runs"]] == ["conv2"]
    assert embed(weights, path, "--out", tmp_path / "out", "--layer", "nope") == 2


def test_a_damaged_index_part_is_a_usage_error_before_any_work(weights: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "index.run-3.part.json").write_text('{"format": 1, "run": {"id": "3"}')
    monkeypatch.setattr("hear_byols.extract.embed.load_model", lambda *a, **k: pytest.fail("worked before checking"))
    assert embed(weights, write_audio(tmp_path / "a.wav", tone(16000, 0.5), 16000), "--out", out) == 2
    assert "index.run-3.part.json cannot be read" in capsys.readouterr().err
    assert main(["verify-embeddings", str(out)]) == 2
