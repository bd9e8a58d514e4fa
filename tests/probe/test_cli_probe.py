"""``hear-byols probe``: options, exit statuses, the report; a SIGKILL mid-embedding, then a rerun
that recomputes nothing already cached."""
from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hear_byols.cli import main

from helpers.hostile import child_env, cli_command
from helpers.probe_corpus import write_table_corpus


def test_the_command_offers_the_probes_splits_and_families() -> None:
    from hear_byols.cli.probe_cmd import FAMILY_NAMES, SPLITS
    from hear_byols.probe.classifiers import FAMILIES
    from hear_byols.probe.corpora import SPLITS as PROBE_SPLITS

    assert FAMILY_NAMES == tuple(FAMILIES) and SPLITS == PROBE_SPLITS


def test_probe_command_writes_the_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    table = write_table_corpus(tmp_path / "corpus", speakers=4, takes=2)
    out = tmp_path / "run"
    assert main(["probe", "--labels", str(table), "--models", "egemaps", "--out", str(out), "--families", "lda",
                 "--folds", "2", "--no-speaker-norm"]) == 0
    assert "results.md" in capsys.readouterr().err
    record = json.loads((out / "run.json").read_text())
    assert record["options"]["speaker_norm"] is False and record["options"]["families"] == ["lda"]
    with (out / "results.csv").open() as handle:
        assert {row["model"] for row in csv.DictReader(handle)} == {"egemaps"}


def test_datasets_are_given_in_one_option_or_repeated() -> None:
    """``--dataset a=X b=Y`` (the issue's form) and ``--dataset a=X --dataset b=Y`` name the same two."""
    from hear_byols.cli import build_parser

    common = ["probe", "--models", "egemaps", "--out", "run"]
    together = build_parser().parse_args([*common, "--dataset", "ravdess=R", "crema_d=C"]).dataset
    repeated = build_parser().parse_args([*common, "--dataset", "ravdess=R", "--dataset", "crema_d=C"]).dataset
    assert together == repeated and len(together) == 2 and "crema_d" in str(together[1])


@pytest.mark.parametrize("args, message", [
    (["--folds", "1"], "--folds"),
    (["--jobs", "0"], "--jobs"),
    (["--families", "knn"], "--families"),
    (["--dataset", "ravdess"], "NAME=PATH"),
    (["--split", "random"], "--split"),
])
def test_bad_options_exit_2_before_any_work(tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str],
                                            message: str) -> None:
    table = write_table_corpus(tmp_path / "corpus", speakers=4, takes=1)
    out = tmp_path / "run"
    assert main(["probe", "--labels", str(table), "--models", "egemaps", "--out", str(out), *args]) == 2
    assert message in capsys.readouterr().err and not out.exists()


def test_usage_errors_name_the_fix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    table = write_table_corpus(tmp_path / "corpus", speakers=4, takes=1)
    for args, message in ((["--models", "default512:conv9"], "conv1, conv2"),
                          (["--models", "egemaps", "--normalization", "serab"], "--normalization train"),
                          (["--models", "egemaps", "--shard", "5/2"], "shard")):
        assert main(["probe", "--labels", str(table), "--out", str(tmp_path / "run"), "--folds", "2", *args]) == 2
        assert message in capsys.readouterr().err


def _cached(cache: Path) -> int:
    return sum(1 for _ in cache.glob("emb-default512-*/*.npy"))


@pytest.mark.slow
def test_sigkill_mid_embedding_then_rerun_recomputes_nothing_cached(tmp_path: Path, weights: Path) -> None:
    table = write_table_corpus(tmp_path / "corpus", speakers=4, takes=10, seconds=3.0)  # 120 clips
    out, total = tmp_path / "run", 120
    command = cli_command(["probe", "--labels", table, "--models", "default512", "--weights", f"default512={weights}",
                           "--out", out, "--families", "lda", "--folds", "2", "--normalization", "per_clip"])
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=child_env())
    deadline = time.monotonic() + 300
    while _cached(out / "cache") < 10 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    kept = _cached(out / "cache")
    assert 10 <= kept < total, f"the kill came at {kept} of {total} clips"
    done = subprocess.run(command, capture_output=True, env=child_env())
    assert done.returncode == 0, done.stderr.decode()
    counts = json.loads((out / "run.json").read_text())["features_computed"]["default512"]
    assert counts["skipped"] >= kept - 1  # the last output may be written but not yet journaled: recomputed
    assert counts["written"] == total - counts["skipped"] and counts["failed"] == 0


def test_a_missing_extra_is_named() -> None:
    """Without scikit-learn (the probe extra), run is a usage error naming the extra, not a traceback."""
    code = ("import sys; sys.modules['sklearn'] = None\n"
            "import hear_byols.probe as probe\n"
            "try:\n    probe.run\nexcept Exception as exc:\n    print(type(exc).__name__, exc)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=child_env())
    assert "UsageError the probe needs sklearn: pip install 'hear_byols[probe]'" in done.stdout, done.stderr
