"""The report's figures (matplotlib, Agg: no display needed): accuracy with 95% intervals per model
and dataset, and the confusion matrix of the validation-chosen family per (model, dataset)."""
from __future__ import annotations

import io
import math
import re
from collections.abc import Sequence
from pathlib import Path

import matplotlib  # the probe extra's: imported with the runner, so a missing one is named before any work
import numpy as np

from hear_byols.probe.classifiers import choose
from hear_byols.probe.results import OURS, SERAB_COMPATIBLE, FoldOutcome, ResultRow
from hear_byols.storage.atomic import atomic_write


def _pyplot():  # type: ignore[no-untyped-def]
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def comparison_plot(path: Path, rows: Sequence[ResultRow]) -> None:
    """Bars of accuracy (family chosen on validation, and SERAB's choice on test) with their CIs."""
    plt = _pyplot()
    chosen = [r for r in rows if r.selection in (OURS, SERAB_COMPATIBLE) and not math.isnan(r.accuracy_ci_low)]
    labels = list(dict.fromkeys(f"{r.model}\n{r.dataset}" for r in chosen))
    figure, axes = plt.subplots(figsize=(max(6.0, 1.2 * len(labels) + 2), 4.5))
    for offset, selection in ((-0.2, OURS), (0.2, SERAB_COMPATIBLE)):
        picked = [r for r in chosen if r.selection == selection]
        x = np.asarray([labels.index(f"{r.model}\n{r.dataset}") for r in picked], dtype=float) + offset
        values = np.asarray([r.accuracy for r in picked])
        errors = np.asarray([[v - r.accuracy_ci_low for v, r in zip(values, picked)],
                             [r.accuracy_ci_high - v for v, r in zip(values, picked)]]).reshape(2, -1)
        axes.bar(x, values, width=0.4, yerr=errors, capsize=3, label=selection)
    axes.set_xticks(range(len(labels)), labels, fontsize=8)
    axes.set_ylabel("test accuracy (95% bootstrap CI)")
    axes.set_ylim(0, 1)
    axes.legend(fontsize=8)
    figure.tight_layout()
    _save(plt, figure, path)


def confusion_plots(out: Path, outcomes: Sequence[FoldOutcome], families: Sequence[str]) -> None:
    """``confusion-<model>-<dataset>.png``: test clips of every fold, family chosen on validation."""
    plt = _pyplot()
    keys = list(dict.fromkeys((o.model, o.dataset) for o in outcomes))
    for model, dataset in keys:
        folds = [o for o in outcomes if (o.model, o.dataset) == (model, dataset)]
        pairs = [(o.y_test, choose(usable, by="validation").predictions) for o in folds
                 if (usable := [r for r in o.results if not r.failed])]
        if not pairs:
            continue
        y = np.concatenate([np.asarray(t) for t, _ in pairs])
        p = np.concatenate([np.asarray(q) for _, q in pairs])
        classes = sorted(set(y.tolist()) | set(p.tolist()))
        matrix = np.zeros((len(classes), len(classes)), dtype=int)
        for truth, guess in zip(y, p):
            matrix[classes.index(truth), classes.index(guess)] += 1
        figure, axes = plt.subplots(figsize=(1 + 0.6 * len(classes), 1 + 0.6 * len(classes)))
        axes.imshow(matrix, cmap="Blues")
        for (i, j), count in np.ndenumerate(matrix):
            axes.text(j, i, str(count), ha="center", va="center", fontsize=7)
        axes.set_xticks(range(len(classes)), [str(c) for c in classes], rotation=45, fontsize=7)
        axes.set_yticks(range(len(classes)), [str(c) for c in classes], fontsize=7)
        axes.set_xlabel("predicted")
        axes.set_ylabel("true")
        axes.set_title(f"{model} on {dataset}", fontsize=8)
        figure.tight_layout()
        _save(plt, figure, out / f"confusion-{_safe(model)}-{_safe(dataset)}.png")


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def _save(plt, figure, path: Path) -> None:  # type: ignore[no-untyped-def]
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    data = buffer.getvalue()
    atomic_write(path, lambda fh: fh.write(data))
