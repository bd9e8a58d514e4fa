"""RUN_DIR's files: ``results.csv`` / ``results.md``, ``splits.csv`` (every clip's part in every
fold), ``run.json`` (versions, weights, statistics, options, time per stage, unreadable clips),
``unreadable.txt``, the comparison plot and a confusion matrix per (model, dataset).

Everything is written atomically, so a RUN_DIR never holds half a report."""
from __future__ import annotations

import csv
import io
import math
import platform
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

import hear_byols
from hear_byols.extract.index import read_index
from hear_byols.probe.contents import Staged
from hear_byols.probe.plots import comparison_plot, confusion_plots
from hear_byols.probe.results import COLUMNS, FoldOutcome, ResultRow
from hear_byols.probe.timing import StageTimer
from hear_byols.storage.atomic import atomic_write, atomic_write_json

if TYPE_CHECKING:
    from hear_byols.probe.plan import Plan

PARTS = ("train", "validation", "test")


@dataclass
class RunRecord:
    """What run.json records beside the options."""

    plan: Plan
    timer: StageTimer = field(default_factory=StageTimer)
    statistics: dict[str, list[Any]] = field(default_factory=dict)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    folders: dict[str, str] = field(default_factory=dict)
    unreadable: dict[str, dict[str, str]] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        options = {key: _plain(value) for key, value in asdict(self.plan.options).items()}
        return {
            "versions": _versions(), "options": options, "cache": str(self.plan.cache),
            "device": str(self.plan.device), "shard": self.plan.shard.label,
            "models": {spec.text: _provenance(self.folders, spec.text) for spec in self.plan.models},
            "corpora": {cp.corpus.name: {"clips": len(cp.corpus.clips), "split": cp.split, "folds": len(cp.folds),
                                         "normalization": cp.policy.label,
                                         "comparable_with_serab": cp.corpus.comparable_with_serab,
                                         "statistics": self.statistics.get(cp.corpus.name)}
                        for cp in self.plan.corpora},
            "features_computed": self.counts, "seconds": self.timer.rounded(),
            "unreadable": self.unreadable, "unreadable_count": sum(map(len, self.unreadable.values())),
        }


def write_report(out: Path, plan: Plan, rows: list[ResultRow], outcomes: list[FoldOutcome],
                 staged: dict[str, Staged], record: RunRecord) -> None:
    _write_text(out / "results.csv", _csv(COLUMNS, [[_cell(getattr(row, c)) for c in COLUMNS] for row in rows]))
    _write_text(out / "results.md", results_markdown(rows))
    _write_text(out / "splits.csv", _splits_csv(plan, record))
    lines = [f"{corpus}\t{path}\t{why}" for corpus, clips in record.unreadable.items() for path, why in clips.items()]
    _write_text(out / "unreadable.txt", "".join(line + "\n" for line in lines))
    comparison_plot(out / "comparison.png", rows)
    confusion_plots(out, outcomes, plan.options.families)
    atomic_write_json(out / "run.json", record.as_json())


def results_markdown(rows: list[ResultRow]) -> str:
    """The table as Markdown: accuracy and UAR (mean ± std over folds) with their 95% intervals."""
    head = "| model | dataset | selection | family | folds | accuracy | 95% CI | UAR | 95% CI | note |\n"
    lines = [head, "|---|---|---|---|---|---|---|---|---|---|\n"]
    for r in rows:
        lines.append(f"| {r.model} | {r.dataset} | {r.selection} | {r.family} | {r.folds} | "
                     f"{_score(r.accuracy, r.accuracy_std)} | {_ci(r.accuracy_ci_low, r.accuracy_ci_high)} | "
                     f"{_score(r.uar, r.uar_std)} | {_ci(r.uar_ci_low, r.uar_ci_high)} | "
                     f"{(r.failed or '').replace('|', '/')} |\n")
    return "".join(lines)


def _score(mean: float, std: float) -> str:
    if math.isnan(mean):
        return "failed"
    return f"{mean:.3f}" + ("" if math.isnan(std) else f" ± {std:.3f}")


def _ci(low: float, high: float) -> str:
    return "" if math.isnan(low) else f"[{low:.3f}, {high:.3f}]"


def _splits_csv(plan: Plan, record: RunRecord) -> str:
    rows = []
    for cp in plan.corpora:
        skipped = record.unreadable.get(cp.corpus.name, {})
        for fold in cp.folds:
            part_of = {int(i): part for part in PARTS for i in getattr(fold, part)}
            for index, clip in enumerate(cp.corpus.clips):
                rows.append([cp.corpus.name, fold.name, str(clip.path), clip.speaker, clip.label,
                             part_of.get(index, "unused"), "unreadable" if str(clip.path) in skipped else "ok"])
    return _csv(("dataset", "fold", "path", "speaker", "label", "split", "status"), rows)


def _csv(header: tuple[str, ...], rows: list[list[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def _cell(value: Any) -> Any:
    return "" if isinstance(value, float) and math.isnan(value) else value


def _write_text(path: Path, text: str) -> None:
    data = text.encode("utf-8", "surrogateescape")
    atomic_write(path, lambda fh: fh.write(data))


def _plain(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _provenance(folders: dict[str, str], model: str) -> list[dict[str, Any]]:
    """The engine's recorded settings (weights sha256, normalization, precision) of each folder
    that holds this model's features; a baseline's folder name says its openSMILE version."""
    found = []
    for key, folder in folders.items():
        if key.split(" ", 1)[0] != model:
            continue
        path = Path(folder)
        runs = read_index(path)["runs"] if (path / "index.json").is_file() else []
        found.append({"folder": folder, **(runs[-1]["settings"] if runs else {})})
    return found


def _versions() -> dict[str, str]:
    versions = {"hear_byols": hear_byols.__version__, "python": platform.python_version(), "torch": torch.__version__,
                "numpy": np.__version__}
    for name in ("sklearn", "opensmile", "matplotlib"):
        module = sys.modules.get(name)
        if module is not None:
            versions[name] = getattr(module, "__version__", "?")
    return versions
