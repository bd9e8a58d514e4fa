"""``hear_byols.probe.run`` end to end on tiny synthetic corpora: every output, the scores, the
cache, the refusals."""
from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from hear_byols.errors import CorpusError, HearByolsError, InvalidOptionError, UsageError
from hear_byols.probe import run
from hear_byols.probe.results import FAMILY, OURS, SERAB_COMPATIBLE

from helpers.probe_corpus import write_ravdess, write_table_corpus

FAST = dict(families=("lda", "logreg"), folds=3)


def _rows(out: Path) -> list[dict[str, str]]:
    with (out / "results.csv").open() as handle:
        return list(csv.DictReader(handle))


def _ours(rows: list, model: str) -> float:
    return next(r.accuracy for r in rows if r.model == model and r.selection == OURS)


def test_egemaps_on_a_table_scores_well_and_writes_every_output(tmp_path: Path) -> None:
    table = write_table_corpus(tmp_path / "corpus")
    out = tmp_path / "run"
    rows = run(out, models=["egemaps"], labels=table, **FAST)
    assert _ours(rows, "egemaps") > 0.8  # chance is 1/3
    family_rows = [r for r in rows if r.selection == FAMILY]
    assert len(family_rows) == 1 * 1 * 2 and {r.folds for r in family_rows} == {3}
    assert {r.selection for r in rows} == {FAMILY, OURS, SERAB_COMPATIBLE}
    assert len(_rows(out)) == len(rows)
    for name in ("results.md", "comparison.png", "confusion-egemaps-labels.png", "run.json", "unreadable.txt"):
        assert (out / name).stat().st_size > 0 or name == "unreadable.txt", name
    assert "SERAB-compatible (family chosen on test)" in (out / "results.md").read_text()
    with (out / "splits.csv").open() as handle:
        splits = list(csv.DictReader(handle))
    assert len(splits) == 54 * 3
    for fold in {row["fold"] for row in splits}:
        parts: dict[str, set[str]] = {}
        for row in splits:
            if row["fold"] == fold:
                parts.setdefault(row["split"], set()).add(row["speaker"])
        assert not (parts["train"] & parts["test"]) and not (parts["validation"] & parts["test"])
        assert not (parts["train"] & parts["validation"])
    record = json.loads((out / "run.json").read_text())
    assert record["corpora"]["labels"]["split"] == "speaker-kfold" and record["unreadable_count"] == 0
    assert record["features_computed"]["egemaps"]["written"] == 54
    assert {"hash", "decode", "opensmile", "grid search"} <= set(record["seconds"])
    assert "sklearn" in record["versions"] and "opensmile" in record["versions"]


def test_shuffled_labels_score_near_chance(tmp_path: Path) -> None:
    table = write_table_corpus(tmp_path / "corpus", shuffle_labels=True)
    rows = run(tmp_path / "run", models="egemaps", labels=table, **FAST)  # one model may be a plain string
    assert _ours(rows, "egemaps") < 0.6


def test_embeddings_with_train_statistics_then_a_second_run_computes_nothing(tmp_path: Path, weights: Path) -> None:
    table = write_table_corpus(tmp_path / "corpus", speakers=4, takes=2, labels=("low", "high"))
    out, cache = tmp_path / "run", tmp_path / "shared-cache"
    rows = run(out, models=["default512", "default512:conv3"], labels=table, weights={"default512": weights},
               cache=cache, families=("lda",), folds=2)
    assert len([r for r in rows if r.selection == FAMILY]) == 2 * 1 * 1
    record = json.loads((out / "run.json").read_text())
    statistics = record["corpora"]["labels"]["statistics"]
    assert len(statistics) == 2 and all(s["clips"] > 0 and s["std"] > 0 for s in statistics)
    assert statistics[0]["mean"] != statistics[1]["mean"]  # each fold's own training clips
    assert record["features_computed"]["default512"] == {"written": 2 * 16, "skipped": 0, "failed": 0}
    settings = record["models"]["default512"][0]
    assert settings["weights_sha256"] and settings["normalization"] in ([s["mean"], s["std"]] for s in statistics)
    again = run(tmp_path / "run2", models=["default512", "default512:conv3"], labels=table,
                weights={"default512": weights}, cache=cache, families=("logreg",), folds=2)
    second = json.loads((tmp_path / "run2" / "run.json").read_text())["features_computed"]
    assert second["default512"] == {"written": 0, "skipped": 32, "failed": 0} and second["default512:conv3"]["written"] == 0
    assert {r.family for r in again if r.selection == FAMILY} == {"logreg"}


def test_native_ravdess_layout_with_serab_split_and_statistics(tmp_path: Path, weights: Path) -> None:
    root = write_ravdess(tmp_path / "RAVDESS")
    rows = run(tmp_path / "run", models=["egemaps", "default512"], datasets={"ravdess": root},
               weights={"default512": weights}, families=("lda", "logreg"))
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    corpus = record["corpora"]["ravdess"]
    assert corpus["split"] == "serab" and corpus["normalization"] == "serab" and corpus["folds"] == 1
    assert record["models"]["default512"][0]["normalization"] == [-10.3203, 4.9996]
    assert {r.dataset for r in rows} == {"ravdess"} and all(r.folds == 1 for r in rows if not r.failed)


def test_unreadable_clips_are_listed_and_skipped(tmp_path: Path) -> None:
    table = write_table_corpus(tmp_path / "corpus")
    (tmp_path / "corpus" / "clips" / "s0_low_0.wav").write_bytes(b"not audio at all")
    out = tmp_path / "run"
    run(out, models=["egemaps"], labels=table, **FAST)
    record = json.loads((out / "run.json").read_text())
    listed = (out / "unreadable.txt").read_text()
    assert record["unreadable_count"] == 1 and "s0_low_0.wav: not a readable audio file" in listed
    assert "cache" not in listed  # the clip's own path, never the cache's link
    with (out / "splits.csv").open() as handle:
        statuses = {row["path"].rsplit("/", 1)[-1]: row["status"] for row in csv.DictReader(handle)}
    assert statuses["s0_low_0.wav"] == "unreadable" and statuses["s1_low_0.wav"] == "ok"


def test_shards_fill_the_cache_and_report_only_refuses_a_partial_one(tmp_path: Path) -> None:
    table = write_table_corpus(tmp_path / "corpus", speakers=4, takes=2)
    out = tmp_path / "run"
    assert run(out, models=["egemaps"], labels=table, shard="0/2", **FAST) == []
    assert not (out / "results.csv").exists()
    with pytest.raises(UsageError, match=r"no cached features.*--report-only"):
        run(out, models=["egemaps"], labels=table, report_only=True, **FAST)
    assert run(out, models=["egemaps"], labels=table, shard="1/2", **FAST) == []
    rows = run(out, models=["egemaps"], labels=table, report_only=True, **FAST)
    assert rows and json.loads((out / "run.json").read_text())["features_computed"] == {}


@pytest.mark.parametrize("change, error, message", [
    ({"families": ("lda", "knn")}, InvalidOptionError, "knn"),
    ({"models": ["default512:conv9"]}, InvalidOptionError, "conv9"),
    ({"normalization": "serab"}, UsageError, "no statistics for 'labels'"),
    ({"folds": 7}, CorpusError, "fold"),
    ({"folds": 0}, InvalidOptionError, "--folds"),
    ({"jobs": -1}, InvalidOptionError, "--jobs"),
])
def test_refusals_before_any_work(tmp_path: Path, change: dict, error: type, message: str) -> None:
    table = write_table_corpus(tmp_path / "corpus", speakers=4, takes=1)
    options = {"models": ["egemaps"], **FAST, **change}
    with pytest.raises(error, match=message):
        run(tmp_path / "run", labels=table, **options)
    assert not (tmp_path / "run").exists()


def test_refusals_of_the_corpus(tmp_path: Path) -> None:
    table = write_table_corpus(tmp_path / "corpus", speakers=1, takes=2)
    with pytest.raises(CorpusError, match="speaker"):
        run(tmp_path / "run", labels=table, models=["egemaps"], **FAST)
    text = table.read_text().splitlines()
    table.write_text("\n".join(text + [text[1]]) + "\n")  # the same path twice
    with pytest.raises(CorpusError, match="more than once"):
        run(tmp_path / "run", labels=table, models=["egemaps"], **FAST)
    (tmp_path / "file").write_text("")
    good = write_table_corpus(tmp_path / "good", speakers=4, takes=1)
    with pytest.raises(UsageError, match="is a file"):
        run(tmp_path / "file", labels=good, models=["egemaps"], **FAST)


def test_a_class_without_training_clips_is_refused(tmp_path: Path) -> None:
    table = write_table_corpus(tmp_path / "corpus", speakers=5, takes=1)
    rows = list(csv.reader(table.open()))
    rows[0].append("split")
    for row in rows[1:]:
        speaker = int(row[2][3:])
        row.append("test" if row[1] == "high" and speaker < 4 else ["train", "train", "train", "validation", "test"][speaker])
    with table.open("w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    with pytest.raises(HearByolsError, match="(?i)train"):
        run(tmp_path / "run", labels=table, split_column="split", models=["egemaps"], **FAST)


def test_nan_features_are_refused_naming_the_files(tmp_path: Path) -> None:
    table = write_table_corpus(tmp_path / "corpus", speakers=4, takes=1)
    out = tmp_path / "run"
    run(out, models=["egemaps"], labels=table, **FAST)
    cached = sorted((out / "cache").glob("egemaps-*/*.npy"))[0]
    values = np.load(cached)
    values[3] = np.nan
    np.save(cached, values)
    link = (out / "cache" / "audio" / cached.name.removesuffix(".npy")).resolve()
    with pytest.raises(UsageError, match=f"NaN or Inf.*{link.name}"):
        run(out, models=["egemaps"], labels=table, **FAST)


@pytest.mark.slow
def test_full_grid_on_every_family(tmp_path: Path, weights: Path) -> None:
    """Every family of SERAB's grid (QDA may fail on rank-deficient classes: recorded, never dropped)."""
    table = write_table_corpus(tmp_path / "corpus", speakers=5, takes=3)
    rows = run(tmp_path / "run", models=["egemaps", "default512"], labels=table, weights={"default512": weights},
               folds=5)
    family_rows = [r for r in rows if r.selection == FAMILY]
    assert len(family_rows) == 2 * 1 * 5
    assert all(r.failed or 0 <= r.accuracy <= 1 for r in family_rows)
    assert _ours(rows, "egemaps") > 0.8
    shutil.rmtree(tmp_path / "run" / "cache")
