"""Read heareval's ``test.predicted-scores.json`` files into one tidy table.

Shapes (see tests/fixtures/heareval/): a train/valid/test task has one ``"test"`` block with
``test_<metric>`` keys; a k-fold task has one block per fold (``"fold00"``...) and an
``"aggregated_scores"`` block with ``test_<metric>_mean`` / ``_std``; event metrics also carry
sub-scores (``test_<metric>_precision``...), which the table leaves out. Which metrics a task
has, and which is primary (the first), comes from the task_metadata.json heareval copies next
to the scores.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
from hear_byols.errors import HearByolsError

from evaluation.runner import SCORES_FILE

COLUMNS = ["module", "task", "metric", "primary", "score", "score_std", "n_folds"]


class ScoresLayoutError(HearByolsError, ValueError):
    """A scores file of heareval in a layout this reader does not know."""


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
    table = pd.DataFrame(rows, columns=COLUMNS)
    return table.sort_values(["module", "task", "primary"], ascending=[True, True, False], kind="stable")
