"""SERAB's five classifier families and their grids (``SERAB/clf_benchmark.py``, ``get_sklearn_models``).

What SERAB sets, and so do we: the estimators' constructor arguments below, GridSearchCV's default
scoring (the estimator's ``score``, i.e. accuracy), no scaler or pipeline in front of the classifier
(the features are speaker-z-scored, ``speaker_norm``), ``random_state=42`` where an estimator takes one
(LogisticRegression, RandomForest, SVC). Differences forced by current scikit-learn:
``max_iter`` is the integer 10000 (SERAB wrote the float ``1e4``, which scikit-learn now refuses), and
QDA's covariance estimate raises on classes with fewer clips than dimensions where 2021's warned
(``classifiers.evaluate`` records the family as failed). LDA's one-point grid ``solver=["lsqr"]`` is
SERAB's. Other arguments are scikit-learn's defaults, which for these estimators are 2021's
(RandomForest: 100 trees; SVC: ``gamma="scale"``; LogisticRegression: lbfgs, multinomial).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis, QuadraticDiscriminantAnalysis
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import ParameterGrid
from sklearn.svm import SVC

#: SERAB's iteration cap of LogisticRegression and SVC.
MAX_ITER = 10_000
#: ``C`` from 1e5 down to 1e-5, 11 values: SERAB's ``np.logspace(5, -5, num=11)``.
C_VALUES = tuple(float(c) for c in np.logspace(5, -5, num=11))
CLASS_WEIGHTS = ("balanced", None)


@dataclass(frozen=True)
class Family:
    """One classifier family: how to make its estimator, and the grid its hyper-parameters are tuned on."""

    name: str  #: our key ("lda", "logreg", "qda", "rf", "svc")
    serab_name: str  #: SERAB's column name ("LDA", "LR", "QDA", "RF", "SVC")
    make: Callable[[int], ClassifierMixin]  #: random_state -> a fresh, unfitted estimator
    grid: Mapping[str, Sequence[Any]]  #: parameter -> values, as GridSearchCV takes them

    def candidates(self) -> list[dict[str, Any]]:
        """Every grid point, in GridSearchCV's order (``ParameterGrid``: keys sorted, last key fastest),
        so that ties between points are broken as SERAB's grid search broke them: the first one wins."""
        return list(ParameterGrid({key: list(values) for key, values in self.grid.items()}))


def _lda(random_state: int) -> ClassifierMixin:
    return LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto")


def _logreg(random_state: int) -> ClassifierMixin:
    return LogisticRegression(class_weight="balanced", max_iter=MAX_ITER, random_state=random_state)


def _qda(random_state: int) -> ClassifierMixin:
    return QuadraticDiscriminantAnalysis()


def _rf(random_state: int) -> ClassifierMixin:
    return RandomForestClassifier(class_weight="balanced", random_state=random_state)


def _svc(random_state: int) -> ClassifierMixin:
    return SVC(max_iter=MAX_ITER, random_state=random_state)


#: The families in SERAB's order, which is also the order that breaks ties in ``classifiers.choose``.
FAMILIES: dict[str, Family] = {family.name: family for family in (
    Family("lda", "LDA", _lda, {"solver": ("lsqr",)}),
    Family("logreg", "LR", _logreg, {"C": C_VALUES, "class_weight": CLASS_WEIGHTS}),
    Family("qda", "QDA", _qda, {"reg_param": (0, 0.1, 0.25)}),
    Family("rf", "RF", _rf, {"max_depth": (5, 10, 15, 20, 25), "min_samples_split": (2, 5, 10),
                             "class_weight": CLASS_WEIGHTS}),
    Family("svc", "SVC", _svc, {"kernel": ("rbf", "linear"), "C": C_VALUES, "class_weight": CLASS_WEIGHTS}),
)}
