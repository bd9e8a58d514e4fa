"""The report: CSV, Markdown and PNG from a run folder, with the test-weights warning."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from evaluation.report import write_report
from evaluation.weights import DETERMINISTIC

EMBEDDINGS = Path(__file__).parents[1] / "fixtures" / "heareval" / "embeddings"
MODULES = ("hear_byols.cvt", "hear_byols.default")


def make_run(tmp_path: Path, kind: str) -> Path:
    """A run folder as `python -m evaluation run` leaves it, with heareval's real score files."""
    shutil.copytree(EMBEDDINGS, tmp_path / "embeddings")
    (tmp_path / "weights.json").write_text(json.dumps({m: {"path": f"/w/{m}.pth", "kind": kind} for m in MODULES}))
    steps = [
        {"module": m, "task": "spoken_words", "step": step, "status": "done", "wall_s": 12.5}
        for m in MODULES for step in ("embeddings", "predictions")
    ]
    (tmp_path / "steps.jsonl").write_text("".join(json.dumps(s) + "\n" for s in steps))
    return tmp_path


def test_report_files_and_rows(tmp_path):
    report = write_report(make_run(tmp_path, DETERMINISTIC))
    assert report.plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and report.plot.stat().st_size > 10_000
    table = pd.read_csv(report.csv)
    assert len(table) == 12
    assert set(table.columns) >= {
        "module", "task", "metric", "primary", "score", "published", "diff", "published_source", "weights"
    }
    assert table["score"].between(0, 1).all()
    text = report.markdown.read_text()
    for module in MODULES:
        for task in ("spoken_words", "tone_word_events", "spoken_language_5fold"):
            assert f"| {module} | {task} |" in text
    assert "Wall time of each step" in text and "12.5" in text


def test_test_weights_are_flagged_everywhere(tmp_path):
    report = write_report(make_run(tmp_path, DETERMINISTIC))
    assert report.warning and "NOT meaningful" in report.warning
    assert report.warning in report.markdown.read_text()
    assert (pd.read_csv(report.csv)["note"] == report.warning).all()


def test_official_weights_carry_no_warning(tmp_path):
    report = write_report(make_run(tmp_path, "official"))
    assert report.warning is None
    assert "WARNING" not in report.markdown.read_text()


def test_empty_run_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="python -m evaluation run"):
        write_report(tmp_path)
