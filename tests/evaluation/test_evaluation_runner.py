"""The engine and the heareval harness: heareval's commands and folder names, weights
bookkeeping, running one step, resumability."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from evaluation.engine import RunError, failure_summary, read_weights, record_weights
from evaluation.harnesses.heareval import (
    RunConfig,
    embed_task_dir,
    embedding_name,
    embeddings_command,
    environment,
    predictions_command,
    validator_command,
)
from evaluation.steps import Step, run_step
from evaluation.weights import DETERMINISTIC, OFFICIAL_DEFAULT, Weights, parse_weights, variant_of

ROOT = Path(__file__).resolve().parents[2]


def config(tmp_path: Path, **options) -> RunConfig:
    return RunConfig(tmp_path / "tasks", tmp_path / "out", options, "faster")


def test_folder_names_follow_heareval(tmp_path):
    assert embedding_name("hear_byols.cvt", {}) == "hear_byols.cvt"
    # heareval: module + "-" + "-".join(f"{slugify(k)}={slugify(str(v))}")
    assert embedding_name("hear_byols.default", {"normalization": "per_clip", "timestamp_mode": "sliding"}) == (
        "hear_byols.default-normalization=per-clip-timestamp-mode=sliding"
    )
    run = config(tmp_path, normalization="per_clip")
    assert embed_task_dir(run, "hear_byols.default", "t") == (
        tmp_path / "out" / "embeddings" / "hear_byols.default-normalization=per-clip" / "t"
    )


def test_commands_pass_weights_options_and_grid(tmp_path):
    run = config(tmp_path, normalization="per_clip")
    command = embeddings_command(run, "hear_byols.cvt", "t", Weights("/w/cvt.pth", "custom"))
    assert command[1:4] == ["-m", "heareval.embeddings.runner", "hear_byols.cvt"]
    assert command[command.index("--model") + 1] == "/w/cvt.pth"
    assert json.loads(command[command.index("--model-options") + 1]) == {"normalization": "per_clip"}
    assert command[command.index("--task") + 1] == "t"
    assert "--model" not in embeddings_command(run, "hear_byols.cvt", "t", OFFICIAL_DEFAULT)
    predictions = predictions_command(run, "hear_byols.cvt", "t")
    assert predictions[2] == "heareval.predictions.runner" and predictions[-2:] == ["--grid", "faster"]
    assert environment()["TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"] == "1"


def test_weights_of_a_run_are_recorded_and_never_mixed(tmp_path):
    out = config(tmp_path).out
    out.mkdir(parents=True)
    record_weights(out, out, {"hear_byols.cvt": Weights("/w/cvt.pth", DETERMINISTIC)})
    record_weights(out, out, {"hear_byols.cvt": Weights("/w/cvt.pth", DETERMINISTIC)})  # same again: fine
    assert read_weights(out) == {"hear_byols.cvt": Weights("/w/cvt.pth", DETERMINISTIC)}
    with pytest.raises(RunError, match="another --out"):
        record_weights(out, out, {"hear_byols.cvt": OFFICIAL_DEFAULT})
    shard = out / "shards" / "0-of-2"  # a shard's own record counts for the others too
    shard.mkdir(parents=True)
    record_weights(out, shard, {"hear_byols.default": OFFICIAL_DEFAULT})
    assert read_weights(out) == {"hear_byols.cvt": Weights("/w/cvt.pth", DETERMINISTIC), "hear_byols.default": OFFICIAL_DEFAULT}
    with pytest.raises(RunError, match="0-of-2"):
        record_weights(out, out, {"hear_byols.default": Weights("/w/d.pth", "custom")})


def test_weights_arguments(tmp_path):
    checkpoint = tmp_path / "c.pth"
    checkpoint.write_bytes(b"x")
    assert parse_weights([f"hear_byols.cvt={checkpoint}"]) == {"hear_byols.cvt": Weights(str(checkpoint), "custom")}
    with pytest.raises(ValueError, match="MODULE=PATH"):
        parse_weights(["hear_byols.cvt"])
    assert variant_of("hear_byols") == "cvt" and variant_of("hear_byols.default") == "default"
    with pytest.raises(ValueError):
        variant_of("hearbaseline")


def test_a_step_runs_once_then_is_skipped_and_a_failure_is_summarised(tmp_path):
    out = config(tmp_path).out
    for name in ("scratch", "logs"):
        (out / name).mkdir(parents=True)
    done = out / "m.ok"
    ok = Step("m", None, "validator", (sys.executable, "-c", "import os; print(os.getcwd())"), str(done), marks_done=True)
    first = run_step(out, ok, {}, lambda _: None)
    assert first["status"] == "done" and done.is_file()
    assert (out / "logs" / "m__validator.log").read_text().strip() == str(out / "scratch")
    assert run_step(out, ok, {}, lambda _: None)["status"] == "skipped"
    boom = Step("m", "t", "embeddings", (sys.executable, "-c", "raise SystemExit('boom')"), str(out / "never"))
    failed = run_step(out, boom, {}, lambda _: None)
    assert failed["status"] == "failed" and failed["returncode"] == 1
    assert failure_summary([first, failed]).startswith("1 step(s) failed: m t embeddings")
    assert "boom" in failure_summary([failed]) and failure_summary([first]) is None
    assert validator_command("hear_byols.cvt", Weights("/w/c.pth", "custom"))[2:] == [
        "hearvalidator.validate", "hear_byols.cvt", "--model", "/w/c.pth"
    ]


def test_the_slot_and_step_environments_reach_the_command(tmp_path):
    out = config(tmp_path).out
    for name in ("scratch", "logs"):
        (out / name).mkdir(parents=True)
    probe = "import os; print(os.environ['CUDA_VISIBLE_DEVICES'], os.environ['OMP_NUM_THREADS'], os.environ['TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD'])"
    step = Step("m", "t", "embeddings", (sys.executable, "-c", probe), str(out / "d"), env={"CUDA_VISIBLE_DEVICES": ""},
                marks_done=True)
    slot = {**environment(), "CUDA_VISIBLE_DEVICES": "3", "OMP_NUM_THREADS": "4"}  # as the engine makes it
    run_step(out, step, slot, lambda _: None)
    assert (out / "logs" / "m__t__embeddings.log").read_text().split() == ["4", "1"]  # the step's "" wins


def steps(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "steps.jsonl").read_text().splitlines()]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng missing: make system-deps")
def test_killed_run_resumes_and_a_finished_run_is_skipped(tmp_path):
    from hear_byols.testing import write_deterministic_checkpoint

    from evaluation.tasks import generate_tasks

    generate_tasks(tmp_path / "tasks", log=lambda _: None)
    checkpoint = write_deterministic_checkpoint("default", tmp_path / "default.pth")
    out = tmp_path / "out"
    command = [
        sys.executable, "-m", "evaluation", "run", "--modules", "hear_byols.default",
        "--tasks-dir", str(tmp_path / "tasks"), "--tasks", "spoken_words", "spoken_language_5fold",
        "--weights", f"hear_byols.default={checkpoint}", "--out", str(out), "--grid", "faster",
    ]
    first_done = out / "embeddings" / "hear_byols.default" / "spoken_words" / "prediction-done.json"
    process = subprocess.Popen(command, cwd=ROOT, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 600
    # the done-file is heareval's; the runner logs the step right after heareval exits
    while not (first_done.exists() and (out / "steps.jsonl").exists() and len(steps(out)) >= 2):
        assert process.poll() is None, "the run ended before its first (module, task) was done"
        assert time.monotonic() < deadline, "timed out waiting for the first (module, task)"
        time.sleep(0.5)
    os.killpg(process.pid, signal.SIGKILL)  # the run and the heareval step it started
    process.wait()
    killed = steps(out)
    assert [(s["task"], s["step"], s["status"]) for s in killed] == [
        ("spoken_words", "embeddings", "done"), ("spoken_words", "predictions", "done")
    ]

    resumed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    after_resume = steps(out)[len(killed):]
    assert [(s["task"], s["step"], s["status"]) for s in after_resume] == [
        ("spoken_words", "embeddings", "skipped"), ("spoken_words", "predictions", "skipped"),
        ("spoken_language_5fold", "embeddings", "done"), ("spoken_language_5fold", "predictions", "done"),
    ]
    assert all(s["wall_s"] > 0 for s in after_resume if s["status"] == "done")
    assert (out / "embeddings" / "hear_byols.default" / "spoken_language_5fold" / "test.predicted-scores.json").is_file()

    again = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    assert [s["status"] for s in steps(out)[len(killed) + 4:]] == ["skipped"] * 4
    assert again.stdout.count("[skip]") == 4 and "[run ]" not in again.stdout
