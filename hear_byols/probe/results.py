"""The results table: per model x dataset x family, the two family choices, and SERAB's unweighted
mean (UM) over datasets.

A score over several folds is the mean over folds (± the sample std); its 95% interval is a
bootstrap over the pooled test clips of every fold (each clip is tested once in speaker k-fold).
"""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields

import numpy as np

from hear_byols.probe.classifiers import FamilyResult, choose
from hear_byols.probe.metrics import accuracy, bootstrap_ci, summarize_folds, uar

FAMILY = "family"
OURS = "ours (family chosen on validation)"
SERAB_COMPATIBLE = "SERAB-compatible (family chosen on test)"
UNWEIGHTED_MEAN = "UM (unweighted mean over datasets)"
NAN = math.nan


@dataclass(frozen=True)
class FoldOutcome:
    """Every family's result on one fold, with the fold's test labels."""

    model: str
    dataset: str
    fold: str
    results: list[FamilyResult]
    y_test: np.ndarray


@dataclass(frozen=True)
class ResultRow:
    """One line of results.csv."""

    model: str
    dataset: str
    selection: str
    family: str
    folds: int
    accuracy: float
    accuracy_std: float
    accuracy_ci_low: float
    accuracy_ci_high: float
    uar: float
    uar_std: float
    uar_ci_low: float
    uar_ci_high: float
    validation_accuracy: float
    failed: str = ""


COLUMNS = tuple(field.name for field in fields(ResultRow))


def table(outcomes: Sequence[FoldOutcome], families: Sequence[str]) -> list[ResultRow]:
    """Every row of the results, in model, dataset, family order, the UM rows after each model."""
    rows: list[ResultRow] = []
    for model in dict.fromkeys(outcome.model for outcome in outcomes):
        per_model = [o for o in outcomes if o.model == model]
        datasets = list(dict.fromkeys(o.dataset for o in per_model))
        model_rows: list[ResultRow] = []
        for dataset in datasets:
            folds = [o for o in per_model if o.dataset == dataset]
            model_rows += [_family_row(folds, family) for family in families]
            model_rows += [_chosen_row(folds, OURS, "validation"), _chosen_row(folds, SERAB_COMPATIBLE, "test")]
        rows += model_rows + _unweighted_means(model, model_rows, [*families, OURS, SERAB_COMPATIBLE])
    return rows


def _family_row(folds: Sequence[FoldOutcome], family: str) -> ResultRow:
    picked = [next(r for r in fold.results if r.family == family) for fold in folds]
    return _row(folds, picked, FAMILY, family)


def _chosen_row(folds: Sequence[FoldOutcome], selection: str, by: str) -> ResultRow:
    picked = []
    for fold in folds:
        usable = [result for result in fold.results if not result.failed]
        if not usable:
            return _failed_row(folds[0], selection, "every family failed on fold " + fold.fold)
        picked.append(choose(usable, by=by))
    names = Counter(result.family for result in picked)
    family = ", ".join(name if count == len(picked) else f"{name} x{count}" for name, count in names.items())
    return _row(folds, picked, selection, family)


def _row(folds: Sequence[FoldOutcome], picked: Sequence[FamilyResult], selection: str, family: str) -> ResultRow:
    failed = next((f"{fold.fold}: {r.failed}" for fold, r in zip(folds, picked) if r.failed), "")
    if failed:
        return _failed_row(folds[0], selection, failed, family)
    acc, acc_std = _mean_std([r.test_accuracy for r in picked])
    rec, rec_std = _mean_std([r.test_uar for r in picked])
    acc_ci, uar_ci = _intervals(folds, picked)
    return ResultRow(folds[0].model, folds[0].dataset, selection, family, len(folds), acc, acc_std, *acc_ci,
                     rec, rec_std, *uar_ci, float(np.mean([r.validation_accuracy for r in picked])))


def _failed_row(fold: FoldOutcome, selection: str, reason: str, family: str = "") -> ResultRow:
    return ResultRow(fold.model, fold.dataset, selection, family, 0, *([NAN] * 9), failed=reason)


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    return (float(values[0]), NAN) if len(values) == 1 else summarize_folds(values)


def _intervals(folds: Sequence[FoldOutcome], picked: Sequence[FamilyResult]) -> tuple[tuple[float, float], ...]:
    if len(folds) == 1:
        return tuple(picked[0].accuracy_ci), tuple(picked[0].uar_ci)
    y = np.concatenate([fold.y_test for fold in folds])
    p = np.concatenate([np.asarray(result.predictions) for result in picked])
    return bootstrap_ci(y, p, accuracy), bootstrap_ci(y, p, uar)


def _unweighted_means(model: str, rows: Sequence[ResultRow], selections: Sequence[str]) -> list[ResultRow]:
    """SERAB's UM: the plain mean over datasets of each family's (and each choice's) score."""
    if len({row.dataset for row in rows}) < 2:
        return []
    means = []
    for name in selections:
        chosen = [row for row in rows if (row.family if row.selection == FAMILY else row.selection) == name]
        selection = FAMILY if name not in (OURS, SERAB_COMPATIBLE) else name
        means.append(_mean_row(model, chosen, selection, name if selection == FAMILY else ""))
    return means


def _mean_row(model: str, rows: Sequence[ResultRow], selection: str, family: str) -> ResultRow:
    failed = next((f"{row.dataset}: {row.failed}" for row in rows if row.failed), "")
    mean: Callable[[str], float] = lambda name: NAN if failed else float(np.mean([getattr(r, name) for r in rows]))
    return ResultRow(model, UNWEIGHTED_MEAN, selection, family, 0, mean("accuracy"), NAN, NAN, NAN, mean("uar"),
                     NAN, NAN, NAN, mean("validation_accuracy"), failed)
