"""One fit of one family at one grid point: the unit of work the grid search hands to joblib.

Each fit records its own warnings and its own failure, inside the worker that ran it, so that a
run with ``jobs > 1`` counts convergence warnings exactly as a run with ``jobs=1`` and nothing is
printed by a worker process: the counts travel back in the result.
"""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

from hear_byols.probe.families import Family

#: A failure reason is kept to its first line, cut at this many characters (a traceback is no reason).
REASON_CHARS = 300


@dataclass(frozen=True)
class Fit:
    """What fitting a family at one grid point gave."""

    predictions: np.ndarray | None  #: labels predicted for the evaluation rows; None if the fit failed
    error: str | None  #: "ExceptionType: first line of its message" when the fit or predict raised
    convergence_warnings: int  #: scikit-learn ConvergenceWarnings raised while fitting and predicting
    other_warnings: int  #: any other warning (collinear variables, ill-defined metrics...)
    seconds: float


def reason(error: BaseException) -> str:
    """``error`` as one line a report can hold."""
    lines = str(error).strip().splitlines() or [""]
    text = f"{type(error).__name__}: {lines[0]}".rstrip(": ")
    return text if len(text) <= REASON_CHARS else text[:REASON_CHARS - 3] + "..."


def fit_predict(family: Family, params: dict[str, Any], random_state: int, x_fit: np.ndarray,
                y_fit: np.ndarray, x_eval: np.ndarray) -> Fit:
    """Fit a fresh estimator of ``family`` with ``params`` on (``x_fit``, ``y_fit``), predict ``x_eval``.

    Any exception of the estimator becomes ``Fit.error``: one grid point (or QDA on rank-deficient
    classes) failing must not end the other families' search.
    """
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            estimator = clone(family.make(random_state)).set_params(**params)
            predictions, error = estimator.fit(x_fit, y_fit).predict(x_eval), None
        except Exception as failure:  # noqa: BLE001 - any estimator failure is a result to report
            predictions, error = None, reason(failure)
    converged = sum(issubclass(item.category, ConvergenceWarning) for item in caught)
    return Fit(predictions, error, converged, len(caught) - converged, time.perf_counter() - start)
