"""heareval 2021.1.3 as a harness: hear-validator, then heareval's embeddings and predictions runners.

Why subprocesses: heareval's runners are the reference protocol (its CLI, its done-files, its
scoring); calling them exactly as HEAR did keeps our numbers comparable. Every step runs with
``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` because torch >= 2.6 refuses to load heareval's Lightning
1.8 checkpoints otherwise. heareval writes its own done-files (``.done.embeddings``,
``prediction-done.json``); hear-validator's is written by the harness (``validated/``). The
scores, ``test.predicted-scores.json`` per (module, task), are read into one tidy table here.

Score shapes (see tests/fixtures/heareval/): a train/valid/test task has one ``"test"`` block with
``test_<metric>`` keys; a k-fold task has one block per fold (``"fold00"``...) and an
``"aggregated_scores"`` block with ``test_<metric>_mean`` / ``_std``; event metrics also carry
sub-scores (``test_<metric>_precision``...), which the table leaves out. Which metrics a task
has, and which is primary (the first), comes from the task_metadata.json heareval copies next
to the scores.
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import pandas as pd
from hear_byols.errors import HearByolsError
from slugify import slugify

from evaluation import gpu
from evaluation.engine import RunError, chain_lock
from evaluation.steps import Step
from evaluation.task_check import TaskFolderError, check_task_folder
from evaluation.weights import Weights

VALIDATOR_DONE = "validator.ok"
EMBEDDINGS_DONE = ".done.embeddings"
PREDICTIONS_DONE = "prediction-done.json"
SCORES_FILE = "test.predicted-scores.json"
GRIDS = ("default", "fast", "faster")
SCORE_COLUMNS = ["module", "task", "metric", "primary", "score", "score_std", "n_folds"]


class ScoresLayoutError(HearByolsError, ValueError):
    """A scores file of heareval in a layout this reader does not know."""


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


# --- folders and commands -----------------------------------------------------------------------

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


# --- the harness adapter (evaluation/harnesses/__init__.py) ---------------------------------------

def environment() -> dict[str, str]:
    """What heareval needs on torch >= 2.6, and quiet TensorFlow logs."""
    return {"TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}


def check(config: RunConfig, tasks: list[str] | None) -> list[str]:
    """The task folders to run (``tasks``, else every one in ``config.tasks_dir``), each checked
    before any work: heareval fails on a malformed folder deep in a step."""
    if config.grid not in GRIDS:
        raise RunError(f"--grid {config.grid!r}: choose one of {', '.join(GRIDS)}")
    names = tasks or [folder.name for folder in task_folders(config.tasks_dir)]
    if not names:
        raise RunError(f"no HEAR task folder (with task_metadata.json) in {config.tasks_dir}")
    for name in names:
        try:
            check_task_folder(config.tasks_dir / name)
        except TaskFolderError as exc:
            raise RunError(f"task folder {name}: {exc}") from None
    return names


def make_folders(config: RunConfig, ledger_folder: Path) -> None:
    """The shared ``embeddings/`` folder, and the ledger's ``validated/`` (hear-validator's done-files)."""
    config.embeddings_dir.mkdir(parents=True, exist_ok=True)
    (ledger_folder / "validated").mkdir(parents=True, exist_ok=True)


def chain_name(config: RunConfig, module: str) -> str:
    """A chain's name in the ledger's plan and its lock: heareval's embedding folder."""
    return embedding_name(module, config.model_options)


def chain_done(config: RunConfig, module: str, task: str) -> bool:
    return (embed_task_dir(config, module, task) / PREDICTIONS_DONE).exists()


def plan(
    config: RunConfig, weights: Mapping[str, Weights], tasks: list[str], chains: set[tuple[str, str]],
    ledger_folder: Path, log: Callable[[str], None],
) -> list[Step]:
    """The steps of ``chains`` ((module, task) pairs), in the order of ``weights`` and ``tasks``:
    per module with a chain, hear-validator first (``config.validate``), then embeddings ->
    predictions of each task. The embedding steps get this host's GPU policy (evaluation/gpu.py)."""
    policy = gpu.detect()
    if policy.message:
        log(policy.message)
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
            steps += chain_steps(config, module, task, chosen, gate, policy.embeddings_env)
    return steps


def chain_steps(
    config: RunConfig, module: str, task: str, weights: Weights, gate: tuple, embeddings_env: Mapping[str, str],
) -> list[Step]:
    """Embeddings (after ``gate``), then predictions, of one (module, task); both hold its lock."""
    task_dir = embed_task_dir(config, module, task)
    lock = chain_lock(config.out, chain_name(config, module), task)
    embeddings = Step(
        module, task, "embeddings", tuple(embeddings_command(config, module, task, weights)),
        str(task_dir / EMBEDDINGS_DONE), after=gate, env=dict(embeddings_env), lock_file=lock,
    )
    predictions = Step(
        module, task, "predictions", tuple(predictions_command(config, module, task)),
        str(task_dir / PREDICTIONS_DONE), after=(embeddings.key,), lock_file=lock,
    )
    return [embeddings, predictions]


def read_scores(out: Path) -> pd.DataFrame:
    """Every scored (module, task) of run ``out``, sorted by module, task, primary metric first."""
    return collect_scores(Path(out) / "embeddings")


# --- the score reader -----------------------------------------------------------------------------

def parse_scores(scores: dict[str, Any], evaluation: list[str]) -> list[dict[str, Any]]:
    """One row per metric of ``evaluation``: score, std over folds (k-fold only), fold count."""
    folds = [key for key, value in scores.items() if isinstance(value, dict) and key.startswith("fold")]
    rows = []
    for metric in evaluation:
        if "aggregated_scores" in scores:
            aggregated = scores["aggregated_scores"]
            score, std = aggregated[f"test_{metric}_mean"], aggregated[f"test_{metric}_std"]
        elif "test" in scores:
            score, std = scores["test"][f"test_{metric}"], None
        else:
            raise ScoresLayoutError(f"unknown scores layout (keys: {sorted(scores)})")
        rows.append({
            "metric": metric, "primary": metric == evaluation[0], "score": float(score),
            "score_std": None if std is None else float(std), "n_folds": max(1, len(folds)),
        })
    return rows


def read_task_scores(task_dir: Path) -> list[dict[str, Any]]:
    """Rows of one heareval embedding task folder (``<embeddings>/<module>/<task>/``)."""
    task_dir = Path(task_dir)
    evaluation = json.loads((task_dir / "task_metadata.json").read_text())["evaluation"]
    scores = json.loads((task_dir / SCORES_FILE).read_text())
    return [
        {"module": task_dir.parent.name, "task": task_dir.name, **row}
        for row in parse_scores(scores, evaluation)
    ]


def collect_scores(embeddings_dir: Path) -> pd.DataFrame:
    """Every scored (module, task) under ``embeddings_dir``, sorted by module, task, primary first."""
    rows = [
        row
        for path in sorted(Path(embeddings_dir).glob(f"*/*/{SCORES_FILE}"))
        for row in read_task_scores(path.parent)
    ]
    table = pd.DataFrame(rows, columns=SCORE_COLUMNS)
    return table.sort_values(["module", "task", "primary"], ascending=[True, True, False], kind="stable")
