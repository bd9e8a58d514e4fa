"""SERAB's classifier protocol on one fold's features: tune each family on validation, refit on
train+validation, score on test; then choose the family to report.

The grid search is GridSearchCV with a ``PredefinedSplit`` (train fits, validation scores by
accuracy, the first best grid point wins, the refit is on train+validation), written out as one
joblib pool over every (family, grid point) so that a failing point or family is recorded and the
others go on, and warnings are counted in the workers instead of printed by them.

``choose(by="validation")`` is ours: the family is chosen without looking at test. ``choose(by=
"test")`` is SERAB's choice (the family with the best test accuracy), optimistic by construction;
report it only labelled "SERAB-compatible (family chosen on test)".
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.utils.parallel import Parallel, delayed

from hear_byols.errors import InvalidOptionError, ProbeDataError
from hear_byols.probe import feature_checks
from hear_byols.probe.families import FAMILIES, Family
from hear_byols.probe.metrics import DEFAULT_N_BOOT, accuracy, bootstrap_ci, check_n_boot, uar
from hear_byols.probe.speaker_norm import speaker_zscore
from hear_byols.probe.tuning import Fit, fit_predict

__all__ = ["FAMILIES", "Family", "FamilyResult", "Split", "choose", "evaluate"]
CHOICES = ("validation", "test")
NAN_CI = (float("nan"), float("nan"))


@dataclass(frozen=True)
class Split:
    """One fold's features (clips, dims), labels (str or int) and speaker ids, chosen by the caller."""

    x_train: np.ndarray
    y_train: np.ndarray
    s_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    s_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    s_test: np.ndarray

    def parts(self) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], ...]:
        """(features, labels, speakers) of train, validation and test, in that order."""
        return ((self.x_train, self.y_train, self.s_train), (self.x_val, self.y_val, self.s_val),
                (self.x_test, self.y_test, self.s_test))


@dataclass(frozen=True)
class FamilyResult:
    """One family's tuned, refit and tested result; a failed family keeps its row, with the reason."""

    family: str
    params: dict | None  #: best hyper-parameters on validation (None if the family failed)
    validation_accuracy: float  #: the tuning score: accuracy on validation of the fit on train (NaN if failed)
    test_accuracy: float
    test_uar: float
    accuracy_ci: tuple[float, float]  #: 95% percentile bootstrap over test clips
    uar_ci: tuple[float, float]
    predictions: np.ndarray | None  #: test predictions (labels), for confusion matrices
    failed: str | None = None  #: why the family has no score (every grid point failed, or its refit)
    convergence_warnings: int = 0  #: ConvergenceWarnings over every grid fit and the refit
    other_warnings: int = 0  #: any other warnings over the same fits
    failed_points: int = 0  #: grid points whose fit raised (the others still competed)
    grid_points: int = 0  #: size of the family's grid
    seconds: float = 0.0  #: the family's fit times summed over grid points and refit (jobs > 1: over workers)


def _check_split(split: Split) -> Split:
    """``split`` with float64 features, every part checked (``feature_checks``)."""
    if not isinstance(split, Split):
        raise InvalidOptionError(f"evaluate takes a hear_byols.probe.classifiers.Split, got {type(split).__name__}")
    checked = []
    for name, (x, y, s) in zip(feature_checks.SPLITS, split.parts()):
        x = feature_checks.features(x, name)
        checked.append((x, feature_checks.column(y, len(x), name, "labels"),
                        feature_checks.column(s, len(x), name, "speakers")))
    feature_checks.same_width([x for x, _, _ in checked])
    feature_checks.same_kind([y for _, y, _ in checked], "labels")
    feature_checks.same_kind([s for _, _, s in checked], "speakers")
    feature_checks.classes_trainable([y for _, y, _ in checked])
    feature_checks.speakers_disjoint([s for _, _, s in checked])
    return Split(*(value for part in checked for value in part))


def _families(names: Iterable[str]) -> list[Family]:
    """The families named (one name alone may be a str), each once, in the order given."""
    if isinstance(names, str):
        names = (names,)
    names = list(names)
    unknown = [name for name in names if not isinstance(name, str) or name not in FAMILIES]
    if unknown or not names:
        problem = f"unknown classifier families {unknown}" if unknown else "no classifier family given"
        raise InvalidOptionError(f"{problem}; choose among {', '.join(FAMILIES)}")
    return [FAMILIES[name] for name in dict.fromkeys(names)]


def _options(jobs: int, speaker_norm: bool, random_state: int, n_boot: int) -> int:
    """The options of ``evaluate`` checked before any work; returns ``jobs`` as an int."""
    if not isinstance(speaker_norm, (bool, np.bool_)):
        raise InvalidOptionError(f"speaker_norm must be True or False, got {speaker_norm!r}")
    if isinstance(random_state, bool) or not isinstance(random_state, (int, np.integer)) \
            or not 0 <= random_state < 2 ** 32:
        raise InvalidOptionError(f"random_state must be an integer in [0, 2**32), got {random_state!r}")
    check_n_boot(n_boot)
    return _jobs(jobs)


def _jobs(jobs: int) -> int:
    """Worker processes: a positive integer (joblib's negative "all but" counts are refused: say a number)."""
    if isinstance(jobs, bool) or not isinstance(jobs, (int, np.integer)) or jobs < 1:
        raise InvalidOptionError(f"jobs must be a positive integer (worker processes), got {jobs!r}")
    return int(jobs)


def _normalised(split: Split) -> Split:
    """Each split z-scored on its own speakers' statistics (``speaker_norm``; transductive on test)."""
    return Split(*(value for x, y, s in split.parts() for value in (speaker_zscore(x, s), y, s)))


def _best(fits: Sequence[Fit], y_val: np.ndarray) -> tuple[int, float] | None:
    """Index and validation accuracy of the first best grid point (GridSearchCV's rule), or None."""
    scores = [accuracy(y_val, fit.predictions) if fit.error is None else float("nan") for fit in fits]
    if all(np.isnan(scores)):
        return None
    index = int(np.nanargmax(scores))  # the first of equal maxima, as GridSearchCV's rank_test_score
    return index, scores[index]


def _tallies(grid: Sequence[Fit], refit: Fit | None) -> dict:
    """The counts of a family's fits: warnings over the grid and the refit, failures over the grid."""
    every = [*grid, *([refit] if refit else [])]
    return {"convergence_warnings": sum(fit.convergence_warnings for fit in every),
            "other_warnings": sum(fit.other_warnings for fit in every),
            "failed_points": sum(fit.error is not None for fit in grid), "grid_points": len(grid),
            "seconds": sum(fit.seconds for fit in every)}


def _failed(name: str, reason: str, tallies: dict) -> FamilyResult:
    return FamilyResult(name, None, float("nan"), float("nan"), float("nan"), NAN_CI, NAN_CI, None,
                        failed=reason, **tallies)


def _result(family: Family, grid: Sequence[Fit], tuned: tuple[dict, float] | None, refit: Fit | None,
            y_test: np.ndarray, n_boot: int, seed: int) -> FamilyResult:
    """The family's row: its refit's test scores, or why it has none."""
    tallies = _tallies(grid, refit)
    if tuned is None:
        first = next(fit.error for fit in grid)
        return _failed(family.name, f"all {len(grid)} grid points failed; the first: {first}", tallies)
    params, validation = tuned
    if refit.error is not None:
        return _failed(family.name, f"refit on train+validation with {params} failed: {refit.error}", tallies)
    p = refit.predictions
    return FamilyResult(family.name, params, validation, accuracy(y_test, p), uar(y_test, p),
                        bootstrap_ci(y_test, p, accuracy, n_boot=n_boot, seed=seed),
                        bootstrap_ci(y_test, p, uar, n_boot=n_boot, seed=seed), p, **tallies)


def _tune(pool: Parallel, families: Sequence[Family], split: Split,
          random_state: int) -> list[tuple[list[Fit], tuple[dict, float] | None]]:
    """Per family: the fit of every grid point on train, scored on validation, and the best
    (parameters, validation accuracy), None when every point failed. One pool for all families."""
    grids = [family.candidates() for family in families]
    flat = iter(pool(delayed(fit_predict)(family, params, random_state, split.x_train, split.y_train, split.x_val)
                     for family, candidates in zip(families, grids) for params in candidates))
    tuned = []
    for candidates in grids:
        fits = [next(flat) for _ in candidates]
        best = _best(fits, split.y_val)
        tuned.append((fits, None if best is None else (candidates[best[0]], best[1])))
    return tuned


def evaluate(split: Split, *, families: Iterable[str] = tuple(FAMILIES), speaker_norm: bool = True,
             jobs: int = 1, random_state: int = 42, n_boot: int = DEFAULT_N_BOOT) -> list[FamilyResult]:
    """Every family of ``families`` tuned on validation, refit on train+validation, scored on test.

    ``speaker_norm`` z-scores each split on its own speakers (SERAB's default; transductive, see
    ``speaker_norm``). ``jobs`` worker processes (joblib; a positive count) share every grid point of
    every family. ``random_state`` seeds the estimators that take one and the bootstrap of the
    ``n_boot`` resamples behind each 95% interval. One row per family, in the order given; a family
    that cannot be fit (QDA on classes with fewer clips than dimensions) has ``failed`` set, NaN scores.
    """
    chosen, jobs = _families(families), _options(jobs, speaker_norm, random_state, n_boot)
    split = _check_split(split)
    if speaker_norm:
        split = _normalised(split)
    pool = Parallel(n_jobs=jobs)
    tuned = _tune(pool, chosen, split, random_state)
    x_all = np.concatenate([split.x_train, split.x_val])
    y_all = np.concatenate([split.y_train, split.y_val])
    refit_jobs = [(family, best[0]) for family, (_, best) in zip(chosen, tuned) if best is not None]
    refits = dict(zip([family.name for family, _ in refit_jobs], pool(
        delayed(fit_predict)(family, params, random_state, x_all, y_all, split.x_test)
        for family, params in refit_jobs)))
    return [_result(family, fits, best, refits.get(family.name), split.y_test, n_boot, random_state)
            for family, (fits, best) in zip(chosen, tuned)]


def _ranking_score(result: FamilyResult, by: str) -> float:
    """SERAB rounds test accuracy to 0.1 percent before its ``idxmax``: ties at that resolution go to
    the earlier family. Validation accuracy is compared exactly."""
    return float(np.round(result.test_accuracy * 100.0, 1)) if by == "test" else result.validation_accuracy


def choose(results: Sequence[FamilyResult], by: str = "validation") -> FamilyResult:
    """The family to report: best validation accuracy (``"validation"``, ours: test unseen) or best test
    accuracy (``"test"``, SERAB's, optimistic). Failed families are passed over. Ties go to the family
    that comes first in ``FAMILIES`` (SERAB's order lda, logreg, qda, rf, svc, as its ``idxmax`` did),
    whatever the order of ``results``."""
    if by not in CHOICES:
        raise InvalidOptionError(f"choose by {by!r}: use 'validation' (ours) or 'test' (SERAB's)")
    usable = [result for result in results if result.failed is None]
    if not usable:
        reasons = "; ".join(f"{result.family}: {result.failed}" for result in results) or "no results given"
        raise ProbeDataError(f"no classifier family has a score to choose from ({reasons})")
    order = {name: position for position, name in enumerate(FAMILIES)}
    ranked = sorted(usable, key=lambda result: (-_ranking_score(result, by), order.get(result.family, len(order)),
                                                 result.family))
    return ranked[0]
