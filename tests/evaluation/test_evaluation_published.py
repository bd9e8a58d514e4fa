"""The published HEAR scores file and its join with ours."""
from __future__ import annotations

import math

import pandas as pd
import pytest

from evaluation.published import PUBLISHED_CSV, join_published, model_id, reference_scores


def ours(module: str, task: str, metric: str = "top1_acc", score: float = 0.6) -> pd.DataFrame:
    return pd.DataFrame([{
        "module": module, "task": task, "metric": metric, "primary": True, "score": score,
        "score_std": None, "n_folds": 1,
    }])


def test_every_row_keeps_its_source():
    table = pd.read_csv(PUBLISHED_CSV)
    assert table["source"].notna().all() and (table["source"].str.len() > 20).all()


@pytest.mark.parametrize("task", ["crema_d", "tfds_crema_d-1.0.0-full"])
def test_default_on_crema_d_is_the_official_hear_score(task):
    row = join_published(ours("hear_byols.default", task, score=0.6)).iloc[0]
    assert row["published_model"] == "byols_audiontt"
    assert row["published"] == pytest.approx(0.6569)  # not the superseded early value 0.535
    assert row["diff"] == pytest.approx(0.6 - 0.6569)
    assert "hearbenchmark.com" in row["published_source"]


def test_cvt_scores_come_from_the_byols_paper():
    row = join_published(ours("hear_byols.cvt", "beijing_opera-v1.0-hear2021-full")).iloc[0]
    assert row["published_model"] == "hybrid_byols_cvt"
    assert row["published"] == pytest.approx(0.945)
    assert "PMLR 166" in row["published_source"]


def test_tasks_or_modules_without_published_scores_get_nan():
    for module, task in [("hear_byols.default", "spoken_words"), ("hear_byols.byola", "tfds_crema_d-1.0.0-full")]:
        row = join_published(ours(module, task)).iloc[0]
        assert math.isnan(row["published"]) and math.isnan(row["diff"])


def test_reference_has_one_row_per_model_task_metric_and_no_superseded_value():
    reference = reference_scores()
    assert not reference.duplicated(["model_id", "hear_task", "metric"]).any()
    assert not reference["notes"].fillna("").str.startswith("superseded").any()


def test_module_folders_with_model_options_map_to_their_model():
    assert model_id("hear_byols.default-normalization=per-clip") == "byols_audiontt"
    assert model_id("hear_byols") == "hybrid_byols_cvt"
    assert model_id("hear_byols.byola") is None
