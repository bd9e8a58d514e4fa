"""Hostile inputs for ``embed``'s sharding, locking and decode workers (issue 17: H6, H7, M8,
M9, L5, L10): inherited launcher variables, concurrent shards with other settings, non-UTF-8
file names, a killed decode worker, a refused shard left last alive, and usage errors that
must come before ``--out`` exists."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from filelock import FileLock

from helpers.audio import tone, write_audio
from hear_byols.cli import main
from hear_byols.audio.inputs import InputFile, expand_inputs
from hear_byols.extract.journal import JOURNAL_NAME, journal_name
from hear_byols.extract.outdir import lock_name
from hear_byols.extract import shards
from hear_byols.distributed import Shard
from hear_byols.extract.shards import owns, select
from hear_byols.errors import UsageError
from helpers.cli import embed_with

MODEL = "default"
#: What torchrun sets beside RANK/WORLD_SIZE in every process it starts.
TORCHRUN = {"LOCAL_RANK": "0", "TORCHELASTIC_RUN_ID": "none", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500"}


embed = embed_with(MODEL)


def corpus(directory: Path, count: int, seconds: float = 0.2) -> Path:
    for i in range(count):
        write_audio(directory / f"f{i:03d}.wav", tone(16000, seconds, freq=200.0 + 10 * i), 16000)
    return directory


def embedded(out: Path) -> list[str]:
    return sorted(path.relative_to(out).as_posix() for path in out.rglob("*.npy"))


def start_embed(weights: Path, inputs: Path, out: Path, *extra: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "hear_byols.cli", "embed", str(inputs), "--model", MODEL, "--weights",
               str(weights), "--out", str(out), "--quiet", *extra]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})


def wait_for(condition, process: subprocess.Popen[str], timeout_s: float = 240) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.05)


# --- H6: the shard is never taken silently from inherited variables --------------------------


@pytest.mark.parametrize(
    "option, env, shard, source",
    [
        (None, {}, Shard(0, 1), "no --shard"),
        ("all", {"SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_COUNT": "4"}, Shard(0, 1), "--shard all"),
        (Shard(1, 2), {"RANK": "0", "WORLD_SIZE": "8"}, Shard(1, 2), "--shard 1/2"),
        (None, {"RANK": "3", "WORLD_SIZE": "4", **TORCHRUN}, Shard(3, 4), "torchrun (RANK=3, WORLD_SIZE=4)"),
        ("auto", {"RANK": "3", "WORLD_SIZE": "4"}, Shard(3, 4), "RANK=3, WORLD_SIZE=4"),
        ("auto", {"SLURM_ARRAY_TASK_ID": "6", "SLURM_ARRAY_TASK_COUNT": "4", "SLURM_ARRAY_TASK_MIN": "5"},
         Shard(1, 4), "SLURM_ARRAY_TASK_ID=6"),
        ("auto", {"SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_COUNT": "3", "RANK": "1", "WORLD_SIZE": "2", **TORCHRUN},
         Shard(3, 6), "SLURM_ARRAY_TASK_ID=1"),
        ("auto", {}, Shard(0, 1), "no launcher variables"),
    ],
)
def test_the_shard_and_its_source(option, env: dict[str, str], shard: Shard, source: str) -> None:
    chosen, told = shards.choose_shard(option, env)
    assert chosen == shard and source in told


@pytest.mark.parametrize(
    "env, fix",
    [
        ({"RANK": "0", "WORLD_SIZE": "8"}, "not started by torchrun"),  # leaked: no LOCAL_RANK/TORCHELASTIC_RUN_ID
        ({"RANK": "0", "WORLD_SIZE": "8", "LOCAL_RANK": "0"}, "not started by torchrun"),
        ({"SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_COUNT": "4"}, "SLURM array"),
        ({"SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_COUNT": "4", "RANK": "0", "WORLD_SIZE": "2", **TORCHRUN},
         "SLURM array"),
    ],
)
def test_launcher_variables_without_a_shard_option_are_refused(env: dict[str, str], fix: str) -> None:
    with pytest.raises(UsageError, match=fix) as refused:
        shards.choose_shard(None, env)
    assert "--shard auto" in str(refused.value) and "--shard all" in str(refused.value)


def test_an_inherited_rank_is_refused_before_any_work(weights: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "8")
    inputs, out = corpus(tmp_path / "in", 30, seconds=0.1), tmp_path / "out"
    assert embed(weights, inputs, "--out", out) == 2
    assert "RANK=0, WORLD_SIZE=8" in capsys.readouterr().err and not out.exists()
    assert embed(weights, inputs, "--out", out, "--shard", "all") == 0
    assert len(embedded(out)) == 30
    assert "every file (--shard all)" in capsys.readouterr().err


def test_a_slurm_array_shards_only_with_shard_auto(weights: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "1")
    monkeypatch.setenv("SLURM_ARRAY_TASK_COUNT", "3")
    inputs, out = corpus(tmp_path / "in", 9, seconds=0.1), tmp_path / "out"
    assert embed(weights, inputs, "--out", out) == 2
    assert "--shard auto" in capsys.readouterr().err and not out.exists()
    assert embed(weights, inputs, "--out", out, "--shard", "auto") == 0
    mine = select(expand_inputs([str(inputs)]), Shard(1, 3))
    assert 0 < len(mine) < 9 and embedded(out) == sorted(f"{item.relative.as_posix()}.npy" for item in mine)
    err = capsys.readouterr().err
    assert f"shard 1/3 ({len(mine)} of 9 files) from a SLURM array" in err
    run = json.loads((out / "index.json").read_text())["runs"][0]
    assert run["shard"] == "1/3" and "SLURM_ARRAY_TASK_ID=1" in run["shard_source"]


def test_torchrun_processes_take_their_rank_and_say_so(weights: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    for name, value in {"RANK": "1", "WORLD_SIZE": "2", **TORCHRUN}.items():
        monkeypatch.setenv(name, value)
    inputs, out = corpus(tmp_path / "in", 12, seconds=0.1), tmp_path / "out"
    assert embed(weights, inputs, "--out", out) == 0
    mine = select(expand_inputs([str(inputs)]), Shard(1, 2))
    assert 0 < len(mine) < 12 and len(embedded(out)) == len(mine)
    assert f"shard 1/2 ({len(mine)} of 12 files) from torchrun (RANK=1, WORLD_SIZE=2)" in capsys.readouterr().err


# --- H7 and L5: settings of live shards, and the index when a refused shard is the last ------


def test_a_shard_with_other_settings_is_refused_while_a_live_shard_has_written_nothing(
    weights: Path, tmp_path: Path
) -> None:
    inputs, out = tmp_path / "in", tmp_path / "out"
    names = iter(f"long{i}.wav" for i in range(100))
    long_name = next(name for name in names if owns(InputFile(inputs / name, Path(name)), Shard(0, 2)))
    short_name = next(name for name in names if owns(InputFile(inputs / name, Path(name)), Shard(1, 2)))
    write_audio(inputs / long_name, tone(16000, 120.0), 16000)  # shard 0/2's only file: minutes of exact frames
    write_audio(inputs / short_name, tone(16000, 0.5), 16000)
    first = start_embed(weights, inputs, out, "--shard", "0/2", "--timestamps", "--hop", "20")
    journal = out / journal_name(Shard(0, 2).file_tag)
    try:
        wait_for(lambda: journal.is_file() and '"run"' in journal.read_text(), first)
        assert embed(weights, inputs, "--out", out, "--shard", "1/2", "--timestamps", "--hop", "40") == 2
        assert embed(weights, inputs, "--out", out, "--shard", "1/2", "--timestamps", "--hop", "40", "--overwrite") == 2
        assert first.poll() is None and '"file"' not in journal.read_text()  # refused while it had written nothing
        assert embedded(out) == []
    finally:
        first.kill()
        first.communicate()


def test_a_refused_shard_that_is_the_last_alive_merges_the_index(weights: Path, tmp_path: Path, capsys) -> None:
    inputs, out = corpus(tmp_path / "in", 8, seconds=0.1), tmp_path / "out"
    out.mkdir()
    with FileLock(str(out / lock_name(Shard(1, 2)))):  # shard 1/2 alive while 0/2 finishes: 0/2 leaves its part
        assert embed(weights, inputs, "--out", out, "--shard", "0/2") == 0
    assert not (out / "index.json").exists()
    assert embed(weights, inputs, "--out", out, "--shard", "1/2", "--normalization", "per_clip") == 2
    assert "other settings" in capsys.readouterr().err
    rows = json.loads((out / "index.json").read_text())["files"]
    assert len(rows) == len(select(expand_inputs([str(inputs)]), Shard(0, 2)))
    assert not list(out.glob("index.run-*.part.json"))


# --- M8: non-UTF-8 file names ----------------------------------------------------------------


@pytest.mark.skipif(sys.platform != "linux", reason="file names are bytes on Linux only")
def test_a_non_utf8_file_name_is_embedded_end_to_end(weights: Path, tmp_path: Path, capsys) -> None:
    inputs, out = tmp_path / "in", tmp_path / "out"
    odd = Path(os.fsdecode(os.fsencode(inputs) + b"/caf\xe9.wav"))  # Latin-1 bytes: a str with a surrogate escape
    os.rename(write_audio(inputs / "cafe.wav", tone(16000, 0.3), 16000), odd)
    write_audio(inputs / "plain.wav", tone(16000, 0.3, freq=300.0), 16000)
    for shard in ("0/2", "1/2"):
        assert main(["embed", str(inputs), "--model", MODEL, "--weights", str(weights), "--out", str(out),
                     "--shard", shard, "--workers", "1"]) == 0
    assert "caf\\xe9.wav" in capsys.readouterr().err  # progress lines name it, escaped
    assert os.path.isfile(os.fsencode(out) + b"/caf\xe9.wav.npy")
    rows = {row["input"]: row for row in json.loads((out / "index.json").read_text())["files"]}
    assert rows[str(odd)]["outputs"] == ["caf\udce9.wav.npy"] and rows[str(odd)]["status"] == "written"
    assert main(["verify-embeddings", str(out)]) == 0
    assert embed(weights, inputs, "--out", out) == 0
    assert "0 written, 2 skipped" in capsys.readouterr().err  # its journal record is read back
    bad = os.fsencode(tmp_path) + b"/not\xff.wav"
    Path(os.fsdecode(bad)).write_text("not audio\n")
    assert embed(weights, os.fsdecode(bad), "--out", tmp_path / "out2") == 1
    assert "not\\xff.wav: not a readable audio file" in capsys.readouterr().err  # the failure, in the summary


# --- M9: a killed decode worker --------------------------------------------------------------


def children(pid: int) -> list[int]:
    """Process ids whose parent is ``pid`` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to find the worker processes")
def test_a_killed_decode_worker_stops_cleanly_with_the_index_of_the_files_done(weights: Path, tmp_path: Path) -> None:
    inputs, out = corpus(tmp_path / "in", 40, seconds=2.0), tmp_path / "out"
    process = start_embed(weights, inputs, out, "--workers", "2")
    wait_for(lambda: (out / JOURNAL_NAME).is_file() and (out / JOURNAL_NAME).read_text().count('"file"') >= 2, process)
    os.kill(children(process.pid)[0], signal.SIGKILL)  # as the out-of-memory killer would
    _, err = process.communicate(timeout=120)
    assert process.returncode == 1, err
    assert "Traceback" not in err and "decode worker" in err and "rerun" in err
    rows = json.loads((out / "index.json").read_text())["files"]
    written = sorted(row["outputs"][0] for row in rows if row["status"] == "written")
    assert 2 <= len(written) < 40 and written == embedded(out)
    assert f"hear-byols embed: {len(written)} written, 0 skipped, 0 failed" in err  # the summary
    rerun = start_embed(weights, inputs, out, "--workers", "2")
    _, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0 and f"{40 - len(written)} written, {len(written)} skipped" in err


# --- L10: usage errors before --out exists ---------------------------------------------------


def test_a_bad_layer_is_refused_before_out_is_created(weights: Path, tmp_path: Path, capsys) -> None:
    path = write_audio(tmp_path / "a.wav", tone(16000, 0.5), 16000)
    assert embed(weights, path, "--out", tmp_path / "out", "--layer", "nope") == 2
    assert "not a layer" in capsys.readouterr().err and not (tmp_path / "out").exists()
