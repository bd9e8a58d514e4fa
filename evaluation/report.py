"""The run's score table (CSV + Markdown) joined with the published scores, and a PNG plot.

Written to ``<out>/report/``: ``scores.csv`` (tidy: one row per module, task, metric),
``scores.md`` (the same, plus sources and wall times) and ``scores.png`` (per task, primary
metric: ours vs published, per module). Runs made with deterministic test weights are flagged
in every one of them: their scores say nothing about the published models. A run spread over
shards is reported as one: scores come from the shared ``embeddings/`` folder, wall times from
every ledger, and (module, task) pairs some ledger planned but nobody scored yet are named.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from hear_byols.errors import HearByolsError  # noqa: E402

from evaluation.engine import read_weights  # noqa: E402
from evaluation.harnesses import heareval  # noqa: E402
from evaluation.ledger import planned_chains, step_records  # noqa: E402
from evaluation.published import join_published  # noqa: E402
from evaluation.weights import DETERMINISTIC  # noqa: E402

NOT_MEANINGFUL = (
    "WARNING: {modules} ran with DETERMINISTIC TEST WEIGHTS (untrained), not the official "
    "weights: these scores are NOT meaningful compared with the published ones."
)


@dataclass(frozen=True)
class Report:
    table: pd.DataFrame
    csv: Path
    markdown: Path
    plot: Path
    warning: str | None
    missing: list[tuple[str, str]]  # planned (embedding folder, task) pairs without scores


def fmt(value: Any) -> str:
    """Scores to 4 decimals, missing values as a dash."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:+.4f}" if value < 0 else f"{value:.4f}"
    return str(value)


def markdown_table(headers: list[str], rows: Iterable[Iterable[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(fmt(value) for value in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


class NoScoresError(HearByolsError, FileNotFoundError):
    """A run folder without any scores to report (its run has not predicted yet)."""


def weights_warning(table: pd.DataFrame) -> str | None:
    """The loud warning when any module ran with deterministic test weights."""
    modules = sorted(table.loc[table["weights"] == DETERMINISTIC, "module"].unique())
    return NOT_MEANINGFUL.format(modules=", ".join(modules)) if modules else None


def score_table(out: Path) -> pd.DataFrame:
    """Our scores, the weights each module used, and the published score they are compared with."""
    scores = heareval.read_scores(out)
    if scores.empty:
        raise NoScoresError(f"no test.predicted-scores.json under {Path(out) / 'embeddings'}: run `python -m evaluation run` first")
    weights = read_weights(out)
    table = join_published(scores)
    table["weights"] = [
        weights[module.split("-", 1)[0]].kind if module.split("-", 1)[0] in weights else "unknown"
        for module in table["module"]
    ]
    return table


def wall_times(out: Path) -> pd.DataFrame:
    """Seconds of the last run of each (module, task, step) that did work (skips are 0 s), from
    every ledger (shards included)."""
    records = step_records(out)
    done = pd.DataFrame(
        [r for r in records if r["status"] == "done" and r["task"]], columns=["module", "task", "step", "wall_s"]
    )
    done = done.drop_duplicates(["module", "task", "step"], keep="last")
    return done.pivot(index=["module", "task"], columns="step", values="wall_s").reset_index()


def missing_scores(out: Path, table: pd.DataFrame) -> list[tuple[str, str]]:
    """Planned (embedding folder, task) pairs that have no scores yet (a shard still running, or failed)."""
    scored = set(zip(table["module"], table["task"]))
    return sorted(planned_chains(out) - scored)


def markdown(
    table: pd.DataFrame, times: pd.DataFrame, warning: str | None, title: str, missing: list[tuple[str, str]] = (),
) -> str:
    sources = list(dict.fromkeys(table["published_source"].dropna()))
    rows = [
        [r.module, r.task, r.metric, "yes" if r.primary else "", r.score, r.score_std, r.published,
         r.diff, f"[{sources.index(r.published_source) + 1}]" if isinstance(r.published_source, str) else "-",
         f"{r.weights} ({weights_label(r.weights)})" if weights_label(r.weights) != r.weights else r.weights]
        for r in table.itertuples()
    ]
    text = f"# {title}\n\n" + (f"**{warning}**\n\n" if warning else "")
    if missing:
        text += f"**MISSING: {len(missing)} planned (module, task) without scores yet:** " + ", ".join(
            f"{module} {task}" for module, task in missing) + "\n\n"
    text += markdown_table(
        ["module", "task", "metric", "primary", "ours", "std (folds)", "published", "diff", "source", "weights"], rows
    )
    if sources:
        text += "\nPublished scores (evaluation/published_scores.csv):\n\n"
        text += "".join(f"{i}. {source}\n" for i, source in enumerate(sources, 1))
    if not times.empty:
        steps = [column for column in ("embeddings", "predictions") if column in times]
        seconds = times[["module", "task", *steps]].round(1).astype(str)
        text += "\nWall time of each step (s):\n\n" + markdown_table(
            ["module", "task", *steps], seconds.itertuples(index=False)
        )
    return text


def weights_label(kind: str) -> str:
    """Short label saying whether a row's scores come from trained (real) weights."""
    return {"official": "real weights", "custom": "custom weights", DETERMINISTIC: "UNTRAINED"}.get(kind, kind)


def plot(table: pd.DataFrame, path: Path, warning: str | None, title: str) -> None:
    """Per task, the primary metric: ours (solid) and published (hatched) for each module."""
    primary = table[table["primary"]]
    tasks = list(dict.fromkeys(primary["task"]))
    columns = min(3, max(1, len(tasks)))
    rows = math.ceil(len(tasks) / columns) or 1
    figure, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.6 * rows + 0.8), squeeze=False)
    modules = list(dict.fromkeys(primary["module"]))
    colours = {module: plt.cm.tab10(i % 10) for i, module in enumerate(modules)}
    for axis, task in zip(axes.flat, tasks):
        subset = primary[primary["task"] == task].set_index("module")
        for i, module in enumerate(subset.index):
            row = subset.loc[module]
            untrained = row["weights"] == DETERMINISTIC
            axis.bar(i - 0.2, row["score"], 0.4, color=colours[module], label="ours",
                     alpha=0.5 if untrained else 1.0, edgecolor="red" if untrained else None, linestyle="--")
            axis.text(i - 0.2, row["score"], f"{row['score']:.3f}", ha="center", va="bottom", fontsize=7)
            if math.isnan(row["published"]):
                axis.text(i + 0.2, 0.02, "no published\nscore", ha="center", va="bottom", fontsize=6, rotation=90)
            else:
                axis.bar(i + 0.2, row["published"], 0.4, color=colours[module], alpha=0.35, hatch="//")
                axis.text(i + 0.2, row["published"], f"{row['published']:.3f}", ha="center", va="bottom", fontsize=7)
        labels = [f"{m.replace('hear_byols.', '')}\n{weights_label(subset.loc[m, 'weights'])}" for m in subset.index]
        axis.set_xticks(range(len(subset)), labels, fontsize=7)
        axis.set_xlim(-0.6, len(subset) - 0.4)
        axis.set_title(f"{task}\n{subset['metric'].iloc[0]}", fontsize=9)
        axis.set_ylim(0, max(1.05, 1.1 * float(subset[["score", "published"]].max().max())))
    for axis in list(axes.flat)[len(tasks):]:
        axis.axis("off")
    figure.legend(
        handles=[plt.Rectangle((0, 0), 1, 1, color="grey"), plt.Rectangle((0, 0), 1, 1, color="grey", alpha=0.35, hatch="//")],
        labels=["ours", "published (HEAR 2021 / BYOL-S paper)"], loc="lower center", ncol=2, fontsize=8,
    )
    figure.suptitle(title + ("\n" + warning if warning else ""), fontsize=9, color="red" if warning else "black", wrap=True)
    figure.tight_layout(rect=(0, 0.06, 1, 0.9))
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write_report(out: Path, title: str = "hear_byols on HEAR tasks") -> Report:
    """Collect the scores of run ``out`` and write ``<out>/report/scores.{csv,md,png}``."""
    out = Path(out)
    table = score_table(out)
    warning = weights_warning(table)
    folder = out / "report"
    folder.mkdir(parents=True, exist_ok=True)
    missing = missing_scores(out, table)
    report = Report(table, folder / "scores.csv", folder / "scores.md", folder / "scores.png", warning, missing)
    csv_table = table.copy()
    csv_table.insert(0, "note", warning or "")  # the CSV alone must carry the warning too
    csv_table.to_csv(report.csv, index=False)
    report.markdown.write_text(markdown(table, wall_times(out), warning, title, missing))
    plot(table, report.plot, warning, title)
    return report
