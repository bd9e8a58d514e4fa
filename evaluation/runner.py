"""Drive heareval's own runners, one subprocess per (module, task, step), resumably.

Why subprocesses: heareval's runners are the reference protocol (its CLI, its done-files, its
scoring); calling them exactly as HEAR did keeps our numbers comparable. Each step runs with
``cwd=<out>/scratch`` because the predictions runner writes ``./logs``, with
``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` because torch >= 2.6 refuses to load heareval's
Lightning 1.8 checkpoints otherwise. A step whose heareval done-file exists is skipped without
starting Python. Every step is appended to ``<out>/steps.jsonl`` with its wall time, and its
output goes to ``<out>/logs/``.
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
from typing import Callable

from slugify import slugify

from evaluation import gpu
from evaluation.task_check import TaskFolderError, check_task_folder
from evaluation.weights import Weights

VALIDATOR_DONE = "validator.ok"
EMBEDDINGS_DONE = ".done.embeddings"
PREDICTIONS_DONE = "prediction-done.json"
SCORES_FILE = "test.predicted-scores.json"
GRIDS = ("default", "fast", "faster")


class RunError(RuntimeError):
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


def record_weights(config: RunConfig, weights: dict[str, Weights]) -> None:
    """Write ``<out>/weights.json``; refuse to mix weights with embeddings made from others."""
    path = config.out / "weights.json"
    recorded = json.loads(path.read_text()) if path.is_file() else {}
    for module, chosen in weights.items():
        before = recorded.get(module)
        if before is not None and before != asdict(chosen):
            raise RunError(
                f"{config.out} already holds {module} results made with {before}; this run uses "
                f"{asdict(chosen)}. Use another --out (or delete {config.out}) to avoid mixing them."
            )
        recorded[module] = asdict(chosen)
    path.write_text(json.dumps(recorded, indent=2))


def read_weights(out: Path) -> dict[str, Weights]:
    """The weights each module of a run used (empty when ``out`` has no record)."""
    path = Path(out) / "weights.json"
    if not path.is_file():
        return {}
    return {module: Weights(**entry) for module, entry in json.loads(path.read_text()).items()}


def run_step(
    config: RunConfig, module: str, task: str | None, step: str, command: list[str], done_file: Path,
    log: Callable[[str], None], marks_done: bool = False, env: dict[str, str] | None = None,
) -> dict:
    """Run one step unless its done-file exists; return its steps.jsonl record.

    heareval's runners write their own done-files; for other tools (``marks_done``) the
    done-file is written here once the command succeeded. ``env``: additions to the environment."""
    record = {"module": module, "task": task, "step": step, "command": shlex.join(command)}
    what = " ".join(part for part in (module, task, step) if part)
    log_path = config.out / "logs" / ("__".join(part for part in (module, task, step) if part) + ".log")
    if done_file.exists():
        record.update(status="skipped", wall_s=0.0)
        log(f"[skip] {what}: {done_file.name} exists")
    else:
        log(f"[run ] {what} (log: {log_path})")
        start = time.perf_counter()
        with open(log_path, "w") as output:
            result = subprocess.run(
                command, cwd=config.out / "scratch", env={**subprocess_env(), **(env or {})},
                stdout=output, stderr=subprocess.STDOUT,
            )
        record.update(wall_s=round(time.perf_counter() - start, 2), returncode=result.returncode)
        if marks_done and result.returncode == 0:
            done_file.write_text(record["command"] + "\n")
        record["status"] = "done" if result.returncode == 0 and done_file.exists() else "failed"
        log(f"[{record['status']}] {what}: {record['wall_s']:.1f} s")
    with open(config.out / "steps.jsonl", "a") as steps:
        steps.write(json.dumps({**record, "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S")}) + "\n")
    if record["status"] == "failed":
        tail = "".join(log_path.read_text().splitlines(keepends=True)[-40:])
        raise RunError(f"{what} failed (exit {record['returncode']}); end of {log_path}:\n{tail}")
    return record


def run(
    config: RunConfig, weights: dict[str, Weights], tasks: list[str] | None = None,
    log: Callable[[str], None] = print,
) -> list[dict]:
    """hear-validator per module, then embeddings and predictions for every (module, task);
    returns the step records."""
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
    for name in ("scratch", "logs", "embeddings", "validated"):
        (config.out / name).mkdir(parents=True, exist_ok=True)
    record_weights(config, weights)
    policy = gpu.detect()
    if policy.message:
        log(policy.message)
    records = []
    for module, chosen in weights.items():
        if config.validate:
            records.append(run_step(
                config, module, None, "validator", validator_command(module, chosen),
                config.out / "validated" / f"{module}.{VALIDATOR_DONE}", log, marks_done=True,
            ))
        for task in names:
            task_dir = embed_task_dir(config, module, task)
            records.append(run_step(
                config, module, task, "embeddings", embeddings_command(config, module, task, chosen),
                task_dir / EMBEDDINGS_DONE, log, env=policy.embeddings_env,
            ))
            records.append(run_step(
                config, module, task, "predictions", predictions_command(config, module, task),
                task_dir / PREDICTIONS_DONE, log,
            ))
    return records
