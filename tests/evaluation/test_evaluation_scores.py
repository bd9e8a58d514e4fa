"""Parsing heareval's test.predicted-scores.json, on real files from a heareval run
(tests/fixtures/heareval/README.md says how they were produced)."""
from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest

from evaluation.harnesses.heareval import collect_scores, parse_scores, read_task_scores

EMBEDDINGS = Path(__file__).parents[1] / "fixtures" / "heareval" / "embeddings"
DEFAULT = EMBEDDINGS / "hear_byols.default"


def load(task: str) -> dict:
    return json.loads((DEFAULT / task / "test.predicted-scores.json").read_text())


def test_scene_train_valid_test_shape():
    rows = read_task_scores(DEFAULT / "spoken_words")
    scores = load("spoken_words")["test"]
    assert [(r["metric"], r["primary"]) for r in rows] == [("top1_acc", True), ("mAP", False)]
    assert rows[0]["score"] == scores["test_top1_acc"] == scores["test_score"]
    assert rows[1]["score"] == scores["test_mAP"]
    assert rows[0]["score_std"] is None and rows[0]["n_folds"] == 1
    assert {r["module"] for r in rows} == {"hear_byols.default"} and {r["task"] for r in rows} == {"spoken_words"}


def test_event_shape_keeps_metrics_not_subscores():
    rows = read_task_scores(DEFAULT / "tone_word_events")
    scores = load("tone_word_events")["test"]
    assert [r["metric"] for r in rows] == ["event_onset_200ms_fms", "segment_1s_er"]
    assert rows[0]["primary"] and rows[0]["score"] == scores["test_event_onset_200ms_fms"]
    assert rows[1]["score"] == scores["test_segment_1s_er"]
    assert "test_event_onset_200ms_fms_precision" in scores  # present in the file, left out of the table


def test_kfold_shape_uses_the_aggregate_over_folds():
    rows = read_task_scores(DEFAULT / "spoken_language_5fold")
    scores = load("spoken_language_5fold")
    per_fold = [scores[f"fold{k:02d}"]["test_top1_acc"] for k in range(5)]
    top1 = rows[0]
    assert top1["metric"] == "top1_acc" and top1["primary"] and top1["n_folds"] == 5
    assert top1["score"] == pytest.approx(statistics.mean(per_fold))
    assert top1["score_std"] == pytest.approx(statistics.stdev(per_fold))
    assert top1["score"] == scores["aggregated_scores"]["test_top1_acc_mean"]


def test_unknown_layout_is_an_error():
    with pytest.raises(ValueError, match="unknown scores layout"):
        parse_scores({"hparams": {}}, ["top1_acc"])


def test_collect_every_module_and_task_primary_first():
    table = collect_scores(EMBEDDINGS)
    pairs = set(zip(table["module"], table["task"]))
    assert pairs == {
        (module, task)
        for module in ("hear_byols.cvt", "hear_byols.default")
        for task in ("spoken_language_5fold", "spoken_words", "tone_word_events")
    }
    assert len(table) == 12
    firsts = table.groupby(["module", "task"], sort=False).head(1)
    assert firsts["primary"].all()
