"""Spreading a run: --jobs (concurrency, dependencies, GPU and thread slots, failures, Ctrl-C)
and --shard (partition, SLURM arrays, separate files, merged report), on fake heareval steps
(tests/helpers/fake_heareval.py) except for the one slow end-to-end run at the bottom."""
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

from helpers import fake_heareval
from evaluation import engine, ledger
from evaluation.harnesses import heareval
from evaluation.report import write_report
from evaluation.schedule import ScheduleError, execute, job_slots, visible_gpus
from evaluation.steps import Step
from evaluation.shards import ledger_dir, resolve_shard, select
from hear_byols.distributed import Shard, parse_shard, slurm_array_shard
from hear_byols.errors import UsageError
from evaluation.weights import Weights

ROOT = Path(__file__).resolve().parents[2]
TESTS = Path(__file__).resolve().parents[1]
MODULES = ("hear_byols.cvt", "hear_byols.default")
TASKS = list(fake_heareval.TASKS)
WEIGHTS = {module: Weights(f"/w/{module}.pth", "custom") for module in MODULES}


@pytest.fixture
def fake(monkeypatch, tmp_path) -> Path:
    """Fake heareval steps in this process and its children; returns the markers folder."""
    fake_heareval.install(monkeypatch.setattr)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("FAKE_MARKERS", str(tmp_path / "markers"))
    for name in ("FAKE_FAIL", "FAKE_HANG", "FAKE_RENDEZVOUS", "SLURM_ARRAY_TASK_ID"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "markers"


def config(tmp_path: Path, validate: bool = True) -> heareval.RunConfig:
    return heareval.RunConfig(tmp_path / "tasks", tmp_path / "out", {}, "faster", validate=validate)


def statuses(records: list[dict]) -> dict[tuple, str]:
    return {(r["module"], r["task"], r["step"]): r["status"] for r in records}


# --- shards -----------------------------------------------------------------------------------

def test_shard_values_and_their_errors():
    assert parse_shard("2/8") == Shard(2, 8) and str(Shard(2, 8)) == "2/8" and Shard(2, 8).tag == "2-of-8"
    for bad in ("8/8", "-1/4", "1/0", "3", "a/b", "1/2/3"):
        with pytest.raises(UsageError, match="I/N"):
            parse_shard(bad)


@pytest.mark.parametrize(("environ", "expected"), [
    ({}, None),
    ({"SLURM_ARRAY_TASK_ID": "0", "SLURM_ARRAY_TASK_COUNT": "8", "SLURM_ARRAY_TASK_MIN": "0"}, Shard(0, 8)),
    ({"SLURM_ARRAY_TASK_ID": "8", "SLURM_ARRAY_TASK_COUNT": "8", "SLURM_ARRAY_TASK_MIN": "1"}, Shard(7, 8)),
    ({"SLURM_ARRAY_TASK_ID": "6", "SLURM_ARRAY_TASK_COUNT": "4", "SLURM_ARRAY_TASK_MIN": "0",
      "SLURM_ARRAY_TASK_STEP": "2"}, Shard(3, 4)),
])
def test_slurm_array_maps_to_a_shard(environ, expected):
    assert slurm_array_shard(environ) == expected


@pytest.mark.parametrize("environ", [
    {"SLURM_ARRAY_TASK_ID": "9", "SLURM_ARRAY_TASK_COUNT": "3", "SLURM_ARRAY_TASK_MIN": "1"},  # --array=1,4,9
    {"SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_COUNT": "4", "SLURM_ARRAY_TASK_MIN": "0",
     "SLURM_ARRAY_TASK_STEP": "2"},
    {"SLURM_ARRAY_TASK_ID": "3"},
])
def test_a_slurm_array_that_is_no_partition_is_refused(environ):
    with pytest.raises(UsageError, match="--shard I/N"):
        slurm_array_shard(environ)


def test_explicit_shard_wins_over_slurm_and_all_runs_everything():
    array = {"SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_COUNT": "4", "SLURM_ARRAY_TASK_MIN": "0"}
    shard, origin = resolve_shard(None, array)
    assert shard == Shard(1, 4) and "SLURM_ARRAY_TASK_ID=1" in origin
    assert resolve_shard("3/4", array) == (Shard(3, 4), "shard 3/4 (--shard)")
    assert resolve_shard("all", array) == (None, None) and resolve_shard("0/1", array) == (None, None)
    assert resolve_shard(None, {}) == (None, None)
    resubmitted = {"SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_COUNT": "1", "SLURM_ARRAY_TASK_MIN": "3"}
    with pytest.raises(UsageError, match="array of one task.*--shard I/N"):  # sbatch --array=3 alone
        resolve_shard(None, resubmitted)
    assert resolve_shard("3/8", resubmitted) == (Shard(3, 8), "shard 3/8 (--shard)")


@pytest.mark.parametrize("count", [1, 2, 3, 5, 8, 171, 200])
def test_shards_cover_every_chain_exactly_once_whatever_the_input_order(count):
    chains = [(f"hear_byols.m{m}", f"task{t:02d}") for m in range(9) for t in range(19)]  # 9 modules x 19 tasks
    parts = [select(chains, Shard(index, count)) for index in range(count)]
    flat = [chain for part in parts for chain in part]
    assert sorted(flat) == sorted(chains) and len(flat) == len(set(flat))
    assert max(map(len, parts)) - min(map(len, parts)) <= 1  # balanced
    assert [select(list(reversed(chains)), Shard(index, count)) for index in range(count)] == parts  # stable
    assert ledger_dir(Path("o"), None) == Path("o") and ledger_dir(Path("o"), Shard(1, count + 1)) == Path(
        f"o/shards/1-of-{count + 1}")


# --- job slots ----------------------------------------------------------------------------------

def test_gpus_are_given_one_per_job_from_the_visible_ones():
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": "2,3"}, lambda: pytest.fail("torch asked")) == ["2", "3"]
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": ""}, lambda: 4) == []
    assert visible_gpus({}, lambda: 3) == ["0", "1", "2"]
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": "GPU-aa, MIG-bb"}, lambda: 0) == ["GPU-aa", "MIG-bb"]
    slots = job_slots(2, ["2", "3"], cpus=16, environ={})
    assert slots == [{"OMP_NUM_THREADS": "8", "MKL_NUM_THREADS": "8", "CUDA_VISIBLE_DEVICES": "2"},
                     {"OMP_NUM_THREADS": "8", "MKL_NUM_THREADS": "8", "CUDA_VISIBLE_DEVICES": "3"}]
    assert [slot["CUDA_VISIBLE_DEVICES"] for slot in job_slots(3, ["0", "1", "2", "3"], 8, {})] == ["0", "1", "2"]
    with pytest.raises(ScheduleError, match="--jobs 3 with 2 visible GPU.*Use --jobs 2.*CUDA_VISIBLE_DEVICES="):
        job_slots(3, ["0", "1"], 8, {})


def test_cpu_jobs_share_the_cores_and_keep_the_users_thread_settings():
    assert job_slots(3, [], cpus=8, environ={}) == [{"OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2"}] * 3
    assert job_slots(4, [], cpus=2, environ={}) == [{"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}] * 4
    assert job_slots(2, [], cpus=8, environ={"OMP_NUM_THREADS": "3"}) == [{"MKL_NUM_THREADS": "4"}] * 2
    with pytest.raises(ScheduleError, match="at least 1"):
        job_slots(0, [], 8, {})


# --- the scheduler ------------------------------------------------------------------------------

def test_dependencies_of_a_plan_must_be_in_it():
    lonely = Step("m", "t", "predictions", ("true",), "/nowhere", after=(("m", "t", "embeddings"),))
    with pytest.raises(ValueError, match="waits for steps not in this plan"):
        execute([lonely], [{}], lambda *args: {}, lambda record: None)


def test_a_dependency_cycle_is_refused_not_hung():
    first = Step("m", "t", "a", ("true",), "/nowhere", after=(("m", "t", "b"),))
    second = Step("m", "t", "b", ("true",), "/nowhere", after=(("m", "t", "a"),))
    with pytest.raises(ValueError, match="dependency cycle among m t a, m t b"):
        execute([first, second], [{}], lambda *args: pytest.fail("launched"), lambda record: None)


def test_each_slot_runs_one_step_at_a_time_with_its_own_environment():
    """Slot environments reach the launched steps, and no slot is given two steps at once."""
    busy: set[str] = set()
    seen = []

    def launch(step, env, children):
        assert env["CUDA_VISIBLE_DEVICES"] not in busy, "a GPU slot was given two steps"
        busy.add(env["CUDA_VISIBLE_DEVICES"])
        time.sleep(0.01)
        seen.append(env["CUDA_VISIBLE_DEVICES"])
        busy.discard(env["CUDA_VISIBLE_DEVICES"])
        return {"module": step.module, "task": step.task, "step": step.name, "status": "done"}

    steps = [Step("m", f"t{i}", "embeddings", ("true",), "/nowhere") for i in range(12)]
    records = execute(steps, job_slots(3, ["5", "6", "7"], 6, {}), launch, lambda record: None, lambda _: None)
    assert len(records) == 12 and set(seen) <= {"5", "6", "7"}


def test_jobs_2_runs_steps_concurrently_and_predictions_wait_for_their_embeddings(fake, tmp_path, monkeypatch):
    """Each embeddings step waits until two have started: only concurrent steps can finish."""
    monkeypatch.setenv("FAKE_RENDEZVOUS", "2")
    records = engine.run(heareval, config(tmp_path), WEIGHTS, tasks=TASKS, jobs=2, log=lambda _: None)
    assert set(statuses(records).values()) == {"done"} and len(records) == 2 + 2 * 2 * 3
    for module in MODULES:
        for task in TASKS:  # fake predictions exit 4 when started before their embeddings' end
            assert (fake / f"{module}__{task}__predictions.end").is_file()


def test_concurrent_steps_on_a_two_gpu_host_get_a_gpu_each(fake, tmp_path, monkeypatch):
    """A faked 2-GPU host (torch and TensorFlow see 2): the two embeddings steps must run at once
    (rendezvous), and each saw one GPU of its own and CPUs/2 threads."""
    import torch

    from evaluation import gpu

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(gpu, "device_count", lambda: 2)
    monkeypatch.setattr(gpu, "tensorflow_gpu_count", lambda: 2)
    for variable in ("CUDA_VISIBLE_DEVICES", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("FAKE_RENDEZVOUS", "2")
    engine.run(heareval, config(tmp_path, validate=False), WEIGHTS, tasks=TASKS[:1], jobs=2, log=lambda _: None)
    seen = [json.loads((fake / f"{module}__{TASKS[0]}__embeddings.start").read_text()) for module in MODULES]
    assert sorted(placement["CUDA_VISIBLE_DEVICES"] for placement in seen) == ["0", "1"]
    assert {placement["OMP_NUM_THREADS"] for placement in seen} == {str(max(1, len(os.sched_getaffinity(0)) // 2))}
    with pytest.raises(ScheduleError, match="--jobs 3 with 2 visible GPU"):
        engine.run(heareval, config(tmp_path, validate=False), WEIGHTS, tasks=TASKS[:1], jobs=3, log=lambda _: None)


def test_the_concurrency_proof_fails_when_steps_run_one_at_a_time(fake, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_RENDEZVOUS", "2")
    monkeypatch.setenv("FAKE_RENDEZVOUS_S", "1")
    with pytest.raises(engine.RunError, match="only 1 of 2 embeddings steps started"):
        engine.run(heareval, config(tmp_path, validate=False), WEIGHTS, tasks=TASKS[:1], jobs=1, log=lambda _: None)


def test_a_failed_step_blocks_only_its_chain_and_is_named(fake, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_FAIL", "hear_byols.cvt:spoken_words:embeddings")
    with pytest.raises(engine.RunError) as failure:
        engine.run(heareval, config(tmp_path), WEIGHTS, tasks=TASKS, jobs=2, log=lambda _: None)
    message = str(failure.value)
    assert "1 step(s) failed: hear_byols.cvt spoken_words embeddings" in message
    assert "not run because a step they need failed: hear_byols.cvt spoken_words predictions" in message
    assert "boom: hear_byols.cvt:spoken_words:embeddings fails on purpose" in message  # the end of its log
    recorded = statuses(ledger.step_records(tmp_path / "out"))
    assert recorded.pop(("hear_byols.cvt", "spoken_words", "embeddings")) == "failed"
    assert recorded.pop(("hear_byols.cvt", "spoken_words", "predictions")) == "blocked"
    assert set(recorded.values()) == {"done"} and len(recorded) == 2 + 2 * 2 * 3 - 2

    monkeypatch.delenv("FAKE_FAIL")  # fixed: the rerun does only the failed chain
    again = statuses(engine.run(heareval, config(tmp_path), WEIGHTS, tasks=TASKS, jobs=2, log=lambda _: None))
    assert {key for key, status in again.items() if status == "done"} == {
        ("hear_byols.cvt", "spoken_words", "embeddings"), ("hear_byols.cvt", "spoken_words", "predictions"),
    }
    assert set(again.values()) == {"done", "skipped"}


def test_a_failed_validator_blocks_its_module_only(fake, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_FAIL", "hear_byols.default:-:validator")
    with pytest.raises(engine.RunError, match="failed: hear_byols.default validator"):
        engine.run(heareval, config(tmp_path), WEIGHTS, tasks=TASKS, jobs=2, log=lambda _: None)
    recorded = statuses(ledger.step_records(tmp_path / "out"))
    assert {k for k, v in recorded.items() if v == "blocked"} == {
        ("hear_byols.default", task, step) for task in TASKS for step in ("embeddings", "predictions")}
    assert all(v == "done" for k, v in recorded.items() if k[0] == "hear_byols.cvt")


# --- shards end to end --------------------------------------------------------------------------

def files_under(folder: Path) -> dict[str, int]:
    return {str(path.relative_to(folder)): path.stat().st_mtime_ns for path in folder.rglob("*") if path.is_file()}


def test_shards_write_disjoint_files_and_the_report_merges_them(fake, tmp_path):
    run = config(tmp_path)
    out = run.out
    first = engine.run(heareval, run, WEIGHTS, tasks=TASKS, jobs=2, shard=Shard(0, 2), log=lambda _: None)
    partial = write_report(out)  # shard 1 has not run: its chains are named as missing
    assert len(partial.missing) == 3 and "MISSING: 3 planned (module, task)" in partial.markdown.read_text()
    shutil.rmtree(out / "report")
    after_first = files_under(out)

    second = engine.run(heareval, run, WEIGHTS, tasks=TASKS, jobs=2, shard=Shard(1, 2), log=lambda _: None)
    after_second = files_under(out)
    rewritten = {name for name, mtime in after_first.items() if after_second.get(name) != mtime}
    assert not rewritten, f"shard 1 wrote files of shard 0: {sorted(rewritten)}"

    chains = lambda records: {(r["module"], r["task"]) for r in records if r["task"]}  # noqa: E731
    assert chains(first).isdisjoint(chains(second))
    assert chains(first) | chains(second) == {(m, t) for m in MODULES for t in TASKS}
    assert {r["module"] for r in first + second if r["step"] == "validator"} == set(MODULES)
    for shard in ("0-of-2", "1-of-2"):
        assert (out / "shards" / shard / "steps.jsonl").is_file()
    assert not (out / "steps.jsonl").exists()

    merged = write_report(out)
    assert merged.missing == [] and "MISSING" not in merged.markdown.read_text()
    assert {(m, t) for m, t in zip(merged.table["module"], merged.table["task"])} == {(m, t) for m in MODULES for t in TASKS}
    assert set(merged.table["weights"]) == {"custom"}  # weights.json of both shards read
    assert "Wall time of each step" in merged.markdown.read_text()  # steps.jsonl of both shards read


def test_the_report_reads_a_steps_log_that_a_running_shard_is_appending_to(tmp_path):
    shard = tmp_path / "out" / "shards" / "0-of-2"
    shard.mkdir(parents=True)
    ledger.append_record(shard, {"module": "m", "task": "t", "step": "embeddings", "status": "done"})
    with open(shard / ledger.STEPS, "a") as steps:
        steps.write('{"module": "m", "task": "t", "st')  # the next record, half written
    assert [record["step"] for record in ledger.step_records(tmp_path / "out")] == ["embeddings"]


def test_two_runs_into_one_ledger_are_refused(fake, tmp_path):
    folder = ledger_dir(tmp_path / "out", Shard(0, 2))
    with ledger.locked(folder):
        with pytest.raises(ledger.LedgerBusy, match="distinct --shard"):
            engine.run(heareval, config(tmp_path), WEIGHTS, tasks=TASKS, shard=Shard(0, 2), log=lambda _: None)
    engine.run(heareval, config(tmp_path), WEIGHTS, tasks=TASKS, shard=Shard(0, 2), log=lambda _: None)  # released


def test_a_chain_another_process_is_working_on_is_not_touched(fake, tmp_path):
    """E.g. shard 0/3 still running while someone starts shard 0/2 into the same --out."""
    lock = tmp_path / "out" / "locks" / "hear_byols.cvt__spoken_words.lock"
    with ledger.held(lock) as held:
        assert held is not None
        ledger.claim(held, ledger.Holder(os.getpid(), os.getpid(), "hear_byols.cvt spoken_words embeddings", "now"))
        with pytest.raises(engine.RunError) as failure:
            engine.run(heareval, config(tmp_path), WEIGHTS, tasks=TASKS, jobs=2, log=lambda _: None)
    message = str(failure.value)
    assert "failed: hear_byols.cvt spoken_words embeddings" in message
    holder = f"harness pid {os.getpid()}, running hear_byols.cvt spoken_words embeddings since now"
    assert f"another process ({holder}) holds {lock}" in message and "other --shard values" in message
    assert not (tmp_path / "markers" / "hear_byols.cvt__spoken_words__embeddings.start").exists()
    recorded = statuses(ledger.step_records(tmp_path / "out"))
    assert sum(status == "done" for status in recorded.values()) == 2 + 2 * 2 * 3 - 2
    assert lock.read_text() == ""  # released: it names no holder any more
    assert all(path.read_text() == "" for path in (tmp_path / "out" / "locks").glob("*.lock"))


def test_a_shard_refuses_weights_another_shard_recorded(fake, tmp_path):
    engine.run(heareval, config(tmp_path), WEIGHTS, tasks=TASKS, shard=Shard(0, 2), log=lambda _: None)
    other = {**WEIGHTS, "hear_byols.cvt": Weights("/w/other.pth", "custom")}
    with pytest.raises(engine.RunError, match="another --out"):
        engine.run(heareval, config(tmp_path), other, tasks=TASKS, shard=Shard(1, 2), log=lambda _: None)


# --- the command line: SLURM detection, exit status, Ctrl-C and resume ------------------------

def driver(out: Path, *arguments: str) -> list[str]:
    """``python -m evaluation run`` with fake heareval steps, as a process of its own."""
    code = "import sys; from helpers import fake_heareval; fake_heareval.install(); from evaluation.__main__ import main; sys.exit(main(sys.argv[1:]))"
    return [sys.executable, "-c", code, "run", "--modules", *MODULES, "--tasks-dir", str(out.parent / "tasks"),
            "--tasks", *TASKS, "--out", str(out), "--validate", *arguments]


def test_command_line_shard_from_a_slurm_array_and_the_exit_status_of_a_failure(fake, tmp_path):
    out = tmp_path / "out"
    env = {**os.environ, "SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_COUNT": "3", "SLURM_ARRAY_TASK_MIN": "0",
           "FAKE_FAIL": "hear_byols.default:spoken_words:predictions"}
    result = subprocess.run(driver(out, "--jobs", "2"), cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "shard 1/3 from SLURM_ARRAY_TASK_ID=1" in result.stdout and "2 of 6 (module, task) chains" in result.stdout
    assert "error: 1 step(s) failed: hear_byols.default spoken_words predictions" in result.stderr
    plan = json.loads((out / "shards" / "1-of-3" / "plan.json").read_text())
    assert plan["shard"] == "1/3" and len(plan["chains"]) == 6 and len(plan["mine"]) == 2
    assert "other shards' chains not done yet (4 of 4)" in result.stdout


def test_two_shards_at_once_then_one_report(fake, tmp_path):
    out = tmp_path / "out"
    shards = [subprocess.Popen(driver(out, "--jobs", "2", "--shard", f"{index}/2"), cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True) for index in range(2)]
    outputs = [shard.communicate(timeout=300)[0] for shard in shards]
    assert [shard.returncode for shard in shards] == [0, 0], outputs
    report = subprocess.run([sys.executable, "-m", "evaluation", "report", "--out", str(out)], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert report.returncode == 0 and "MISSING" not in report.stdout, report.stdout + report.stderr
    done = [(r["module"], r["task"]) for r in ledger.step_records(out) if r["step"] == "predictions" and r["status"] == "done"]
    assert sorted(done) == sorted((m, t) for m in MODULES for t in TASKS)


def test_more_shards_than_chains_leaves_some_idle(fake, tmp_path):
    messages = []
    assert engine.run(heareval, config(tmp_path), WEIGHTS, tasks=TASKS, shard=Shard(7, 8), log=messages.append) == []
    assert any("shard 7/8: 0 of 6 (module, task) chains" in message for message in messages)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_or_sigterm_stops_the_children_and_the_rerun_resumes(fake, tmp_path, signum):
    out = tmp_path / "out"
    hang = "hear_byols.default:spoken_words:embeddings"
    process = subprocess.Popen(driver(out, "--jobs", "2"), cwd=ROOT, env={**os.environ, "FAKE_HANG": hang},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    marker = fake / "hear_byols.default__spoken_words__embeddings.hang"
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the hanging step never started"
        time.sleep(0.1)
    time.sleep(1.0)  # let the other job slot finish some chains meanwhile
    child = int(marker.read_text())
    process.send_signal(signum)  # to the harness only: it must stop the child itself
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stdout + stderr
    assert "rerun the same command to resume" in stderr
    with pytest.raises(ProcessLookupError):
        os.kill(child, 0)
    killed = statuses(ledger.step_records(out))
    assert killed[("hear_byols.default", "spoken_words", "embeddings")] == "interrupted"
    assert "done" in killed.values()

    resumed = subprocess.run(driver(out, "--jobs", "2"), cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    after = statuses(ledger.step_records(out)[len(killed):])
    assert {key for key, status in killed.items() if status == "done" and key[1]} == {
        key for key, status in after.items() if status == "skipped" and key[1]}
    assert after[("hear_byols.default", "spoken_words", "embeddings")] == "done"
    assert engine.missing_chains(heareval, config(tmp_path), [(m, t) for m in MODULES for t in TASKS]) == []


def running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie waiting for init to reap it is not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def test_a_sigkilled_harness_takes_its_running_step_with_it(fake, tmp_path):
    """kill -9 of the harness alone (the OOM killer) gives it no chance to stop its steps: the
    kernel must, so that no heareval step runs on unseen, and a plain rerun completes."""
    out = tmp_path / "out"
    hang = "hear_byols.default:spoken_words:embeddings"
    process = subprocess.Popen(driver(out, "--jobs", "2"), cwd=ROOT, env={**os.environ, "FAKE_HANG": hang},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    marker = fake / "hear_byols.default__spoken_words__embeddings.hang"
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert process.poll() is None and time.monotonic() < deadline, "the hanging step never started"
        time.sleep(0.1)
    step = int(marker.read_text())
    held = ledger.holder(out / "locks" / "hear_byols.default__spoken_words.lock")
    assert held is not None and (held.harness, held.step) == (process.pid, step)  # the launcher exec'd: one pid
    process.kill()  # SIGKILL, the harness only
    process.wait()
    try:
        deadline = time.monotonic() + 10
        while running(step) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not running(step), "the step outlived its killed harness"
    finally:
        if running(step):
            os.kill(step, signal.SIGKILL)
    resumed = subprocess.run(driver(out, "--jobs", "2"), cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert engine.missing_chains(heareval, config(tmp_path), [(m, t) for m in MODULES for t in TASKS]) == []


@pytest.mark.parametrize("step_alive", [True, False])
def test_a_step_left_running_by_a_killed_run_is_named_by_the_rerun(fake, tmp_path, step_alive):
    """Where the kernel cannot stop it (no PR_SET_PDEATHSIG), a leftover step (or a process it
    started, which inherited the lock) keeps its chain locked: the rerun must say so, with the
    pid, not blame other --shard values."""
    lock = tmp_path / "out" / "locks" / "hear_byols.cvt__spoken_words.lock"
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    gone_pid = int(gone.stdout)
    holder = (
        "import os, sys, time; from pathlib import Path; from evaluation import ledger\n"
        "with ledger.held(Path(sys.argv[1])) as fd:\n"
        "    step = os.getpid() if sys.argv[3] == 'True' else int(sys.argv[2])\n"
        "    ledger.claim(fd, ledger.Holder(int(sys.argv[2]), step, 'hear_byols.cvt spoken_words embeddings', 'then'))\n"
        "    print('held', flush=True); time.sleep(600)\n"
    )
    leftover = subprocess.Popen([sys.executable, "-c", holder, str(lock), str(gone_pid), str(step_alive)], cwd=ROOT,
                                stdout=subprocess.PIPE, text=True)
    try:
        assert leftover.stdout.readline().strip() == "held"
        with pytest.raises(engine.RunError) as failure:
            engine.run(heareval, config(tmp_path), WEIGHTS, tasks=TASKS, jobs=2, log=lambda _: None)
    finally:
        leftover.kill()
        leftover.wait()
    message = str(failure.value).split("failed: hear_byols.cvt spoken_words embeddings")[1]
    assert f"killed run (harness pid {gone_pid}, gone" in message and str(lock) in message, message
    if step_alive:
        assert f"pid {leftover.pid}, was left running" in message and f"kill {leftover.pid}" in message
    else:
        assert f"pid {gone_pid}, ended" in message and f"fuser -v {lock}" in message
    assert "--shard" not in message
    assert not (tmp_path / "markers" / "hear_byols.cvt__spoken_words__embeddings.start").exists()
    engine.run(heareval, config(tmp_path), WEIGHTS, tasks=TASKS, jobs=2, log=lambda _: None)  # gone: the rerun completes


# --- the real thing -----------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng missing: make system-deps")
def test_real_heareval_two_jobs_over_two_shards_then_one_report(tmp_path):
    from hear_byols.testing import write_deterministic_checkpoint

    from evaluation.tasks import generate_tasks

    generate_tasks(tmp_path / "tasks", log=lambda _: None)
    checkpoint = write_deterministic_checkpoint("default", tmp_path / "default.pth")
    out = tmp_path / "out"
    base = [sys.executable, "-m", "evaluation", "run", "--modules", "hear_byols.default", "--tasks-dir",
            str(tmp_path / "tasks"), "--tasks", "spoken_words", "spoken_language_5fold", "tone_word_events",
            "--weights", f"hear_byols.default={checkpoint}", "--out", str(out), "--grid", "faster", "--jobs", "2"]
    for shard in ("0/2", "1/2"):
        result = subprocess.run([*base, "--shard", shard], cwd=ROOT, capture_output=True, text=True, timeout=1200)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = subprocess.run([sys.executable, "-m", "evaluation", "report", "--out", str(out)],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert report.returncode == 0, report.stderr[-3000:]
    assert "MISSING" not in report.stdout
    records = ledger.step_records(out)
    assert sorted((r["task"], r["step"]) for r in records) == sorted(
        (t, s) for t in ("spoken_words", "spoken_language_5fold", "tone_word_events") for s in ("embeddings", "predictions"))
    assert all(r["status"] == "done" for r in records)
    for task in ("spoken_words", "spoken_language_5fold", "tone_word_events"):
        assert (out / "embeddings" / "hear_byols.default" / task / "test.predicted-scores.json").is_file()
