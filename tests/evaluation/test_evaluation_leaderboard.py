"""Leaderboard reproduction: the dry-run plan (HEAR's protocol, missing task folders)."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from evaluation.leaderboard import describe, hear_task_names, make_plan, tolerance_table

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No download may happen in a dry run: offline, empty cache, no override."""
    monkeypatch.setenv("HEAR_BYOLS_OFFLINE", "1")
    monkeypatch.setenv("HEAR_BYOLS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("HEAR_BYOLS_WEIGHTS_DIR", raising=False)
    return tmp_path


def hear_folders(root: Path, names: list[str]) -> Path:
    for name in names:
        (root / name).mkdir(parents=True)
        (root / name / "task_metadata.json").write_text(json.dumps({"task_name": name}))
    return root


def test_nineteen_hear_tasks():
    names = hear_task_names()
    assert len(names) == 19 and "tfds_crema_d-1.0.0-full" in names and "dcase2016_task2-hear2021-full" in names


def test_dry_run_plan_names_missing_tasks_and_uses_heares_protocol(offline):
    tasks_dir = hear_folders(offline / "tasks", ["tfds_crema_d-1.0.0-full", "esc50-v2.0.0-full", "my_task"])
    plan = make_plan(tasks_dir, offline / "out", ("hear_byols.default", "hear_byols.cvt"), download=False)
    assert sorted(plan.found) == ["esc50-v2.0.0-full", "tfds_crema_d-1.0.0-full"]
    assert len(plan.missing) == 17 and "fsd50k-v1.0-full" in plan.missing and plan.extra == ["my_task"]
    text = describe(plan)
    assert "2 of 19 found" in text and "MISSING (17 of 19" in text and "fsd50k-v1.0-full" in text
    assert "not HEAR 2021 tasks (ignored): my_task" in text
    commands = [line.strip() for line in text.splitlines() if " -m heareval." in line]
    assert len(commands) == 2 * 2 * 2  # (embeddings, predictions) x tasks x modules
    assert all("--grid default" in c for c in commands if "predictions.runner" in c)
    assert all("--model-options '{}'" in c for c in commands if "embeddings.runner" in c)


def test_dry_run_command_line_without_any_task_folder(offline):
    result = subprocess.run(
        [sys.executable, "-m", "evaluation", "leaderboard", "--tasks-dir", str(offline / "nowhere"), "--dry-run"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "0 of 19 found" in result.stdout and "MISSING (19 of 19" in result.stdout
    for module in ("hear_byols.default", "hear_byols.resnetish34", "hear_byols.cvt"):
        assert f"{module}: weights" in result.stdout


def test_tolerance_column():
    table = pd.DataFrame({
        "module": ["m"] * 3, "task": ["a", "b", "c"], "metric": ["top1_acc"] * 3, "primary": [True] * 3,
        "score": [0.65, 0.60, 0.5], "published": [0.6569, 0.6569, float("nan")],
        "diff": [0.65 - 0.6569, 0.60 - 0.6569, float("nan")],
    })
    assert tolerance_table(table, 0.02)["within"].tolist() == ["yes", "NO", "-"]


def test_dry_run_of_each_shard_lists_its_part_and_the_shards_add_up(offline):
    from hear_byols.distributed import Shard

    tasks_dir = hear_folders(offline / "tasks", ["tfds_crema_d-1.0.0-full", "esc50-v2.0.0-full", "beehive_states-v2-full"])
    plan = make_plan(tasks_dir, offline / "out", ("hear_byols.default", "hear_byols.cvt"), download=False)

    def heareval_commands(text: str) -> list[str]:
        return [line.strip() for line in text.splitlines() if " -m heareval." in line]

    everything = heareval_commands(describe(plan))
    parts = [describe(plan, Shard(index, 4)) for index in range(4)]
    assert "commands of shard 1/4 (2 of 6 (module, task) chains)" in parts[1]
    assert sorted(c for part in parts for c in heareval_commands(part)) == sorted(everything)
    assert len(everything) == 2 * 3 * 2
    for part in parts:  # a shard validates exactly the modules it embeds
        validated = {line.split()[3] for line in part.splitlines() if "hearvalidator.validate" in line}
        embedded = {line.split()[3] for line in heareval_commands(part) if "embeddings.runner" in line}
        assert validated == embedded


def test_report_only_merges_what_is_there_and_names_what_is_missing(offline):
    from evaluation import ledger
    from evaluation.leaderboard import leaderboard

    out = offline / "out"
    shutil.copytree(ROOT / "tests" / "fixtures" / "heareval" / "embeddings", out / "embeddings")
    shard = out / "shards" / "1-of-2"
    shard.mkdir(parents=True)
    planned = [("hear_byols.default", "spoken_words"), ("hear_byols.default", "tfds_crema_d-1.0.0-full")]
    ledger.write_plan(shard, "1/2", planned, planned[1:])
    messages = []
    status = leaderboard(offline / "tasks", out, ("hear_byols.default",), report_only=True, log=messages.append)
    assert status == 0
    text = (out / "report" / "leaderboard.md").read_text()
    assert "MISSING scores of 1 planned (module, task): hear_byols.default tfds_crema_d-1.0.0-full" in text
    assert "| hear_byols.default | spoken_words | top1_acc |" in text
    assert not (out / "steps.jsonl").exists()  # nothing ran
