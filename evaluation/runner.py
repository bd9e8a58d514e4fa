"""Drive heareval's own runners, one subprocess per (module, task, step), resumably, in parallel.

Why subprocesses: heareval's runners are the reference protocol (its CLI, its done-files, its
scoring); calling them exactly as HEAR did keeps our numbers comparable. Each step runs with
``cwd=<out>/scratch`` because the predictions runner writes ``./logs``, with
``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` because torch >= 2.6 refuses to load heareval's
Lightning 1.8 checkpoints otherwise. A step whose heareval done-file exists is skipped without
starting Python. Every step is appended to the ledger's ``steps.jsonl`` with its wall time, and
its output goes to the ledger's ``logs/`` (the ledger is ``<out>``, or ``<out>/shards/I-of-N`` for a
shard: see evaluation/ledger.py). ``--jobs N`` runs N steps at once (evaluation/schedule.py);
``--shard I/N`` runs one part of the (module, task) chains (evaluation/shards.py).
"""
from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Mapping

from slugify import slugify

from hear_byols.atomic import atomic_write_json
from hear_byols.distributed import Shard
from hear_byols.errors import HearByolsError

from evaluation import gpu, ledger
from evaluation.schedule import Children, Step, describe_slots, execute, job_slots, label, serialized, visible_gpus
from evaluation.shards import ledger_dir, select
from evaluation.task_check import TaskFolderError, check_task_folder
from evaluation.weights import Weights

VALIDATOR_DONE = "validator.ok"
EMBEDDINGS_DONE = ".done.embeddings"
PREDICTIONS_DONE = "prediction-done.json"
SCORES_FILE = "test.predicted-scores.json"
GRIDS = ("default", "fast", "faster")


class RunError(HearByolsError, RuntimeError):
    """A heareval step failed, or the run's settings clash with what is already in ``out``."""


@dataclass(frozen=True)
class RunConfig:
    """Everything a run's commands depend on."""

    tasks_dir: Path
    out: Path
    model_options: dict
    grid: str = "faster"
    grid_points: int | None = None  # None: heareval's default (8)
    validate: bool = False  # run hear-validator once per module first

    @property
    def embeddings_dir(self) -> Path:
        return self.out / "embeddings"


def task_folders(tasks_dir: Path) -> list[Path]:
    """The HEAR task folders directly under ``tasks_dir`` (those with a task_metadata.json)."""
    return sorted(path.parent for path in Path(tasks_dir).glob("*/task_metadata.json"))


def embedding_name(module: str, model_options: dict) -> str:
    """The folder heareval's embedding runner names after the module and its options."""
    suffix = "".join(f"-{slugify(key)}={slugify(str(value))}" for key, value in model_options.items())
    return module + suffix


def embed_task_dir(config: RunConfig, module: str, task: str) -> Path:
    return config.embeddings_dir / embedding_name(module, config.model_options) / task


def validator_command(module: str, weights: Weights) -> list[str]:
    """hear-validator: the HEAR API checks (load, sizes, both embedding functions)."""
    command = [sys.executable, "-m", "hearvalidator.validate", module]
    return command + (["--model", str(Path(weights.path).resolve())] if weights.path else [])


def embeddings_command(config: RunConfig, module: str, task: str, weights: Weights) -> list[str]:
    command = [
        sys.executable, "-m", "heareval.embeddings.runner", module,
        "--tasks-dir", str(config.tasks_dir.resolve()), "--task", task,
        "--embeddings-dir", str(config.embeddings_dir.resolve()),
        "--model-options", json.dumps(config.model_options),
    ]
    return command + (["--model", str(Path(weights.path).resolve())] if weights.path else [])


def predictions_command(config: RunConfig, module: str, task: str) -> list[str]:
    command = [
        sys.executable, "-m", "heareval.predictions.runner",
        str(embed_task_dir(config, module, task).resolve()), "--grid", config.grid,
    ]
    return command + (["--grid-points", str(config.grid_points)] if config.grid_points else [])


def subprocess_env() -> dict[str, str]:
    """The environment heareval needs on torch >= 2.6, quiet TensorFlow logs."""
    return {**os.environ, "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}


def weight_records(out: Path) -> list[tuple[Path, dict]]:
    """Every ``weights.json`` of the ledgers under ``out``, with its content."""
    paths = [folder / "weights.json" for folder in ledger.ledgers(out)]
    return [(path, json.loads(path.read_text())) for path in paths if path.is_file()]


def record_weights(out: Path, ledger_folder: Path, weights: dict[str, Weights]) -> None:
    """Write ``<ledger>/weights.json``; refuse weights that differ from any ledger's record for a
    module, so that embeddings made from different checkpoints never mix in one ``out``."""
    for path, recorded in weight_records(out):
        for module, chosen in weights.items():
            before = recorded.get(module)
            if before is not None and before != asdict(chosen):
                raise RunError(
                    f"{out} already holds {module} results made with {before} ({path}); this run uses "
                    f"{asdict(chosen)}. Use another --out (or delete {out}) to avoid mixing them."
                )
    path = ledger_folder / "weights.json"
    own = json.loads(path.read_text()) if path.is_file() else {}
    atomic_write_json(path, own | {module: asdict(chosen) for module, chosen in weights.items()}, end="")


def read_weights(out: Path) -> dict[str, Weights]:
    """The weights each module of a run (all its shards) used; empty when ``out`` has no record."""
    merged: dict[str, Weights] = {}
    for _, recorded in weight_records(out):
        merged |= {module: Weights(**entry) for module, entry in recorded.items()}
    return merged


def plan_steps(
    config: RunConfig, weights: dict[str, Weights], tasks: list[str], chains: set[tuple[str, str]],
    ledger_folder: Path, embeddings_env: Mapping[str, str],
) -> list[Step]:
    """The steps of ``chains`` ((module, task) pairs), in the order of ``weights`` and ``tasks``:
    per module with a chain, hear-validator first (``config.validate``), then embeddings ->
    predictions of each task."""
    steps: list[Step] = []
    for module, chosen in weights.items():
        module_tasks = [task for task in tasks if (module, task) in chains]
        if not module_tasks:
            continue
        gate: tuple = ()
        if config.validate:
            validator = Step(
                module, None, "validator", tuple(validator_command(module, chosen)),
                str(ledger_folder / "validated" / f"{module}.{VALIDATOR_DONE}"), marks_done=True,
            )
            steps.append(validator)
            gate = (validator.key,)
        for task in module_tasks:
            task_dir = embed_task_dir(config, module, task)
            lock = str(config.out / "locks" / f"{embedding_name(module, config.model_options)}__{task}.lock")
            embeddings = Step(
                module, task, "embeddings", tuple(embeddings_command(config, module, task, chosen)),
                str(task_dir / EMBEDDINGS_DONE), after=gate, env=dict(embeddings_env), lock_file=lock,
            )
            steps.append(embeddings)
            steps.append(Step(
                module, task, "predictions", tuple(predictions_command(config, module, task)),
                str(task_dir / PREDICTIONS_DONE), after=(embeddings.key,), lock_file=lock,
            ))
    return steps


def run_step(
    ledger_folder: Path, step: Step, slot_env: Mapping[str, str], log: Callable[[str], None],
    children: Children | None = None,
) -> dict:
    """Run one step unless its done-file exists; return its steps.jsonl record.

    A step whose lock another process holds is not run: it fails, naming the reason, rather
    than two processes writing one embeddings folder."""
    record = {"module": step.module, "task": step.task, "step": step.name, "command": shlex.join(step.command)}
    if step.lock_file is None:
        return run_unlocked(ledger_folder, step, slot_env, log, children, record)
    with ledger.held(Path(step.lock_file)) as lock:
        if lock is not None:
            return run_unlocked(ledger_folder, step, slot_env, log, children, record, (lock,))
    record.update(status="failed", error=busy_chain(Path(step.lock_file)))
    log(f"[failed] {step.label}: {record['error']}")
    return record


def busy_chain(lock_file: Path) -> str:
    """Who holds a chain's lock, from the ``Holder`` it names, and what to do about it."""
    holder = ledger.holder(lock_file)
    if holder is None or ledger.alive(holder.harness):
        who = f" (harness pid {holder.harness}, running {holder.label} since {holder.since})" if holder else ""
        return (
            f"another process{who} holds {lock_file}: a second run, or a shard with other --shard values, is working "
            "on this (module, task) in the same --out; rerun once it is done"
        )
    if ledger.alive(holder.step):
        return (
            f"{holder.label}, pid {holder.step}, was left running by a killed run (harness pid {holder.harness}, gone; "
            f"started {holder.since}) and still holds {lock_file}: wait for it to end or stop it (kill {holder.step}), "
            "then rerun"
        )
    return (
        f"a process left by a killed run (harness pid {holder.harness}, gone; its step {holder.label}, pid {holder.step}, "
        f"ended) still holds {lock_file}, a process that step started: find it (fuser -v {lock_file}), stop it, then rerun"
    )


def run_unlocked(
    ledger_folder: Path, step: Step, slot_env: Mapping[str, str], log: Callable[[str], None],
    children: Children | None, record: dict, locks: tuple[int, ...] = (),
) -> dict:
    """``run_step`` once the step is ours to run.

    heareval's runners write their own done-files; for other tools (``step.marks_done``) the
    done-file is written here once the command succeeded. The child's environment: heareval's
    needs, then the job slot's (GPU, threads), then the step's own additions. The child inherits
    ``locks`` (descriptors of held lock files), so that they are held as long as it runs, even
    should it outlive a killed harness; each names the harness and the child (``ledger.claim``)."""
    done_file = Path(step.done_file)
    log_path = ledger_folder / "logs" / ("__".join(part for part in step.key if part) + ".log")
    if done_file.exists():
        record.update(status="skipped", wall_s=0.0)
        log(f"[skip] {step.label}: {done_file.name} exists")
        return record
    env = {**subprocess_env(), **slot_env, **step.env}
    placement = ", ".join(f"{name}={env[name]}" for name in ("CUDA_VISIBLE_DEVICES", "OMP_NUM_THREADS") if name in slot_env)
    log(f"[run ] {step.label} (log: {log_path}{'; ' + placement if placement else ''})")
    start = time.perf_counter()
    with open(log_path, "w") as output:
        arguments = dict(cwd=ledger_folder / "scratch", env=env, stdout=output, stderr=subprocess.STDOUT, pass_fds=locks)
        children = children or Children()
        process = children.start(list(step.command), **arguments)
        for lock in locks:
            ledger.claim(lock, ledger.Holder(os.getpid(), process.pid, step.label, time.strftime("%Y-%m-%dT%H:%M:%S")))
        try:
            returncode = process.wait()
        finally:
            children.finished(process)
    record.update(wall_s=round(time.perf_counter() - start, 2), returncode=returncode)
    if step.marks_done and returncode == 0:
        done_file.write_text(record["command"] + "\n")
    record["status"] = "done" if returncode == 0 and done_file.exists() else "failed"
    record["log"] = str(log_path)
    log(f"[{record['status']}] {step.label}: {record['wall_s']:.1f} s")
    return record


def missing_chains(config: RunConfig, chains: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The (module, task) chains whose predictions are not done yet."""
    return [
        (module, task) for module, task in chains
        if not (embed_task_dir(config, module, task) / PREDICTIONS_DONE).exists()
    ]


def record_label(record: dict) -> str:
    return label((record["module"], record["task"], record["step"]))


def failure_summary(records: list[dict]) -> str | None:
    """What failed (with the end of each log) and what it blocked; None when nothing did."""
    failed = [r for r in records if r["status"] == "failed"]
    blocked = [r for r in records if r["status"] == "blocked"]
    if not failed and not blocked:
        return None
    lines = [f"{len(failed)} step(s) failed: " + ", ".join(map(record_label, failed))]
    if blocked:
        lines.append(f"{len(blocked)} step(s) not run because a step they need failed: " + ", ".join(map(record_label, blocked)))
    for r in failed:
        if "log" in r and Path(r["log"]).is_file():
            tail = "".join(Path(r["log"]).read_text().splitlines(keepends=True)[-20:])
            lines.append(f"--- {record_label(r)} (exit {r.get('returncode')}); end of {r['log']}:\n{tail}")
        else:
            lines.append(f"--- {record_label(r)}: {r.get('error', 'failed')}")
    return "\n".join(lines)


def run(
    config: RunConfig, weights: dict[str, Weights], tasks: list[str] | None = None,
    log: Callable[[str], None] = print, jobs: int = 1, shard: Shard | None = None,
) -> list[dict]:
    """hear-validator per module, then embeddings and predictions for every (module, task) of
    this shard (all without one), ``jobs`` steps at a time; returns the step records.

    Every step that can run does; the run then raises RunError naming each failed step."""
    if config.grid not in GRIDS:
        raise RunError(f"--grid {config.grid!r}: choose one of {', '.join(GRIDS)}")
    names = tasks or [folder.name for folder in task_folders(config.tasks_dir)]
    if not names:
        raise RunError(f"no HEAR task folder (with task_metadata.json) in {config.tasks_dir}")
    for name in names:  # before any work: heareval fails on a malformed folder deep in a step
        try:
            check_task_folder(config.tasks_dir / name)
        except TaskFolderError as exc:
            raise RunError(f"task folder {name}: {exc}") from None
    log = serialized(log)  # the steps' threads and this one
    policy = gpu.detect()
    slots = job_slots(jobs, visible_gpus(os.environ, gpu.device_count), available_cpus(), os.environ)
    all_chains = sorted({(module, task) for module in weights for task in names})
    mine = select(all_chains, shard)
    folder = ledger_dir(config.out, shard)
    (config.out / "embeddings").mkdir(parents=True, exist_ok=True)
    for name in ("scratch", "logs", "validated"):
        (folder / name).mkdir(parents=True, exist_ok=True)
    with ledger.locked(folder):
        record_weights(config.out, folder, weights)
        name_of = lambda module: embedding_name(module, config.model_options)  # noqa: E731
        ledger.write_plan(
            folder, str(shard) if shard else None,
            [(name_of(m), t) for m, t in all_chains], [(name_of(m), t) for m, t in mine],
        )
        if policy.message:
            log(policy.message)
        log(
            (f"shard {shard}: {len(mine)} of {len(all_chains)} (module, task) chains; " if shard else "")
            + f"{jobs} job(s) at once: {describe_slots(slots)}"
        )
        steps = plan_steps(config, weights, names, set(mine), folder, policy.embeddings_env)
        records = execute(
            steps, slots, lambda step, env, children: run_step(folder, step, env, log, children),
            lambda record: ledger.append_record(folder, record), log,
        )
    counts = {status: sum(r["status"] == status for r in records) for status in ("done", "skipped", "failed", "blocked")}
    log("summary: " + ", ".join(f"{count} {status}" for status, count in counts.items()))
    if shard:
        others = missing_chains(config, [chain for chain in all_chains if chain not in mine])
        if others:
            log(f"other shards' chains not done yet ({len(others)} of {len(all_chains) - len(mine)}): "
                + ", ".join(f"{m} {t}" for m, t in others))
    failures = failure_summary(records)
    if failures:
        raise RunError(failures)
    return records


def available_cpus() -> int:
    """CPUs this process may use (its affinity: SLURM's and taskset's limits included)."""
    return len(os.sched_getaffinity(0))
